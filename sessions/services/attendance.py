"""Writes about attendance: a facilitator's record of a session, a member's "I can't come",
and amendments after the lock period (kept as :class:`AttendanceChange` rows)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from members.models import Member, User
from members.permissions import is_clinic_admin
from members.services import audit_log
from sessions.enums import PARTIAL_ATTENDANCE_STATUSES, AttendanceStatus, SessionStatus
from sessions.errors import AttendanceError, AttendanceLockedError, CantAttendError
from sessions.models import Attendance, AttendanceChange, GroupSession
from sessions.selectors.attendance import agreement_standing, session_expected_member_ids
from sessions.services.notifications import reminders_plan
from sessions.services.scheduling import group_session_lock

#: A member's own "I can't come" gives one of these; saying it again changes nothing.
CANT_ATTEND_STATUSES = (AttendanceStatus.EXCUSED, AttendanceStatus.LATE_CANCELLED)

#: Statuses that say the member was in the room, for which the group's agreement must have
#: been accepted ("required before they attend").
ATTENDED_STATUSES = (AttendanceStatus.PRESENT, AttendanceStatus.LATE, AttendanceStatus.LEFT_EARLY)


@dataclasses.dataclass(frozen=True)
class AttendanceEntry:
    """One member's attendance at a session, as a facilitator records it."""

    member_id: int
    status: str
    minutes_attended: int | None = None


def attendance_lock_at(*, session: GroupSession) -> dt.datetime:
    """The moment from which only a clinic admin may amend the session's attendance."""
    return session.end + dt.timedelta(days=session.group.clinic.attendance_lock_days)


def _entry_from(raw: AttendanceEntry | Mapping[str, Any]) -> AttendanceEntry:
    if isinstance(raw, AttendanceEntry):
        return raw
    try:
        return AttendanceEntry(
            member_id=raw["member_id"],
            status=raw["status"],
            minutes_attended=raw.get("minutes_attended"),
        )
    except (KeyError, TypeError, AttributeError):
        raise AttendanceError("Each attendance entry needs a member id and a status.") from None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _validate_entries(
    entries: Sequence[AttendanceEntry], *, duration_minutes: int, expected_ids: set[int]
) -> None:
    """Refuse the whole batch on the first invalid entry, naming the member by id only."""
    if not entries:
        raise AttendanceError("Record the attendance of at least one member.")
    seen: set[int] = set()
    for entry in entries:
        if not _is_int(entry.member_id):
            raise AttendanceError("Each attendance entry needs a member id and a status.")
        member_id = entry.member_id
        if member_id in seen:
            raise AttendanceError(f"Member #{member_id} appears more than once in this record.")
        seen.add(member_id)
        if member_id not in expected_ids:
            raise AttendanceError(f"Member #{member_id} is not expected at this session.")
        if entry.status not in AttendanceStatus.values:
            raise AttendanceError(
                f"Member #{member_id}: {entry.status!r} is not an attendance status."
            )
        minutes = entry.minutes_attended
        if minutes is None:
            continue
        if entry.status not in PARTIAL_ATTENDANCE_STATUSES:
            raise AttendanceError(
                f"Member #{member_id}: minutes attended apply only to late or left early."
            )
        if not _is_int(minutes) or not 0 <= minutes <= duration_minutes:
            raise AttendanceError(
                f"Member #{member_id}: minutes attended must be between 0 and "
                f"{duration_minutes}, the length of the session."
            )


def _ensure_agreement_accepted(
    session: GroupSession,
    entries: Sequence[AttendanceEntry],
    existing: Mapping[int, Attendance],
) -> None:
    """Refuse attending statuses for members who have not accepted the group's current
    agreement, naming the first by id. Nothing to check (and no query) when no entry
    writes such a status; no requirement when the group has published no agreement."""
    attending = [
        entry.member_id
        for entry in entries
        if entry.status in ATTENDED_STATUSES
        and (
            (row := existing.get(entry.member_id)) is None
            or (row.status, row.minutes_attended) != (entry.status, entry.minutes_attended)
        )
    ]
    if not attending:
        return
    standing = agreement_standing(group_id=session.group_id, member_ids=attending)
    if standing is None:
        return
    for member_id in attending:
        if member_id not in standing.accepted_member_ids:
            raise AttendanceError(
                f"Member #{member_id} has not accepted the group's current agreement "
                f"(version {standing.version}); it must be accepted before they attend."
            )


