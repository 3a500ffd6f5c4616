"""A member's own "I can't come" before a session: excused or late-cancelled."""

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection

from members.models import AuditEntry
from sessions.enums import AttendanceStatus, EnrolmentStatus, SessionStatus
from sessions.errors import CantAttendError
from sessions.models import Attendance, AttendanceChange, GroupSession
from sessions.services.attendance import (
    AttendanceEntry,
    attendance_cant_attend,
    attendance_record,
)
from tests.factories.members import UserFactory
from tests.factories.sessions import EnrolmentFactory, GroupFactory, GroupSessionFactory

pytestmark = pytest.mark.django_db

# 18:00 London on 2 June 2026; the group asks for 24 hours' notice by default.
START = dt.datetime(2026, 6, 2, 17, 0, tzinfo=dt.UTC)
NOTICE_EDGE = START - dt.timedelta(hours=24)


@pytest.fixture
def group():
    return GroupFactory()


@pytest.fixture
def session(group):
    return GroupSessionFactory(group=group, start=START)


def _enrol(group, *, joined_on=dt.date(2026, 5, 5), **kwargs):
    return EnrolmentFactory(
        group=group,
        status=EnrolmentStatus.ACTIVE,
        joined_on=joined_on,
        member__user=UserFactory(),
        **kwargs,
    ).member


@pytest.fixture
def member(group):
    return _enrol(group)


def _rows(session):
    return list(
        Attendance.objects.filter(session=session).values_list(
            "member_id", "status", "minutes_attended", "recorded_by_id", "recorded_at"
        )
    )


def _audit(member):
    return list(
        AuditEntry.objects.filter(
            action="sessions.attendance.cant_attend", data__member_id=member.pk
        )
        .order_by("pk")
        .values_list("actor_id", "object_type", "data")
    )


def test_with_enough_notice_the_absence_is_excused(session, member):
    row = attendance_cant_attend(session=session, member=member, by=member.user, now=NOTICE_EDGE)

    assert (row.status, _rows(session)) == (
        AttendanceStatus.EXCUSED,
        [(member.pk, AttendanceStatus.EXCUSED, None, member.user.pk, NOTICE_EDGE)],
    )


def test_inside_the_notice_window_the_absence_is_late_cancelled(session, member):
    now = NOTICE_EDGE + dt.timedelta(seconds=1)

    row = attendance_cant_attend(session=session, member=member, by=member.user, now=now)

    assert (row.status, _rows(session)) == (
        AttendanceStatus.LATE_CANCELLED,
        [(member.pk, AttendanceStatus.LATE_CANCELLED, None, member.user.pk, now)],
    )


def test_the_notice_window_follows_the_group(member):
    session = GroupSessionFactory(group=member.enrolments.get().group, start=START)
    session.group.late_cancel_notice_hours = 2
    session.group.save()

    row = attendance_cant_attend(
        session=session, member=member, by=member.user, now=START - dt.timedelta(hours=3)
    )

    assert row.status == AttendanceStatus.EXCUSED


def test_the_clock_decides_when_no_time_is_given(session, member):
    with time_machine.travel(START - dt.timedelta(hours=2), tick=False):
        row = attendance_cant_attend(session=session, member=member, by=member.user)

    assert (row.status, row.recorded_at) == (
        AttendanceStatus.LATE_CANCELLED,
        START - dt.timedelta(hours=2),
    )


def test_saying_it_twice_changes_nothing(session, member):
    first = attendance_cant_attend(
        session=session, member=member, by=member.user, now=NOTICE_EDGE - dt.timedelta(days=1)
    )

    again = attendance_cant_attend(
        session=session, member=member, by=member.user, now=START - dt.timedelta(hours=1)
    )

    assert (again, again.status, AttendanceChange.objects.count(), len(_audit(member))) == (
        first,
        AttendanceStatus.EXCUSED,
        0,
        1,
    )


