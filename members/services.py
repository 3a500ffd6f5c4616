"""Writes about people and clinics. Each function owns its transaction."""

from __future__ import annotations

from django.db import transaction

from members.enums import Role
from members.models import Clinic, ClinicRole, User, UserManager


def user_get_or_create(*, email: str, full_name: str = "") -> tuple[User, bool]:
    """Find the account for ``email`` (any case) or create one without a usable password."""
    email = UserManager.normalize_email(email)
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).first()
        if user is not None:
            return user, False
        user = User.objects.create_user(email=email, password=None, full_name=full_name)
        return user, True


def clinic_role_grant(*, user: User, clinic: Clinic, role: Role) -> ClinicRole:
    """Give ``user`` the ``role`` in ``clinic``; granting a role they hold changes nothing."""
    with transaction.atomic():
        clinic_role, _ = ClinicRole.objects.get_or_create(user=user, clinic=clinic, role=role)
    return clinic_role
