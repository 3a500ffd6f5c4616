"""Routes of groups, rooms and modalities: ``api-group-*``, ``api-room-*``, ``api-modality-*``."""

from rest_framework.routers import SimpleRouter

from sessions.api.groups.views import GroupViewSet, ModalityViewSet, RoomViewSet

router = SimpleRouter()
router.register("groups", GroupViewSet, basename="api-group")
router.register("rooms", RoomViewSet, basename="api-room")
router.register("modalities", ModalityViewSet, basename="api-modality")

urlpatterns = router.urls
