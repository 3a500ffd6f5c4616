"""Who is expected at a session, the attendance sheet, recording and amending attendance."""

import datetime as dt
import threading

import pytest
from django.db import connection

from members.enums import Role
from members.models import AuditEntry
from sessions.enums import AttendanceStatus, EnrolmentStatus, SessionStatus
from sessions.errors import AttendanceError, AttendanceLockedError
from sessions.models import (
    Agreement,
    AgreementAcceptance,
    Attendance,
    AttendanceChange,
    GroupSession,
)
from sessions.selectors.attendance import session_attendance_sheet, session_expected_members
from sessions.services.attendance import AttendanceEntry, attendance_record
from tests.factories.members import ClinicFactory
from tests.factories.sessions import EnrolmentFactory, GroupFactory, GroupSessionFactory

pytestmark = pytest.mark.django_db

# The session meets 2026-06-02 18:00-19:30 in London (17:00-18:30 UTC).
START = dt.datetime(2026, 6, 2, 17, 0, tzinfo=dt.UTC)
END = START + dt.timedelta(minutes=90)
AFTER = END + dt.timedelta(minutes=30)
LOCK_AT = END + dt.timedelta(days=7)


@pytest.fixture
def group():
    return GroupFactory()


@pytest.fixture
def session(group):
    return GroupSessionFactory(group=group, start=START)


@pytest.fixture
def facilitator(group):
    return group.lead_facilitator


@pytest.fixture
def admin(group, make_user):
    return make_user(clinic=group.clinic, role=Role.ADMIN)


def _enrol(group, *, joined_on=dt.date(2026, 5, 5), left_on=None, status=None, **kwargs):
    return EnrolmentFactory(
        group=group,
        status=status or (EnrolmentStatus.ACTIVE if left_on is None else EnrolmentStatus.WITHDRAWN),
        joined_on=joined_on,
        left_on=left_on,
        **kwargs,
    ).member


def _rows(session):
    return list(
        Attendance.objects.filter(session=session)
        .order_by("member_id")
        .values_list("member_id", "status", "minutes_attended", "recorded_by_id", "recorded_at")
    )


def _changes(session):
    return list(
        AttendanceChange.objects.filter(attendance__session=session)
        .order_by("pk")
        .values_list(
            "attendance__member_id",
            "old_status",
            "new_status",
            "old_minutes",
            "new_minutes",
            "changed_by_id",
            "changed_at",
            "reason",
        )
    )


def _audit(session):
    return list(
        AuditEntry.objects.filter(action="sessions.attendance.recorded", object_id=str(session.pk))
        .order_by("pk")
        .values_list("actor_id", "data")
    )


def _present(*members):
    return [AttendanceEntry(member_id=m.pk, status=AttendanceStatus.PRESENT) for m in members]


def _publish(group, version=1):
    return Agreement.objects.create(
        group=group, version=version, text=f"Version {version}", created_by=group.lead_facilitator
    )


def _accept(agreement, member):
    return AgreementAcceptance.objects.create(
        agreement=agreement, member=member, method="paper", recorded_by=agreement.created_by
    )


def _fresh(session):
    """The session as a view would load it: nothing related cached."""
    return GroupSession.objects.get(pk=session.pk)


# --- who is expected -------------------------------------------------------------------


def test_expected_members_are_those_enrolled_on_the_sessions_date(group, session):
    active = _enrol(group)
    completed_later = _enrol(group, status=EnrolmentStatus.COMPLETED, left_on=dt.date(2026, 7, 1))
    _enrol(group, status=EnrolmentStatus.WAITLISTED, joined_on=None)
    _enrol(GroupFactory(clinic=group.clinic))

    assert session_expected_members(session=session) == sorted(
        [active, completed_later], key=lambda m: (m.preferred_name, m.pk)
    )


def test_a_member_joining_in_week_5_is_not_expected_in_week_3(group):
    week_3 = GroupSessionFactory(group=group, start=START)
    week_5 = GroupSessionFactory(group=group, start=START + dt.timedelta(weeks=2))
    joiner = _enrol(group, joined_on=dt.date(2026, 6, 16))

    assert (
        session_expected_members(session=week_3),
        session_expected_members(session=week_5),
    ) == ([], [joiner])


def test_a_member_who_left_is_not_expected_from_the_day_they_left(group):
    last_week = GroupSessionFactory(group=group, start=START - dt.timedelta(weeks=1))
    leaver = _enrol(group, left_on=dt.date(2026, 6, 2))

    assert (
        session_expected_members(session=last_week),
        session_expected_members(session=GroupSessionFactory(group=group, start=START)),
    ) == ([leaver], [])