def test_saying_it_is_audited_with_ids_only(session, member):
    row = attendance_cant_attend(session=session, member=member, by=member.user, now=NOTICE_EDGE)

    assert _audit(member) == [
        (
            member.user.pk,
            "group_sessions.attendance",
            {"session_id": session.pk, "member_id": member.pk, "status": "excused"},
        )
    ]
    assert AuditEntry.objects.get(action="sessions.attendance.cant_attend").object_id == str(row.pk)


def test_someone_else_cannot_say_it_for_the_member(session, member, group):
    with pytest.raises(CantAttendError, match="Only the member themselves can say"):
        attendance_cant_attend(
            session=session, member=member, by=group.lead_facilitator, now=NOTICE_EDGE
        )

    assert _rows(session) == []


def test_a_member_without_a_login_cannot_say_it(session, group):
    member = EnrolmentFactory(
        group=group, status=EnrolmentStatus.ACTIVE, joined_on=dt.date(2026, 5, 5)
    ).member

    with pytest.raises(CantAttendError, match="Only the member themselves can say"):
        attendance_cant_attend(session=session, member=member, by=UserFactory(), now=NOTICE_EDGE)


def test_it_is_refused_once_the_session_has_started(session, member):
    with pytest.raises(CantAttendError, match="has already started"):
        attendance_cant_attend(session=session, member=member, by=member.user, now=START)

    assert _rows(session) == []


def test_it_is_refused_for_a_cancelled_session(group, member):
    session = GroupSessionFactory(group=group, start=START, status=SessionStatus.CANCELLED)

    with pytest.raises(CantAttendError) as refused:
        attendance_cant_attend(session=session, member=member, by=member.user, now=NOTICE_EDGE)

    assert (str(refused.value), _rows(session), _audit(member)) == (
        "This session has been cancelled; there is nothing to miss.",
        [],
        [],
    )


def test_it_is_refused_for_a_session_before_the_member_joins(group, session):
    joiner = _enrol(group, joined_on=dt.date(2026, 6, 9))

    with pytest.raises(CantAttendError) as refused:
        attendance_cant_attend(session=session, member=joiner, by=joiner.user, now=NOTICE_EDGE)

    assert str(refused.value) == f"Member #{joiner.pk} is not expected at this session."


def test_it_is_refused_for_another_groups_session(member):
    session = GroupSessionFactory(start=START)

    with pytest.raises(CantAttendError, match=f"Member #{member.pk} is not expected"):
        attendance_cant_attend(session=session, member=member, by=member.user, now=NOTICE_EDGE)


def test_a_facilitator_recording_afterwards_is_an_ordinary_change(session, member, group):
    attendance_cant_attend(session=session, member=member, by=member.user, now=NOTICE_EDGE)
    after = START + dt.timedelta(hours=2)

    attendance_record(
        session=session,
        by=group.lead_facilitator,
        entries=[AttendanceEntry(member_id=member.pk, status=AttendanceStatus.PRESENT)],
        reason="Came after all.",
        now=after,
    )

    assert list(
        AttendanceChange.objects.values_list(
            "old_status", "new_status", "changed_by_id", "changed_at", "reason"
        )
    ) == [
        (
            AttendanceStatus.EXCUSED,
            AttendanceStatus.PRESENT,
            group.lead_facilitator.pk,
            after,
            "Came after all.",
        )
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_saying_it_twice_at_once_writes_one_row_and_one_audit_entry():
    group = GroupFactory()
    session = GroupSessionFactory(group=group, start=START)
    member = _enrol(group)
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def say_it() -> None:
        try:
            barrier.wait()
            attendance_cant_attend(
                session=GroupSession.objects.get(pk=session.pk),
                member=member,
                by=member.user,
                now=NOTICE_EDGE,
            )
        except Exception as exc:  # any failure in the thread is reported by the assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=say_it) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert (errors, len(_rows(session)), len(_audit(member))) == ([], 1, 1)