def attendance_record(
    *,
    session: GroupSession,
    by: User,
    entries: Sequence[AttendanceEntry | Mapping[str, Any]],
    reason: str = "",
    now: dt.datetime | None = None,
) -> list[Attendance]:
    """Record (or amend) the attendance of some or all members of one session.

    ``entries`` are :class:`AttendanceEntry` objects or dicts with ``member_id``,
    ``status`` and optionally ``minutes_attended``. Returns the rows in entry order.

    Rules: the session is neither cancelled nor still to start (recording is allowed from
    its start, during or after it); every member is expected at the session; statuses come
    from :class:`AttendanceStatus`; minutes only for late / left early, within the session's
    length. When the group has published an agreement, present, late or left early is
    written only for a member who accepted its current version (an entry that leaves the
    row as it is writes nothing and is not checked). From ``clinic.attendance_lock_days``
    after the session's end (that instant included) only a clinic admin may write, and must
    give a reason.

    Side effects: new rows are created, changed rows updated with an
    :class:`AttendanceChange` each (old and new value, who, when, reason); after the lock
    an admin's new row gets one too, with a blank old status, so every write after the lock
    leaves history. Identical rows are left alone. A scheduled session that has ended
    becomes completed. One audit entry ``sessions.attendance.recorded`` with counts and ids.

    One transaction under the group's and then the session's row lock (so two people
    recording at once cannot both insert a row, and a series edit or the group's end never
    interleaves); any refusal leaves nothing written. A bounded number of queries whatever
    the number of entries.
    """
    now = now or timezone.now()
    reason = reason.strip()
    parsed = [_entry_from(raw) for raw in entries]
    with transaction.atomic():
        session = group_session_lock(session=session)
        clinic = session.group.clinic
        if session.status == SessionStatus.CANCELLED:
            raise AttendanceError("This session was cancelled; there is no attendance to record.")
        if now < session.start:
            raise AttendanceError(
                "This session has not started yet; attendance can be recorded from its start."
            )
        lock_at = attendance_lock_at(session=session)
        is_locked = now >= lock_at
        if is_locked:
            if not is_clinic_admin(by, clinic):
                days = clinic.attendance_lock_days
                raise AttendanceLockedError(
                    f"Attendance for this session locked {days} day{'' if days == 1 else 's'} "
                    "after it ended; only a clinic admin can amend it now."
                )
            if not reason:
                raise AttendanceError("An amendment after the lock period needs a reason.")

        duration = int((session.end - session.start).total_seconds() // 60)
        expected_ids = set(
            session_expected_member_ids(session=session)
            .filter(member_id__in=[e.member_id for e in parsed if _is_int(e.member_id)])
            .values_list("member_id", flat=True)
        )
        _validate_entries(parsed, duration_minutes=duration, expected_ids=expected_ids)

        existing = {
            row.member_id: row
            for row in Attendance.objects.filter(
                session=session, member_id__in=[e.member_id for e in parsed]
            )
        }
        _ensure_agreement_accepted(session, parsed, existing)
        created: list[Attendance] = []
        changed: list[Attendance] = []
        changes: list[AttendanceChange] = []
        for entry in parsed:
            row = existing.get(entry.member_id)
            if row is None:
                created.append(
                    Attendance(
                        session=session,
                        member_id=entry.member_id,
                        status=entry.status,
                        minutes_attended=entry.minutes_attended,
                        recorded_by=by,
                        recorded_at=now,
                    )
                )
                continue
            if (row.status, row.minutes_attended) == (entry.status, entry.minutes_attended):
                continue
            changes.append(
                AttendanceChange(
                    attendance=row,
                    old_status=row.status,
                    new_status=entry.status,
                    old_minutes=row.minutes_attended,
                    new_minutes=entry.minutes_attended,
                    changed_by=by,
                    changed_at=now,
                    reason=reason,
                )
            )
            row.status = entry.status
            row.minutes_attended = entry.minutes_attended
            row.recorded_by = by
            row.recorded_at = now
            changed.append(row)

        if created:
            Attendance.objects.bulk_create(created)
            if is_locked:
                # After the lock even a first record is an amendment of the register; the
                # blank old status says there was no row before.
                changes.extend(
                    AttendanceChange(
                        attendance=row,
                        old_status="",
                        new_status=row.status,
                        old_minutes=None,
                        new_minutes=row.minutes_attended,
                        changed_by=by,
                        changed_at=now,
                        reason=reason,
                    )
                    for row in created
                )
        if changed:
            Attendance.objects.bulk_update(
                changed, ["status", "minutes_attended", "recorded_by", "recorded_at"]
            )
        if changes:
            AttendanceChange.objects.bulk_create(changes)
        completed = False
        if session.status == SessionStatus.SCHEDULED and now >= session.end:
            completed = bool(
                GroupSession.objects.filter(pk=session.pk, status=SessionStatus.SCHEDULED).update(
                    status=SessionStatus.COMPLETED, updated_at=now
                )
            )
        audit_log(
            action="sessions.attendance.recorded",
            actor=by,
            clinic=clinic,
            obj=session,
            data={
                "session_id": session.pk,
                "created": len(created),
                "changed": len(changed),
                "unchanged": len(parsed) - len(created) - len(changed),
                "after_lock": is_locked,
                "session_completed": completed,
            },
        )
    by_member = {row.member_id: row for row in [*existing.values(), *created]}
    return [by_member[entry.member_id] for entry in parsed]


def attendance_cant_attend(
    *, session: GroupSession, member: Member, by: User, now: dt.datetime | None = None
) -> Attendance:
    """A member says "I can't come" to one of their own sessions before it starts.

    With at least ``group.late_cancel_notice_hours`` of notice the absence is excused;
    later it is late-cancelled. Only the member's own login may say it, only for a session
    that expects them, is not cancelled and has not started.

    Idempotent: saying it again returns the row as it is (the first notice counts) and
    writes nothing. A facilitator recording the member later is an ordinary change, kept
    as an :class:`AttendanceChange`. One transaction under the group's and then the
    session's row lock (so a series edit never deletes the session under the new row); one
    audit entry ``sessions.attendance.cant_attend``.
    """
    now = now or timezone.now()
    if member.user_id is None or member.user_id != by.pk:
        raise CantAttendError("Only the member themselves can say they can't come.")
    with transaction.atomic():
        session = group_session_lock(session=session)
        if session.status == SessionStatus.CANCELLED:
            raise CantAttendError("This session has been cancelled; there is nothing to miss.")
        if now >= session.start:
            raise CantAttendError(
                "This session has already started; tell your facilitator instead."
            )
        if not session_expected_member_ids(session=session).filter(member_id=member.pk).exists():
            raise CantAttendError(f"Member #{member.pk} is not expected at this session.")

        row = Attendance.objects.filter(session=session, member=member).first()
        if row is not None and row.status in CANT_ATTEND_STATUSES:
            return row
        notice = dt.timedelta(hours=session.group.late_cancel_notice_hours)
        status = (
            AttendanceStatus.EXCUSED
            if session.start - now >= notice
            else AttendanceStatus.LATE_CANCELLED
        )
        if row is None:
            row = Attendance.objects.create(
                session=session, member=member, status=status, recorded_by=by, recorded_at=now
            )
        else:
            AttendanceChange.objects.create(
                attendance=row,
                old_status=row.status,
                new_status=status,
                old_minutes=row.minutes_attended,
                new_minutes=None,
                changed_by=by,
                changed_at=now,
                reason="The member said they can't come.",
            )
            row.status = status
            row.minutes_attended = None
            row.recorded_by = by
            row.recorded_at = now
            row.save(update_fields=["status", "minutes_attended", "recorded_by", "recorded_at"])
        reminders_plan(sessions=[session], now=now)
        audit_log(
            action="sessions.attendance.cant_attend",
            actor=by,
            clinic_id=session.group.clinic_id,
            obj=row,
            data={"session_id": session.pk, "member_id": member.pk, "status": str(status)},
        )
    return row
