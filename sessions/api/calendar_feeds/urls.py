"""Routes of the calendar feeds: ``api-me-calendar-feed`` and ``api-member-calendar-feed``."""

from django.urls import path

from sessions.api.calendar_feeds.views import MeCalendarFeedView, MemberCalendarFeedView

urlpatterns = [
    path("me/calendar-feed/", MeCalendarFeedView.as_view(), name="api-me-calendar-feed"),
    path(
        "members/<int:pk>/calendar-feed/",
        MemberCalendarFeedView.as_view(),
        name="api-member-calendar-feed",
    ),
]
