"""Enrolment pages: adding a member to a group, an enrolment and its next steps, screening."""

from django.urls import URLPattern, path

from sessions.views import enrolment as views

urlpatterns: list[URLPattern] = [
    path("groups/<int:pk>/enrol/", views.enrolment_add, name="enrolment-add"),
    path("enrolments/<int:pk>/", views.enrolment_detail, name="enrolment-detail"),
    path("enrolments/<int:pk>/screening/", views.enrolment_screening, name="enrolment-screening"),
    path(
        "enrolments/<int:pk>/activate/",
        views.enrolment_activate_view,
        name="enrolment-activate",
    ),
    path(
        "enrolments/<int:pk>/waitlist/",
        views.enrolment_waitlist_view,
        name="enrolment-waitlist",
    ),
    path(
        "enrolments/<int:pk>/offer/accept/",
        views.enrolment_offer_accept_view,
        name="enrolment-offer-accept",
    ),
    path(
        "enrolments/<int:pk>/offer/decline/",
        views.enrolment_offer_decline_view,
        name="enrolment-offer-decline",
    ),
    path(
        "enrolments/<int:pk>/offer/next/",
        views.enrolment_offer_next_view,
        name="enrolment-offer-next",
    ),
    path(
        "enrolments/<int:pk>/agreement/paper/",
        views.enrolment_agreement_paper,
        name="enrolment-agreement-paper",
    ),
    *(
        path(
            f"enrolments/<int:pk>/{action}/",
            views.enrolment_end,
            {"action": action},
            name=f"enrolment-{action}",
        )
        for action in views.ENDINGS
    ),
]
