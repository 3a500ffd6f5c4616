"""Reads of the attendance report page: its filter choices, the export rows narrowed to one
facilitator, and the weekly attendance rates the chart draws.

Everything starts from the API export's selectors (:mod:`sessions.selectors.exports`), so
the page, its downloads and ``GET /api/v1/exports/attendance/`` hold the same rows for the
same caller and filters. A row's week is the Monday of its session's local date in its
clinic's time zone, as in the weekly summaries.

Rates follow the weekly summary's rules (:mod:`sessions.services.summaries`): attended
(present, late, left early) over attended plus unexcused (absent, late-cancelled); excused
absences are left out, and a session with nothing recorded adds nothing. A week with
nothing that counts has no rate (None), which is not 0 %.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet

from members.models import User
from sessions.enums import AttendanceStatus
from sessions.models import Group, SessionFacilitator
from sessions.permissions import (
    AnyUser,
    attendance_queryset_for,
    group_queryset_for,
    managed_group_session_queryset_for,
)
from sessions.selectors.exports import attendance_export_queryset, attendance_export_rows
from sessions.services.attendance import ATTENDED_STATUSES
from sessions.services.summaries import UNEXCUSED_STATUSES, summary_rate


def report_group_choices(*, user: AnyUser) -> QuerySet[Group]:
    """The groups the report may be narrowed to: those the API export accepts as its
    ``group`` (:func:`~sessions.selectors.exports.attendance_export_group`), by name."""
    in_scope = Q(pk__in=group_queryset_for(user).values("pk")) | Q(
        pk__in=attendance_queryset_for(user).values("session__group_id")
    )
    return Group.objects.filter(in_scope).select_related("clinic").order_by("name", "pk")


def report_facilitator_choices(*, user: AnyUser) -> QuerySet[User]:
    """Who facilitated a session whose attendance ``user`` reads as staff (leads,
    co-facilitators and substitutes), by name."""
    sessions = managed_group_session_queryset_for(user).values("pk")
    return User.objects.filter(
        pk__in=SessionFacilitator.objects.filter(session_id__in=sessions).values("facilitator_id")
    ).order_by("full_name", "email", "pk")


def _day_start_utc(day: dt.date, shift_days: int) -> dt.datetime:
    """UTC midnight ``shift_days`` from ``day``, clamped to the calendar's ends (the widening
    by a day covers every clinic's time zone; the exact local date is checked per row)."""
    try:
        shifted = day + dt.timedelta(days=shift_days)
    except OverflowError:
        shifted = dt.date.min if shift_days < 0 else dt.date.max
    return dt.datetime.combine(shifted, dt.time(), tzinfo=dt.UTC)


def attendance_report_rows(
    *,
    user: AnyUser,
    first_day: dt.date,
    last_day: dt.date,
    group_id: int | None = None,
    facilitator_id: int | None = None,
) -> Iterator[dict[str, Any]]:
    """The rows of :func:`~sessions.selectors.exports.attendance_export_rows` (same scope,
    columns and order), and with ``facilitator_id`` only those of the sessions that person
    facilitated (as lead, co-facilitator or substitute).

    Lazy, like the export: nothing is read until the first row is asked for. With a
    facilitator, one more query first reads the ids of their sessions in the range (a few
    hundred a year at most), so the rows still stream."""
    rows = attendance_export_rows(
        user=user, first_day=first_day, last_day=last_day, group_id=group_id
    )
    if facilitator_id is None:
        yield from rows
        return
    session_ids = set(
        SessionFacilitator.objects.filter(
            facilitator_id=facilitator_id,
            session__start__gte=_day_start_utc(first_day, -1),
            session__start__lt=_day_start_utc(last_day, 2),
        ).values_list("session_id", flat=True)
    )
    for row in rows:
        if row["session_id"] in session_ids:
            yield row


@dataclass(frozen=True)
class AttendanceWeek:
    """One week of the report: its Monday and what was recorded at its sessions."""

    monday: dt.date
    sessions: int
    rows: int
    attended: int
    unexcused: int
    excused: int

    @property
    def rate(self) -> Decimal | None:
        return summary_rate(attended=self.attended, expected=self.attended + self.unexcused)

    @property
    def percent(self) -> int | None:
        """The rate as a whole percentage, rounded half up; None without a rate."""
        rate = self.rate
        if rate is None:
            return None
        return int((rate * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class AttendanceReport:
    """What the report page shows: how many rows a download holds, and the weeks (every
    week the range touches, oldest first, those without sessions included)."""

    row_count: int
    weeks: list[AttendanceWeek]

    @property
    def has_rates(self) -> bool:
        return any(week.rate is not None for week in self.weeks)


def attendance_report(
    *,
    user: AnyUser,
    first_day: dt.date,
    last_day: dt.date,
    group_id: int | None = None,
    facilitator_id: int | None = None,
) -> AttendanceReport:
    """The row count and weekly figures of the rows :func:`attendance_report_rows` gives
    for the same arguments. One query, counted and grouped by session in the database (a
    row per session, not per attendance record), whatever the range holds."""
    rows = attendance_export_queryset(
        user=user, first_day=first_day, last_day=last_day, group_id=group_id
    )
    if facilitator_id is not None:
        # One facilitation row per session and person (a unique constraint): no duplicates.
        rows = rows.filter(session__facilitations__facilitator_id=facilitator_id)
    per_session = (
        rows.order_by()
        .values("session_id", "session__start", "session__group__clinic__timezone")
        .annotate(
            rows=Count("pk"),
            attended=Count("pk", filter=Q(status__in=ATTENDED_STATUSES)),
            unexcused=Count("pk", filter=Q(status__in=UNEXCUSED_STATUSES)),
            excused=Count("pk", filter=Q(status=AttendanceStatus.EXCUSED)),
        )
    )
    totals: dict[dt.date, dict[str, int]] = {}
    zones: dict[str, zoneinfo.ZoneInfo] = {}
    for session in per_session:
        tz_name = session["session__group__clinic__timezone"]
        tz = zones.get(tz_name) or zones.setdefault(tz_name, zoneinfo.ZoneInfo(tz_name))
        day = session["session__start"].astimezone(tz).date()
        if not first_day <= day <= last_day:
            continue
        week = totals.setdefault(
            day - dt.timedelta(days=day.weekday()),
            {"sessions": 0, "rows": 0, "attended": 0, "unexcused": 0, "excused": 0},
        )
        week["sessions"] += 1
        for key in ("rows", "attended", "unexcused", "excused"):
            week[key] += session[key]
    empty = {"sessions": 0, "rows": 0, "attended": 0, "unexcused": 0, "excused": 0}
    weeks = [
        AttendanceWeek(monday=monday, **totals.get(monday, empty))
        for monday in _mondays(first_day, last_day)
    ]
    return AttendanceReport(row_count=sum(week.rows for week in weeks), weeks=weeks)


def _mondays(first_day: dt.date, last_day: dt.date) -> list[dt.date]:
    monday = first_day - dt.timedelta(days=first_day.weekday())
    mondays = []
    while monday <= last_day:
        mondays.append(monday)
        try:
            monday += dt.timedelta(weeks=1)
        except OverflowError:  # the last week of the calendar
            break
    return mondays
