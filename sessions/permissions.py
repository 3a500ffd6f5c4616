"""Who may do what in the group programme: plain predicates and user-scoped querysets.

Deny by default. Views and API endpoints call these; selectors start from the scoped
querysets so lists and detail pages agree. Out of scope → the caller answers 404;
visible but not allowed → 403.
"""

from __future__ import annotations

from collections.abc import Collection

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet

from members.enums import Role
from members.models import Clinic, ClinicRole, Member, User
from sessions.enums import EnrolmentStatus
from sessions.models import Attendance, Enrolment, Group, GroupSession

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


def can_create_group_run_by(
    user: AnyUser, *, clinic: Clinic, lead: User, co_facilitators: Collection[User]
) -> bool:
    """Whether ``user`` may create a group of ``clinic`` with this lead and these
    co-facilitators: a clinic admin any group, a facilitator only one they run."""
    if not can_create_group(user, clinic):
        return False
    if user.pk in {lead.pk, *(person.pk for person in co_facilitators)}:
        return True
    return ClinicRole.objects.filter(user=user, clinic=clinic, role=Role.ADMIN).exists()


def group_session_queryset_for(user: AnyUser) -> QuerySet[GroupSession]:
    """Sessions ``user`` may see: those of the groups they may see
    (:func:`group_queryset_for`), plus any session they facilitate as a substitute."""
    if not user.is_authenticated or not user.is_active:
        return GroupSession.objects.none()
    substitute = Q(
        facilitations__facilitator=user,
        group__clinic_id__in=_clinic_ids(user, Role.FACILITATOR),
    )
    ids = GroupSession.objects.filter(Q(group__in=group_queryset_for(user)) | substitute).values(
        "pk"
    )
    return GroupSession.objects.filter(pk__in=ids)


def managed_group_session_queryset_for(user: AnyUser) -> QuerySet[GroupSession]:
    """Sessions ``user`` may run (move, cancel, record attendance): those of the groups they
    manage (:func:`managed_group_queryset_for`), plus any they facilitate as a substitute
    (attendance only; moving and cancelling check :func:`can_manage_group`)."""
    if not user.is_authenticated or not user.is_active:
        return GroupSession.objects.none()
    substitute = Q(
        facilitations__facilitator=user,
        group__clinic_id__in=_clinic_ids(user, Role.FACILITATOR),
    )
    ids = GroupSession.objects.filter(
        Q(group__in=managed_group_queryset_for(user)) | substitute
    ).values("pk")
    return GroupSession.objects.filter(pk__in=ids)


def member_queryset_for(user: AnyUser) -> QuerySet[Member]:
    """Member records ``user`` may read in full (contact details included): every record of
    a clinic they administer; for a facilitator, the members enrolled (in any status) in a
    group they manage and the records they created themselves; for a member, their own
    records. Fellow members' preferred names reach members through the roster, never here."""
    if not user.is_authenticated or not user.is_active:
        return Member.objects.none()
    administered = Q(clinic_id__in=_clinic_ids(user, Role.ADMIN))
    facilitator_clinics = _clinic_ids(user, Role.FACILITATOR)
    in_managed_group = Q(enrolments__group__in=managed_group_queryset_for(user))
    created = Q(created_by=user, clinic_id__in=facilitator_clinics)
    own = Q(user=user, clinic_id__in=_clinic_ids(user, Role.MEMBER))
    ids = Member.objects.filter(administered | in_managed_group | created | own).values("pk")
    return Member.objects.filter(pk__in=ids)


def managed_member_queryset_for(user: AnyUser) -> QuerySet[Member]:
    """Member records ``user`` may create in and change: staff (admin or facilitator) only,
    the same records as :func:`member_queryset_for` without the member's own."""
    if not user.is_authenticated or not user.is_active:
        return Member.objects.none()
    administered = Q(clinic_id__in=_clinic_ids(user, Role.ADMIN))
    in_managed_group = Q(enrolments__group__in=managed_group_queryset_for(user))
    created = Q(created_by=user, clinic_id__in=_clinic_ids(user, Role.FACILITATOR))
    ids = Member.objects.filter(administered | in_managed_group | created).values("pk")
    return Member.objects.filter(pk__in=ids)


def enrolment_queryset_for(user: AnyUser) -> QuerySet[Enrolment]:
    """Enrolments ``user`` may see: all of a clinic they administer, those of the groups
    they manage, and a member's own."""
    if not user.is_authenticated or not user.is_active:
        return Enrolment.objects.none()
    managed = Q(group__in=managed_group_queryset_for(user))
    own = Q(member__user=user, member__clinic_id__in=_clinic_ids(user, Role.MEMBER))
    ids = Enrolment.objects.filter(managed | own).values("pk")
    return Enrolment.objects.filter(pk__in=ids)


def managed_enrolment_queryset_for(user: AnyUser) -> QuerySet[Enrolment]:
    """Enrolments ``user`` may screen, activate, waitlist and close: those of the groups
    they manage."""
    return Enrolment.objects.filter(group__in=managed_group_queryset_for(user))


def attendance_queryset_for(user: AnyUser) -> QuerySet[Attendance]:
    """Attendance rows ``user`` may read: all of a clinic they administer, those of the
    sessions they run, and a member's own."""
    if not user.is_authenticated or not user.is_active:
        return Attendance.objects.none()
    run = Q(session__in=managed_group_session_queryset_for(user))
    own = Q(member__user=user, member__clinic_id__in=_clinic_ids(user, Role.MEMBER))
    ids = Attendance.objects.filter(run | own).values("pk")
    return Attendance.objects.filter(pk__in=ids)


def is_staff_in(user: AnyUser, clinic: Clinic) -> bool:
    """Admin or facilitator of ``clinic``."""
    return can_create_group(user, clinic)


def can_anonymise_member(user: AnyUser, member: Member) -> bool:
    """Only an admin of the member's clinic may anonymise the record (the rules of when
    are in :func:`sessions.services.member_privacy.member_anonymise`)."""
    if not user.is_authenticated or not user.is_active:
        return False
    return ClinicRole.objects.filter(
        user=user, clinic_id=member.clinic_id, role=Role.ADMIN
    ).exists()
