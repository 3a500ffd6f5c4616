"""Reads about people and clinics, scoped to the user asking."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from members.models import ApiToken, ClinicRole


def clinic_role_list(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[ClinicRole]:
    """The user's own roles, with their clinics, in a stable order; none for anonymous."""
    if not user.is_authenticated:
        return ClinicRole.objects.none()
    return (
        ClinicRole.objects.filter(user=user)
        .select_related("clinic")
        .order_by("clinic__name", "role")
    )


def api_token_list(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[ApiToken]:
    """The user's own API tokens, newest first, revoked ones included."""
    if not user.is_authenticated:
        return ApiToken.objects.none()
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-pk")
