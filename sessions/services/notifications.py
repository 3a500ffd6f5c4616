"""The outbox: planning reminders and notices as rows, and sending each row at most once.

**Planning.** The services that change sessions and rosters call :func:`reminders_plan` in
their own transaction, so the outbox always agrees with what was committed: a member gets a
reminder at each of their offsets before each session they are expected at (an active
enrolment on its date, no "I can't come"), never for a cancelled session; an offset already
past when the row is planned is written as skipped, never sent late. Rows no longer wanted
(the session moved or was cancelled, the member left or turned reminders off) are skipped,
not deleted, so the outbox is also the record of what was and was not sent.
:func:`session_notices_queue` and :func:`waitlist_offer_notice_queue` write the one-off
notices. Every row has a unique ``key``; planning again inserts nothing twice.

**Sending.** :func:`notifications_dispatch` (the minute job) marks the due rows queued and
returns them in batches; :func:`notifications_send` sends a batch. A row is sent only by the
worker whose claim (``pending`` → ``sending``, one conditional UPDATE) changed it, so two
dispatchers, a redelivered task or a second worker never send it twice. A temporary mail
error puts the row back to pending with a later ``due_at`` (1, 2, 4… minutes, never a long
Celery countdown); after the last attempt it is failed with the error. A row left
``sending`` by a worker that died is handed back after a lease (or failed once its
attempts are used up): its message may or may not have left, and the lease makes that
window the only one in which a message can go twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import time
import zoneinfo
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Exists, F, Q
from django.utils import timezone

from members.models import Member, User
from members.services import member_update
from sessions.enums import (
    AttendanceStatus,
    EnrolmentStatus,
    NotificationKind,
    NotificationStatus,
    SessionStatus,
    WaitlistOfferStatus,
)
from sessions.messages import notification_message
from sessions.models import (
    Attendance,
    Enrolment,
    Group,
    GroupSession,
    Notification,
    WaitlistOffer,
)
from sessions.selectors.attendance import (
    ATTENDING_ENROLMENT_STATUSES,
    session_expected_member_ids,
)

logger = logging.getLogger(__name__)

#: Quiet hours, member-local: a reminder due in them waits until they end, unless the
#: session starts before that.
QUIET_FROM = dt.time(21, 0)
QUIET_UNTIL = dt.time(8, 0)

#: Attendance that means the member has said they will not be there.
NOT_COMING_STATUSES = (AttendanceStatus.EXCUSED, AttendanceStatus.LATE_CANCELLED)

#: How far ahead the safety-net sweep plans: the longest reminder offset (7 days) and a margin.
PLAN_AHEAD = dt.timedelta(days=7, hours=1)

LATE_REASON = "Its time had passed when it was planned."

#: Fields of a member record that change which reminders they get, or when.
REMINDER_FIELDS = frozenset({"reminders_enabled", "reminder_offsets", "timezone", "quiet_hours"})


# --- planning ------------------------------------------------------------------------------


def _epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def reminder_key(*, session: GroupSession, member_id: int, offset_minutes: int) -> str:
    return f"reminder:s{session.pk}:m{member_id}:o{offset_minutes}:t{_epoch(session.start)}"


def reminder_due_at(
    *, start: dt.datetime, offset_minutes: int, tz_name: str, quiet_hours: bool
) -> dt.datetime:
    """When a reminder ``offset_minutes`` before ``start`` goes out, in UTC.

    With quiet hours, one that falls between 21:00 and 08:00 in ``tz_name`` waits until
    08:00, unless the session starts before 08:00: then it goes at its own time, because a
    reminder after the session is worth nothing.
    """
    due = start - dt.timedelta(minutes=offset_minutes)
    if not quiet_hours:
        return due
    tz = zoneinfo.ZoneInfo(tz_name)
    local = due.astimezone(tz)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return due
    morning_day = local.date() if local.time() < QUIET_UNTIL else local.date() + dt.timedelta(1)
    morning = dt.datetime.combine(morning_day, QUIET_UNTIL, tzinfo=tz).astimezone(dt.UTC)
    return morning if morning < start else due


@dataclass
class PlanResult:
    """What one :func:`reminders_plan` did: rows written pending, written skipped (their
    time had passed), skipped because no longer wanted, and re-timed."""

    pending: int = 0
    skipped_late: int = 0
    withdrawn: int = 0
    retimed: int = 0


@dataclass
class _Want:
    key: str
    session: GroupSession
    member: Member
    offset_minutes: int
    due_at: dt.datetime
    late: bool


def _expected(
    sessions: Sequence[GroupSession],
) -> dict[int, list[Member]]:
    """The members expected at each session (by session id) who want reminders: an
    attending enrolment active on the session's local date, and no "I can't come"."""
    if not sessions:
        return {}
    group_ids = {session.group_id for session in sessions}
    enrolments = list(
        Enrolment.objects.filter(
            group_id__in=group_ids,
            status__in=ATTENDING_ENROLMENT_STATUSES,
            joined_on__isnull=False,
        )
        .select_related("member__clinic")
        .only(
            "group_id",
            "joined_on",
            "left_on",
            "member__email",
            "member__timezone",
            "member__reminders_enabled",
            "member__reminder_offsets",
            "member__quiet_hours",
            "member__clinic__timezone",
        )
    )
    not_coming = set(
        Attendance.objects.filter(
            session__in=[session.pk for session in sessions], status__in=NOT_COMING_STATUSES
        ).values_list("session_id", "member_id")
    )
    by_group: dict[int, list[Enrolment]] = {}
    for enrolment in enrolments:
        by_group.setdefault(enrolment.group_id, []).append(enrolment)
    expected: dict[int, list[Member]] = {}
    for session in sessions:
        day = session.start.astimezone(session.group.tz).date()
        expected[session.pk] = [
            enrolment.member
            for enrolment in by_group.get(session.group_id, ())
            if enrolment.joined_on <= day
            and (enrolment.left_on is None or enrolment.left_on > day)
            and (session.pk, enrolment.member_id) not in not_coming
        ]
    return expected