def test_an_enrolment_that_never_became_active_is_not_expected_even_with_dates(group, session):
    _enrol(group, status=EnrolmentStatus.DECLINED)
    _enrol(group, status=EnrolmentStatus.SCREENING)

    assert session_expected_members(session=session) == []


def test_expected_members_follow_the_clinics_local_date():
    # 03:00 UTC on 3 June is still the evening of 2 June in Los Angeles.
    group = GroupFactory(clinic=ClinicFactory(timezone="America/Los_Angeles"))
    session = GroupSessionFactory(group=group, start=dt.datetime(2026, 6, 3, 3, 0, tzinfo=dt.UTC))
    on_the_day = _enrol(group, joined_on=dt.date(2026, 6, 2))
    _enrol(group, joined_on=dt.date(2026, 6, 3))

    assert session_expected_members(session=session) == [on_the_day]


@pytest.mark.parametrize("size", [1, 5])
def test_expected_members_take_two_queries_whatever_the_size(
    group, session, size, django_assert_num_queries
):
    for _ in range(size):
        _enrol(group)

    session = _fresh(session)

    with django_assert_num_queries(2):
        members = session_expected_members(session=session)

    assert len(members) == size


# --- the attendance sheet --------------------------------------------------------------


def test_the_sheet_pairs_each_expected_member_with_their_row(group, session, facilitator):
    first = _enrol(group, member__preferred_name="Ada")
    second = _enrol(group, member__preferred_name="Bo")
    attendance_record(session=session, by=facilitator, entries=_present(first), now=AFTER)

    sheet = session_attendance_sheet(session=session)

    assert sheet == [(first, Attendance.objects.get(member=first), None), (second, None, None)]


def test_the_sheet_keeps_a_recorded_member_who_is_no_longer_expected(group, session, facilitator):
    member = _enrol(group)
    attendance_record(session=session, by=facilitator, entries=_present(member), now=AFTER)
    member.enrolments.update(joined_on=dt.date(2026, 6, 9))

    sheet = session_attendance_sheet(session=session)

    assert sheet == [(member, Attendance.objects.get(member=member), None)]


def test_the_sheet_shows_who_accepted_the_current_agreement(group, session, facilitator):
    accepted = _enrol(group, member__preferred_name="Ada")
    earlier_only = _enrol(group, member__preferred_name="Bo")
    never = _enrol(group, member__preferred_name="Cy")
    _accept(_publish(group, 1), earlier_only)
    _accept(_publish(group, 2), accepted)
    attendance_record(session=session, by=facilitator, entries=_present(accepted), now=AFTER)

    sheet = session_attendance_sheet(session=session)

    assert sheet == [
        (accepted, Attendance.objects.get(member=accepted), True),
        (earlier_only, None, False),
        (never, None, False),
    ]


@pytest.mark.parametrize("size", [1, 5])
def test_the_sheet_takes_three_queries_whatever_the_size(
    group, session, facilitator, size, django_assert_num_queries
):
    agreement = _publish(group)
    members = [_enrol(group) for _ in range(size)]
    for member in members:
        _accept(agreement, member)
    attendance_record(session=session, by=facilitator, entries=_present(*members), now=AFTER)
    _enrol(group)  # expected, nothing recorded, not accepted
    session = _fresh(session)

    with django_assert_num_queries(3):
        sheet = session_attendance_sheet(session=session)
        recorders = {row.recorded_by for _, row, _ in sheet if row is not None}
        accepted = [has_accepted for _, _, has_accepted in sheet]

    assert (len(sheet), recorders, sorted(accepted)) == (
        size + 1,
        {facilitator},
        [False] + [True] * size,
    )


# --- recording -------------------------------------------------------------------------


def test_recording_writes_one_row_per_entry(group, session, facilitator):
    present, late = _enrol(group), _enrol(group)

    rows = attendance_record(
        session=session,
        by=facilitator,
        entries=[
            AttendanceEntry(member_id=present.pk, status=AttendanceStatus.PRESENT),
            AttendanceEntry(member_id=late.pk, status=AttendanceStatus.LATE, minutes_attended=60),
        ],
        now=AFTER,
    )

    assert [(row.member_id, row.status, row.minutes_attended) for row in rows] == [
        (present.pk, AttendanceStatus.PRESENT, None),
        (late.pk, AttendanceStatus.LATE, 60),
    ]
    assert _rows(session) == [
        (present.pk, AttendanceStatus.PRESENT, None, facilitator.pk, AFTER),
        (late.pk, AttendanceStatus.LATE, 60, facilitator.pk, AFTER),
    ]


