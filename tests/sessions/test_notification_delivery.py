"""The outbox delivered for real: a real SMTP conversation (aiosmtpd, see ``smtp_sink``),
temporary and permanent refusals, two dispatchers at once (PostgreSQL, real threads), a real
Celery worker over Redis, and a worker process killed in the middle of a batch.

Every test counts what the SMTP server received per outbox row (each message's
``Message-ID`` is ``<groupcare.{row}.{attempt}@host>``), so "sent once" means "the server
got it once", not "the database says so".
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
import zoneinfo
from collections import Counter
from collections.abc import Iterator
from email.utils import getaddresses
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
import vobject
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connection, connections
from django.utils import timezone

from groupcare.celery import app as celery_app
from members.models import DEFAULT_REMINDER_OFFSETS, Member
from sessions.enums import EnrolmentStatus, NotificationKind, NotificationStatus
from sessions.models import Enrolment, Notification
from sessions.services.notifications import (
    notifications_dispatch,
    notifications_send,
    reminder_key,
    reminders_plan,
)
from sessions.services.scheduling import group_session_cancel
from sessions.tasks import notifications_dispatch_task, notifications_send_task
from tests.factories.members import UserFactory
from tests.factories.sessions import EnrolmentFactory, GroupFactory, GroupSessionFactory
from tests.sessions.smtp_sink import PERMANENT_FAILURE, Received, SmtpSink

LONDON = zoneinfo.ZoneInfo("Europe/London")
# Tuesday 2 June 2026, 18:00 in London (BST, UTC+1).
START = dt.datetime(2026, 6, 2, 18, 0, tzinfo=LONDON)
PLANNED_AT = dt.datetime(2026, 5, 20, 9, 0, tzinfo=dt.UTC)
DAY_BEFORE = START - dt.timedelta(hours=24)  # Monday 18:00 London
CANCELLED_AT = DAY_BEFORE + dt.timedelta(hours=3)  # Monday 21:00 London

ROOT = Path(__file__).resolve().parents[2]
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


@pytest.fixture
def sink(settings) -> Iterator[SmtpSink]:
    """A real SMTP server, and the e-mail settings pointing at it (plain SMTP, no login)."""
    with SmtpSink() as server:
        settings.EMAIL_BACKEND = SMTP_BACKEND
        settings.EMAIL_HOST = server.host
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_TIMEOUT = 10
        yield server


def _send_due(now: dt.datetime) -> list[int]:
    """One minute's work done in-process: dispatch, then send each batch; the rows sent."""
    return [
        notifications_send(notification_ids=batch, now=now).sent
        for batch in notifications_dispatch(now=now).batches
    ]


def _everything(received: Received) -> str:
    """All a reader or a mail system sees of a message: the raw message, every part
    decoded (bodies may be base64 or quoted-printable on the wire) and every file name."""
    texts = [received.data.decode("utf-8", "replace")]
    for part in received.parsed().walk():
        if not part.is_multipart():
            texts.append(part.get_content())
            texts.append(part.get_filename() or "")
    return "\n".join(texts)


def _leaks(received: Received, *, group, members, recipient) -> list[str]:
    """What the message gives away that its recipient must not learn: anything naming the
    group (its name, modality, description), the other members, or the staff's reason."""
    forbidden = [
        group.name,
        group.modality.name,
        group.description,
        "Survivors",
        "Quillwort",
        "childhood",
        "Larkspur",  # in the reason the session was cancelled
        *(
            text
            for other in members
            if other != recipient
            for text in (other.preferred_name, other.legal_name, other.email)
        ),
    ]
    everything = _everything(received).casefold()
    return [text for text in forbidden if text.casefold() in everything]


def _calendar_part(received: Received):
    (part,) = [p for p in received.parsed().walk() if p.get_content_type() == "text/calendar"]
    return part


def _event(received: Received) -> tuple[Any, Any]:
    """The attachment as vobject reads it: the calendar, and its one VEVENT untransformed
    (DTSTART as written, with its TZID)."""
    text = _calendar_part(received).get_content()
    calendar = vobject.readOne(text)
    raw = vobject.readOne(text, transform=False)
    assert len(calendar.vevent_list) == len(raw.vevent_list) == 1
    return calendar, raw.vevent


def _statuses() -> dict[str, int]:
    return dict(Counter(Notification.objects.values_list("status", flat=True)))


# --- 1. a real SMTP conversation -----------------------------------------------------------


