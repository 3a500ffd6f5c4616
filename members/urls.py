"""The clinic's people pages: staff and members, invitations, roles, the audit log."""

from django.urls import path

from members import views

app_name = "members"

urlpatterns = [
    path("people/", views.people, name="people"),
    path("people/invite/", views.invite, name="invite"),
    path(
        "people/<int:clinic_pk>/<int:user_pk>/roles/",
        views.person_roles,
        name="person-roles",
    ),
    path(
        "people/<int:clinic_pk>/<int:user_pk>/deactivate/",
        views.person_deactivate,
        name="person-deactivate",
    ),
    path(
        "people/<int:clinic_pk>/<int:user_pk>/reactivate/",
        views.person_reactivate,
        name="person-reactivate",
    ),
    path(
        "people/<int:clinic_pk>/<int:user_pk>/resend/",
        views.person_resend,
        name="person-resend",
    ),
    path("audit/", views.audit, name="audit"),
    path("session/keepalive/", views.session_keepalive, name="session-keepalive"),
]