def test_recording_accepts_plain_dicts(group, session, facilitator):
    member = _enrol(group)

    attendance_record(
        session=session,
        by=facilitator,
        entries=[{"member_id": member.pk, "status": "left_early", "minutes_attended": 45}],
        now=AFTER,
    )

    assert _rows(session) == [(member.pk, "left_early", 45, facilitator.pk, AFTER)]


def test_a_dict_without_a_status_is_refused(group, session, facilitator):
    member = _enrol(group)

    with pytest.raises(AttendanceError, match="needs a member id and a status"):
        attendance_record(
            session=session, by=facilitator, entries=[{"member_id": member.pk}], now=AFTER
        )


def test_recording_may_start_when_the_session_starts(group, session, facilitator):
    member = _enrol(group)

    attendance_record(session=session, by=facilitator, entries=_present(member), now=START)

    assert _rows(session) == [(member.pk, AttendanceStatus.PRESENT, None, facilitator.pk, START)]


def test_recording_before_the_session_starts_is_refused(group, session, facilitator):
    member = _enrol(group)

    with pytest.raises(AttendanceError, match="has not started yet"):
        attendance_record(
            session=session,
            by=facilitator,
            entries=_present(member),
            now=START - dt.timedelta(seconds=1),
        )

    assert _rows(session) == []


def test_recording_a_cancelled_session_is_refused(group, facilitator):
    session = GroupSessionFactory(group=group, start=START, status=SessionStatus.CANCELLED)
    member = _enrol(group)

    with pytest.raises(AttendanceError, match="was cancelled"):
        attendance_record(session=session, by=facilitator, entries=_present(member), now=AFTER)


def test_a_member_not_expected_is_refused_by_id_without_their_name(group, session, facilitator):
    joiner = _enrol(group, joined_on=dt.date(2026, 6, 9))

    with pytest.raises(AttendanceError) as refused:
        attendance_record(session=session, by=facilitator, entries=_present(joiner), now=AFTER)

    assert str(refused.value) == f"Member #{joiner.pk} is not expected at this session."


def test_a_member_of_another_clinic_is_refused(group, session, facilitator):
    stranger = _enrol(GroupFactory())

    with pytest.raises(AttendanceError, match=f"Member #{stranger.pk} is not expected"):
        attendance_record(session=session, by=facilitator, entries=_present(stranger), now=AFTER)


def test_an_unknown_status_is_refused(group, session, facilitator):
    member = _enrol(group)

    with pytest.raises(AttendanceError) as refused:
        attendance_record(
            session=session,
            by=facilitator,
            entries=[AttendanceEntry(member_id=member.pk, status="asleep")],
            now=AFTER,
        )

    assert str(refused.value) == f"Member #{member.pk}: 'asleep' is not an attendance status."


@pytest.mark.parametrize("status", [AttendanceStatus.PRESENT, AttendanceStatus.ABSENT])
def test_minutes_for_a_full_or_no_attendance_are_refused(group, session, facilitator, status):
    member = _enrol(group)

    with pytest.raises(AttendanceError, match="minutes attended apply only to late or left early"):
        attendance_record(
            session=session,
            by=facilitator,
            entries=[AttendanceEntry(member_id=member.pk, status=status, minutes_attended=30)],
            now=AFTER,
        )


@pytest.mark.parametrize("minutes", [-1, 91])
def test_minutes_outside_the_session_length_are_refused(group, session, facilitator, minutes):
    member = _enrol(group)

    with pytest.raises(AttendanceError, match="must be between 0 and 90, the length"):
        attendance_record(
            session=session,
            by=facilitator,
            entries=[
                AttendanceEntry(
                    member_id=member.pk, status=AttendanceStatus.LATE, minutes_attended=minutes
                )
            ],
            now=AFTER,
        )


@pytest.mark.parametrize("minutes", [0, 90])
def test_minutes_at_the_ends_of_the_session_length_are_accepted(
    group, session, facilitator, minutes
):
    member = _enrol(group)

    attendance_record(
        session=session,
        by=facilitator,
        entries=[
            AttendanceEntry(
                member_id=member.pk, status=AttendanceStatus.LEFT_EARLY, minutes_attended=minutes
            )
        ],
        now=AFTER,
    )

    assert _rows(session) == [
        (member.pk, AttendanceStatus.LEFT_EARLY, minutes, facilitator.pk, AFTER)
    ]


