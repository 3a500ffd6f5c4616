"""Routes of the caller's reminder preferences: ``api-me-reminders``, ``api-me-reminder``."""

from django.urls import path

from sessions.api.reminders.views import MeReminderViewSet

urlpatterns = [
    path("me/reminders/", MeReminderViewSet.as_view({"get": "list"}), name="api-me-reminders"),
    path(
        "me/reminders/<int:pk>/",
        MeReminderViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="api-me-reminder",
    ),
]
