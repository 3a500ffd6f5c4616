"""The clinic's people pages: staff and members, invitations, roles, the audit log."""

from django.urls import URLPattern

app_name = "members"

urlpatterns: list[URLPattern] = []