def test_the_same_member_twice_in_one_call_is_refused(group, session, facilitator):
    member = _enrol(group)

    with pytest.raises(AttendanceError, match=f"Member #{member.pk} appears more than once"):
        attendance_record(
            session=session, by=facilitator, entries=_present(member, member), now=AFTER
        )


def test_an_empty_record_is_refused(session, facilitator):
    with pytest.raises(AttendanceError, match="at least one member"):
        attendance_record(session=session, by=facilitator, entries=[], now=AFTER)


def test_one_invalid_entry_refuses_the_whole_batch(group, session, facilitator):
    valid, invalid = _enrol(group), _enrol(group)

    with pytest.raises(AttendanceError, match=f"Member #{invalid.pk}"):
        attendance_record(
            session=session,
            by=facilitator,
            entries=[
                AttendanceEntry(member_id=valid.pk, status=AttendanceStatus.PRESENT),
                AttendanceEntry(
                    member_id=invalid.pk, status=AttendanceStatus.ABSENT, minutes_attended=10
                ),
            ],
            now=AFTER,
        )

    session.refresh_from_db()
    assert (_rows(session), _audit(session), session.status) == ([], [], SessionStatus.SCHEDULED)


def test_changing_a_row_keeps_the_old_and_new_value(group, session, facilitator):
    member = _enrol(group)
    attendance_record(session=session, by=facilitator, entries=_present(member), now=AFTER)
    later = AFTER + dt.timedelta(hours=1)

    attendance_record(
        session=session,
        by=facilitator,
        entries=[
            AttendanceEntry(member_id=member.pk, status=AttendanceStatus.LATE, minutes_attended=70)
        ],
        reason="Arrived after the check-in round.",
        now=later,
    )

    assert _rows(session) == [(member.pk, AttendanceStatus.LATE, 70, facilitator.pk, later)]
    assert _changes(session) == [
        (
            member.pk,
            AttendanceStatus.PRESENT,
            AttendanceStatus.LATE,
            None,
            70,
            facilitator.pk,
            later,
            "Arrived after the check-in round.",
        )
    ]


def test_recording_the_same_value_again_writes_no_change(group, session, facilitator):
    member = _enrol(group)
    attendance_record(session=session, by=facilitator, entries=_present(member), now=AFTER)

    attendance_record(
        session=session, by=facilitator, entries=_present(member), now=AFTER + dt.timedelta(1)
    )

    assert (_rows(session), _changes(session)) == (
        [(member.pk, AttendanceStatus.PRESENT, None, facilitator.pk, AFTER)],
        [],
    )


def test_recording_after_the_end_completes_a_scheduled_session(group, session, facilitator):
    attendance_record(session=session, by=facilitator, entries=_present(_enrol(group)), now=END)

    session.refresh_from_db()
    assert session.status == SessionStatus.COMPLETED


def test_recording_during_the_session_leaves_it_scheduled(group, session, facilitator):
    attendance_record(
        session=session,
        by=facilitator,
        entries=_present(_enrol(group)),
        now=END - dt.timedelta(minutes=1),
    )

    session.refresh_from_db()
    assert session.status == SessionStatus.SCHEDULED


def test_each_call_writes_one_audit_entry_with_counts(group, session, facilitator):
    first, second, third = _enrol(group), _enrol(group), _enrol(group)
    attendance_record(session=session, by=facilitator, entries=_present(first, second), now=AFTER)

    attendance_record(
        session=session,
        by=facilitator,
        entries=[
            AttendanceEntry(member_id=first.pk, status=AttendanceStatus.PRESENT),
            AttendanceEntry(member_id=second.pk, status=AttendanceStatus.ABSENT),
            AttendanceEntry(member_id=third.pk, status=AttendanceStatus.EXCUSED),
        ],
        now=AFTER,
    )

    assert _audit(session) == [
        (
            facilitator.pk,
            {
                "session_id": session.pk,
                "created": 2,
                "changed": 0,
                "unchanged": 0,
                "after_lock": False,
                "session_completed": True,
            },
        ),
        (
            facilitator.pk,
            {
                "session_id": session.pk,
                "created": 1,
                "changed": 1,
                "unchanged": 1,
                "after_lock": False,
                "session_completed": False,
            },
        ),
    ]