def _wanted(sessions: Sequence[GroupSession], now: dt.datetime) -> list[_Want]:
    wanted: list[_Want] = []
    expected = _expected(
        [s for s in sessions if s.status == SessionStatus.SCHEDULED and s.start > now]
    )
    for session in sessions:
        for member in expected.get(session.pk, ()):
            if not member.reminders_enabled or not member.email:
                continue
            for offset in sorted(set(member.reminder_offsets or ())):
                raw_due = session.start - dt.timedelta(minutes=offset)
                wanted.append(
                    _Want(
                        key=reminder_key(
                            session=session, member_id=member.pk, offset_minutes=offset
                        ),
                        session=session,
                        member=member,
                        offset_minutes=offset,
                        due_at=reminder_due_at(
                            start=session.start,
                            offset_minutes=offset,
                            tz_name=member.effective_timezone,
                            quiet_hours=member.quiet_hours,
                        ),
                        late=raw_due <= now,
                    )
                )
    return wanted


def reminders_plan(
    *, sessions: Iterable[GroupSession | int], now: dt.datetime | None = None
) -> PlanResult:
    """Bring the reminder rows of ``sessions`` in line with who is expected and their
    preferences.

    Writes the missing rows (pending, or skipped with "too late" when their moment had
    passed when planned), skips the pending rows no longer wanted (with the reason) and
    moves the ``due_at`` of pending rows whose member changed time zone or quiet hours.
    Rows being sent, sent, failed or skipped are never touched. Idempotent; a bounded
    number of queries for any number of sessions. Runs in the caller's transaction (or its
    own); callers hold the locks of what they changed.
    """
    now = now or timezone.now()
    ids = [item if isinstance(item, int) else item.pk for item in sessions]
    result = PlanResult()
    if not ids:
        return result
    with transaction.atomic():
        loaded = list(
            GroupSession.objects.filter(pk__in=ids).select_related("group__clinic").order_by("pk")
        )
        wanted = _wanted(loaded, now)
        existing = {
            row.key: row
            for row in Notification.objects.filter(
                session_id__in=ids, kind=NotificationKind.REMINDER
            ).only("key", "status", "due_at", "session_id")
        }
        pending = {
            key: row for key, row in existing.items() if row.status == NotificationStatus.PENDING
        }
        wanted_keys = {want.key for want in wanted}
        new_rows = [
            Notification(
                key=want.key,
                kind=NotificationKind.REMINDER,
                clinic_id=want.session.group.clinic_id,
                member=want.member,
                session=want.session,
                offset_minutes=want.offset_minutes,
                session_start=want.session.start,
                due_at=want.due_at,
                status=NotificationStatus.SKIPPED if want.late else NotificationStatus.PENDING,
                skip_reason=LATE_REASON if want.late else "",
            )
            for want in wanted
            if want.key not in existing
        ]
        if new_rows:
            # ignore_conflicts: a row another transaction wrote meanwhile is left as it is.
            Notification.objects.bulk_create(new_rows, ignore_conflicts=True)
            result.pending = sum(1 for row in new_rows if row.status == NotificationStatus.PENDING)
            result.skipped_late = len(new_rows) - result.pending
        # Wanted again (reminders back on, a session moved back, a member back in the group)
        # and still ahead: the skipped row is the one to send, as a fresh row would be.
        revived = [
            (existing[want.key], want)
            for want in wanted
            if not want.late
            and want.key in existing
            and existing[want.key].status == NotificationStatus.SKIPPED
        ]
        for row, want in revived:
            row.status, row.due_at, row.attempts = NotificationStatus.PENDING, want.due_at, 0
            row.skip_reason = row.last_error = ""
            row.queued_at = row.claimed_at = None
        if revived:
            # A skipped row is final for everyone else, so no other writer races this one.
            Notification.objects.bulk_update(
                [row for row, _ in revived],
                [
                    "status",
                    "due_at",
                    "attempts",
                    "skip_reason",
                    "last_error",
                    "queued_at",
                    "claimed_at",
                ],
            )
        result.pending += len(revived)
        retimed = [
            pending[want.key]
            for want in wanted
            if want.key in pending and pending[want.key].due_at != want.due_at
        ]
        for want in wanted:
            if want.key in pending:
                pending[want.key].due_at = want.due_at
        if retimed:
            Notification.objects.bulk_update(retimed, ["due_at"])
            result.retimed = len(retimed)
        stale = [key for key in pending if key not in wanted_keys]
        if stale:
            result.withdrawn = Notification.objects.filter(
                key__in=stale, status=NotificationStatus.PENDING
            ).update(
                status=NotificationStatus.SKIPPED,
                skip_reason="No longer wanted: the session or the member's place changed.",
            )
    return result


