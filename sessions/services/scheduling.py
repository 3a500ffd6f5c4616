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
turned into the same error.
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
from django.db.models import Exists, OuterRef
from django.utils import timezone

from members.enums import Role
from members.models import ClinicRole, User
from members.services import audit_log
from sessions.enums import GroupStatus, SessionStatus
from sessions.errors import DoubleBookingError, ScheduleError, SessionChangeError
from sessions.models import Attendance, Group, GroupSession, Room, Schedule, SessionFacilitator
from sessions.selectors.scheduling import BookingConflict, booking_conflict_find

T = TypeVar("T")

#: RFC 5545 weekday codes, Monday first.
WEEKDAYS: Final = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

#: How far ahead sessions are generated for a group with neither a planned end nor a final
#: session; a periodic job extends the series as time passes.
OPEN_ENDED_HORIZON: Final = dt.timedelta(weeks=12)

MIN_DURATION_MINUTES: Final = 15
MAX_DURATION_MINUTES: Final = 8 * 60
CANCEL_REASON_MAX_LENGTH: Final = GroupSession._meta.get_field("cancel_reason").max_length

_RRULE_PARTS: Final = ("FREQ", "INTERVAL", "BYDAY", "WKST", "COUNT", "UNTIL")
_UNTIL_RE: Final = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T\d{6}Z?)?$")
_OVERLAP_CONSTRAINTS: Final = frozenset({"facilitator_no_overlap", "session_room_no_overlap"})


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
    series_date: dt.date
    start: dt.datetime
    end: dt.datetime


def _occurrences(schedule: Schedule, group: Group, now: dt.datetime) -> list[_Occurrence]:
    """The schedule's occurrences after ``now`` and within the group's horizon."""
    tz = group.tz
    last_dates = [day for day in (group.planned_end, group.final_session_date) if day]
    last_date = min(last_dates) if last_dates else None
    latest_start = None if last_dates else now + OPEN_ENDED_HORIZON
    duration = dt.timedelta(minutes=schedule.duration_minutes)
    dtstart = dt.datetime.combine(schedule.first_date, schedule.start_time.replace(tzinfo=None))
    # One RRULE line parses to one rule, never a set.
    rule = cast(RRule, rrulestr(rrule_validate(schedule.rrule), dtstart=dtstart))

    found: list[_Occurrence] = []
    for local in rule:
        if last_date is not None and local.date() > last_date:
            break
        start = local_to_utc(local, tz)
        if latest_start is not None and start > latest_start:
            break
        if start > now:
            found.append(_Occurrence(local.date(), start, start + duration))
    return found


def _format_local(moment: dt.datetime, tz_name: str) -> str:
    return f"{moment.astimezone(zoneinfo.ZoneInfo(tz_name)):%a %Y-%m-%d %H:%M}"


# --- double booking ------------------------------------------------------------------------


def _double_booking_error(
    conflict: BookingConflict, *, clinic_id: int, users: dict[int, User], room: Room | None
) -> DoubleBookingError:
    if conflict.facilitator_id is not None:
        user = users.get(conflict.facilitator_id)
        who = f"Facilitator {user}" if user else f"Facilitator #{conflict.facilitator_id}"
    else:
        who = f"Room {room}"
    if conflict.clinic_id != clinic_id:
        # Nothing crosses between clinics, not even in an error message.
        return DoubleBookingError(f"{who} is already booked at that time in another clinic.")
    return DoubleBookingError(
        f"{who} is already booked: {conflict.group_name}, "
        f"{_format_local(conflict.start, conflict.clinic_timezone)} "
        f"(session #{conflict.session_id}).",
        conflict_id=conflict.session_id,
    )


@dataclass(frozen=True)
class _Booking:
    """What a write is about to book: when, where, who (by id, with the users for messages)."""

    intervals: Sequence[tuple[dt.datetime, dt.datetime]]
    room: Room | None
    users: dict[int, User]
    clinic_id: int
    exclude_session_ids: Collection[int] = ()