@pytest.mark.parametrize("size", [1, 5])
def test_recording_takes_the_same_queries_for_1_or_5_members(
    group, session, facilitator, size, django_assert_num_queries
):
    agreement = _publish(group)
    members = [_enrol(group) for _ in range(size)]
    for member in members:
        _accept(agreement, member)
    session = _fresh(session)

    # of which the audit entry takes 3 (chain head lock, insert, head update)
    with django_assert_num_queries(12):
        attendance_record(session=session, by=facilitator, entries=_present(*members), now=AFTER)

    assert len(_rows(session)) == size


@pytest.mark.parametrize("size", [1, 5])
def test_amending_takes_the_same_queries_for_1_or_5_members(
    group, session, facilitator, size, django_assert_num_queries
):
    members = [_enrol(group) for _ in range(size)]
    attendance_record(session=session, by=facilitator, entries=_present(*members), now=AFTER)
    absent = [AttendanceEntry(member_id=m.pk, status=AttendanceStatus.ABSENT) for m in members]
    session = _fresh(session)

    # of which the audit entry takes 3 (chain head lock, insert, head update)
    with django_assert_num_queries(11):
        attendance_record(session=session, by=facilitator, entries=absent, now=AFTER)

    assert len(_changes(session)) == size


# --- the group agreement ---------------------------------------------------------------


@pytest.mark.parametrize(
    "status", [AttendanceStatus.PRESENT, AttendanceStatus.LATE, AttendanceStatus.LEFT_EARLY]
)
def test_attending_without_accepting_the_agreement_is_refused(group, session, facilitator, status):
    _publish(group)
    member = _enrol(group)

    with pytest.raises(AttendanceError) as refused:
        attendance_record(
            session=session,
            by=facilitator,
            entries=[AttendanceEntry(member_id=member.pk, status=status)],
            now=AFTER,
        )

    assert str(refused.value) == (
        f"Member #{member.pk} has not accepted the group's current agreement (version 1); "
        "it must be accepted before they attend."
    )
    assert _rows(session) == []


def test_an_acceptance_of_an_earlier_version_does_not_count(group, session, facilitator):
    member = _enrol(group)
    _accept(_publish(group, 1), member)
    _publish(group, 2)

    with pytest.raises(AttendanceError) as refused:
        attendance_record(session=session, by=facilitator, entries=_present(member), now=AFTER)

    assert str(refused.value) == (
        f"Member #{member.pk} has not accepted the group's current agreement (version 2); "
        "it must be accepted before they attend."
    )


def test_attending_after_accepting_the_current_agreement_is_recorded(group, session, facilitator):
    member = _enrol(group)
    _accept(_publish(group), member)

    attendance_record(session=session, by=facilitator, entries=_present(member), now=AFTER)

    assert _rows(session) == [(member.pk, AttendanceStatus.PRESENT, None, facilitator.pk, AFTER)]


@pytest.mark.parametrize("status", [AttendanceStatus.ABSENT, AttendanceStatus.EXCUSED])
def test_an_absence_needs_no_accepted_agreement(group, session, facilitator, status):
    _publish(group)
    member = _enrol(group)

    attendance_record(
        session=session,
        by=facilitator,
        entries=[AttendanceEntry(member_id=member.pk, status=status)],
        now=AFTER,
    )

    assert _rows(session) == [(member.pk, status, None, facilitator.pk, AFTER)]


# --- the lock period -------------------------------------------------------------------


def test_a_facilitator_may_amend_just_before_the_lock(group, session, facilitator):
    member = _enrol(group)
    attendance_record(session=session, by=facilitator, entries=_present(member), now=AFTER)
    just_before = LOCK_AT - dt.timedelta(seconds=1)

    attendance_record(
        session=session,
        by=facilitator,
        entries=[AttendanceEntry(member_id=member.pk, status=AttendanceStatus.ABSENT)],
        now=just_before,
    )

    assert _rows(session) == [
        (member.pk, AttendanceStatus.ABSENT, None, facilitator.pk, just_before)
    ]


def test_a_facilitator_cannot_amend_at_the_lock_edge(group, session, facilitator):
    member = _enrol(group)
    attendance_record(session=session, by=facilitator, entries=_present(member), now=AFTER)

    with pytest.raises(AttendanceLockedError) as refused:
        attendance_record(
            session=session,
            by=facilitator,
            entries=[AttendanceEntry(member_id=member.pk, status=AttendanceStatus.ABSENT)],
            reason="Mixed up two members.",
            now=LOCK_AT,
        )

    assert str(refused.value) == (
        "Attendance for this session locked 7 days after it ended; "
        "only a clinic admin can amend it now."
    )
    assert _rows(session) == [(member.pk, AttendanceStatus.PRESENT, None, facilitator.pk, AFTER)]


