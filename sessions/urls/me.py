"""A member's own pages (``/me/…``): meetings, "I can't come", groups, settings."""

from django.urls import path

from sessions.views import me

urlpatterns = [
    path("me/meetings/", me.me_meetings, name="me-meetings"),
    path("me/meetings/<int:session_pk>/cant-come/", me.me_cant_come, name="me-cant-come"),
    path("me/groups/", me.me_groups, name="me-groups"),
    path("me/settings/", me.me_settings, name="me-settings"),
    path("me/settings/data.json", me.me_data_download, name="me-data-download"),
    path(
        "me/settings/calendar-link/reset/",
        me.me_calendar_link_reset,
        name="me-calendar-link-reset",
    ),
    path(
        "me/settings/calendar-link/stop/",
        me.me_calendar_link_stop,
        name="me-calendar-link-stop",
    ),
]
