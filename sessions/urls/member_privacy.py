"""The end of a member record: anonymisation by a clinic admin."""

from django.urls import URLPattern, path

from sessions.views import member_privacy as views

urlpatterns: list[URLPattern] = [
    path("members/<int:pk>/anonymise/", views.member_anonymise_view, name="member-anonymise"),
]