def reminders_plan_group(*, group_id: int, now: dt.datetime | None = None) -> PlanResult:
    """Plan the reminders of every session of the group still to start (after a roster
    change)."""
    now = now or timezone.now()
    ids = list(
        GroupSession.objects.filter(
            group_id=group_id, status=SessionStatus.SCHEDULED, start__gt=now
        ).values_list("pk", flat=True)
    )
    return reminders_plan(sessions=ids, now=now)


def reminders_plan_member(*, member: Member, now: dt.datetime | None = None) -> PlanResult:
    """Plan the reminders of every session still to start in the member's groups (after
    they changed their reminder preferences or time zone)."""
    now = now or timezone.now()
    ids = list(
        GroupSession.objects.filter(
            group__enrolments__member=member,
            group__enrolments__status=EnrolmentStatus.ACTIVE,
            status=SessionStatus.SCHEDULED,
            start__gt=now,
        )
        .values_list("pk", flat=True)
        .distinct()
    )
    return reminders_plan(sessions=ids, now=now)


def reminders_plan_upcoming(*, now: dt.datetime | None = None, chunk: int = 500) -> PlanResult:
    """The safety net (every few minutes): plan again every session starting within the
    longest reminder offset. Catches a preference changed outside the services; each chunk
    is its own transaction."""
    now = now or timezone.now()
    ids = list(
        GroupSession.objects.filter(
            status=SessionStatus.SCHEDULED, start__gt=now, start__lte=now + PLAN_AHEAD
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    total = PlanResult()
    for index in range(0, len(ids), chunk):
        part = reminders_plan(sessions=ids[index : index + chunk], now=now)
        total.pending += part.pending
        total.skipped_late += part.skipped_late
        total.withdrawn += part.withdrawn
        total.retimed += part.retimed
    return total


def member_update_with_reminders(*, member: Member, by: User, **fields: object) -> Member:
    """:func:`members.services.member_update`, and when a reminder preference or the time
    zone changed, the member's reminders planned again, in the same transaction."""
    if not REMINDER_FIELDS & fields.keys():
        return member_update(member=member, by=by, **fields)
    with transaction.atomic():
        before = {name: getattr(member, name) for name in REMINDER_FIELDS}
        member = member_update(member=member, by=by, **fields)
        if any(getattr(member, name) != value for name, value in before.items()):
            reminders_plan_member(member=member)
    return member


# --- notices -------------------------------------------------------------------------------


def session_notices_queue(
    *, session: GroupSession, kind: NotificationKind, now: dt.datetime | None = None
) -> int:
    """One notice (cancelled or moved) per member expected at ``session``, due now.

    Each member gets their own message: nobody is ever in another's To or Cc. Keyed by the
    session's sequence, so the notice of a second move is a new row and planning the same
    change again is not. Runs in the caller's transaction; returns the rows written.
    """
    now = now or timezone.now()
    if kind not in (NotificationKind.SESSION_CANCELLED, NotificationKind.SESSION_MOVED):
        raise ValueError(f"Not a session notice: {kind}.")
    if session.start <= now:
        return 0
    # Who was expected: a cancelled session is judged as if it still took place.
    members = _expected([session]).get(session.pk, [])
    rows = [
        Notification(
            key=f"{kind}:s{session.pk}:m{member.pk}:v{session.sequence}",
            kind=kind,
            clinic_id=session.group.clinic_id,
            member=member,
            session=session,
            session_start=session.start,
            due_at=now,
        )
        for member in members
        if member.email
    ]
    return len(Notification.objects.bulk_create(rows, ignore_conflicts=True))


def waitlist_offer_notice_queue(*, offer: WaitlistOffer, now: dt.datetime | None = None) -> None:
    """Tell the member first in line that a seat is theirs to take, in the offer's
    transaction."""
    now = now or timezone.now()
    member = offer.enrolment.member
    if not member.email:
        return
    Notification.objects.bulk_create(
        [
            Notification(
                key=f"{NotificationKind.WAITLIST_OFFER}:o{offer.pk}",
                kind=NotificationKind.WAITLIST_OFFER,
                clinic_id=member.clinic_id,
                member=member,
                offer=offer,
                due_at=now,
            )
        ],
        ignore_conflicts=True,
    )


# --- dispatch ------------------------------------------------------------------------------


@dataclass
class DispatchResult:
    """One minute's dispatch: the batches of row ids to send, and the rows a dead worker
    had left claimed that were handed back or failed."""

    batches: list[list[int]] = field(default_factory=list)
    recovered: int = 0
    gave_up: int = 0

    @property
    def queued(self) -> int:
        return sum(len(batch) for batch in self.batches)


def _recover_abandoned(now: dt.datetime) -> tuple[int, int]:
    lease = dt.timedelta(seconds=settings.NOTIFICATIONS_SENDING_LEASE_SECONDS)
    abandoned = Notification.objects.filter(
        status=NotificationStatus.SENDING, claimed_at__lt=now - lease
    )
    gave_up = abandoned.filter(attempts__gte=settings.NOTIFICATIONS_MAX_ATTEMPTS).update(
        status=NotificationStatus.FAILED,
        last_error="The worker sending it stopped every time; gave up.",
    )
    recovered = abandoned.update(status=NotificationStatus.PENDING, queued_at=None)
    return recovered, gave_up


def notifications_dispatch(*, now: dt.datetime | None = None) -> DispatchResult:
    """Mark the due pending rows queued and return their ids in batches (oldest first).

    A row is queued again only when its last queueing is older than
    ``NOTIFICATIONS_REQUEUE_AFTER_SECONDS`` (its message was lost), so a backlog is not
    queued every minute. On PostgreSQL the rows are taken with ``SKIP LOCKED``, so two
    dispatchers running at once queue different rows; even when they queue the same row
    the claim in :func:`notifications_send` lets only one send it. One transaction; the
    caller enqueues the batches after it has committed.
    """
    now = now or timezone.now()
    requeue = now - dt.timedelta(seconds=settings.NOTIFICATIONS_REQUEUE_AFTER_SECONDS)
    result = DispatchResult()
    with transaction.atomic():
        result.recovered, result.gave_up = _recover_abandoned(now)
        due = (
            Notification.objects.filter(status=NotificationStatus.PENDING, due_at__lte=now)
            .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=requeue))
            .order_by("due_at", "pk")
        )
        if db_connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[: settings.NOTIFICATIONS_DISPATCH_LIMIT])
        size = settings.NOTIFICATIONS_BATCH_SIZE
        for index in range(0, len(ids), size):
            batch = ids[index : index + size]
            Notification.objects.filter(pk__in=batch).update(queued_at=now)
            result.batches.append(batch)
    return result


