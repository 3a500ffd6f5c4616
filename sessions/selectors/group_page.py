"""Reads behind the facilitator's group page and its schedule editor: the roster at a
glance, the group's seats, its sessions with their attendance rates, the facilitators and
rooms a group of a clinic may use, and a preview of a schedule (with the daylight-saving
changes that fall inside it).

Each read is a fixed number of queries whatever the size of the group. None checks
permissions: the views decide first (:func:`sessions.permissions.managed_group_queryset_for`).
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from dataclasses import dataclass

from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from members.enums import Role
from members.models import Clinic, User
from sessions.enums import AttendanceStatus, EnrolmentStatus, SessionStatus
from sessions.models import (
    Agreement,
    AgreementAcceptance,
    Enrolment,
    Group,
    GroupSession,
    Room,
    Schedule,
    Screening,
)
from sessions.services.attendance import ATTENDED_STATUSES
from sessions.services.scheduling import schedule_occurrences

#: How many of the next dates the schedule preview lists.
PREVIEW_DATES = 8

#: How far ahead the preview reads a series (the editor allows ten years at most).
SERIES_PREVIEW_SPAN = dt.timedelta(days=366 * 11)

#: How many upcoming sessions the group page lists (the rest are on the week calendar).


# --- the roster ----------------------------------------------------------------------------


def group_roster_rows(*, group: Group) -> QuerySet[Enrolment]:
    """Every enrolment of the group with its member, for the group page, each annotated with
    ``screening_outcome`` (of the latest screening, None if never screened) and
    ``agreement_accepted`` (whether the member accepted the group's CURRENT agreement
    version; None when the group has published none). Active first, then the waitlist,
    then the rest; by preferred name. One query."""
    latest_screening = Screening.objects.filter(enrolment=OuterRef("pk")).order_by(
        "-screened_at", "-pk"
    )
    current_agreement = (
        Agreement.objects.filter(group_id=group.pk).order_by("-version").values("pk")[:1]
    )
    accepted = Exists(
        AgreementAcceptance.objects.filter(
            agreement_id=Subquery(current_agreement), member_id=OuterRef("member_id")
        )
    )
    status_order = Case(
        When(status=EnrolmentStatus.ACTIVE, then=Value(0)),
        When(status=EnrolmentStatus.WAITLISTED, then=Value(1)),
        When(status=EnrolmentStatus.SCREENING, then=Value(2)),
        When(status=EnrolmentStatus.REFERRED, then=Value(3)),
        default=Value(4),
        output_field=IntegerField(),
    )
    return (
        Enrolment.objects.filter(group_id=group.pk)
        .select_related("member")
        .annotate(
            screening_outcome=Subquery(latest_screening.values("outcome")[:1]),
            has_agreement=Exists(Agreement.objects.filter(group_id=group.pk)),
            agreement_accepted=Case(
                When(has_agreement=False, then=Value(None)),
                When(accepted, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
            status_order=status_order,
        )
        .order_by("status_order", "member__preferred_name", "pk")
    )


@dataclass(frozen=True)
class Seats:
    """The group's active members and waitlist, against its capacity."""

    active: int
    waitlisted: int
    max_size: int

    @property
    def free(self) -> int:
        return max(self.max_size - self.active, 0)


def group_seats(*, group: Group) -> Seats:
    """How many of the group's seats are taken and how long its waitlist is. One query."""
    counts = Enrolment.objects.filter(group_id=group.pk).aggregate(
        active=Count("pk", filter=Q(status=EnrolmentStatus.ACTIVE)),
        waitlisted=Count("pk", filter=Q(status=EnrolmentStatus.WAITLISTED)),
    )
    return Seats(active=counts["active"], waitlisted=counts["waitlisted"], max_size=group.max_size)


# --- sessions with attendance rates --------------------------------------------------------


def _with_attendance(sessions: QuerySet[GroupSession]) -> QuerySet[GroupSession]:
    """Annotate ``attended`` (present, late or left early), ``known`` (marks that count:
    recorded and not excused) and ``attendance_percent`` (attended / known, rounded half
    up; None when nothing that counts is recorded): the rule of the weekly summaries
    (:mod:`sessions.services.summaries`) for one session."""
    attended = Count("attendance", filter=Q(attendance__status__in=ATTENDED_STATUSES))
    known = Count("attendance", filter=~Q(attendance__status=AttendanceStatus.EXCUSED))
    return (
        sessions.select_related("room")
        .annotate(attended=attended, known=known)
        .annotate(
            attendance_percent=Case(
                When(known=0, then=Value(None)),
                # Integer arithmetic, half up: (200a + k) / 2k == round(100a / k).
                default=(F("attended") * 200 + F("known")) / (F("known") * 2),
                output_field=IntegerField(),
            )
        )
    )


