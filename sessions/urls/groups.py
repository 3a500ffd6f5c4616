"""The facilitator's group pages: create, edit, the group page, its stage and schedule."""

from django.urls import URLPattern, path

from sessions.views import groups

urlpatterns: list[URLPattern] = [
    path("groups/new/", groups.group_create_view, name="group-create"),
    path("groups/<int:pk>/", groups.group_detail_view, name="group-detail"),
    path("groups/<int:pk>/edit/", groups.group_edit_view, name="group-edit"),
    path("groups/<int:pk>/stage/", groups.group_stage_view, name="group-stage"),
    path("groups/<int:pk>/schedule/", groups.group_schedule_view, name="group-schedule"),
    path(
        "groups/<int:pk>/schedule/preview/",
        groups.group_schedule_preview_view,
        name="group-schedule-preview",
    ),
]
