"""The group programme's API, one package per area (serializers, views, urls each)."""

from django.urls import include, path

urlpatterns = [
    path("", include("sessions.api.groups.urls")),
    path("", include("sessions.api.group_sessions.urls")),
    path("", include("sessions.api.enrolments.urls")),
    path("", include("sessions.api.exports.urls")),
    path("", include("sessions.api.calendar_feeds.urls")),
    path("", include("sessions.api.reminders.urls")),
]
