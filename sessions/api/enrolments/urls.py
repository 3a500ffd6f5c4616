"""Routes of member records and enrolments: ``api-member-*``, ``api-enrolment-*``."""

from rest_framework.routers import SimpleRouter

from sessions.api.enrolments.views import EnrolmentViewSet, MemberViewSet

router = SimpleRouter()
router.register("members", MemberViewSet, basename="api-member")
router.register("enrolments", EnrolmentViewSet, basename="api-enrolment")

urlpatterns = router.urls