# --- sending -------------------------------------------------------------------------------


@dataclass
class SendResult:
    sent: int = 0
    skipped: int = 0
    retrying: int = 0
    failed: int = 0
    not_claimed: int = 0


def notification_claim(*, notification_id: int, now: dt.datetime) -> bool:
    """Take the row for sending: True only for the one caller whose UPDATE changed it, and
    only once it is due (a late or repeated message for a row re-timed or backed off since
    it was queued does not send it early)."""
    return (
        Notification.objects.filter(
            pk=notification_id, status=NotificationStatus.PENDING, due_at__lte=now
        ).update(status=NotificationStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
        == 1
    )


def _stale_reason(row: Notification, now: dt.datetime) -> str:
    """Why a claimed row must not be sent any more (checked again at send time, whatever
    planning did), or "" to send it."""
    session = row.session
    if row.kind == NotificationKind.WEEKLY_SUMMARY:
        user = row.user
        if not user.is_active or not user.email:
            return "The facilitator has no active login or address."
        still_runs_it = Group.objects.filter(pk=row.summary.group_id).filter(
            Q(lead_facilitator_id=user.pk) | Q(co_facilitators=user.pk)
        )
        return "" if still_runs_it.exists() else "No longer a facilitator of the group."
    if row.member is None or not row.member.email:
        return "The member has no e-mail address."
    if row.kind == NotificationKind.WAITLIST_OFFER:
        offer = row.offer
        if offer is None or offer.status != WaitlistOfferStatus.PENDING or offer.expires_at <= now:
            return "The offer is no longer open."
        return ""
    if session is None:
        return "The session is gone."
    if row.kind == NotificationKind.SESSION_CANCELLED:
        return "" if session.status == SessionStatus.CANCELLED else "The session was restored."
    if session.status != SessionStatus.SCHEDULED:
        return "The session is cancelled or over."
    if row.session_start != session.start:
        return "The session has moved since."
    if row.kind == NotificationKind.SESSION_MOVED:
        # The key ends with the sequence the notice was written for; a later change has
        # its own notice, so this one stands down.
        if not row.key.endswith(f":v{session.sequence}"):
            return "The session has changed again since."
        return "" if session.start > now else "The session has started."
    # A reminder: still before the session, still expected, still wanted.
    if session.start <= now:
        return "The session has started."
    member = row.member
    if not member.reminders_enabled or row.offset_minutes not in (member.reminder_offsets or ()):
        return "The member changed their reminders."
    if not _still_expected(session, member.pk):
        return "The member is not expected at this session."
    return ""


def _still_expected(session: GroupSession, member_id: int) -> bool:
    """One query: the attendance sheet's rule (:func:`session_expected_member_ids`), and no
    "I can't come"."""
    not_coming = Attendance.objects.filter(
        session_id=session.pk, member_id=member_id, status__in=NOT_COMING_STATUSES
    )
    return (
        session_expected_member_ids(session=session)
        .filter(member_id=member_id)
        .exclude(Exists(not_coming))
        .exists()
    )


def _is_permanent(error: Exception) -> bool:
    """A refusal of this message that retrying cannot change (5xx: no such mailbox, message
    refused). A refused login or sender is the installation's settings, not the message:
    retried, so fixing the settings lets every waiting message go."""
    if isinstance(error, (smtplib.SMTPAuthenticationError, smtplib.SMTPSenderRefused)):
        return False
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code >= 500
    return False


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


def _finish(row: Notification, **fields: object) -> None:
    """Write the outcome, only while the row is still this worker's claim."""
    Notification.objects.filter(pk=row.pk, status=NotificationStatus.SENDING).update(**fields)


#: Relations a message may need, loaded for the whole batch in one query.
_SEND_RELATIONS = (
    "member__clinic",
    "user",
    "session__group__clinic",
    "session__room",
    "offer",
    "summary__group__clinic",
)


def _refresh(row: Notification) -> None:
    """Read again what may have changed since the batch was loaded and decides whether the
    row still goes: the session's status, times and place, the offer's status. One query."""
    if row.session_id is not None:
        current = (
            GroupSession.objects.filter(pk=row.session_id)
            .values("status", "start", "end", "room_id", "video_link", "sequence")
            .first()
        )
        if current is None:
            row.session = None
        else:
            for name, value in current.items():
                setattr(row.session, name, value)
    elif row.offer_id is not None:
        row.offer.refresh_from_db(fields=["status", "expires_at"])


def _release(notification_ids: Collection[int]) -> None:
    """Let the next dispatch queue again the rows of a batch this worker will not get to."""
    Notification.objects.filter(pk__in=notification_ids, status=NotificationStatus.PENDING).update(
        queued_at=None
    )


def notifications_send(
    *,
    notification_ids: Sequence[int],
    now: dt.datetime | None = None,
    budget: dt.timedelta | None = None,
) -> SendResult:
    """Send the given rows, each only if this call wins its claim, over one SMTP connection.

    The batch is loaded in one query; then per row: claim; read again what may have changed
    (the session, the offer) and skip the row with the reason if it is stale; render and hand
    it to the e-mail backend; mark it sent. A temporary error (connection, 4xx) puts it back
    to pending with a backed-off ``due_at``; a permanent one (5xx) or the last attempt fails
    it with the error. Each step is its own autocommitted statement, so a crash leaves at
    most the row in hand claimed (see the module docstring).

    ``budget`` (default: half the task's soft time limit) bounds the batch: past it, the rows
    not yet claimed are released for the next dispatch instead of running into the limit
    mid-message. A soft time limit that fires anyway is not a mail error: it propagates, and
    the row in hand stays claimed for the lease to decide.
    """
    result = SendResult()
    started = time.monotonic()
    if budget is None:
        budget = dt.timedelta(seconds=settings.CELERY_TASK_SOFT_TIME_LIMIT / 2)
    rows = {
        row.pk: row
        for row in Notification.objects.filter(pk__in=notification_ids).select_related(
            *_SEND_RELATIONS
        )
    }
    connection = None
    try:
        for position, notification_id in enumerate(notification_ids):
            if time.monotonic() - started > budget.total_seconds():
                _release(notification_ids[position:])
                break
            row = rows.get(notification_id)
            if row is None:  # deleted with its session since it was queued
                continue
            moment = now or timezone.now()
            if not notification_claim(notification_id=notification_id, now=moment):
                result.not_claimed += 1
                continue
            row.attempts += 1
            _refresh(row)
            reason = _stale_reason(row, moment)
            if reason:
                _finish(row, status=NotificationStatus.SKIPPED, skip_reason=reason[:100])
                result.skipped += 1
                continue
            try:
                message = notification_message(row, now=moment)
                if connection is None:
                    connection = get_connection()
                    connection.open()
                message.connection = connection
                message.send()
            except SoftTimeLimitExceeded:
                # Whether the server has the message is unknown: the lease decides, and the
                # rows not reached go back to the next dispatch.
                _release(notification_ids[position + 1 :])
                raise
            except Exception as error:  # every other failure is recorded on the row
                text = f"{type(error).__name__}: {error}"[:500]
                if isinstance(error, (smtplib.SMTPException, OSError)) and connection is not None:
                    connection.close()
                    connection = None
                if _is_permanent(error) or row.attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
                    _finish(row, status=NotificationStatus.FAILED, last_error=text)
                    result.failed += 1
                    logger.warning("notification %s failed: %s", row.pk, type(error).__name__)
                else:
                    _finish(
                        row,
                        status=NotificationStatus.PENDING,
                        last_error=text,
                        due_at=moment + _backoff(row.attempts),
                        queued_at=None,
                    )
                    result.retrying += 1
                continue
            _finish(row, status=NotificationStatus.SENT, sent_at=timezone.now(), last_error="")
            result.sent += 1
    finally:
        if connection is not None:
            connection.close()
    return result
