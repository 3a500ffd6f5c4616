"""Reads about groups themselves: the groups a user sees, their stage history and roster,
rooms and modalities. Each starts from the scoped querysets of :mod:`sessions.permissions`
(or, for rooms and modalities, from the caller's staff roles) and joins what its callers
render, so lists run a constant number of queries.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet, Value

from members.enums import STAFF_ROLES, Role
from members.models import Clinic, ClinicRole, Member
from sessions.enums import EnrolmentStatus
from sessions.models import (
    Agreement,
    AgreementAcceptance,
    Enrolment,
    Group,
    Modality,
    Room,
    Schedule,
    StageTransition,
)
from sessions.permissions import AnyUser, group_queryset_for, managed_group_queryset_for


def group_list(
    *,
    user: AnyUser,
    stage: str | None = None,
    status: str | None = None,
    modality_id: int | None = None,
) -> QuerySet[Group]:
    """The groups ``user`` may see (:func:`group_queryset_for`), with what a group's
    representation shows joined in, and ``can_manage``: whether ``user`` may run the group
    (staff view) or only sees it as a member, and ``has_seat``: whether ``user`` is an
    active member of it (only they get its video link)."""
    groups = (
        group_queryset_for(user)
        .annotate(
            can_manage=Exists(managed_group_queryset_for(user).filter(pk=OuterRef("pk")))
            if user.is_authenticated
            else Value(False, output_field=BooleanField()),
            has_seat=seat_holder_exists(user, group_ref=OuterRef("pk")),
        )
        .select_related("clinic", "modality", "room", "lead_facilitator", "schedule")
        .prefetch_related("co_facilitators")
        .order_by("name", "pk")
    )
    if stage:
        groups = groups.filter(stage=stage)
    if status:
        groups = groups.filter(status=status)
    if modality_id is not None:
        groups = groups.filter(modality_id=modality_id)
    return groups


def seat_holder_exists(user: AnyUser, *, group_ref: OuterRef) -> Exists | Value:
    """Whether ``user`` holds a seat (an active enrolment) in the group at ``group_ref``."""
    if not user.is_authenticated:
        return Value(False, output_field=BooleanField())
    return Exists(
        Enrolment.objects.filter(
            group_id=group_ref, member__user=user, status=EnrolmentStatus.ACTIVE
        )
    )


def stage_transition_list(*, group: Group) -> QuerySet[StageTransition]:
    """The group's stage history, oldest first, with who made each move."""
    return StageTransition.objects.filter(group=group).select_related("by").order_by("at", "pk")


def roster_list(*, group: Group, status: str | None = None) -> QuerySet[Enrolment]:
    """Every enrolment of the group (or those in ``status``) with the member's record, for
    staff who manage the group."""
    enrolments = Enrolment.objects.filter(group=group).select_related("member")
    if status:
        enrolments = enrolments.filter(status=status)
    return enrolments.order_by("member__preferred_name", "pk")


def roster_names(*, group: Group) -> QuerySet[Member]:
    """The active members of the group, for a fellow member: only the preferred name is
    loaded, so nothing else can reach the response."""
    return (
        Member.objects.filter(enrolments__group=group, enrolments__status=EnrolmentStatus.ACTIVE)
        .only("preferred_name")
        .order_by("preferred_name", "pk")
        .distinct()
    )


def member_record_in_group(*, user: AnyUser, group: Group) -> Enrolment | None:
    """The caller's own latest enrolment in ``group`` (through their member record of the
    group's clinic), if any."""
    if not user.is_authenticated:
        return None
    return (
        Enrolment.objects.filter(
            group=group,
            member__user=user,
            member__clinic_id__in=ClinicRole.objects.filter(
                user=user, role=Role.MEMBER, clinic_id=group.clinic_id
            ).values("clinic_id"),
        )
        .select_related("member")
        .order_by("-referred_at", "-pk")
        .first()
    )


def agreement_current_with_acceptance(
    *, group: Group, member: Member | None
) -> tuple[Agreement | None, AgreementAcceptance | None]:
    """The group's current agreement version and ``member``'s acceptance of it, if any."""
    agreement = Agreement.objects.filter(group=group).order_by("-version").first()
    if agreement is None or member is None:
        return agreement, None
    acceptance = AgreementAcceptance.objects.filter(agreement=agreement, member=member).first()
    return agreement, acceptance


def staff_clinic_list(*, user: AnyUser, roles: frozenset[str] = STAFF_ROLES) -> QuerySet[Clinic]:
    """The clinics where ``user`` holds one of ``roles`` (admin or facilitator by default)."""
    if not user.is_authenticated or not user.is_active:
        return Clinic.objects.none()
    return Clinic.objects.filter(
        pk__in=ClinicRole.objects.filter(user=user, role__in=roles).values("clinic_id")
    ).order_by("pk")


def room_list(*, user: AnyUser) -> QuerySet[Room]:
    """The rooms of every clinic where ``user`` is admin or facilitator, with
    ``can_manage`` (admin of the room's clinic)."""
    if not user.is_authenticated or not user.is_active:
        return Room.objects.none()
    admin_of = ClinicRole.objects.filter(
        user=user, role=Role.ADMIN, clinic_id=OuterRef("clinic_id")
    )
    return (
        Room.objects.filter(clinic__in=staff_clinic_list(user=user))
        .annotate(can_manage=Exists(admin_of))
        .order_by("clinic_id", "name", "pk")
    )


def modality_list(*, user: AnyUser) -> QuerySet[Modality]:
    """The built-in modalities and those of every clinic where ``user`` is staff."""
    return Modality.objects.filter(
        Q(clinic__isnull=True) | Q(clinic__in=staff_clinic_list(user=user))
    ).order_by("name", "pk")


def modality_choices(*, clinic: Clinic) -> QuerySet[Modality]:
    """The modalities a group of ``clinic`` may use: built-in ones and the clinic's own."""
    return Modality.objects.filter(Q(clinic__isnull=True) | Q(clinic=clinic))


#: RRULE weekday codes as the pages and the API say them.
_DAY_NAMES = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}


def schedule_summary(schedule: Schedule, tz_name: str) -> str:
    """ "Every week on Tuesday, 18:00 to 19:30 (Europe/London)" from a normalised RRULE."""
    parts = dict(piece.split("=", 1) for piece in schedule.rrule.split(";") if "=" in piece)
    interval = int(parts.get("INTERVAL", "1"))
    every = "Every week" if interval == 1 else f"Every {interval} weeks"
    days = [_DAY_NAMES[day] for day in parts.get("BYDAY", "").split(",") if day in _DAY_NAMES]
    if not days:
        days = [f"{schedule.first_date:%A}"]
    start = dt.datetime.combine(schedule.first_date, schedule.start_time)
    end = start + dt.timedelta(minutes=schedule.duration_minutes)
    return f"{every} on {', '.join(days)}, {start:%H:%M} to {end:%H:%M} ({tz_name})"
