from django.urls import path

from sessions.views import group_sessions as views

urlpatterns = [
    path("sessions/<int:pk>/", views.session_detail, name="session-detail"),
    path("sessions/<int:pk>/move/", views.session_move, name="session-move"),
    path("sessions/<int:pk>/cancel/", views.session_cancel, name="session-cancel"),
    path(
        "sessions/<int:pk>/facilitators/",
        views.session_facilitators,
        name="session-facilitators",
    ),
    path(
        "sessions/<int:pk>/attendance/<int:member_pk>/",
        views.session_attendance,
        name="session-attendance",
    ),
]
