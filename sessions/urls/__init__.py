"""The group programme's pages. Each part of the app keeps its routes in its own module."""

from sessions.urls import (
    enrolment,
    group_sessions,
    groups,
    me,
    member_privacy,
    reports,
    rooms,
    today,
)

app_name = "sessions"

urlpatterns = [
    *today.urlpatterns,
    *groups.urlpatterns,
    *group_sessions.urlpatterns,
    *enrolment.urlpatterns,
    *member_privacy.urlpatterns,
    *me.urlpatterns,
    *reports.urlpatterns,
    *rooms.urlpatterns,
]