def test_a_facilitator_cannot_record_for_the_first_time_after_the_lock(group, session, facilitator):
    with pytest.raises(AttendanceLockedError):
        attendance_record(
            session=session, by=facilitator, entries=_present(_enrol(group)), now=LOCK_AT
        )


def test_the_lock_follows_the_clinics_lock_days(group, session, facilitator):
    group.clinic.attendance_lock_days = 2
    group.clinic.save()

    with pytest.raises(AttendanceLockedError, match="locked 2 days after it ended"):
        attendance_record(
            session=session,
            by=facilitator,
            entries=_present(_enrol(group)),
            now=END + dt.timedelta(days=2),
        )


def test_an_admin_amendment_after_the_lock_needs_a_reason(group, session, facilitator, admin):
    member = _enrol(group)
    attendance_record(session=session, by=facilitator, entries=_present(member), now=AFTER)

    with pytest.raises(AttendanceError, match="after the lock period needs a reason"):
        attendance_record(
            session=session,
            by=admin,
            entries=[AttendanceEntry(member_id=member.pk, status=AttendanceStatus.ABSENT)],
            reason="   ",
            now=LOCK_AT,
        )


def test_an_admin_amendment_after_the_lock_is_kept(group, session, facilitator, admin):
    member = _enrol(group)
    attendance_record(session=session, by=facilitator, entries=_present(member), now=AFTER)
    amended_at = LOCK_AT + dt.timedelta(days=3)

    attendance_record(
        session=session,
        by=admin,
        entries=[AttendanceEntry(member_id=member.pk, status=AttendanceStatus.ABSENT)],
        reason="Sign-in sheet shows the member was not there.",
        now=amended_at,
    )

    assert _changes(session) == [
        (
            member.pk,
            AttendanceStatus.PRESENT,
            AttendanceStatus.ABSENT,
            None,
            None,
            admin.pk,
            amended_at,
            "Sign-in sheet shows the member was not there.",
        )
    ]
    assert _audit(session)[-1] == (
        admin.pk,
        {
            "session_id": session.pk,
            "created": 0,
            "changed": 1,
            "unchanged": 0,
            "after_lock": True,
            "session_completed": False,
        },
    )


def test_an_admins_first_record_after_the_lock_is_kept_as_a_change(group, session, admin):
    member = _enrol(group)
    recorded_at = LOCK_AT + dt.timedelta(days=1)

    attendance_record(
        session=session,
        by=admin,
        entries=[AttendanceEntry(member_id=member.pk, status=AttendanceStatus.ABSENT)],
        reason="Found the paper sign-in sheet.",
        now=recorded_at,
    )

    assert _changes(session) == [
        (
            member.pk,
            "",
            AttendanceStatus.ABSENT,
            None,
            None,
            admin.pk,
            recorded_at,
            "Found the paper sign-in sheet.",
        )
    ]


def test_a_record_before_the_lock_writes_no_change(group, session, facilitator):
    attendance_record(session=session, by=facilitator, entries=_present(_enrol(group)), now=AFTER)

    assert _changes(session) == []


def test_an_admin_of_another_clinic_cannot_amend_after_the_lock(
    group, session, facilitator, make_user
):
    outsider = make_user(clinic=ClinicFactory(), role=Role.ADMIN)

    with pytest.raises(AttendanceLockedError):
        attendance_record(
            session=session,
            by=outsider,
            entries=_present(_enrol(group)),
            reason="Because.",
            now=LOCK_AT,
        )


# --- concurrency (PostgreSQL) ----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_people_recording_the_same_member_at_once_both_succeed_in_turn():
    group = GroupFactory()
    session = GroupSessionFactory(group=group, start=START)
    member = _enrol(group)
    facilitator = group.lead_facilitator
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def record(status: str) -> None:
        try:
            barrier.wait()
            attendance_record(
                session=GroupSession.objects.get(pk=session.pk),
                by=facilitator,
                entries=[AttendanceEntry(member_id=member.pk, status=status)],
                now=AFTER,
            )
        except Exception as exc:  # any failure in the thread is reported by the assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=record, args=(status,))
        for status in (AttendanceStatus.PRESENT, AttendanceStatus.LATE)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert (errors, Attendance.objects.filter(session=session).count()) == ([], 1)
    assert AttendanceChange.objects.filter(attendance__session=session).count() == 1
