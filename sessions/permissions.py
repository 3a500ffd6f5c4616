"""Who may do what in the group programme: plain predicates and user-scoped querysets.

Deny by default. Views and API endpoints call these; selectors start from the scoped
querysets so lists and detail pages agree. Out of scope → the caller answers 404;
visible but not allowed → 403.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet

from members.enums import Role
from members.models import Clinic, ClinicRole
from sessions.enums import EnrolmentStatus
from sessions.models import Group

AnyUser = AbstractBaseUser | AnonymousUser

#: Enrolment statuses that let a member see the group (its name, schedule, facilitators).
MEMBER_VISIBLE_STATUSES = (
    EnrolmentStatus.ACTIVE,
    EnrolmentStatus.WAITLISTED,
    EnrolmentStatus.COMPLETED,
)


def _clinic_ids(user: AnyUser, role: Role) -> QuerySet[ClinicRole]:
    return ClinicRole.objects.filter(user=user, role=role).values("clinic_id")


def group_queryset_for(user: AnyUser) -> QuerySet[Group]:
    """Every group ``user`` may see: all of a clinic they administer, the ones they
    facilitate (in a clinic where they still hold the facilitator role), the ones they are
    enrolled in as a member."""
    if not user.is_authenticated or not user.is_active:
        return Group.objects.none()
    facilitated = (Q(lead_facilitator=user) | Q(co_facilitators=user)) & Q(
        clinic_id__in=_clinic_ids(user, Role.FACILITATOR)
    )
    enrolled = Q(
        enrolments__member__user=user,
        enrolments__status__in=MEMBER_VISIBLE_STATUSES,
        clinic_id__in=_clinic_ids(user, Role.MEMBER),
    )
    administered = Q(clinic_id__in=_clinic_ids(user, Role.ADMIN))
    ids = Group.objects.filter(administered | facilitated | enrolled).values("pk")
    return Group.objects.filter(pk__in=ids)


def managed_group_queryset_for(user: AnyUser) -> QuerySet[Group]:
    """Groups ``user`` may run: schedule, move and cancel sessions, change stage, enrol."""
    if not user.is_authenticated or not user.is_active:
        return Group.objects.none()
    facilitated = (Q(lead_facilitator=user) | Q(co_facilitators=user)) & Q(
        clinic_id__in=_clinic_ids(user, Role.FACILITATOR)
    )
    administered = Q(clinic_id__in=_clinic_ids(user, Role.ADMIN))
    ids = Group.objects.filter(administered | facilitated).values("pk")
    return Group.objects.filter(pk__in=ids)


def can_view_group(user: AnyUser, group: Group) -> bool:
    return group_queryset_for(user).filter(pk=group.pk).exists()


def can_manage_group(user: AnyUser, group: Group) -> bool:
    return managed_group_queryset_for(user).filter(pk=group.pk).exists()


def can_create_group(user: AnyUser, clinic: Clinic) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return ClinicRole.objects.filter(
        user=user, clinic=clinic, role__in=[Role.ADMIN, Role.FACILITATOR]
    ).exists()
