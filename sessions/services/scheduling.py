"""Writes about when groups meet: the schedule (a weekly RRULE in the clinic's local time),
the sessions generated from it, moving or cancelling one session, and the final session.

Time rules. Occurrences are computed as naive local datetimes (``first_date`` +
``start_time`` expanded by the RRULE), then read in the clinic's zone and stored in UTC, so
18:00 stays 18:00 across daylight-saving changes. A wall-clock time that does not exist
(spring-forward gap) lands after the gap, e.g. 02:30 → 03:30 EDT; an ambiguous one
(fall-back) takes its first occurrence. The end is start + duration in absolute time.

No double booking. A facilitator or a room is never in two non-cancelled sessions whose
half-open ``[start, end)`` intervals overlap. Every write checks in the application first
(one query for the whole batch) and refuses with :class:`DoubleBookingError` naming the
session in the way; on PostgreSQL the exclusion constraints ``facilitator_no_overlap`` and
``session_room_no_overlap`` catch the race between two requests, and their IntegrityError is
turned into the same error. A session in another clinic is never named.

Locks. Every write about a group's sessions or their attendance locks the group row first,
then the session row (:func:`group_session_lock`), so the series services, which read the
group's sessions and then rewrite or delete them, never interleave with a cancel, an "I
can't come" or a record of attendance.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
import zoneinfo
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final, TypeVar, cast

from dateutil.rrule import rrule as RRule
from dateutil.rrule import rrulestr
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from members.enums import Role
from members.models import ClinicRole, User
from members.services import audit_log
from sessions.enums import GroupStatus, NotificationKind, SessionStatus
from sessions.errors import DoubleBookingError, ScheduleError, SessionChangeError
from sessions.models import Attendance, Group, GroupSession, Room, Schedule, SessionFacilitator
from sessions.permissions import group_session_queryset_for
from sessions.selectors.scheduling import BookingConflict, BookingRequest, booking_conflict_find
from sessions.services.notifications import reminders_plan, session_notices_queue

T = TypeVar("T")

#: RFC 5545 weekday codes, Monday first.
WEEKDAYS: Final = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

#: How far ahead sessions are generated for a group with neither a planned end nor a final
#: session; a periodic job extends the series as time passes.
OPEN_ENDED_HORIZON: Final = dt.timedelta(weeks=12)

MIN_DURATION_MINUTES: Final = 15
MAX_DURATION_MINUTES: Final = 8 * 60
#: A series edit notifies members of their sessions that change within this time ahead.
SERIES_NOTICE_AHEAD: Final = dt.timedelta(days=14)
CANCEL_REASON_MAX_LENGTH: Final = GroupSession._meta.get_field("cancel_reason").max_length

_RRULE_PARTS: Final = ("FREQ", "INTERVAL", "BYDAY", "WKST", "COUNT", "UNTIL")
_UNTIL_RE: Final = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T\d{6}Z?)?$")
_UNTIL_IN_RULE_RE: Final = re.compile(r"UNTIL=(\d{4})(\d{2})(\d{2})")
_OVERLAP_CONSTRAINTS: Final = frozenset({"facilitator_no_overlap", "session_room_no_overlap"})

#: How a session cancelled by :func:`group_sessions_finalise` is recognised, so that leaving
#: adjourning restores exactly those.
FINALISED_REASON_PREFIX: Final = "The group ended with its final session on "


class _Unchanged(Enum):
    UNCHANGED = "unchanged"


#: Default of ``group_session_move(room=…)``: keep the session's room (``None`` means no room).
UNCHANGED: Final = _Unchanged.UNCHANGED


# --- RRULE ---------------------------------------------------------------------------------


def rrule_build(
    *,
    weekdays: list[str],
    interval: int = 1,
    count: int | None = None,
    until: dt.date | None = None,
) -> str:
    """A weekly RRULE on ``weekdays`` (``["TU", "TH"]``), validated and normalised.

    ``until`` is a local date and is inclusive: a session on that day still takes place.
    Raises :class:`ScheduleError` for the same reasons as :func:`rrule_validate`.
    """
    if not weekdays:
        raise ScheduleError("Choose at least one weekday for the schedule.")
    parts = ["FREQ=WEEKLY", f"INTERVAL={interval}", "BYDAY=" + ",".join(weekdays)]
    if count is not None:
        parts.append(f"COUNT={count}")
    if until is not None:
        parts.append(f"UNTIL={until:%Y%m%d}")
    return rrule_validate(";".join(parts))


def rrule_validate(rrule: str) -> str:
    """Check a schedule's RRULE and return it normalised.

    A schedule repeats weekly (``FREQ=WEEKLY``) every ``INTERVAL`` weeks on ``BYDAY``
    weekdays and must end, with ``COUNT`` (sessions) or ``UNTIL`` (a local date, inclusive,
    normalised to ``YYYYMMDDT235959``). The result reads
    ``FREQ=WEEKLY;INTERVAL=1;BYDAY=TU,TH;COUNT=12``. Raises :class:`ScheduleError` with a
    message that says what to fix. No side effects.
    """
    text = rrule.strip().upper()
    text = text.removeprefix("RRULE:")
    unreadable = ScheduleError(
        f"This RRULE could not be read: {rrule!r}. Write KEY=VALUE pairs separated by ';', "
        "e.g. FREQ=WEEKLY;BYDAY=TU;COUNT=12."
    )
    parts: dict[str, str] = {}
    for piece in filter(None, (piece.strip() for piece in text.split(";"))):
        key, sep, value = (item.strip() for item in piece.partition("="))
        if not sep or not key or not value or key in parts:
            raise unreadable
        parts[key] = value
    if not parts:
        raise unreadable

    freq = parts.get("FREQ")
    if freq is None:
        raise ScheduleError("The RRULE needs FREQ=WEEKLY.")
    if freq != "WEEKLY":
        raise ScheduleError(f"Only weekly schedules are supported (FREQ=WEEKLY), not FREQ={freq}.")
    unsupported = [key for key in parts if key not in _RRULE_PARTS]
    if unsupported:
        raise ScheduleError(
            f"RRULE part {unsupported[0]} is not supported; a schedule uses FREQ, INTERVAL, "
            "BYDAY, WKST and COUNT or UNTIL."
        )
    interval = _positive_int(parts.get("INTERVAL", "1"), "INTERVAL")

    normalised = [f"FREQ=WEEKLY;INTERVAL={interval}"]
    if "BYDAY" in parts:
        days = [day.strip() for day in parts["BYDAY"].split(",")]
        for day in days:
            _check_weekday(day)
        normalised.append("BYDAY=" + ",".join(day for day in WEEKDAYS if day in days))
    if "WKST" in parts:
        _check_weekday(parts["WKST"])
        normalised.append(f"WKST={parts['WKST']}")

    if "COUNT" in parts and "UNTIL" in parts:
        raise ScheduleError("An RRULE ends with COUNT or with UNTIL, not both.")
    if "COUNT" in parts:
        normalised.append(f"COUNT={_positive_int(parts['COUNT'], 'COUNT')}")
    elif "UNTIL" in parts:
        match = _UNTIL_RE.match(parts["UNTIL"])
        if match is None:
            raise ScheduleError(f"UNTIL must be a date like 20261231 (got {parts['UNTIL']}).")
        try:
            until = dt.date(*(int(group) for group in match.groups()))
        except ValueError:
            raise ScheduleError(f"UNTIL is not a real date: {parts['UNTIL']}.") from None
        normalised.append(f"UNTIL={until:%Y%m%d}T235959")
    else:
        raise ScheduleError(
            "RRULE without an end: add COUNT (the number of sessions) or UNTIL (the last date)."
        )

    result = ";".join(normalised)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rrulestr(result, dtstart=dt.datetime(2000, 1, 1))
    except (ValueError, TypeError, KeyError):
        raise unreadable from None
    return result


def _positive_int(value: str, name: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", value) or int(value) < 1:
        raise ScheduleError(f"{name} must be a whole number of at least 1 (got {value}).")
    return int(value)


def _check_weekday(day: str) -> None:
    if day not in WEEKDAYS:
        raise ScheduleError(
            f"Unknown weekday {day!r} in the RRULE; use MO, TU, WE, TH, FR, SA or SU."
        )


# --- time ----------------------------------------------------------------------------------


def local_to_utc(local: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """Read a naive wall-clock time in ``tz`` and return the UTC instant.

    ``fold=0`` reads a time inside the spring-forward gap with the offset from before the
    change, which lands it after the gap (02:30 → 03:30 EDT), and picks the first of the
    two instants of an ambiguous fall-back time (01:30 EDT, not 01:30 EST).
    """
    return local.replace(tzinfo=tz, fold=0).astimezone(dt.UTC)


@dataclass(frozen=True)
class _Occurrence:
    # None for an extra session outside the series.
    series_date: dt.date | None
    start: dt.datetime
    end: dt.datetime


def _rule(schedule: Schedule) -> RRule:
    dtstart = dt.datetime.combine(schedule.first_date, schedule.start_time.replace(tzinfo=None))
    # One RRULE line parses to one rule, never a set.
    return cast(RRule, rrulestr(rrule_validate(schedule.rrule), dtstart=dtstart))


def _occurrences(
    schedule: Schedule, group: Group, now: dt.datetime, *, through: dt.datetime | None = None
) -> list[_Occurrence]:
    """The schedule's occurrences after ``now`` and within the group's horizon.

    For a group with neither a planned end nor a final session the horizon is 12 weeks
    after ``now``, or ``through`` if that is later (so that editing the series still
    recognises sessions generated further ahead).
    """
    tz = group.tz
    last_dates = [day for day in (group.planned_end, group.final_session_date) if day]
    last_date = min(last_dates) if last_dates else None
    latest_start = None
    if not last_dates:
        latest_start = max(now + OPEN_ENDED_HORIZON, through or now)
    duration = dt.timedelta(minutes=schedule.duration_minutes)

    found: list[_Occurrence] = []
    for local in _rule(schedule):
        if last_date is not None and local.date() > last_date:
            break
        start = local_to_utc(local, tz)
        if latest_start is not None and start > latest_start:
            break
        if start > now:
            found.append(_Occurrence(local.date(), start, start + duration))
    return found


def _ensure_some_session(schedule: Schedule, group: Group) -> None:
    """Refuse a schedule that can never produce a session, saying why."""
    first = next(iter(_rule(schedule)), None)
    if first is None:
        until = _UNTIL_IN_RULE_RE.search(schedule.rrule)
        ends = (
            f"it ends on {dt.date(*(int(part) for part in until.groups()))} (UNTIL)"
            if until
            else "it ends"
        )
        raise ScheduleError(
            f"This schedule would have no sessions: {ends}, before its first meeting day on "
            f"or after {schedule.first_date.isoformat()}."
        )
    for label, last_day in (
        ("final session", group.final_session_date),
        ("planned end", group.planned_end),
    ):
        if last_day is not None and first.date() > last_day:
            raise ScheduleError(
                f"This schedule would have no sessions: its first session "
                f"({first.date().isoformat()}) is after the group's {label} "
                f"({last_day.isoformat()})."
            )


def _format_local(moment: dt.datetime, tz_name: str) -> str:
    return f"{moment.astimezone(zoneinfo.ZoneInfo(tz_name)):%a %Y-%m-%d %H:%M}"


# --- double booking ------------------------------------------------------------------------


def _double_booking_error(
    conflict: BookingConflict, *, clinic_id: int, users: dict[int, User], viewer: User | None
) -> DoubleBookingError:
    if conflict.facilitator_id is not None:
        user = users.get(conflict.facilitator_id)
        who = f"Facilitator {user}" if user else f"Facilitator #{conflict.facilitator_id}"
    else:
        who = f"Room {conflict.room_name}"
    if conflict.clinic_id != clinic_id:
        # Nothing crosses between clinics, not even that another clinic has a booking.
        return DoubleBookingError(f"{who} is not available at that time.")
    if (
        viewer is not None
        and not group_session_queryset_for(viewer).filter(pk=conflict.session_id).exists()
    ):
        # A session of a group the caller does not run: neither its group nor its id.
        return DoubleBookingError(f"{who} is not available at that time.")
    return DoubleBookingError(
        f"{who} is already booked: {conflict.group_name}, "
        f"{_format_local(conflict.start, conflict.clinic_timezone)} "
        f"(session #{conflict.session_id}).",
        conflict_id=conflict.session_id,
    )


@dataclass(frozen=True)
class _Booking:
    """What a write is about to book: when, where and who for each interval (with the users
    by id, for messages), and the sessions being rewritten, which do not count."""

    requests: Sequence[BookingRequest]
    users: dict[int, User]
    clinic_id: int
    exclude_session_ids: Collection[int] = ()
    #: Who asked: a conflict with a session they may not see is refused without naming it.
    viewer: User | None = None


def _ensure_free(booking: _Booking) -> None:
    conflict = booking_conflict_find(
        requests=booking.requests, exclude_session_ids=booking.exclude_session_ids
    )
    if conflict is not None:
        raise _double_booking_error(
            conflict, clinic_id=booking.clinic_id, users=booking.users, viewer=booking.viewer
        )


def _write_guarded(write: Callable[[], T], booking: _Booking) -> T:
    """Run ``write`` in a savepoint; a database refusal becomes a domain error.

    Two requests can both pass the application's check and then insert; on PostgreSQL the
    exclusion constraint makes the second wait for the first and fail once it commits. After
    rolling back to the savepoint, the winner's session is committed and visible, so one more
    look names it.
    """
    try:
        with transaction.atomic():
            return write()
    except IntegrityError as exc:
        _ensure_free(booking)
        diag = getattr(exc.__cause__, "diag", None)
        if getattr(diag, "constraint_name", None) in _OVERLAP_CONSTRAINTS:
            raise DoubleBookingError(
                "A facilitator or room was booked by another request at the same moment; "
                "reload and try again."
            ) from exc
        raise SessionChangeError(
            "The sessions changed while this was being saved; reload and try again."
        ) from exc


# --- locks ---------------------------------------------------------------------------------


def _lock_group(group_id: int) -> Group:
    return (
        Group.objects.select_for_update(of=("self",))
        .select_related("clinic", "lead_facilitator", "room")
        .get(pk=group_id)
    )


def schedule_occurrences(
    *, schedule: Schedule, group: Group, now: dt.datetime, through: dt.datetime | None = None
) -> list[_Occurrence]:
    """The occurrences generation would create for ``schedule`` (saved or not) after
    ``now``, up to the group's horizon or ``through``: what the schedule editor previews.
    Writes nothing and runs no query (the group's clinic must be loaded)."""
    return _occurrences(schedule, group, now, through=through)


def group_session_lock(*, session: GroupSession) -> GroupSession:
    """Lock the session's group row, then the session row, and return the session as it is
    now, with its group (and the group's clinic, lead facilitator and room) and its room
    loaded.

    Every write about a group's sessions or their attendance takes the group's lock first
    (group → session, always in that order, so two writers never deadlock): the series
    services read the group's sessions and rewrite or delete them, and must not interleave
    with a cancel, an "I can't come" or a record of attendance. Only the two rows are
    locked, not the rows joined in. Call it inside a transaction.
    """
    group = _lock_group(session.group_id)
    current = (
        GroupSession.objects.select_for_update(of=("self",))
        .select_related("room")
        .get(pk=session.pk)
    )
    current.group = group
    return current


# --- series --------------------------------------------------------------------------------


def _group_facilitators(group: Group) -> dict[int, User]:
    users = {group.lead_facilitator_id: group.lead_facilitator}
    for user in group.co_facilitators.all():
        users.setdefault(user.pk, user)
    return users


def _create_sessions(
    group: Group, occurrences: Sequence[_Occurrence], facilitator_ids: Collection[int]
) -> list[GroupSession]:
    """Insert the occurrences as sessions as generation makes them: the group's room or
    video link and current stage, no topic, every group facilitator. Two bulk inserts."""
    sessions = GroupSession.objects.bulk_create(
        [
            GroupSession(
                group=group,
                start=item.start,
                end=item.end,
                room=group.room,
                video_link=group.video_link,
                status=SessionStatus.SCHEDULED,
                stage=group.stage,
                series_date=item.series_date,
            )
            for item in occurrences
        ]
    )
    SessionFacilitator.objects.bulk_create(
        [
            SessionFacilitator(
                session=session, facilitator_id=user_id, start=session.start, end=session.end
            )
            for session in sessions
            for user_id in facilitator_ids
        ]
    )
    return sessions


def _generate(
    group: Group, schedule: Schedule, now: dt.datetime, viewer: User | None = None
) -> list[GroupSession]:
    """Create the missing occurrences in bulk; the caller holds the group's lock."""
    if group.status == GroupStatus.ARCHIVED:
        return []
    occurrences = _occurrences(schedule, group, now)
    if not occurrences:
        return []
    taken = set(
        GroupSession.objects.filter(
            group=group,
            series_date__gte=occurrences[0].series_date,
            series_date__lte=occurrences[-1].series_date,
        ).values_list("series_date", flat=True)
    )
    occurrences = [item for item in occurrences if item.series_date not in taken]
    if not occurrences:
        return []
    users = _group_facilitators(group)
    everyone = frozenset(users)
    booking = _Booking(
        requests=[
            BookingRequest(item.start, item.end, group.room_id, everyone) for item in occurrences
        ],
        users=users,
        clinic_id=group.clinic_id,
        viewer=viewer,
    )
    _ensure_free(booking)
    return _write_guarded(lambda: _create_sessions(group, occurrences, users), booking)


def group_sessions_generate(*, group: Group, now: dt.datetime | None = None) -> list[GroupSession]:
    """Add the schedule's missing sessions up to the horizon and return the new ones.

    The horizon is the earliest of the rule's own end, the group's planned end and its final
    session date (both local dates, inclusive); with neither of those, 12 weeks after
    ``now``. Only occurrences after ``now`` are created, and never one whose ``series_date``
    already has a row (cancelled or moved ones included), so running it again is harmless.
    New sessions take the group's room or video link and current stage; the lead and every
    co-facilitator facilitate them.

    Refuses with :class:`DoubleBookingError` if a facilitator or the room is taken. One
    transaction under the group's row lock; a bounded number of queries whatever the
    number of occurrences (two bulk inserts; SQLite splits very large batches). Writes
    ``sessions.schedule.generated`` when anything was created.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock_group(group.pk)
        schedule = Schedule.objects.filter(group=locked).first()
        if schedule is None:
            return []
        created = _generate(locked, schedule, now)
        reminders_plan(sessions=created, now=now)
        if created:
            audit_log(
                action="sessions.schedule.generated",
                actor=None,
                clinic_id=locked.clinic_id,
                obj=schedule,
                data={"session_ids": [session.pk for session in created]},
            )
    return created


@dataclass(frozen=True)
class _Regenerated:
    removed_ids: list[int]
    updated_ids: list[int]
    created: list[GroupSession]


def _regenerate(
    group: Group, schedule: Schedule, now: dt.datetime, viewer: User | None = None
) -> _Regenerated:
    """Bring the group's future sessions in line with ``schedule``, in place.

    Sessions are matched to occurrences by ``series_date``. A session *follows the series*
    when it is scheduled, still to start, not moved and without attendance: its times are
    updated to the occurrence's (its room, video link, topic and facilitators stay, with the
    facilitation rows' times kept in step), and it is deleted when the new rule drops its
    date (unless it is the final session). Every other session is left exactly as it is and
    its date is not generated again. Occurrences without a session are created. The caller
    holds the group's lock; a bounded number of queries whatever the number of sessions.
    """
    today = now.astimezone(group.tz).date()
    has_attendance = Exists(Attendance.objects.filter(session=OuterRef("pk")))
    existing = list(
        GroupSession.objects.filter(group=group, series_date__isnull=False)
        .filter(Q(start__gt=now) | Q(series_date__gte=today))
        .annotate(has_attendance=has_attendance)
        .order_by("start", "pk")
    )
    latest = max((session.start for session in existing if session.start > now), default=None)
    wanted = {item.series_date: item for item in _occurrences(schedule, group, now, through=latest)}

    def follows_series(session: GroupSession) -> bool:
        return (
            session.status == SessionStatus.SCHEDULED
            and session.start > now
            and not session.is_moved
            and not session.has_attendance  # type: ignore[attr-defined]
        )

    updates = [
        (session, wanted[session.series_date])
        for session in existing
        if follows_series(session)
        and session.series_date in wanted
        and (session.start, session.end)
        != (wanted[session.series_date].start, wanted[session.series_date].end)
    ]
    dropped = [
        session
        for session in existing
        if follows_series(session) and not session.is_final and session.series_date not in wanted
    ]
    taken = {session.series_date for session in existing}
    missing = [item for day, item in sorted(wanted.items()) if day not in taken]

    facilitations = list(
        SessionFacilitator.objects.filter(
            session_id__in=[session.pk for session, _ in updates]
        ).select_related("facilitator")
    )
    by_session: dict[int, set[int]] = {}
    for facilitation in facilitations:
        by_session.setdefault(facilitation.session_id, set()).add(facilitation.facilitator_id)
    defaults = _group_facilitators(group)
    users = {**defaults, **{row.facilitator_id: row.facilitator for row in facilitations}}
    booking = _Booking(
        requests=[
            BookingRequest(
                item.start, item.end, session.room_id, frozenset(by_session.get(session.pk, ()))
            )
            for session, item in updates
        ]
        + [
            BookingRequest(item.start, item.end, group.room_id, frozenset(defaults))
            for item in missing
        ],
        users=users,
        clinic_id=group.clinic_id,
        exclude_session_ids=[session.pk for session, _ in updates]
        + [session.pk for session in dropped],
        viewer=viewer,
    )
    _ensure_free(booking)

    def write() -> list[GroupSession]:
        if dropped:
            # The filter again, not the ids read above: only what still follows the series
            # (and is not final) is ever deleted.
            GroupSession.objects.filter(
                group=group,
                series_date__in=[session.series_date for session in dropped],
                start__gt=now,
                status=SessionStatus.SCHEDULED,
                is_moved=False,
                is_final=False,
            ).exclude(has_attendance).delete()
        if updates:
            times = {session.pk: (item.start, item.end) for session, item in updates}
            for session, item in updates:
                session.start, session.end, session.updated_at = item.start, item.end, now
                session.sequence += 1
            GroupSession.objects.bulk_update(
                [session for session, _ in updates], ["start", "end", "sequence", "updated_at"]
            )
            for facilitation in facilitations:
                facilitation.start, facilitation.end = times[facilitation.session_id]
            SessionFacilitator.objects.bulk_update(facilitations, ["start", "end"])
        return _create_sessions(group, missing, defaults) if missing else []

    created = _write_guarded(write, booking)
    return _Regenerated(
        removed_ids=[session.pk for session in dropped],
        updated_ids=[session.pk for session, _ in updates],
        created=created,
    )


def schedule_set(
    *,
    group: Group,
    rrule: str,
    first_date: dt.date,
    start_time: dt.time,
    duration_minutes: int,
    by: User,
    now: dt.datetime | None = None,
) -> list[GroupSession]:
    """Create or replace the group's schedule and bring its future sessions in line with it.

    Editing the series changes future sessions only, in place: a session still to start
    that came from the series, is scheduled, not moved and has no attendance keeps its id
    and takes the new times (its room, video link, topic and facilitators, e.g. a
    substitute, stay); one whose date the new rule drops is deleted unless it is the final
    session; dates without a session are created. Past, moved, cancelled and extra sessions
    and those with attendance (an "I can't come" included) are left as they are, and their
    dates are not generated again. Returns every session of the group after ``now``, in
    order.

    Raises :class:`ScheduleError` for a bad rule or duration, or a schedule with no session
    at all (it ends before it starts, or starts after the group's planned end or final
    session), and :class:`DoubleBookingError` when a changed or new session would collide
    (then nothing changes). One transaction under the group's row lock; a bounded number of
    queries whatever the number of sessions; writes ``sessions.schedule.set``.
    """
    now = now or timezone.now()
    rule = rrule_validate(rrule)
    if not MIN_DURATION_MINUTES <= duration_minutes <= MAX_DURATION_MINUTES:
        raise ScheduleError(
            f"A session lasts between {MIN_DURATION_MINUTES} minutes and "
            f"{MAX_DURATION_MINUTES // 60} hours (got {duration_minutes} minutes)."
        )
    if start_time.tzinfo is not None:
        raise ScheduleError(
            "The start time is a wall-clock time in the clinic's time zone; give it without one."
        )
    fields = {
        "rrule": rule,
        "first_date": first_date,
        "start_time": start_time,
        "duration_minutes": duration_minutes,
    }
    with transaction.atomic():
        locked = _lock_group(group.pk)
        if locked.status == GroupStatus.ARCHIVED:
            raise ScheduleError("This group is archived; its schedule can no longer change.")
        _ensure_some_session(Schedule(group=locked, **fields), locked)
        schedule, created = Schedule.objects.update_or_create(group=locked, defaults=fields)
        result = _regenerate(locked, schedule, now, viewer=by)
        reminders_plan(sessions=[*result.updated_ids, *result.created], now=now)
        # Members are told of the next two weeks' new times one by one; later sessions'
        # reminders and the calendar feeds carry their new times.
        for moved in GroupSession.objects.filter(
            pk__in=result.updated_ids, start__lte=now + SERIES_NOTICE_AHEAD
        ).select_related("group__clinic"):
            session_notices_queue(session=moved, kind=NotificationKind.SESSION_MOVED, now=now)
        audit_log(
            action="sessions.schedule.set",
            actor=by,
            clinic_id=locked.clinic_id,
            obj=schedule,
            data={
                "group_id": locked.pk,
                "created": created,
                "rrule": rule,
                "first_date": first_date.isoformat(),
                "start_time": start_time.isoformat(timespec="minutes"),
                "duration_minutes": duration_minutes,
                "removed_session_ids": result.removed_ids,
                "updated_session_ids": result.updated_ids,
                "created_session_ids": [session.pk for session in result.created],
            },
        )
        return list(
            GroupSession.objects.filter(group=locked, start__gt=now).order_by("start", "pk")
        )


# --- one session ---------------------------------------------------------------------------


def _staff_ids(group: Group, users: Collection[User]) -> set[int]:
    return set(
        ClinicRole.objects.filter(
            clinic_id=group.clinic_id,
            role__in=[Role.FACILITATOR, Role.ADMIN],
            user__in=[user.pk for user in users],
            user__is_active=True,
        ).values_list("user_id", flat=True)
    )


def _ensure_archived_not(group: Group) -> None:
    if group.status == GroupStatus.ARCHIVED:
        raise SessionChangeError("This group is archived; its sessions can no longer change.")


def _ensure_time_may_change(
    current: GroupSession, group: Group, new_start: dt.datetime, now: dt.datetime
) -> None:
    """Refuse a new time for a session under way or held, or outside the group's life."""
    if current.start <= now:
        raise SessionChangeError("This session has already started; its time can no longer change.")
    if new_start <= now:
        raise SessionChangeError("A session cannot be moved to a time in the past.")
    if Attendance.objects.filter(session=current).exists():
        # Recorded attendance, or a member's "I can't come" given for this time.
        raise SessionChangeError(
            "This session already has attendance recorded; its time can no longer change."
        )
    tz = group.tz
    new_day = new_start.astimezone(tz).date()
    if current.is_final and new_day != current.start.astimezone(tz).date():
        raise SessionChangeError(
            "This is the group's final session; change the final date through the group's stage."
        )
    if group.final_session_date is not None and new_day > group.final_session_date:
        raise SessionChangeError(
            f"The group's final session is on {group.final_session_date.isoformat()}; "
            "a session cannot be moved past it."
        )
    if group.planned_end is not None and new_day > group.planned_end:
        raise SessionChangeError(
            f"The group is planned to end on {group.planned_end.isoformat()}; "
            "a session cannot be moved past it."
        )


def group_session_move(
    *,
    session: GroupSession,
    by: User,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    room: Room | _Unchanged | None = UNCHANGED,
    facilitators: Sequence[User] | None = None,
    now: dt.datetime | None = None,
) -> GroupSession:
    """Move one session (time, room) and/or replace its facilitators, leaving the series be.

    A new ``start`` without ``end`` keeps the duration; ``room=None`` takes the room away;
    ``facilitators`` replaces the whole list (e.g. a substitute for the lead). A new time
    marks the session moved, so editing the series never overwrites it; a room or a
    substitute is an override that editing the series keeps, not a move. The facilitation
    rows follow the session's times. Asking for no change returns the session untouched.

    Refuses (:class:`SessionChangeError`) a session of an archived group, a cancelled,
    held or past session; a new time for a session that has started or has attendance
    (an "I can't come" included), a start in the past or on a local date after the group's
    final session or planned end, and another day for the final session; an end not after
    the start, a room of another clinic, no facilitator, or a facilitator without a
    facilitator or admin role in the group's clinic. A substitute for a session under way
    is allowed. Refuses (:class:`DoubleBookingError`) a room or facilitator already booked.
    One transaction under the group's and the session's row locks; writes
    ``sessions.session.moved``.
    """
    now = now or timezone.now()
    for value in (start, end):
        if value is not None and timezone.is_naive(value):
            raise SessionChangeError("Give the session's new times with their time zone.")
    with transaction.atomic():
        current = group_session_lock(session=session)
        group = current.group
        _ensure_archived_not(group)
        if current.status == SessionStatus.CANCELLED:
            raise SessionChangeError("This session is cancelled; it cannot be moved.")
        if current.status == SessionStatus.COMPLETED or current.end <= now:
            raise SessionChangeError("This session is already over; it cannot be moved.")

        new_start = start or current.start
        new_end = end or (new_start + (current.end - current.start))
        if new_end <= new_start:
            raise SessionChangeError("A session must end after it starts.")
        time_changed = (new_start, new_end) != (current.start, current.end)
        if time_changed:
            _ensure_time_may_change(current, group, new_start, now)
        new_room = current.room if room is UNCHANGED else room
        if new_room is not None and new_room.clinic_id != group.clinic_id:
            raise SessionChangeError("This room belongs to another clinic.")
        if new_room is not None and new_room != current.room and not new_room.is_active:
            raise SessionChangeError(f"Room {new_room} is no longer in use.")

        old_users = {user.pk: user for user in User.objects.filter(facilitations__session=current)}
        if facilitators is None:
            new_users = dict(old_users)
        else:
            new_users = {user.pk: user for user in facilitators}
            if not new_users:
                raise SessionChangeError("A session needs at least one facilitator.")
            missing = set(new_users) - _staff_ids(group, new_users.values())
            if missing:
                raise SessionChangeError(
                    "Every facilitator of a session must be a facilitator or admin of its "
                    f"clinic (user ids without that role: {', '.join(map(str, sorted(missing)))})."
                )

        if (new_start, new_end, new_room, set(new_users)) == (
            current.start,
            current.end,
            current.room,
            set(old_users),
        ):
            return current

        booking = _Booking(
            requests=[
                BookingRequest(
                    new_start,
                    new_end,
                    new_room.pk if new_room is not None else None,
                    frozenset(new_users),
                )
            ],
            users=new_users,
            clinic_id=group.clinic_id,
            exclude_session_ids=[current.pk],
            viewer=by,
        )
        _ensure_free(booking)
        before_room = current.room
        before = {
            "start": current.start.isoformat(),
            "end": current.end.isoformat(),
            "room_id": current.room_id,
            "facilitator_ids": sorted(old_users),
        }

        def write() -> None:
            current.start, current.end, current.room = new_start, new_end, new_room
            current.is_moved = current.is_moved or time_changed
            current.sequence += 1
            current.save(
                update_fields=["start", "end", "room", "is_moved", "sequence", "updated_at"]
            )
            facilitations = SessionFacilitator.objects.filter(session=current)
            facilitations.exclude(facilitator_id__in=list(new_users)).delete()
            facilitations.update(start=new_start, end=new_end)
            SessionFacilitator.objects.bulk_create(
                [
                    SessionFacilitator(
                        session=current, facilitator_id=user_id, start=new_start, end=new_end
                    )
                    for user_id in new_users
                    if user_id not in old_users
                ]
            )

        _write_guarded(write, booking)
        reminders_plan(sessions=[current], now=now)
        if time_changed or new_room != before_room:
            session_notices_queue(session=current, kind=NotificationKind.SESSION_MOVED, now=now)
        audit_log(
            action="sessions.session.moved",
            actor=by,
            clinic_id=group.clinic_id,
            obj=current,
            data={
                "group_id": group.pk,
                "from": before,
                "to": {
                    "start": new_start.isoformat(),
                    "end": new_end.isoformat(),
                    "room_id": current.room_id,
                    "facilitator_ids": sorted(new_users),
                },
            },
        )
    return current


def group_session_add(
    *,
    group: Group,
    start: dt.datetime,
    end: dt.datetime,
    by: User,
    now: dt.datetime | None = None,
) -> GroupSession:
    """Add one extra session outside the series (a catch-up, a drop-in).

    It takes the group's room or video link, current stage and every group facilitator, as
    a generated session does, and has no ``series_date``, so editing the series never
    touches it. Its members' reminders are planned at once (an offset already past is
    skipped). Refuses (:class:`SessionChangeError`) naive or past times, an end not after the
    start, a length outside the schedule's limits, an archived group, a date after the
    group's final session or planned end; (:class:`DoubleBookingError`) a room or
    facilitator already booked. One transaction under the group's row lock; writes
    ``sessions.session.added``.
    """
    now = now or timezone.now()
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise SessionChangeError("Give the session's times with their time zone.")
    if start <= now:
        raise SessionChangeError("A session cannot be added in the past.")
    if end <= start:
        raise SessionChangeError("A session must end after it starts.")
    minutes = (end - start) / dt.timedelta(minutes=1)
    if not MIN_DURATION_MINUTES <= minutes <= MAX_DURATION_MINUTES:
        raise SessionChangeError(
            f"A session lasts between {MIN_DURATION_MINUTES} minutes and "
            f"{MAX_DURATION_MINUTES // 60} hours."
        )
    with transaction.atomic():
        locked = _lock_group(group.pk)
        _ensure_archived_not(locked)
        day = start.astimezone(locked.tz).date()
        for limit, what in (
            (locked.final_session_date, "The group's final session is on"),
            (locked.planned_end, "The group is planned to end on"),
        ):
            if limit is not None and day > limit:
                raise SessionChangeError(
                    f"{what} {limit.isoformat()}; a session cannot be added after it."
                )
        users = _group_facilitators(locked)
        booking = _Booking(
            requests=[BookingRequest(start, end, locked.room_id, frozenset(users))],
            users=users,
            clinic_id=locked.clinic_id,
            viewer=by,
        )
        _ensure_free(booking)
        occurrence = _Occurrence(series_date=None, start=start, end=end)
        (session,) = _write_guarded(lambda: _create_sessions(locked, [occurrence], users), booking)
        reminders_plan(sessions=[session], now=now)
        audit_log(
            action="sessions.session.added",
            actor=by,
            clinic_id=locked.clinic_id,
            obj=session,
            data={"group_id": locked.pk, "start": start.isoformat(), "end": end.isoformat()},
        )
    return session


def group_session_cancel(
    *, session: GroupSession, by: User, reason: str, now: dt.datetime | None = None
) -> GroupSession:
    """Cancel one session with a reason; the series and other sessions stay as they are.

    Its facilitation rows are marked cancelled too, so the facilitators and the room are
    free again at that time. Refuses (:class:`SessionChangeError`) a blank or over-long
    reason, a session of an archived group, a session already cancelled and one already
    over. One transaction under the group's and the session's row locks (so a series edit
    running at the same time never deletes or regenerates it); writes
    ``sessions.session.cancelled`` (without the reason, which is free text).
    """
    now = now or timezone.now()
    reason = reason.strip()
    if not reason:
        raise SessionChangeError("Give a reason for cancelling the session.")
    if len(reason) > CANCEL_REASON_MAX_LENGTH:
        raise SessionChangeError(
            f"Keep the reason for cancelling within {CANCEL_REASON_MAX_LENGTH} characters."
        )
    with transaction.atomic():
        current = group_session_lock(session=session)
        _ensure_archived_not(current.group)
        if current.status == SessionStatus.CANCELLED:
            raise SessionChangeError("This session is already cancelled.")
        if current.status == SessionStatus.COMPLETED or current.end <= now:
            raise SessionChangeError("This session is already over; it cannot be cancelled.")
        current.status = SessionStatus.CANCELLED
        current.cancelled_at = now
        current.cancel_reason = reason
        current.sequence += 1
        current.save(
            update_fields=["status", "cancelled_at", "cancel_reason", "sequence", "updated_at"]
        )
        SessionFacilitator.objects.filter(session=current).update(is_cancelled=True)
        reminders_plan(sessions=[current], now=now)
        session_notices_queue(session=current, kind=NotificationKind.SESSION_CANCELLED, now=now)
        audit_log(
            action="sessions.session.cancelled",
            actor=by,
            clinic_id=current.group.clinic_id,
            obj=current,
            data={"group_id": current.group_id, "start": current.start.isoformat()},
        )
    return current


# --- the end of a group --------------------------------------------------------------------


def _local_day_bounds(day: dt.date, tz: zoneinfo.ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    start = local_to_utc(dt.datetime.combine(day, dt.time()), tz)
    end = local_to_utc(dt.datetime.combine(day + dt.timedelta(days=1), dt.time()), tz)
    return start, end


def _as_generated(sessions: QuerySet[GroupSession], group: Group) -> QuerySet[GroupSession]:
    """Those of ``sessions`` that generation would make again exactly as they are: from the
    series, unmoved, without attendance, in the group's room or video link, without a topic
    and with exactly the group's facilitators."""
    facilitator_ids = list(_group_facilitators(group))
    facilitations = SessionFacilitator.objects.filter(session=OuterRef("pk"))
    generated = (
        sessions.filter(
            series_date__isnull=False,
            is_moved=False,
            topic="",
            room=group.room,
            video_link=group.video_link,
        )
        .exclude(Exists(Attendance.objects.filter(session=OuterRef("pk"))))
        .exclude(Exists(facilitations.exclude(facilitator_id__in=facilitator_ids)))
    )
    for user_id in facilitator_ids:
        generated = generated.filter(Exists(facilitations.filter(facilitator_id=user_id)))
    return generated


def group_sessions_finalise(
    *, group: Group, final_date: dt.date, by: User, now: dt.datetime | None = None
) -> GroupSession:
    """Mark the group's session on ``final_date`` (a local date) final and end the series.

    There must be a scheduled or held (completed) session on that date in the clinic's time
    zone (the last one of the day counts; a cancelled one never does), else
    :class:`ScheduleError` names the date. Later future sessions that generation would make
    again exactly (see :func:`_as_generated`; only when the group has a schedule) are
    deleted; every other later scheduled one (moved, extra, with attendance such as an "I
    can't come", with a substitute, another room or a topic) is cancelled with the reason
    "The group ended with its final session on <date>.", so no session takes place after
    the final one and :func:`group_sessions_unfinalise` can bring them all back. Sets
    ``group.final_session_date`` (on the given instance too), after which generation never
    passes that date.

    Meant to run inside the stage service's transaction (it opens a nested one and takes the
    group's row lock, which the caller may already hold). Writes
    ``sessions.schedule.finalised``.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock_group(group.pk)
        day_start, day_end = _local_day_bounds(final_date, locked.tz)
        final = (
            GroupSession.objects.filter(
                group=locked,
                status__in=[SessionStatus.SCHEDULED, SessionStatus.COMPLETED],
                start__gte=day_start,
                start__lt=day_end,
            )
            .order_by("-start", "-pk")
            .first()
        )
        if final is None:
            raise ScheduleError(
                f"There is no scheduled or held session of this group on "
                f"{final_date.isoformat()} to be its final session."
            )
        GroupSession.objects.filter(group=locked, is_final=True).exclude(pk=final.pk).update(
            is_final=False, updated_at=now
        )
        final.is_final = True
        final.save(update_fields=["is_final", "updated_at"])

        later = GroupSession.objects.filter(
            group=locked, status=SessionStatus.SCHEDULED, start__gt=max(final.start, now)
        )
        deleted_ids: list[int] = []
        if Schedule.objects.filter(group=locked).exists():
            regenerable = _as_generated(later, locked)
            deleted_ids = list(regenerable.values_list("pk", flat=True))
            regenerable.delete()
        cancelled_ids = list(later.values_list("pk", flat=True))
        SessionFacilitator.objects.filter(session__in=later).update(is_cancelled=True)
        later.update(
            status=SessionStatus.CANCELLED,
            cancelled_at=now,
            cancel_reason=f"{FINALISED_REASON_PREFIX}{final_date.isoformat()}.",
            sequence=F("sequence") + 1,
            updated_at=now,
        )

        # The group's ending is told in the group, not by a notice per cancelled session.
        reminders_plan(sessions=cancelled_ids, now=now)
        Group.objects.filter(pk=locked.pk).update(final_session_date=final_date)
        group.final_session_date = final_date
        audit_log(
            action="sessions.schedule.finalised",
            actor=by,
            clinic_id=locked.clinic_id,
            obj=final,
            data={
                "group_id": locked.pk,
                "final_date": final_date.isoformat(),
                "deleted_session_ids": deleted_ids,
                "cancelled_session_ids": cancelled_ids,
            },
        )
    return final


def group_sessions_unfinalise(
    *, group: Group, by: User, now: dt.datetime | None = None
) -> list[GroupSession]:
    """Undo :func:`group_sessions_finalise`: the group has no final session any more.

    Clears ``is_final`` and ``group.final_session_date`` (on the given instance too),
    restores to scheduled every future session that finalising cancelled (recognised by its
    reason; sessions a person cancelled stay cancelled) with their facilitation rows, and
    generates the schedule's missing sessions again (:func:`group_sessions_generate`), so
    the series has no gap. Returns the restored and the generated sessions, in order.

    Refuses with :class:`DoubleBookingError` when a facilitator or room of a restored or
    generated session has been booked meanwhile (then nothing changes). Meant to run inside
    the stage service's transaction, under the group's row lock. Writes
    ``sessions.schedule.unfinalised``.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock_group(group.pk)
        GroupSession.objects.filter(group=locked, is_final=True).update(
            is_final=False, updated_at=now
        )
        Group.objects.filter(pk=locked.pk).update(final_session_date=None)
        locked.final_session_date = group.final_session_date = None

        # The reason is encrypted at rest, so the database cannot match its prefix: the
        # group's future cancelled sessions are few, and are told apart here.
        cancelled = GroupSession.objects.filter(
            group=locked, status=SessionStatus.CANCELLED, start__gt=now
        ).only("pk", "cancel_reason")
        restorable = GroupSession.objects.filter(
            pk__in=[
                row.pk for row in cancelled if row.cancel_reason.startswith(FINALISED_REASON_PREFIX)
            ]
        )
        facilitations = list(
            SessionFacilitator.objects.filter(session__in=restorable).select_related("facilitator")
        )
        sessions = list(restorable.order_by("start", "pk"))
        if sessions:
            by_session: dict[int, set[int]] = {}
            for row in facilitations:
                by_session.setdefault(row.session_id, set()).add(row.facilitator_id)
            booking = _Booking(
                requests=[
                    BookingRequest(
                        session.start,
                        session.end,
                        session.room_id,
                        frozenset(by_session.get(session.pk, ())),
                    )
                    for session in sessions
                ],
                users={row.facilitator_id: row.facilitator for row in facilitations},
                clinic_id=locked.clinic_id,
                viewer=by,
            )
            _ensure_free(booking)

            def write() -> None:
                SessionFacilitator.objects.filter(session__in=restorable).update(is_cancelled=False)
                restorable.update(
                    status=SessionStatus.SCHEDULED,
                    cancelled_at=None,
                    cancel_reason="",
                    sequence=F("sequence") + 1,
                    updated_at=now,
                )

            _write_guarded(write, booking)
            reminders_plan(sessions=sessions, now=now)
        created = group_sessions_generate(group=locked, now=now)
        audit_log(
            action="sessions.schedule.unfinalised",
            actor=by,
            clinic_id=locked.clinic_id,
            obj=locked,
            data={
                "group_id": locked.pk,
                "restored_session_ids": [session.pk for session in sessions],
                "created_session_ids": [session.pk for session in created],
            },
        )
    return sorted([*sessions, *created], key=lambda session: (session.start, session.pk))


# --- periodic jobs -------------------------------------------------------------------------


@dataclass(frozen=True)
class HorizonExtension:
    """What one run of :func:`group_sessions_extend_all` did: the new sessions per group, and
    the groups whose next sessions could not be booked (a room or facilitator taken)."""

    created: dict[int, list[int]]
    refused: dict[int, str]


def group_sessions_extend_all(*, now: dt.datetime | None = None) -> HorizonExtension:
    """Extend every active group with a schedule to its horizon (the nightly job).

    Each group in its own transaction (:func:`group_sessions_generate`), so one group whose
    next session clashes is reported and skipped, and the others still get theirs. Running
    it again creates nothing new: a series date with a row is never generated twice.
    """
    now = now or timezone.now()
    created: dict[int, list[int]] = {}
    refused: dict[int, str] = {}
    groups = Group.objects.filter(status=GroupStatus.ACTIVE, schedule__isnull=False).order_by("pk")
    for group in groups:
        try:
            sessions = group_sessions_generate(group=group, now=now)
        except DoubleBookingError as refusal:
            refused[group.pk] = refusal.message
            continue
        if sessions:
            created[group.pk] = [session.pk for session in sessions]
    return HorizonExtension(created=created, refused=refused)


def group_sessions_complete_ended(*, now: dt.datetime | None = None) -> int:
    """Mark every scheduled session that has ended as completed; return how many.

    One conditional update: a session cancelled or completed meanwhile is left alone, and a
    second run changes nothing. Attendance can still be recorded afterwards (the lock period
    decides that, not the status).
    """
    now = now or timezone.now()
    return GroupSession.objects.filter(status=SessionStatus.SCHEDULED, end__lte=now).update(
        status=SessionStatus.COMPLETED, updated_at=now
    )