@pytest.mark.django_db
def test_reminders_and_the_cancellation_go_over_smtp_one_person_each_and_say_nothing_more(
    sink,
):
    group = GroupFactory(
        room__name="Room 2",
        name="Tuesday Survivors Circle",
        modality__name="Quillwort Therapy",
        description="For survivors of childhood abuse; bring your journal.",
    )
    session = GroupSessionFactory(group=group, start=START.astimezone(dt.UTC))
    people = [
        ("Zebediah", "Zebediah Quaintance"),
        ("Ottoline", "Ottoline Fairweather"),
        ("Peregrine", "Peregrine Vasquez-Hollow"),
    ]
    members = [
        EnrolmentFactory(
            group=group,
            status=EnrolmentStatus.ACTIVE,
            joined_on=dt.date(2026, 5, 5),
            member__user=UserFactory(),
            member__preferred_name=preferred,
            member__legal_name=legal,
        ).member
        for preferred, legal in people
    ]
    with time_machine.travel(PLANNED_AT, tick=False):
        reminders_plan(sessions=[session], now=PLANNED_AT)

    assert _send_due(DAY_BEFORE) == [3]

    reminders = sorted(sink.messages, key=lambda received: received.rcpt_tos)
    by_address = {member.email: member for member in members}
    assert sorted(received.rcpt_tos for received in reminders) == sorted(
        (member.email,) for member in members
    )
    reminder_uids = set()
    for received in reminders:
        member = by_address[received.rcpt_tos[0]]
        message = received.parsed()
        assert message["Subject"] == "Reminder: group session tomorrow, Tue 18:00, Room 2"
        assert getaddresses(message.get_all("To")) == [(member.preferred_name, member.email)]
        assert (message["Cc"], message["Bcc"]) == (None, None)
        assert [part.get_content_type() for part in message.walk()] == [
            "multipart/mixed",
            "multipart/alternative",
            "text/plain",
            "text/html",
            "text/calendar",
        ]
        assert message.get_body(("plain",)).get_content().splitlines()[0] == (
            "Reminder: your group session tomorrow, Tue 18:00, Room 2."
        )
        assert _leaks(received, group=group, members=members, recipient=member) == []
        part = _calendar_part(received)
        assert (part.get_param("method"), part.get_filename(), part.get_content_disposition()) == (
            "REQUEST",
            "group-session.ics",
            "attachment",
        )
        calendar, event = _event(received)
        assert calendar.method.value == "REQUEST"
        assert (
            calendar.vevent.summary.value,
            calendar.vevent.status.value,
            calendar.vevent.sequence.value,
        ) == ("Group session", "CONFIRMED", "0")
        assert (event.dtstart.value, event.dtstart.params) == (
            "20260602T180000",
            {"TZID": ["Europe/London"]},
        )
        assert calendar.vevent.dtstart.value == START
        reminder_uids.add(calendar.vevent.uid.value)
    (uid,) = reminder_uids

    with time_machine.travel(CANCELLED_AT, tick=False):
        group_session_cancel(
            session=session,
            by=group.lead_facilitator,
            reason="Facilitator off sick with the Larkspur flu",
            now=CANCELLED_AT,
        )
    assert _send_due(CANCELLED_AT) == [3]
    # The two-hour reminders were withdrawn by the cancellation: never due, never sent.
    assert _send_due(START - dt.timedelta(hours=2)) == []

    notices = sorted(sink.messages[3:], key=lambda received: received.rcpt_tos)
    assert [received.rcpt_tos for received in notices] == [
        received.rcpt_tos for received in reminders
    ]
    for received in notices:
        message = received.parsed()
        assert message["Subject"] == "Cancelled: group session tomorrow, Tue 18:00, Room 2"
        member = by_address[received.rcpt_tos[0]]
        assert _leaks(received, group=group, members=members, recipient=member) == []
        assert _calendar_part(received).get_param("method") == "CANCEL"
        calendar, _ = _event(received)
        assert (
            calendar.method.value,
            calendar.vevent.uid.value,
            calendar.vevent.status.value,
            calendar.vevent.sequence.value,
        ) == ("CANCEL", uid, "CANCELLED", "1")
    assert sink.count == 6
    assert sorted(
        Notification.objects.values_list("kind", "offset_minutes", "status", "skip_reason")
    ) == sorted(
        [(NotificationKind.REMINDER, 1440, NotificationStatus.SENT, "")] * 3
        + [
            (
                NotificationKind.REMINDER,
                120,
                NotificationStatus.SKIPPED,
                "No longer wanted: the session or the member's place changed.",
            )
        ]
        * 3
        + [(NotificationKind.SESSION_CANCELLED, None, NotificationStatus.SENT, "")] * 3
    )


# --- 2. refusals ---------------------------------------------------------------------------


