"""Who may do what with people and clinics: plain predicates, deny by default."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from members.enums import Role
from members.models import Clinic, ClinicRole


def has_clinic_role(user: AbstractBaseUser | AnonymousUser, clinic: Clinic, role: Role) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return ClinicRole.objects.filter(user=user, clinic=clinic, role=role).exists()


def is_clinic_admin(user: AbstractBaseUser | AnonymousUser, clinic: Clinic) -> bool:
    return has_clinic_role(user, clinic, Role.ADMIN)
