"""Reads of the weekly attendance summaries: a group's recent weeks (the trend on its pages)
and what the facilitators' e-mail says about one week.

The e-mail carries the least health information: it names the week, not the group, and
identifies the group only by when and where it meets ("your group meeting Tuesdays 18:00,
Room 2"); it gives numbers, never a member's name (the facilitator reads those in the app).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Prefetch, Q

from members.models import User
from sessions.enums import SessionStatus
from sessions.models import AttendanceSummary, AttendanceSummaryMember, Group, GroupSession
from sessions.wording import ONLINE

#: BYDAY codes in week order, with the words the e-mail uses for them.
_DAY_PLURALS = {
    "MO": "Mondays",
    "TU": "Tuesdays",
    "WE": "Wednesdays",
    "TH": "Thursdays",
    "FR": "Fridays",
    "SA": "Saturdays",
    "SU": "Sundays",
}
_WEEKDAY_CODES = list(_DAY_PLURALS)


def summary_week_bounds(*, week_start: dt.date, tz_name: str) -> tuple[dt.datetime, dt.datetime]:
    """The week that begins on the Monday ``week_start``, as UTC instants: from Monday
    00:00 to the next Monday 00:00 in the clinic's time zone ``tz_name`` (so a week across
    a daylight-saving change is 167 or 169 hours long)."""
    tz = zoneinfo.ZoneInfo(tz_name)
    start = dt.datetime.combine(week_start, dt.time(0), tzinfo=tz)
    end = dt.datetime.combine(week_start + dt.timedelta(days=7), dt.time(0), tzinfo=tz)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def group_summaries(*, group: Group, limit: int = 12) -> list[AttendanceSummary]:
    """The group's latest ``limit`` weekly summaries, newest first, each with its member
    lines (by preferred name) and their members loaded. Two queries, whatever the number of
    weeks or members. No permission check: the caller has decided the reader may see them.
    """
    lines = AttendanceSummaryMember.objects.select_related("member").order_by(
        "member__preferred_name", "member_id"
    )
    return list(
        AttendanceSummary.objects.filter(group_id=group.pk)
        .order_by("-week_start")
        .prefetch_related(Prefetch("lines", queryset=lines))[:limit]
    )


def _percent(rate: Decimal | None) -> str:
    if rate is None:
        return ""
    return f"{(rate * 100).quantize(Decimal('1'), rounding=ROUND_HALF_UP)}%"


def _days_and_times(slots: list[tuple[int, str]]) -> str:
    """ "Tuesdays 18:00", "Tuesdays and Thursdays 18:00" or "Tuesdays 18:00 and Thursdays
    10:00" from (weekday, "HH:MM") pairs in week order."""
    times = {time for _, time in slots}
    if len(times) == 1:
        days = [_DAY_PLURALS[_WEEKDAY_CODES[day]] for day, _ in slots]
        return f"{_and(days)} {times.pop()}"
    return _and([f"{_DAY_PLURALS[_WEEKDAY_CODES[day]]} {time}" for day, time in slots])


def _and(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def _schedule_slots(group: Group) -> list[tuple[int, str]]:
    schedule = group.schedule
    parts = dict(piece.split("=", 1) for piece in schedule.rrule.split(";") if "=" in piece)
    codes = [code for code in parts.get("BYDAY", "").split(",") if code in _DAY_PLURALS]
    days = sorted({_WEEKDAY_CODES.index(code) for code in codes}) or [schedule.first_date.weekday()]
    return [(day, f"{schedule.start_time:%H:%M}") for day in days]


def _week_slots(summary: AttendanceSummary, tz_name: str) -> list[tuple[int, str]]:
    """When the group met in the summary's week (for a group without a schedule)."""
    start, end = summary_week_bounds(week_start=summary.week_start, tz_name=tz_name)
    tz = zoneinfo.ZoneInfo(tz_name)
    starts = (
        GroupSession.objects.filter(group_id=summary.group_id, start__gte=start, start__lt=end)
        .exclude(status=SessionStatus.CANCELLED)
        .values_list("start", flat=True)
    )
    local = {
        (moment.astimezone(tz).weekday(), f"{moment.astimezone(tz):%H:%M}") for moment in starts
    }
    return sorted(local)


def _meeting(summary: AttendanceSummary, tz_name: str) -> str:
    """ "Tuesdays 18:00, Room 2": the group's schedule (or, without one, when it met that
    week) and its room, "Online" for a group meeting by video link."""
    group = summary.group
    has_schedule = getattr(group, "schedule", None) is not None
    slots = _schedule_slots(group) if has_schedule else _week_slots(summary, tz_name)
    when = _days_and_times(slots)
    place = group.room.name if group.room_id is not None else (ONLINE if group.video_link else "")
    return ", ".join(part for part in (when, place) if part)


def summary_email_context(*, summary: AttendanceSummary, user: User) -> dict[str, Any]:
    """What the weekly-summary e-mail to the facilitator ``user`` is rendered with.

    Keys: ``base_url``, ``recipient_name``, ``group_id``, ``week_of`` ("23 Nov"),
    ``week_label`` ("Monday 23 to Sunday 29 November 2026"), ``meeting`` (the group's days,
    time and room, never its name), ``sessions_held``, ``attendance_rate`` (the stored
    Decimal or None), ``attendance_percent`` ("75%", "" when not known) and ``at_risk_count``
    (members with two or more unexcused absences in a row). No member is named. One query
    (two for a group without a schedule); reads only.
    """
    summary = (
        AttendanceSummary.objects.select_related("group__clinic", "group__room", "group__schedule")
        .annotate(at_risk_count=Count("lines", filter=Q(lines__at_risk=True)))
        .get(pk=summary.pk)
    )
    tz_name = summary.group.clinic.timezone
    monday = summary.week_start
    sunday = monday + dt.timedelta(days=6)
    if monday.year != sunday.year:
        week_label = f"Monday {monday.day} {monday:%B %Y} to Sunday {sunday.day} {sunday:%B %Y}"
    elif monday.month != sunday.month:
        week_label = f"Monday {monday.day} {monday:%B} to Sunday {sunday.day} {sunday:%B %Y}"
    else:
        week_label = f"Monday {monday.day} to Sunday {sunday.day} {sunday:%B %Y}"
    return {
        "base_url": settings.GROUPCARE_BASE_URL,
        "recipient_name": user.get_short_name(),
        "group_id": summary.group_id,
        "week_of": f"{monday.day} {monday:%b}",
        "week_label": week_label,
        "meeting": _meeting(summary, tz_name),
        "sessions_held": summary.sessions_held,
        "attendance_rate": summary.attendance_rate,
        "attendance_percent": _percent(summary.attendance_rate),
        "at_risk_count": summary.at_risk_count,  # type: ignore[attr-defined]
    }
