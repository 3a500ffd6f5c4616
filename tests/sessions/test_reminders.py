"""Reminders and notices in the outbox: who gets one, when, and what is never sent."""

import datetime as dt
import zoneinfo
from typing import ClassVar

import pytest
import time_machine
from celery.exceptions import SoftTimeLimitExceeded
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from sessions.enums import EnrolmentStatus, NotificationKind, NotificationStatus, SessionStatus
from sessions.models import Notification
from sessions.services.attendance import attendance_cant_attend
from sessions.services.enrolment import enrolment_withdraw
from sessions.services.notifications import (
    member_update_with_reminders,
    notification_claim,
    notifications_dispatch,
    notifications_send,
    reminder_due_at,
    reminders_plan,
    reminders_plan_upcoming,
)
from sessions.services.scheduling import group_session_cancel, group_session_move, schedule_set
from tests.factories.members import UserFactory
from tests.factories.sessions import (
    EnrolmentFactory,
    GroupFactory,
    GroupSessionFactory,
    RoomFactory,
)

pytestmark = pytest.mark.django_db

# Tuesday 2 June 2026, 18:00 in London (BST, UTC+1).
START = dt.datetime(2026, 6, 2, 17, 0, tzinfo=dt.UTC)
DAY_BEFORE = START - dt.timedelta(hours=24)
TWO_HOURS_BEFORE = START - dt.timedelta(hours=2)
PLANNED_AT = dt.datetime(2026, 5, 20, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def group():
    return GroupFactory(room__name="Room 2", name="Trauma recovery", modality__name="EMDR-ish")


@pytest.fixture
def session(group):
    return GroupSessionFactory(group=group, start=START)


def _enrol(group, *, joined_on=dt.date(2026, 5, 5), **member):
    return EnrolmentFactory(
        group=group,
        status=EnrolmentStatus.ACTIVE,
        joined_on=joined_on,
        member__user=UserFactory(),
        **{f"member__{key}": value for key, value in member.items()},
    ).member


def _reminders(session=None):
    rows = Notification.objects.filter(kind=NotificationKind.REMINDER)
    if session is not None:
        rows = rows.filter(session=session)
    return sorted(
        rows.values_list("member_id", "offset_minutes", "due_at", "status"),
        key=lambda row: (row[0], -row[1]),
    )


def test_each_expected_member_gets_a_reminder_at_each_default_offset(group, session):
    alex, bo = _enrol(group), _enrol(group)

    result = reminders_plan(sessions=[session], now=PLANNED_AT)

    assert result.pending == 4
    assert _reminders(session) == [
        (alex.pk, 1440, DAY_BEFORE, NotificationStatus.PENDING),
        (alex.pk, 120, TWO_HOURS_BEFORE, NotificationStatus.PENDING),
        (bo.pk, 1440, DAY_BEFORE, NotificationStatus.PENDING),
        (bo.pk, 120, TWO_HOURS_BEFORE, NotificationStatus.PENDING),
    ]


def test_planning_twice_writes_nothing_more(group, session):
    _enrol(group)
    reminders_plan(sessions=[session], now=PLANNED_AT)

    again = reminders_plan(sessions=[session], now=PLANNED_AT)

    assert (again.pending, again.skipped_late, again.withdrawn, again.retimed) == (0, 0, 0, 0)
    assert Notification.objects.count() == 2


def test_a_members_own_offsets_replace_the_defaults(group, session):
    member = _enrol(group, reminder_offsets=[60, 2880])

    reminders_plan(sessions=[session], now=PLANNED_AT)

    assert _reminders(session) == [
        (member.pk, 2880, START - dt.timedelta(days=2), NotificationStatus.PENDING),
        (member.pk, 60, START - dt.timedelta(hours=1), NotificationStatus.PENDING),
    ]


def test_a_member_who_turned_reminders_off_gets_none(group, session):
    _enrol(group, reminders_enabled=False)

    reminders_plan(sessions=[session], now=PLANNED_AT)

    assert _reminders(session) == []


def test_turning_reminders_off_later_skips_the_pending_ones(group, session):
    member = _enrol(group)
    reminders_plan(sessions=[session], now=PLANNED_AT)

    with time_machine.travel(PLANNED_AT, tick=False):
        member_update_with_reminders(
            member=member, by=group.lead_facilitator, reminders_enabled=False
        )

    assert _reminders(session) == [
        (member.pk, 1440, DAY_BEFORE, NotificationStatus.SKIPPED),
        (member.pk, 120, TWO_HOURS_BEFORE, NotificationStatus.SKIPPED),
    ]


def test_changing_offsets_skips_the_old_and_plans_the_new(group, session):
    member = _enrol(group)
    reminders_plan(sessions=[session], now=PLANNED_AT)

    with time_machine.travel(PLANNED_AT, tick=False):
        member_update_with_reminders(
            member=member, by=group.lead_facilitator, reminder_offsets=[30]
        )

    assert _reminders(session) == [
        (member.pk, 1440, DAY_BEFORE, NotificationStatus.SKIPPED),
        (member.pk, 120, TWO_HOURS_BEFORE, NotificationStatus.SKIPPED),
        (member.pk, 30, START - dt.timedelta(minutes=30), NotificationStatus.PENDING),
    ]


def test_no_reminder_for_a_member_not_yet_joined_or_already_left(group, session):
    _enrol(group, joined_on=dt.date(2026, 6, 3))  # joins the day after
    EnrolmentFactory(
        group=group,
        status=EnrolmentStatus.WITHDRAWN,
        joined_on=dt.date(2026, 5, 5),
        left_on=dt.date(2026, 6, 1),
    )
    EnrolmentFactory(group=group, status=EnrolmentStatus.WAITLISTED)

    reminders_plan(sessions=[session], now=PLANNED_AT)

    assert _reminders(session) == []


def test_no_reminder_for_a_member_without_an_email_address(group, session):
    _enrol(group, email="")

    reminders_plan(sessions=[session], now=PLANNED_AT)

    assert _reminders(session) == []


def test_an_excused_member_is_not_reminded(group, session):
    member = _enrol(group)
    reminders_plan(sessions=[session], now=PLANNED_AT)

    attendance_cant_attend(session=session, member=member, by=member.user, now=PLANNED_AT)

    assert _reminders(session) == [
        (member.pk, 1440, DAY_BEFORE, NotificationStatus.SKIPPED),
        (member.pk, 120, TWO_HOURS_BEFORE, NotificationStatus.SKIPPED),
    ]


def test_a_cancelled_session_gets_no_reminder_and_each_member_one_notice(group, session):
    alex, bo = _enrol(group), _enrol(group)
    reminders_plan(sessions=[session], now=PLANNED_AT)

    group_session_cancel(session=session, by=group.lead_facilitator, reason="Ill", now=PLANNED_AT)

    assert {status for *_, status in _reminders(session)} == {NotificationStatus.SKIPPED}
    notices = Notification.objects.filter(kind=NotificationKind.SESSION_CANCELLED)
    assert sorted(notices.values_list("member_id", "due_at", "status")) == [
        (alex.pk, PLANNED_AT, NotificationStatus.PENDING),
        (bo.pk, PLANNED_AT, NotificationStatus.PENDING),
    ]
    # Planning a cancelled session again writes nothing.
    assert reminders_plan(sessions=[session], now=PLANNED_AT).pending == 0


def test_a_cancelled_session_created_cancelled_is_never_planned(group):
    session = GroupSessionFactory(group=group, start=START, status=SessionStatus.CANCELLED)
    _enrol(group)

    reminders_plan(sessions=[session], now=PLANNED_AT)

    assert _reminders(session) == []


def test_a_late_joiner_gets_only_the_reminders_still_ahead(group, session):
    # Joined three hours before the session: the 24-hour reminder's moment has passed.
    joined_at = START - dt.timedelta(hours=3)
    member = _enrol(group, joined_on=dt.date(2026, 6, 2))

    result = reminders_plan(sessions=[session], now=joined_at)

    assert (result.pending, result.skipped_late) == (1, 1)
    assert _reminders(session) == [
        (member.pk, 1440, DAY_BEFORE, NotificationStatus.SKIPPED),
        (member.pk, 120, TWO_HOURS_BEFORE, NotificationStatus.PENDING),
    ]


def test_a_session_created_an_hour_ahead_skips_offsets_already_past(group):
    member = _enrol(group, reminder_offsets=[1440, 120, 30])
    now = START - dt.timedelta(hours=1)
    session = GroupSessionFactory(group=group, start=START)

    reminders_plan(sessions=[session], now=now)

    assert _reminders(session) == [
        (member.pk, 1440, DAY_BEFORE, NotificationStatus.SKIPPED),
        (member.pk, 120, TWO_HOURS_BEFORE, NotificationStatus.SKIPPED),
        (member.pk, 30, START - dt.timedelta(minutes=30), NotificationStatus.PENDING),
    ]


@pytest.mark.parametrize(
    ("local_start", "offset", "quiet", "expected_local_due"),
    [
        # Due 22:00 the evening before a 22:00 session: waits until 08:00, still before it.
        ("2026-06-03 09:00", 11 * 60, True, "2026-06-03 08:00"),
        # 24 h before a 07:30 session falls at 07:30: held until 08:00 the day before.
        ("2026-06-03 07:30", 24 * 60, True, "2026-06-02 08:00"),
        # The session starts before quiet hours end: the reminder goes at its time.
        ("2026-06-03 07:30", 120, True, "2026-06-03 05:30"),
        # Outside quiet hours nothing moves.
        ("2026-06-03 18:00", 120, True, "2026-06-03 16:00"),
        # 21:00 is quiet, but 08:00 would be after a 23:00 session: it goes at 21:00.
        ("2026-06-03 23:00", 120, True, "2026-06-03 21:00"),
        # 08:00 is not quiet.
        ("2026-06-03 10:00", 120, True, "2026-06-03 08:00"),
        # A member without quiet hours gets it at its time.
        ("2026-06-03 09:00", 11 * 60, False, "2026-06-02 22:00"),
    ],
)
def test_quiet_hours_hold_a_reminder_until_eight_unless_the_session_is_sooner(
    local_start, offset, quiet, expected_local_due
):
    tz = zoneinfo.ZoneInfo("Europe/London")
    start = dt.datetime.fromisoformat(local_start).replace(tzinfo=tz)

    due = reminder_due_at(
        start=start.astimezone(dt.UTC),
        offset_minutes=offset,
        tz_name="Europe/London",
        quiet_hours=quiet,
    )

    assert due.astimezone(tz).strftime("%Y-%m-%d %H:%M") == expected_local_due


def test_quiet_hours_follow_the_members_own_time_zone(group, session):
    # Ten hours before 18:00 London is 08:00 London: quiet in neither zone. Fourteen
    # hours before is 04:00 London (quiet there) but 12:00 in Tokyo, where the member lives.
    london = _enrol(group, reminder_offsets=[14 * 60])
    tokyo = _enrol(group, timezone="Asia/Tokyo", reminder_offsets=[14 * 60])

    reminders_plan(sessions=[session], now=PLANNED_AT)

    london_morning = dt.datetime(2026, 6, 2, 7, 0, tzinfo=dt.UTC)  # 08:00 BST
    assert _reminders(session) == [
        (london.pk, 840, london_morning, NotificationStatus.PENDING),
        (tokyo.pk, 840, START - dt.timedelta(hours=14), NotificationStatus.PENDING),
    ]


def test_a_moved_session_gets_reminders_for_its_new_time_and_a_notice(group, session):
    member = _enrol(group)
    reminders_plan(sessions=[session], now=PLANNED_AT)
    new_start = START + dt.timedelta(days=1)

    with time_machine.travel(PLANNED_AT, tick=False):
        group_session_move(session=session, by=group.lead_facilitator, start=new_start)

    assert _reminders(session) == [
        (member.pk, 1440, DAY_BEFORE, NotificationStatus.SKIPPED),
        (member.pk, 1440, new_start - dt.timedelta(hours=24), NotificationStatus.PENDING),
        (member.pk, 120, TWO_HOURS_BEFORE, NotificationStatus.SKIPPED),
        (member.pk, 120, new_start - dt.timedelta(hours=2), NotificationStatus.PENDING),
    ]
    session.refresh_from_db()
    assert session.sequence == 1
    assert list(
        Notification.objects.filter(kind=NotificationKind.SESSION_MOVED).values_list(
            "member_id", "session_start", "status"
        )
    ) == [(member.pk, new_start, NotificationStatus.PENDING)]


def test_a_member_who_leaves_gets_no_more_reminders(group, session):
    member = _enrol(group)
    enrolment = member.enrolments.get()
    reminders_plan(sessions=[session], now=PLANNED_AT)

    with time_machine.travel(PLANNED_AT, tick=False):
        enrolment_withdraw(enrolment=enrolment, by=group.lead_facilitator)

    assert {status for *_, status in _reminders(session)} == {NotificationStatus.SKIPPED}


def test_the_sweep_plans_the_coming_week_only(group, session):
    later = GroupSessionFactory(group=group, start=START + dt.timedelta(days=14))
    _enrol(group)

    reminders_plan_upcoming(now=START - dt.timedelta(days=3))

    assert Notification.objects.filter(session=session).count() == 2
    assert Notification.objects.filter(session=later).count() == 0


# --- sending -------------------------------------------------------------------------------


def _due_now(group, session, **member):
    member = _enrol(group, **member)
    reminders_plan(sessions=[session], now=PLANNED_AT)
    return member


def test_a_due_reminder_is_sent_once_with_minimal_wording(group, session):
    _enrol(group, preferred_name="Zebediah")
    member = _due_now(group, session, preferred_name="Alex")

    batches = notifications_dispatch(now=DAY_BEFORE).batches
    results = [notifications_send(notification_ids=batch, now=DAY_BEFORE) for batch in batches]

    assert [result.sent for result in results] == [2]
    # One message each, each to one person only.
    assert sorted(
        len(message.to) + len(message.cc) + len(message.bcc) for message in mail.outbox
    ) == [1, 1]
    alex_mail = next(message for message in mail.outbox if member.email in message.to[0])
    assert alex_mail.to == [f"Alex <{member.email}>"]
    assert alex_mail.subject == "Reminder: group session tomorrow, Tue 18:00, Room 2"
    assert (
        alex_mail.body.splitlines()[0]
        == "Reminder: your group session tomorrow, Tue 18:00, Room 2."
    )
    raw = alex_mail.message().as_string()
    assert [word for word in ("Trauma recovery", "EMDR-ish", "Zebediah") if word in raw] == []


def test_the_attachment_is_a_request_for_the_session(group, session):
    _due_now(group, session)

    for batch in notifications_dispatch(now=DAY_BEFORE).batches:
        notifications_send(notification_ids=batch, now=DAY_BEFORE)

    (message,) = mail.outbox
    (part,) = [p for p in message.message().walk() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") == "REQUEST"
    assert part.get_filename() == "group-session.ics"
    text = part.get_payload(decode=True).decode()
    assert "SUMMARY:Group session" in text
    assert f"UID:group-session-{session.pk}@" in text
    assert "DTSTART;TZID=Europe/London:20260602T180000" in text


def test_dispatch_does_not_queue_what_is_not_due_or_already_queued(group, session):
    _due_now(group, session)

    assert notifications_dispatch(now=DAY_BEFORE - dt.timedelta(minutes=1)).queued == 0
    assert notifications_dispatch(now=DAY_BEFORE).queued == 1
    # Queued a minute ago and not yet sent: not queued again until the requeue delay.
    assert notifications_dispatch(now=DAY_BEFORE + dt.timedelta(minutes=1)).queued == 0
    assert notifications_dispatch(now=DAY_BEFORE + dt.timedelta(minutes=11)).queued == 1


def test_a_row_is_sent_only_by_the_worker_that_claims_it(group, session):
    _due_now(group, session)
    (batch,) = notifications_dispatch(now=DAY_BEFORE).batches

    first = notifications_send(notification_ids=batch, now=DAY_BEFORE)
    second = notifications_send(notification_ids=batch, now=DAY_BEFORE)

    assert (first.sent, second.sent, second.not_claimed) == (1, 0, 1)
    assert len(mail.outbox) == 1
    assert notification_claim(notification_id=batch[0], now=DAY_BEFORE) is False


def test_a_reminder_is_checked_again_when_it_is_sent(group, session):
    """Whatever planning did, a row whose session was cancelled meanwhile is not sent."""
    _due_now(group, session)
    (batch,) = notifications_dispatch(now=DAY_BEFORE).batches
    type(session).objects.filter(pk=session.pk).update(status=SessionStatus.CANCELLED)

    result = notifications_send(notification_ids=batch, now=DAY_BEFORE)

    assert (result.sent, result.skipped) == (0, 1)
    assert mail.outbox == []
    row = Notification.objects.get(pk=batch[0])
    assert (row.status, row.skip_reason) == (
        NotificationStatus.SKIPPED,
        "The session is cancelled or over.",
    )


def test_a_row_left_sending_by_a_dead_worker_is_handed_back_after_the_lease(
    group, session, settings
):
    settings.NOTIFICATIONS_SENDING_LEASE_SECONDS = 60
    _due_now(group, session)
    (batch,) = notifications_dispatch(now=DAY_BEFORE).batches
    assert notification_claim(notification_id=batch[0], now=DAY_BEFORE)  # then the worker dies

    assert notifications_dispatch(now=DAY_BEFORE + dt.timedelta(seconds=30)).recovered == 0
    later = DAY_BEFORE + dt.timedelta(seconds=61)
    result = notifications_dispatch(now=later)

    assert (result.recovered, result.queued) == (1, 1)
    notifications_send(notification_ids=result.batches[0], now=later)
    assert len(mail.outbox) == 1
    assert Notification.objects.get(pk=batch[0]).attempts == 2


def test_a_row_that_kills_every_worker_is_failed_after_the_last_attempt(group, session, settings):
    settings.NOTIFICATIONS_SENDING_LEASE_SECONDS = 60
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 2
    _due_now(group, session)
    moment = DAY_BEFORE
    for _ in range(2):
        (batch,) = notifications_dispatch(now=moment).batches
        assert notification_claim(notification_id=batch[0], now=moment)
        moment += dt.timedelta(seconds=61)

    result = notifications_dispatch(now=moment)

    assert (result.gave_up, result.queued) == (1, 0)
    row = Notification.objects.get(pk=batch[0])
    assert (row.status, row.attempts) == (NotificationStatus.FAILED, 2)
    assert row.last_error == "The worker sending it stopped every time; gave up."


class SoftLimitOnSecondMessage(BaseEmailBackend):
    """Takes the first message, then the task's soft time limit fires while the second is
    being handed over (after the server may have it)."""

    handed: ClassVar[list[str]] = []

    def send_messages(self, email_messages):
        for message in email_messages:
            self.handed.append(message.to[0])
            if len(self.handed) == 2:
                raise SoftTimeLimitExceeded()
        return len(email_messages)


def test_a_soft_time_limit_is_not_a_mail_error(group, session, settings):
    settings.EMAIL_BACKEND = f"{__name__}.SoftLimitOnSecondMessage"
    SoftLimitOnSecondMessage.handed = []
    for _ in range(3):
        _enrol(group, reminder_offsets=[1440])
    reminders_plan(sessions=[session], now=PLANNED_AT)
    (batch,) = notifications_dispatch(now=DAY_BEFORE).batches

    with pytest.raises(SoftTimeLimitExceeded):
        notifications_send(notification_ids=batch, now=DAY_BEFORE)

    rows = Notification.objects.in_bulk(batch)
    # Sent; in hand when the limit fired (left to the lease, never retried as a mail error);
    # not reached (released at once for the next dispatch).
    assert [(rows[pk].status, rows[pk].last_error, rows[pk].queued_at) for pk in batch] == [
        (NotificationStatus.SENT, "", DAY_BEFORE),
        (NotificationStatus.SENDING, "", DAY_BEFORE),
        (NotificationStatus.PENDING, "", None),
    ]


def test_a_batch_past_its_time_budget_leaves_the_rest_to_the_next_dispatch(group, session):
    _due_now(group, session)
    (batch,) = notifications_dispatch(now=DAY_BEFORE).batches

    result = notifications_send(notification_ids=batch, now=DAY_BEFORE, budget=dt.timedelta(0))

    assert (result.sent, mail.outbox) == (0, [])
    assert notifications_dispatch(now=DAY_BEFORE).batches == [batch]


# --- wanted again, changed again ------------------------------------------------------------


def test_reminders_turned_off_and_on_again_are_sent_after_all(group, session):
    member = _enrol(group)
    reminders_plan(sessions=[session], now=PLANNED_AT)

    with time_machine.travel(PLANNED_AT, tick=False):
        member_update_with_reminders(
            member=member, by=group.lead_facilitator, reminders_enabled=False
        )
        member_update_with_reminders(
            member=member, by=group.lead_facilitator, reminders_enabled=True
        )

    assert _reminders(session) == [
        (member.pk, 1440, DAY_BEFORE, NotificationStatus.PENDING),
        (member.pk, 120, TWO_HOURS_BEFORE, NotificationStatus.PENDING),
    ]


def test_a_session_moved_and_moved_back_gets_its_reminders_again(group, session):
    member = _enrol(group)
    reminders_plan(sessions=[session], now=PLANNED_AT)

    with time_machine.travel(PLANNED_AT, tick=False):
        group_session_move(
            session=session, by=group.lead_facilitator, start=START + dt.timedelta(hours=1)
        )
        group_session_move(session=session, by=group.lead_facilitator, start=START)

    pending = Notification.objects.filter(
        kind=NotificationKind.REMINDER, status=NotificationStatus.PENDING
    )
    assert sorted(pending.values_list("member_id", "due_at")) == [
        (member.pk, DAY_BEFORE),
        (member.pk, TWO_HOURS_BEFORE),
    ]


def test_a_reminder_skipped_as_too_late_stays_skipped_when_planned_again(group, session):
    _enrol(group, joined_on=dt.date(2026, 6, 2))
    reminders_plan(sessions=[session], now=START - dt.timedelta(hours=3))

    reminders_plan(sessions=[session], now=START - dt.timedelta(hours=3))

    assert {(offset, status) for _, offset, _, status in _reminders(session)} == {
        (1440, NotificationStatus.SKIPPED),
        (120, NotificationStatus.PENDING),
    }


def test_a_row_is_not_claimed_before_it_is_due(group, session):
    """A message still in the queue for a row re-timed or backed off since does not send it
    early."""
    _due_now(group, session)
    (batch,) = notifications_dispatch(now=DAY_BEFORE).batches
    Notification.objects.filter(pk=batch[0]).update(due_at=DAY_BEFORE + dt.timedelta(hours=1))

    result = notifications_send(notification_ids=batch, now=DAY_BEFORE)

    assert (result.sent, result.not_claimed, mail.outbox) == (0, 1, [])


def test_of_two_quick_moves_only_the_latest_notice_is_sent(group, session, other_room):
    _enrol(group)
    with time_machine.travel(PLANNED_AT, tick=False):
        group_session_move(session=session, by=group.lead_facilitator, room=other_room)
        group_session_move(session=session, by=group.lead_facilitator, room=group.room)

    for batch in notifications_dispatch(now=PLANNED_AT).batches:
        notifications_send(notification_ids=batch, now=PLANNED_AT)

    moved = Notification.objects.filter(kind=NotificationKind.SESSION_MOVED).order_by("pk")
    assert list(moved.values_list("status", "skip_reason")) == [
        (NotificationStatus.SKIPPED, "The session has changed again since."),
        (NotificationStatus.SENT, ""),
    ]
    assert len(mail.outbox) == 1


@pytest.fixture
def other_room(group):
    return RoomFactory(clinic=group.clinic, name="Garden Room")


def test_a_series_edit_tells_members_of_the_next_two_weeks_new_times(group):
    member = _enrol(group, joined_on=dt.date(2026, 5, 1))
    with time_machine.travel(PLANNED_AT, tick=False):
        schedule_set(
            group=group,
            rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=4",
            first_date=dt.date(2026, 5, 26),
            start_time=dt.time(18, 0),
            duration_minutes=90,
            by=group.lead_facilitator,
        )
        sessions = schedule_set(
            group=group,
            rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=4",
            first_date=dt.date(2026, 5, 26),
            start_time=dt.time(10, 0),
            duration_minutes=90,
            by=group.lead_facilitator,
        )

    notices = Notification.objects.filter(kind=NotificationKind.SESSION_MOVED)
    # 26 May and 2 June (within two weeks of 20 May); 9 and 16 June are not told one by one.
    assert sorted(notices.values_list("member_id", "session_start")) == [
        (member.pk, sessions[0].start),
        (member.pk, sessions[1].start),
    ]