def _one_due_reminder(**member) -> Notification:
    group = GroupFactory(room__name="Room 2")
    session = GroupSessionFactory(group=group, start=START.astimezone(dt.UTC))
    EnrolmentFactory(
        group=group,
        status=EnrolmentStatus.ACTIVE,
        joined_on=dt.date(2026, 5, 5),
        member__reminder_offsets=[1440],
        **{f"member__{key}": value for key, value in member.items()},
    )
    reminders_plan(sessions=[session], now=PLANNED_AT)
    return Notification.objects.get()


def _row_state(row: Notification) -> tuple:
    row.refresh_from_db()
    return (row.status, row.attempts, row.due_at, row.queued_at, row.last_error)


@pytest.mark.django_db
def test_a_temporary_refusal_puts_the_row_back_and_a_later_dispatch_sends_it(sink):
    row = _one_due_reminder()
    sink.fail_next(1)

    assert _send_due(DAY_BEFORE) == [0]

    assert _row_state(row) == (
        NotificationStatus.PENDING,
        1,
        DAY_BEFORE + dt.timedelta(minutes=1),
        None,
        "SMTPDataError: (451, b'4.3.0 Try again later')",
    )
    assert (sink.refused, sink.count) == (1, 0)
    assert _send_due(DAY_BEFORE + dt.timedelta(seconds=59)) == []  # not due again yet

    assert _send_due(DAY_BEFORE + dt.timedelta(minutes=1)) == [1]

    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (NotificationStatus.SENT, 2, "")
    assert [received.row for received in sink.messages] == [(row.pk, 2)]


