"""Routes of sessions: ``api-session-*`` and the caller's own, ``api-me-sessions``."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from sessions.api.group_sessions.views import GroupSessionViewSet, MeSessionViewSet

router = SimpleRouter()
router.register("sessions", GroupSessionViewSet, basename="api-session")

urlpatterns = [
    path("me/sessions/", MeSessionViewSet.as_view({"get": "list"}), name="api-me-sessions"),
    *router.urls,
]
