"""Reads for the facilitator's pages: the sessions they run (upcoming, and one week of them),
what each one expects (how many members, who said they can't come), a stable colour per
group, and the staff who may facilitate a session.

"The sessions they run" are :func:`sessions.permissions.managed_group_session_queryset_for`:
a facilitator's own groups and any session they cover as a substitute; for a clinic admin,
every session of their clinic(s). Every function here runs a fixed number of queries
whatever the number of sessions.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from django.db.models import QuerySet

from members.enums import Role
from members.models import Clinic, ClinicRole, Member, User
from sessions.enums import AttendanceStatus
from sessions.models import Attendance, Enrolment, GroupSession
from sessions.permissions import (
    AnyUser,
    managed_group_queryset_for,
    managed_group_session_queryset_for,
)
from sessions.selectors.attendance import ATTENDING_ENROLMENT_STATUSES
from sessions.selectors.group_sessions import group_session_list

#: How many colours the calendar tells groups apart by (CSS ``group-colour-0`` … ``-5``).
GROUP_COLOURS: Final = 6

#: The statuses a member's own "I can't come" leaves (excused, or late-cancelled after the
#: group's notice period).
CANT_COME_STATUSES: Final = (AttendanceStatus.EXCUSED, AttendanceStatus.LATE_CANCELLED)


def run_session_list(*, user: AnyUser) -> QuerySet[GroupSession]:
    """The sessions ``user`` runs, earliest first, cancelled ones included, shaped as
    :func:`sessions.selectors.group_sessions.group_session_list` (group, clinic, room,
    ``can_manage``, ``can_run``, ``facilitator_rows``). Callers narrow it by time."""
    return group_session_list(user=user).filter(
        pk__in=managed_group_session_queryset_for(user).values("pk")
    )


def run_session_upcoming(*, user: AnyUser, now: dt.datetime) -> QuerySet[GroupSession]:
    """The sessions ``user`` runs that have not ended and are not cancelled, without their
    facilitators (the lists do not show them)."""
    return run_session_list(user=user).upcoming(now).prefetch_related(None)


def run_session_week(*, user: AnyUser, start: dt.datetime) -> list[GroupSession]:
    """The sessions ``user`` runs that start in the seven days from ``start`` (an aware
    instant: Monday 00:00 in the viewer's zone), cancelled ones included, without their
    facilitators."""
    return list(
        run_session_list(user=user)
        .filter(start__gte=start, start__lt=start + dt.timedelta(days=7))
        .prefetch_related(None)
    )


def group_colour_positions(*, user: AnyUser) -> dict[int, int]:
    """A colour number (0 … GROUP_COLOURS - 1) for each group ``user`` runs, by the
    group's position among them, so a group keeps its colour from week to week. One
    query."""
    ids = managed_group_queryset_for(user).order_by("pk").values_list("pk", flat=True)
    return {group_id: index % GROUP_COLOURS for index, group_id in enumerate(ids)}


@dataclass(frozen=True)
class SessionOutlook:
    """What a facilitator needs to know ahead of a session: how many members are expected,
    and which of them said they can't come (by preferred name)."""

    expected_count: int
    cant_come: tuple[Member, ...]


def session_outlooks(*, sessions: Sequence[GroupSession]) -> dict[int, SessionOutlook]:
    """The :class:`SessionOutlook` of each session (their group and clinic loaded), by
    session id. "Expected" follows the roster on the session's local date, as
    :func:`sessions.selectors.attendance.session_expected_member_ids` does. Two queries,
    whatever the number of sessions (none when there are none)."""
    if not sessions:
        return {}
    group_ids = {session.group_id for session in sessions}
    spans: dict[int, list[tuple[int, dt.date, dt.date | None]]] = defaultdict(list)
    for group_id, member_id, joined_on, left_on in Enrolment.objects.filter(
        group_id__in=group_ids,
        status__in=ATTENDING_ENROLMENT_STATUSES,
        joined_on__isnull=False,
    ).values_list("group_id", "member_id", "joined_on", "left_on"):
        spans[group_id].append((member_id, joined_on, left_on))

    cant_come: dict[int, list[Member]] = defaultdict(list)
    rows = (
        Attendance.objects.filter(
            session_id__in=[session.pk for session in sessions], status__in=CANT_COME_STATUSES
        )
        .select_related("member")
        .order_by("member__preferred_name", "member_id")
    )
    for row in rows:
        # Only the member themself marks a session that has not started; a facilitator's
        # "excused" after the start is attendance, not a notice.
        if row.recorded_by_id == row.member.user_id:
            cant_come[row.session_id].append(row.member)

    outlooks = {}
    for session in sessions:
        day = session.start.astimezone(zoneinfo.ZoneInfo(session.group.clinic.timezone)).date()
        expected = {
            member_id
            for member_id, joined_on, left_on in spans[session.group_id]
            if joined_on <= day and (left_on is None or left_on > day)
        }
        outlooks[session.pk] = SessionOutlook(
            expected_count=len(expected), cant_come=tuple(cant_come[session.pk])
        )
    return outlooks


def session_staff_choices(*, clinic: Clinic) -> QuerySet[User]:
    """The people who may facilitate a session of ``clinic`` (its active facilitators and
    admins), by name: the same set the services accept."""
    return User.objects.filter(
        is_active=True,
        pk__in=ClinicRole.objects.filter(
            clinic=clinic, role__in=[Role.FACILITATOR, Role.ADMIN]
        ).values("user_id"),
    ).order_by("full_name", "email", "pk")