@pytest.mark.django_db
def test_temporary_refusals_until_the_last_attempt_fail_the_row_with_the_error(sink, settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    row = _one_due_reminder()
    sink.fail_next(1_000)
    moment = DAY_BEFORE
    states = []
    for _ in range(3):
        assert _send_due(moment) == [0]
        states.append(_row_state(row)[:3])
        moment = row.due_at

    assert states == [
        (NotificationStatus.PENDING, 1, DAY_BEFORE + dt.timedelta(minutes=1)),
        (NotificationStatus.PENDING, 2, DAY_BEFORE + dt.timedelta(minutes=3)),
        (NotificationStatus.FAILED, 3, DAY_BEFORE + dt.timedelta(minutes=3)),
    ]
    assert row.last_error == "SMTPDataError: (451, b'4.3.0 Try again later')"
    assert (sink.refused, sink.count) == (3, 0)
    assert _send_due(DAY_BEFORE + dt.timedelta(hours=1)) == []


@pytest.mark.django_db
def test_a_permanent_refusal_fails_the_row_at_once(sink):
    row = _one_due_reminder()
    sink.fail_next(1, PERMANENT_FAILURE)

    assert _send_due(DAY_BEFORE) == [0]

    assert _row_state(row) == (
        NotificationStatus.FAILED,
        1,
        DAY_BEFORE,
        DAY_BEFORE,
        "SMTPDataError: (550, b'5.7.1 Message refused')",
    )
    assert _send_due(DAY_BEFORE + dt.timedelta(hours=1)) == []
    assert (sink.refused, sink.count) == (1, 0)


# --- many due rows, real time --------------------------------------------------------------


def _seed_due_reminders(
    *,
    sessions: int,
    members: int,
    now: dt.datetime,
    offsets: tuple[int, ...] = DEFAULT_REMINDER_OFFSETS,
) -> list[int]:
    """``sessions`` sessions of one group, starting tomorrow, with ``members`` active
    members, and a reminder row due now for each member at each offset: the ids of
    sessions * members * len(offsets) rows, written in bulk."""
    group = GroupFactory(min_size=1, max_size=max(members, 1))
    first = (now + dt.timedelta(days=1)).replace(microsecond=0)
    planned = [
        GroupSessionFactory(group=group, start=first + dt.timedelta(hours=2 * index))
        for index in range(sessions)
    ]
    people = Member.objects.bulk_create(
        Member(
            clinic=group.clinic,
            preferred_name=f"Member {index}",
            legal_name=f"Member {index} of group {group.pk}",
            email=f"member{index}.group{group.pk}@example.org",
            reminder_offsets=list(offsets),
            quiet_hours=False,
        )
        for index in range(members)
    )
    Enrolment.objects.bulk_create(
        Enrolment(
            group=group,
            member=member,
            status=EnrolmentStatus.ACTIVE,
            joined_on=(now - dt.timedelta(days=30)).date(),
        )
        for member in people
    )
    rows = Notification.objects.bulk_create(
        Notification(
            key=reminder_key(session=session, member_id=member.pk, offset_minutes=offset),
            kind=NotificationKind.REMINDER,
            clinic_id=group.clinic_id,
            member=member,
            session=session,
            offset_minutes=offset,
            session_start=session.start,
            due_at=now - dt.timedelta(minutes=1),
        )
        for session in planned
        for member in people
        for offset in offsets
    )
    return sorted(row.pk for row in rows)


def _in_threads(*calls):
    """Run each call in its own thread (its own database connection), released together
    by a barrier; return each call's result, or raise the first error."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = calls[index]()
        except BaseException as error:  # re-raised in the main thread below
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [thread.is_alive() for thread in threads] == [False] * len(calls)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


# --- 3. two dispatchers at once ------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_queue_each_row_once_and_it_is_sent_once(sink, settings):
    settings.NOTIFICATIONS_BATCH_SIZE = 20
    now = timezone.now()
    ids = _seed_due_reminders(sessions=2, members=50, now=now)

    def dispatch_then_send():
        batches = notifications_dispatch(now=now).batches
        return batches, [notifications_send(notification_ids=b, now=now) for b in batches]

    results = _in_threads(dispatch_then_send, dispatch_then_send)

    queued = Counter(pk for batches, _ in results for batch in batches for pk in batch)
    assert queued == Counter(ids)
    assert sum(sent.sent for _, sends in results for sent in sends) == 200
    assert sink.rows() == Counter(ids)
    assert _statuses() == {NotificationStatus.SENT: 200}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_handed_the_same_batches_at_once_send_each_row_once(sink, settings):
    """As after a redelivered task or a requeue: only the claim stands between a row and a
    second message."""
    settings.NOTIFICATIONS_BATCH_SIZE = 20
    now = timezone.now()
    ids = _seed_due_reminders(sessions=2, members=50, now=now)
    batches = notifications_dispatch(now=now).batches

    def send_all():
        return [notifications_send(notification_ids=batch, now=now) for batch in batches]

    results = _in_threads(send_all, send_all)

    sent = [result.sent for sends in results for result in sends]
    not_claimed = [result.not_claimed for sends in results for result in sends]
    assert (sum(sent), sum(not_claimed)) == (200, 200)
    assert sink.rows() == Counter(ids)
    assert _statuses() == {NotificationStatus.SENT: 200}


# --- Celery over Redis ---------------------------------------------------------------------


def _broker_clean() -> None:
    """Empty the app's queue in Redis, and kombu's record of messages delivered but not
    acknowledged (a killed worker leaves its task there until the visibility timeout)."""
    celery_app.control.purge()
    with celery_app.connection_for_write() as broker:
        channel = broker.default_channel
        channel.client.delete(
            channel.unacked_key, channel.unacked_index_key, channel.unacked_mutex_key
        )


def _queued_messages() -> int:
    with celery_app.connection_for_write() as broker:
        channel = broker.default_channel
        return channel.client.llen(celery_app.conf.task_default_queue) + channel.client.hlen(
            channel.unacked_key
        )


def _wait(condition, *, timeout: float, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def _result(async_result, timeout: float = 30):
    try:
        return async_result.get(timeout=timeout)
    finally:
        async_result.forget()


@pytest.fixture
def clean_broker():
    _broker_clean()
    yield
    _broker_clean()
    assert _queued_messages() == 0


def _close_db_after_task(**_kwargs) -> None:
    # The embedded worker runs tasks in its own thread: its connection must not outlive it
    # (PostgreSQL refuses to drop the test database while a connection is open).
    connections.close_all()


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_over_redis_delivers_a_due_reminder_exactly_once(sink, clean_broker):
    (row_id,) = _seed_due_reminders(sessions=1, members=1, offsets=(120,), now=timezone.now())
    task_postrun.connect(_close_db_after_task, weak=False)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
            first = _result(notifications_dispatch_task.apply_async(ignore_result=False))
            assert sink.wait_for(1, timeout=30)
            assert _wait(
                lambda: Notification.objects.get(pk=row_id).status == NotificationStatus.SENT,
                timeout=10,
            )

            again = _result(notifications_dispatch_task.apply_async(ignore_result=False))
            redelivered = _result(
                notifications_send_task.apply_async(args=[[row_id]], ignore_result=False)
            )
    finally:
        task_postrun.disconnect(_close_db_after_task)

    assert first == {"queued": 1, "batches": 1, "recovered": 0, "gave_up": 0}
    assert again == {"queued": 0, "batches": 0, "recovered": 0, "gave_up": 0}
    assert redelivered == {"sent": 0, "skipped": 0, "retrying": 0, "failed": 0, "not_claimed": 1}
    assert [received.row for received in sink.messages] == [(row_id, 1)]


# --- 5. a worker killed in the middle of a batch -------------------------------------------

KILL_ROWS = 60
KILL_BATCH = 5
KILL_LEASE_SECONDS = 2


def _database_url() -> str:
    """The test database (its NAME during the test) as a URL another process can use."""
    db = connection.settings_dict
    login = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        login += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{login}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


class _Worker:
    """``celery -A groupcare worker`` in a process group of its own, logging to a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "groupcare",
                "worker",
                "--pool",
                "solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "INFO",
                "--hostname",
                f"{log.stem}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        ready = _wait(lambda: b" ready." in self.log.read_bytes(), timeout=timeout, every=0.1)
        assert ready, self.log.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no acknowledgement, nothing written afterwards."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log_file.close()


def _by_status(ids: list[int]) -> dict[str, set[int]]:
    states: dict[str, set[int]] = {}
    for pk, status in Notification.objects.filter(pk__in=ids).values_list("pk", "status"):
        states.setdefault(status, set()).add(pk)
    return states


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_loses_nothing_and_repeats_at_most_the_row_in_hand(
    sink, settings, clean_broker, tmp_path
):
    sink.delay = 0.15
    # This process dispatches again after the kill: the same lease as the workers, and a
    # short requeue, because the rest of the killed worker's batch waits in a task that is
    # neither acknowledged nor redelivered (until the broker's visibility timeout).
    settings.NOTIFICATIONS_SENDING_LEASE_SECONDS = KILL_LEASE_SECONDS
    settings.NOTIFICATIONS_REQUEUE_AFTER_SECONDS = 5
    settings.NOTIFICATIONS_BATCH_SIZE = KILL_BATCH
    ids = _seed_due_reminders(sessions=3, members=10, now=timezone.now())
    assert len(ids) == KILL_ROWS
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "groupcare.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": os.environ["REDIS_URL"],
        "DJANGO_DEBUG": "true",
        "DJANGO_EMAIL_BACKEND": SMTP_BACKEND,
        "DJANGO_EMAIL_HOST": sink.host,
        "DJANGO_EMAIL_PORT": str(sink.port),
        "DJANGO_EMAIL_USE_TLS": "false",
        "DJANGO_EMAIL_HOST_USER": "",
        "DJANGO_EMAIL_HOST_PASSWORD": "",
        "GROUPCARE_NOTIFICATIONS_SENDING_LEASE": str(KILL_LEASE_SECONDS),
        "GROUPCARE_NOTIFICATIONS_BATCH_SIZE": str(KILL_BATCH),
        "GROUPCARE_VAR_DIR": str(tmp_path / "var"),
    }
    workers: list[_Worker] = []
    try:
        workers.append(_Worker(env, tmp_path / "worker-1.log"))
        workers[0].wait_ready()
        notifications_dispatch_task.delay()
        assert sink.wait_for(12, timeout=30), workers[0].log.read_text(errors="replace")

        workers[0].kill()
        # A statement the worker sent just before it died may still commit: read the
        # outcome once it has stopped changing.
        at_kill = _by_status(ids)
        for _ in range(20):
            time.sleep(0.3)
            if (again := _by_status(ids)) == at_kill:
                break
            at_kill = again
        received_at_kill = sink.count
        sent_at_kill = at_kill.get(NotificationStatus.SENT, set())
        sending_at_kill = at_kill.get(NotificationStatus.SENDING, set())

        workers.append(_Worker(env, tmp_path / "worker-2.log"))
        workers[1].wait_ready()
        time.sleep(KILL_LEASE_SECONDS + 0.5)
        recovered = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            result = notifications_dispatch()
            recovered += result.recovered
            for batch in result.batches:
                notifications_send_task.delay(batch)
            if _wait(lambda: _statuses() == {NotificationStatus.SENT: KILL_ROWS}, timeout=1):
                break
    finally:
        for worker in workers:
            worker.stop()

    received = sink.rows()
    duplicates = sum(count - 1 for count in received.values())
    print(
        f"\nkilled after {received_at_kill} messages: {len(sent_at_kill)} rows sent, "
        f"{len(sending_at_kill)} sending; {recovered} handed back after the lease; "
        f"{sink.count} messages for {KILL_ROWS} rows: {duplicates} duplicate deliveries"
    )
    assert _statuses() == {NotificationStatus.SENT: KILL_ROWS}
    assert set(received) == set(ids)
    assert [pk for pk in sent_at_kill if received[pk] != 1] == []
    assert {pk for pk, count in received.items() if count > 1} <= sending_at_kill
    assert duplicates <= len(sending_at_kill) <= 1
    assert recovered == len(sending_at_kill)