def _ensure_free(booking: _Booking) -> None:
    conflict = booking_conflict_find(
        intervals=booking.intervals,
        room=booking.room,
        facilitator_ids=list(booking.users),
        exclude_session_ids=booking.exclude_session_ids,
    )
    if conflict is not None:
        raise _double_booking_error(
            conflict, clinic_id=booking.clinic_id, users=booking.users, room=booking.room
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


# --- series --------------------------------------------------------------------------------


def _lock_group(group_id: int) -> Group:
    return (
        Group.objects.select_for_update(of=("self",))
        .select_related("clinic", "lead_facilitator", "room")
        .get(pk=group_id)
    )


def _group_facilitators(group: Group) -> dict[int, User]:
    users = {group.lead_facilitator_id: group.lead_facilitator}
    for user in group.co_facilitators.all():
        users.setdefault(user.pk, user)
    return users


def _generate(group: Group, schedule: Schedule, now: dt.datetime) -> list[GroupSession]:
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
    booking = _Booking(
        intervals=[(item.start, item.end) for item in occurrences],
        room=group.room,
        users=users,
        clinic_id=group.clinic_id,
    )
    _ensure_free(booking)

    def write() -> list[GroupSession]:
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
                for user_id in users
            ]
        )
        return sessions

    return _write_guarded(write, booking)


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
        if created:
            audit_log(
                action="sessions.schedule.generated",
                actor=None,
                clinic=locked.clinic,
                obj=schedule,
                data={"session_ids": [session.pk for session in created]},
            )
    return created


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
    """Create or replace the group's schedule and regenerate its future sessions.

    Editing the series changes future sessions only: scheduled sessions after ``now`` that
    came from the series, are not moved, not final and have no attendance rows are deleted
    and generated again from the new rule. Past, moved, cancelled, final and extra sessions
    and those with attendance are kept (and their dates are not generated again). Returns
    every session of the group after ``now``, in order.

    Raises :class:`ScheduleError` for a bad rule or duration and :class:`DoubleBookingError`
    when a new session would collide (then nothing changes). One transaction under the
    group's row lock; writes ``sessions.schedule.set``.
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
    with transaction.atomic():
        locked = _lock_group(group.pk)
        if locked.status == GroupStatus.ARCHIVED:
            raise ScheduleError("This group is archived; its schedule can no longer change.")
        schedule, created = Schedule.objects.update_or_create(
            group=locked,
            defaults={
                "rrule": rule,
                "first_date": first_date,
                "start_time": start_time,
                "duration_minutes": duration_minutes,
            },
        )
        replaceable = (
            GroupSession.objects.filter(
                group=locked,
                start__gt=now,
                status=SessionStatus.SCHEDULED,
                is_moved=False,
                is_final=False,
                series_date__isnull=False,
            )
            .exclude(Exists(Attendance.objects.filter(session=OuterRef("pk"))))
            .values_list("pk", flat=True)
        )
        removed_ids = list(replaceable)
        if removed_ids:
            GroupSession.objects.filter(pk__in=removed_ids).delete()
        generated = _generate(locked, schedule, now)
        audit_log(
            action="sessions.schedule.set",
            actor=by,
            clinic=locked.clinic,
            obj=schedule,
            data={
                "group_id": locked.pk,
                "created": created,
                "rrule": rule,
                "first_date": first_date.isoformat(),
                "start_time": start_time.isoformat(timespec="minutes"),
                "duration_minutes": duration_minutes,
                "removed_session_ids": removed_ids,
                "created_session_ids": [session.pk for session in generated],
            },
        )
        return list(
            GroupSession.objects.filter(group=locked, start__gt=now).order_by("start", "pk")
        )


# --- one session ---------------------------------------------------------------------------


def _lock_session(session_id: int) -> GroupSession:
    return (
        GroupSession.objects.select_for_update(of=("self",))
        .select_related("room", "group__clinic")
        .get(pk=session_id)
    )


def _staff_ids(group: Group, users: Collection[User]) -> set[int]:
    return set(
        ClinicRole.objects.filter(
            clinic_id=group.clinic_id,
            role__in=[Role.FACILITATOR, Role.ADMIN],
            user__in=[user.pk for user in users],
            user__is_active=True,
        ).values_list("user_id", flat=True)
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
    ``facilitators`` replaces the whole list (e.g. a substitute for the lead). The session is
    marked moved, so editing the series never overwrites it, and its facilitation rows
    follow its times. Asking for no change returns the session untouched.

    Refuses (:class:`SessionChangeError`) a cancelled, held or past session, a start in the
    past, an end not after the start, a room of another clinic, no facilitator, or a
    facilitator without a facilitator or admin role in the group's clinic; refuses
    (:class:`DoubleBookingError`) a room or facilitator already booked. One transaction
    under the group's and the session's row locks; writes ``sessions.session.moved``.
    """
    now = now or timezone.now()
    for value in (start, end):
        if value is not None and timezone.is_naive(value):
            raise SessionChangeError("Give the session's new times with their time zone.")
    with transaction.atomic():
        group = _lock_group(session.group_id)
        current = _lock_session(session.pk)
        if current.status == SessionStatus.CANCELLED:
            raise SessionChangeError("This session is cancelled; it cannot be moved.")
        if current.status == SessionStatus.COMPLETED or current.end <= now:
            raise SessionChangeError("This session is already over; it cannot be moved.")

        new_start = start or current.start
        new_end = end or (new_start + (current.end - current.start))
        if new_end <= new_start:
            raise SessionChangeError("A session must end after it starts.")
        if new_start != current.start and new_start <= now:
            raise SessionChangeError("A session cannot be moved to a time in the past.")
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
            intervals=[(new_start, new_end)],
            room=new_room,
            users=new_users,
            clinic_id=group.clinic_id,
            exclude_session_ids=[current.pk],
        )
        _ensure_free(booking)
        before = {
            "start": current.start.isoformat(),
            "end": current.end.isoformat(),
            "room_id": current.room_id,
            "facilitator_ids": sorted(old_users),
        }

        def write() -> None:
            current.start, current.end, current.room = new_start, new_end, new_room
            current.is_moved = True
            current.save(update_fields=["start", "end", "room", "is_moved", "updated_at"])
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
        audit_log(
            action="sessions.session.moved",
            actor=by,
            clinic=group.clinic,
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


def group_session_cancel(
    *, session: GroupSession, by: User, reason: str, now: dt.datetime | None = None
) -> GroupSession:
    """Cancel one session with a reason; the series and other sessions stay as they are.

    Its facilitation rows are marked cancelled too, so the facilitators and the room are
    free again at that time. Refuses (:class:`SessionChangeError`) a blank or over-long
    reason, a session already cancelled and one already over. One transaction under the
    session's row lock; writes ``sessions.session.cancelled`` (without the reason, which is
    free text).
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
        current = _lock_session(session.pk)
        if current.status == SessionStatus.CANCELLED:
            raise SessionChangeError("This session is already cancelled.")
        if current.status == SessionStatus.COMPLETED or current.end <= now:
            raise SessionChangeError("This session is already over; it cannot be cancelled.")
        current.status = SessionStatus.CANCELLED
        current.cancelled_at = now
        current.cancel_reason = reason
        current.save(update_fields=["status", "cancelled_at", "cancel_reason", "updated_at"])
        SessionFacilitator.objects.filter(session=current).update(is_cancelled=True)
        audit_log(
            action="sessions.session.cancelled",
            actor=by,
            clinic=current.group.clinic,
            obj=current,
            data={"group_id": current.group_id, "start": current.start.isoformat()},
        )
    return current


# --- the end of a group --------------------------------------------------------------------


def _local_day_bounds(day: dt.date, tz: zoneinfo.ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    start = local_to_utc(dt.datetime.combine(day, dt.time()), tz)
    end = local_to_utc(dt.datetime.combine(day + dt.timedelta(days=1), dt.time()), tz)
    return start, end


def group_sessions_finalise(
    *, group: Group, final_date: dt.date, by: User, now: dt.datetime | None = None
) -> GroupSession:
    """Mark the group's session on ``final_date`` (a local date) final and end the series.

    There must be a scheduled session on that date in the clinic's time zone (the last one
    of the day counts), else :class:`ScheduleError` names the date. Later future sessions
    that are scheduled, unmoved and without attendance are deleted; later ones that must be
    kept as a record (moved, or with attendance such as an "I can't come") are cancelled,
    so no session takes place after the final one. Sets ``group.final_session_date`` (on the
    given instance too), after which generation never passes that date.

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
                status=SessionStatus.SCHEDULED,
                start__gte=day_start,
                start__lt=day_end,
            )
            .order_by("-start", "-pk")
            .first()
        )
        if final is None:
            raise ScheduleError(
                f"There is no scheduled session of this group on {final_date.isoformat()} "
                "to be its final session."
            )
        GroupSession.objects.filter(group=locked, is_final=True).exclude(pk=final.pk).update(
            is_final=False, updated_at=now
        )
        final.is_final = True
        final.save(update_fields=["is_final", "updated_at"])

        later = GroupSession.objects.filter(
            group=locked, status=SessionStatus.SCHEDULED, start__gt=max(final.start, now)
        )
        has_attendance = Exists(Attendance.objects.filter(session=OuterRef("pk")))
        deleted_ids = list(
            later.filter(is_moved=False).exclude(has_attendance).values_list("pk", flat=True)
        )
        if deleted_ids:
            GroupSession.objects.filter(pk__in=deleted_ids).delete()
        cancelled_ids = list(later.values_list("pk", flat=True))
        if cancelled_ids:
            GroupSession.objects.filter(pk__in=cancelled_ids).update(
                status=SessionStatus.CANCELLED,
                cancelled_at=now,
                cancel_reason=f"The group ended with its final session on {final_date}.",
                updated_at=now,
            )
            SessionFacilitator.objects.filter(session_id__in=cancelled_ids).update(
                is_cancelled=True
            )

        Group.objects.filter(pk=locked.pk).update(final_session_date=final_date)
        group.final_session_date = final_date
        audit_log(
            action="sessions.schedule.finalised",
            actor=by,
            clinic=locked.clinic,
            obj=final,
            data={
                "group_id": locked.pk,
                "final_date": final_date.isoformat(),
                "deleted_session_ids": deleted_ids,
                "cancelled_session_ids": cancelled_ids,
            },
        )
    return final