def group_sessions_upcoming(
    *, group: Group, now: dt.datetime | None = None
) -> QuerySet[GroupSession]:
    """The group's sessions that have not ended (cancelled ones included, to be shown as
    such), earliest first, with their room. One query per page."""
    now = now or timezone.now()
    return (
        GroupSession.objects.filter(group_id=group.pk, end__gt=now)
        .select_related("room")
        .order_by("start", "pk")
    )


def group_sessions_upcoming_count(*, group: Group, now: dt.datetime | None = None) -> int:
    """How many of the group's sessions that have not ended are not cancelled. One query."""
    now = now or timezone.now()
    return (
        GroupSession.objects.filter(group_id=group.pk, end__gt=now)
        .exclude(status=SessionStatus.CANCELLED)
        .count()
    )


def group_sessions_past(*, group: Group, now: dt.datetime | None = None) -> QuerySet[GroupSession]:
    """The group's sessions that have ended, latest first, with their room and attendance
    counts (see :func:`_with_attendance`). One query per page."""
    now = now or timezone.now()
    return _with_attendance(GroupSession.objects.filter(group_id=group.pk, end__lte=now)).order_by(
        "-start", "-pk"
    )


# --- choices of a group's clinic -----------------------------------------------------------


def clinic_facilitators(*, clinic: Clinic) -> QuerySet[User]:
    """The active users who hold the facilitator role in ``clinic``, by name."""
    return (
        User.objects.filter(
            clinic_roles__clinic=clinic, clinic_roles__role=Role.FACILITATOR, is_active=True
        )
        .distinct()
        .order_by("full_name", "email", "pk")
    )


def clinic_rooms_in_use(*, clinic: Clinic, keep: int | None = None) -> QuerySet[Room]:
    """The rooms of ``clinic`` that are in use, by name, and the room ``keep`` (a group's
    current room) even if it is no longer in use, so that editing the group keeps it."""
    return Room.objects.filter(Q(is_active=True) | Q(pk=keep), clinic=clinic).order_by("name", "pk")


# --- schedule preview ----------------------------------------------------------------------


@dataclass(frozen=True)
class ClockChange:
    """A daylight-saving change between two sessions of a series: the local date the clocks
    change and the wall-clock time the sessions keep."""

    day: dt.date
    keeps: dt.time


@dataclass(frozen=True)
class SchedulePreview:
    """What a schedule would give: the first dates (aware, in the clinic's zone), how many
    sessions in all from now (to the group's horizon), and the clock changes inside them."""

    starts: list[dt.datetime]
    ends: list[dt.datetime]
    total: int
    clock_changes: list[ClockChange]


def _clock_change_day(before: dt.datetime, after: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.date:
    """The first local date after ``before`` whose end has another UTC offset."""
    offset = before.utcoffset()
    day = before.date()
    while day < after.date():
        day += dt.timedelta(days=1)
        end_of_day = dt.datetime.combine(day, dt.time(23, 59), tzinfo=tz)
        if end_of_day.utcoffset() != offset:
            return day
    return after.date()


def schedule_preview(
    *,
    group: Group,
    rrule: str,
    first_date: dt.date,
    start_time: dt.time,
    duration_minutes: int,
    now: dt.datetime | None = None,
    limit: int = PREVIEW_DATES,
) -> SchedulePreview:
    """The sessions this (validated) rule gives from ``now`` to its end, the group's
    planned end or its final session, read with the code of
    :func:`sessions.services.scheduling.schedule_set`, without writing anything: the first
    ``limit`` dates, the number in all, and each daylight-saving change between two of
    them. No query (the group's clinic must be loaded)."""
    now = now or timezone.now()
    schedule = Schedule(
        group=group,
        rrule=rrule,
        first_date=first_date,
        start_time=start_time,
        duration_minutes=duration_minutes,
    )
    # The whole series, not only the part generated ahead of time (a periodic job extends
    # an open-ended group 12 weeks at a time); the rule itself always ends.
    occurrences = schedule_occurrences(
        schedule=schedule, group=group, now=now, through=now + SERIES_PREVIEW_SPAN
    )
    tz = group.tz
    starts = [item.start.astimezone(tz) for item in occurrences]
    changes: list[ClockChange] = []
    for before, after in itertools.pairwise(starts):
        if before.utcoffset() != after.utcoffset():
            changes.append(ClockChange(day=_clock_change_day(before, after, tz), keeps=start_time))
    return SchedulePreview(
        starts=starts[:limit],
        ends=[item.end.astimezone(tz) for item in occurrences[:limit]],
        total=len(starts),
        clock_changes=changes,
    )
