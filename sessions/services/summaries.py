"""Weekly attendance summaries: per group and week, the sessions held, the attendance rate,
each member's rate and who is at risk of dropping out, stored once and sent to the group's
facilitators.

The rules:

- **Week**: Monday 00:00 to the next Monday 00:00 in the clinic's time zone
  (``Clinic.timezone``); ``week_start`` is that Monday.
- **When**: :func:`summaries_weekly` (hourly) makes the summary of the week before the
  current one for each active group that had at least one session in that week that was
  not cancelled, once it is Monday 07:00 or later in the clinic's zone. A run later in the
  same week still makes it if Monday's did not; a week that has not ended never gets one,
  and no week gets two.
- **Held sessions**: not cancelled and ended by the week's end (sessions belong to the week
  in which they start).
- **Expected**: a member is expected at a held session when one of their enrolments in the
  group (active, or since ended) was active on the session's clinic-local date, as for the
  attendance sheet (``Enrolment.objects.active_on``). Attendance recorded for someone not
  expected does not count.
- **Attended**: present, late or left early. **Excused** is not held against the member:
  the session is left out of their expected count. Absent and late-cancelled are
  **unexcused** absences. A held session with **no recorded attendance** for an expected
  member is not known: it is counted (in the audit entry) and kept out of the rates.
- **Rates**: a member's ``sessions_expected`` is the sessions they were expected at less the
  excused and unrecorded ones, their rate is attended / that, None when it is 0; the
  group's rate is the same sums over all members. Rounded to 3 places, half up.
- **At risk**: ``consecutive_unexcused`` is the run of unexcused absences ending at the
  member's latest held session up to the week's end, looked for over their whole time in
  the group (a run can begin in an earlier week). Excused and unrecorded sessions neither
  break nor extend it; attending ends it. ``at_risk`` is a run of 2 or more.
- **E-mail**: with the summary, in the same transaction, one pending ``WEEKLY_SUMMARY``
  outbox row per facilitator of the group (the lead and the co-facilitators, each once),
  due at once; the outbox's dispatcher sends them.

A member gets a line when they were expected at one or more of the week's held sessions
(also when all of them were excused or unrecorded: a run from earlier weeks still shows).
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from members.services import audit_log
from sessions.enums import AttendanceStatus, NotificationKind, NotificationStatus, SessionStatus
from sessions.models import (
    Attendance,
    AttendanceSummary,
    AttendanceSummaryMember,
    Enrolment,
    Group,
    GroupSession,
    Notification,
)
from sessions.selectors.attendance import ATTENDING_ENROLMENT_STATUSES
from sessions.selectors.summaries import summary_week_bounds
from sessions.services.attendance import ATTENDED_STATUSES

logger = logging.getLogger(__name__)

#: Clinic-local time on Monday from which last week's summary is made and sent.
SUMMARY_TIME = dt.time(7, 0)

#: A run of this many unexcused absences in a row marks a member at risk of dropping out.
AT_RISK_RUN = 2

UNEXCUSED_STATUSES = (AttendanceStatus.ABSENT, AttendanceStatus.LATE_CANCELLED)

_THOUSANDTH = Decimal("0.001")


def summary_rate(*, attended: int, expected: int) -> Decimal | None:
    """``attended / expected`` rounded half up to 3 places; None when ``expected`` is 0."""
    if expected == 0:
        return None
    return (Decimal(attended) / Decimal(expected)).quantize(_THOUSANDTH, rounding=ROUND_HALF_UP)


def summary_week_due(*, tz_name: str, now: dt.datetime) -> dt.date | None:
    """The Monday of the week whose summary is due at ``now`` in the zone ``tz_name``: the
    week before the current one, from Monday 07:00 local on; None before that on a Monday
    (last week's summary is not due yet)."""
    tz = zoneinfo.ZoneInfo(tz_name)
    local = now.astimezone(tz)
    monday = local.date() - dt.timedelta(days=local.weekday())
    if local.date() == monday and local.time() < SUMMARY_TIME:
        return None
    return monday - dt.timedelta(days=7)


@dataclass
class _Line:
    """One member's week while it is being counted."""

    expected: int = 0
    attended: int = 0
    excused: int = 0
    unrecorded: int = 0
    run: int = 0

    @property
    def known(self) -> int:
        return self.expected - self.excused - self.unrecorded


def _expected_on(spans: list[tuple[dt.date, dt.date | None]], day: dt.date) -> bool:
    return any(joined <= day and (left is None or left > day) for joined, left in spans)


def _run_of_unexcused(statuses: list[str | None]) -> int:
    """The unexcused absences in a row at the end of ``statuses`` (oldest first); excused
    and unrecorded (None) ones are stepped over, an attended one ends the run."""
    run = 0
    for status in reversed(statuses):
        if status in UNEXCUSED_STATUSES:
            run += 1
        elif status in ATTENDED_STATUSES:
            break
    return run


def _count(
    group: Group, sessions: list[GroupSession], week_start_at: dt.datetime, week_end_at: dt.datetime
) -> tuple[dict[int, _Line], int]:
    """The lines of the members expected in the week (by member id) and the number of held
    sessions in it. ``sessions`` are the group's held sessions up to the week's end, oldest
    first. Two queries (enrolments, attendance), whatever the sizes."""
    spans: dict[int, list[tuple[dt.date, dt.date | None]]] = defaultdict(list)
    for member_id, joined_on, left_on in Enrolment.objects.filter(
        group_id=group.pk, status__in=ATTENDING_ENROLMENT_STATUSES, joined_on__isnull=False
    ).values_list("member_id", "joined_on", "left_on"):
        spans[member_id].append((joined_on, left_on))
    recorded = {
        (session_id, member_id): status
        # By join rather than a list of ids, which a long-running group would make long;
        # rows of sessions that are not held are read but never looked up.
        for session_id, member_id, status in Attendance.objects.filter(
            session__group_id=group.pk, session__start__lt=week_end_at
        ).values_list("session_id", "member_id", "status")
    }
    tz = group.tz
    history: dict[int, list[str | None]] = defaultdict(list)
    lines: dict[int, _Line] = {}
    held_in_week = 0
    for session in sessions:
        day = session.start.astimezone(tz).date()
        in_week = session.start >= week_start_at
        held_in_week += in_week
        for member_id, member_spans in spans.items():
            if not _expected_on(member_spans, day):
                continue
            status = recorded.get((session.pk, member_id))
            history[member_id].append(status)
            if not in_week:
                continue
            line = lines.setdefault(member_id, _Line())
            line.expected += 1
            if status is None:
                line.unrecorded += 1
            elif status == AttendanceStatus.EXCUSED:
                line.excused += 1
            elif status in ATTENDED_STATUSES:
                line.attended += 1
    for member_id, line in lines.items():
        line.run = _run_of_unexcused(history[member_id])
    return lines, held_in_week


def attendance_summary_build(
    *, group: Group, week_start: dt.date, now: dt.datetime | None = None
) -> AttendanceSummary | None:
    """Make the group's summary of the week beginning on the Monday ``week_start`` (the
    clinic's time zone), with its member lines and the facilitators' e-mails; the rules are
    in this module's docstring.

    Returns None, writing nothing, when the week has not ended at ``now``, when the group
    had no session in it that was not cancelled, or when the week's summary exists already
    (get-or-skip). Raises ValueError when ``week_start`` is not a Monday.

    One transaction under the group's row lock, so two runs at once make it once (the
    second waits, then finds it; the unique constraint on group and week backs this up).
    Writes the summary, its lines, one pending ``WEEKLY_SUMMARY`` notification per
    facilitator (key ``weekly_summary:<summary>:u<user>``, due at ``now``) and the audit
    entry ``sessions.summary.created``. Ten queries at most, whatever the number of sessions,
    members and facilitators.
    """
    if week_start.weekday() != 0:
        raise ValueError(f"A summary week starts on a Monday; {week_start:%Y-%m-%d} is not one.")
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the group row (not its clinic) so concurrent runs for it queue here.
        group = (
            Group.objects.select_for_update(of=("self",)).select_related("clinic").get(pk=group.pk)
        )
        week_start_at, week_end_at = summary_week_bounds(
            week_start=week_start, tz_name=group.clinic.timezone
        )
        if now < week_end_at:
            return None
        if AttendanceSummary.objects.filter(group_id=group.pk, week_start=week_start).exists():
            return None
        sessions = list(
            GroupSession.objects.filter(group_id=group.pk, start__lt=week_end_at)
            .exclude(status=SessionStatus.CANCELLED)
            .order_by("start", "pk")
            .only("pk", "start", "end")
        )
        if not any(session.start >= week_start_at for session in sessions):
            return None
        # Held: ended by the week's end. One that starts late on Sunday and runs past
        # midnight is in the week but not held in it.
        held = [session for session in sessions if session.end <= week_end_at]
        lines, held_in_week = _count(group, held, week_start_at, week_end_at)

        summary = AttendanceSummary.objects.create(
            group=group,
            week_start=week_start,
            sessions_held=held_in_week,
            attendance_rate=summary_rate(
                attended=sum(line.attended for line in lines.values()),
                expected=sum(line.known for line in lines.values()),
            ),
        )
        AttendanceSummaryMember.objects.bulk_create(
            AttendanceSummaryMember(
                summary=summary,
                member_id=member_id,
                sessions_expected=line.known,
                sessions_attended=line.attended,
                rate=summary_rate(attended=line.attended, expected=line.known),
                consecutive_unexcused=line.run,
                at_risk=line.run >= AT_RISK_RUN,
            )
            for member_id, line in sorted(lines.items())
        )
        facilitator_ids = sorted(
            {group.lead_facilitator_id, *group.co_facilitators.values_list("pk", flat=True)}
        )
        Notification.objects.bulk_create(
            Notification(
                key=f"weekly_summary:{summary.pk}:u{user_id}",
                kind=NotificationKind.WEEKLY_SUMMARY,
                clinic_id=group.clinic_id,
                user_id=user_id,
                summary=summary,
                due_at=now,
                status=NotificationStatus.PENDING,
            )
            for user_id in facilitator_ids
        )
        audit_log(
            action="sessions.summary.created",
            actor=None,
            clinic_id=group.clinic_id,
            obj=summary,
            data={
                "group_id": group.pk,
                "week_start": week_start.isoformat(),
                "unrecorded": sum(line.unrecorded for line in lines.values()),
                "recipient_ids": facilitator_ids,
            },
        )
    return summary


def _groups_due(now: dt.datetime) -> list[tuple[Group, dt.date]]:
    """Active groups whose last week needs a summary: due by the clinic's clock, not made
    yet, and with a session in the week that was not cancelled. Three queries, whatever
    the number of groups."""
    due: dict[int, tuple[Group, dt.date]] = {}
    for group in Group.objects.active().select_related("clinic").order_by("pk"):
        week_start = summary_week_due(tz_name=group.clinic.timezone, now=now)
        if week_start is not None:
            due[group.pk] = (group, week_start)
    if not due:
        return []
    made = set(
        AttendanceSummary.objects.filter(
            group_id__in=list(due), week_start__in={week for _, week in due.values()}
        ).values_list("group_id", "week_start")
    )
    weeks: dict[tuple[str, dt.date], list[int]] = defaultdict(list)
    for group_id, (group, week_start) in due.items():
        if (group_id, week_start) not in made:
            weeks[group.clinic.timezone, week_start].append(group_id)
    if not weeks:
        return []
    # One clause per clinic time zone and week: groups in one zone share the week's bounds.
    in_week = Q()
    for (tz_name, week_start), group_ids in weeks.items():
        start, end = summary_week_bounds(week_start=week_start, tz_name=tz_name)
        in_week |= Q(group_id__in=group_ids, start__gte=start, start__lt=end)
    met = set(
        GroupSession.objects.filter(in_week)
        .exclude(status=SessionStatus.CANCELLED)
        .values_list("group_id", flat=True)
        .distinct()
    )
    return [due[group_id] for group_id in sorted(met)]


def summaries_weekly(*, now: dt.datetime | None = None) -> int:
    """Make every summary due at ``now`` (see the module's rules) and return how many.

    Hourly from Celery beat. Each group's summary is its own transaction
    (:func:`attendance_summary_build`), so a group that fails is logged and retried next
    hour without holding back the others. Idempotent: a second run, or two at once, makes
    nothing more. Three queries to find the groups, then a bounded number per group due.
    """
    now = now or timezone.now()
    made = 0
    for group, week_start in _groups_due(now):
        try:
            summary = attendance_summary_build(group=group, week_start=week_start, now=now)
        except Exception:
            # One group's bad data must not stop the others' summaries; this one is tried
            # again next hour.
            logger.exception("weekly summary of group %s, week of %s failed", group.pk, week_start)
            continue
        made += summary is not None
    return made
