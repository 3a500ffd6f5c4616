"""/api/v1/sessions/{id}/attendance/ and /cant-attend/: the sheet, recording it, the lock,
the agreement, and a member's "I can't come"."""

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from sessions.enums import AttendanceStatus, EnrolmentStatus, SessionStatus
from sessions.models import Attendance, AttendanceChange, GroupSession, SessionFacilitator
from sessions.services.attendance import attendance_record
from tests.api.world import signed_in
from tests.factories.members import MemberFactory
from tests.factories.sessions import EnrolmentFactory, GroupSessionFactory

pytestmark = pytest.mark.django_db

LONDON = zoneinfo.ZoneInfo("Europe/London")


def _local(moment):
    return moment.astimezone(LONDON).isoformat()


def _sheet_url(session):
    return f"/api/v1/sessions/{session.pk}/attendance/"


def _cant_url(session):
    return f"/api/v1/sessions/{session.pk}/cant-attend/"


def _row(member, *, attendance=None, accepted=True):
    return {
        "member": {"id": member.pk, "preferred_name": member.preferred_name},
        "status": attendance.status if attendance else None,
        "minutes_attended": attendance.minutes_attended if attendance else None,
        "recorded_at": _local(attendance.recorded_at) if attendance else None,
        "agreement_accepted": accepted,
    }


def _sheet(session, rows, *, locked=False):
    return {
        "session": session.pk,
        "locks_at": _local(session.end + dt.timedelta(days=7)),
        "locked": locked,
        "rows": rows,
    }


def _fellow(world, name="Casey", *, status=EnrolmentStatus.ACTIVE):
    """Another member of the world's group, who has not accepted its agreement."""
    member = MemberFactory(clinic=world.clinic, preferred_name=name)
    EnrolmentFactory(
        group=world.group, member=member, status=status, joined_on=world.enrolment.joined_on
    )
    return member


def _put(api, session, entries, **extra):
    return api.put(_sheet_url(session), {"entries": entries, **extra}, format="json")


# --- reading the sheet -----------------------------------------------------------------------


def test_staff_read_every_expected_member_by_preferred_name(world, api):
    casey = _fellow(world)

    response = signed_in(api, world.users["facilitator"]).get(_sheet_url(world.past_session))

    assert response.status_code == 200
    assert response.json() == _sheet(
        world.past_session,
        [_row(world.member_record), _row(casey, accepted=False)],
    )


def test_a_member_reads_their_own_line_only(world, api):
    _fellow(world)
    attendance_record(
        session=world.past_session,
        by=world.users["facilitator"],
        entries=[{"member_id": world.member_record.pk, "status": AttendanceStatus.LATE}],
    )
    row = Attendance.objects.get(member=world.member_record)

    response = signed_in(api, world.users["member"]).get(_sheet_url(world.past_session))

    assert response.json() == _sheet(
        world.past_session, [_row(world.member_record, attendance=row)]
    )
    assert "Casey" not in response.content.decode()


def test_a_waitlisted_member_sees_the_session_but_has_no_line(world, api):
    world.enrolment.status = EnrolmentStatus.WAITLISTED
    world.enrolment.save()

    response = signed_in(api, world.users["member"]).get(_sheet_url(world.past_session))

    assert response.json()["rows"] == []


def test_a_substitute_reads_the_whole_sheet(world, api):
    SessionFacilitator.objects.create(
        session=world.past_session,
        facilitator=world.users["other_facilitator"],
        start=world.past_session.start,
        end=world.past_session.end,
    )

    response = signed_in(api, world.users["other_facilitator"]).get(_sheet_url(world.past_session))

    assert response.json()["rows"] == [_row(world.member_record)]


@pytest.mark.parametrize("persona", ["other_member", "other_facilitator", "other_clinic_admin"])
def test_nobody_else_learns_the_sheet_exists(world, api, persona):
    response = signed_in(api, world.users[persona]).get(_sheet_url(world.past_session))

    assert response.status_code == 404
    assert response.json() == {"detail": "No GroupSession matches the given query."}


@pytest.mark.parametrize("persona", ["facilitator", "member"])
@pytest.mark.parametrize("size", [1, 5])
def test_the_sheet_runs_the_same_queries_at_any_size(
    world, api, django_assert_num_queries, persona, size
):
    for index in range(size - 1):
        _fellow(world, name=f"Member {index}")
    signed_in(api, world.users[persona])

    # session, user, the session with permissions, the session again with its agreement,
    # the expected members, the recorded rows, the audit entry of the rows shown (3: chain
    # head lock, insert, head update)
    with django_assert_num_queries(9):
        response = api.get(_sheet_url(world.past_session))

    expected = size if persona == "facilitator" else 1
    assert len(response.json()["rows"]) == expected


# --- recording -------------------------------------------------------------------------------


def test_staff_record_the_set_in_one_request_and_get_the_sheet(world, api):
    casey = _fellow(world)
    session = world.past_session

    response = _put(
        signed_in(api, world.users["facilitator"]),
        session,
        [
            {"member": world.member_record.pk, "status": "late", "minutes_attended": 60},
            {"member": casey.pk, "status": "absent"},
        ],
    )

    rows = {row.member_id: row for row in Attendance.objects.filter(session=session)}
    assert response.status_code == 200
    assert response.json() == _sheet(
        session,
        [
            _row(world.member_record, attendance=rows[world.member_record.pk]),
            _row(casey, attendance=rows[casey.pk], accepted=False),
        ],
    )
    assert (rows[world.member_record.pk].status, rows[world.member_record.pk].minutes_attended) == (
        "late",
        60,
    )
    assert GroupSession.objects.get(pk=session.pk).status == SessionStatus.COMPLETED


def test_an_admin_records_before_the_lock_too(world, api):
    response = _put(
        signed_in(api, world.users["admin"]),
        world.past_session,
        [{"member": world.member_record.pk, "status": "present"}],
    )

    assert response.status_code == 200


def test_changing_a_recorded_line_keeps_its_history(world, api):
    api = signed_in(api, world.users["facilitator"])
    entry = {"member": world.member_record.pk, "status": "present"}
    _put(api, world.past_session, [entry])

    response = _put(api, world.past_session, [{**entry, "status": "left_early"}], reason="Left")

    change = AttendanceChange.objects.get()
    assert response.json()["rows"][0]["status"] == "left_early"
    assert (change.old_status, change.new_status, change.reason) == (
        "present",
        "left_early",
        "Left",
    )


def test_marking_present_a_member_without_the_agreement_is_a_409(world, api):
    casey = _fellow(world)

    response = _put(
        signed_in(api, world.users["facilitator"]),
        world.past_session,
        [
            {"member": world.member_record.pk, "status": "present"},
            {"member": casey.pk, "status": "present"},
        ],
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": f"Member #{casey.pk} has not accepted the group's current agreement "
        "(version 1); it must be accepted before they attend.",
        "code": "attendance_refused",
        "conflict_id": None,
    }
    assert not Attendance.objects.exists()


def test_a_member_without_the_agreement_may_still_be_marked_absent(world, api):
    casey = _fellow(world)

    response = _put(
        signed_in(api, world.users["facilitator"]),
        world.past_session,
        [{"member": casey.pk, "status": "absent"}],
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("entries", "detail"),
    [
        (
            lambda w: [{"member": w.other_member_record.pk, "status": "present"}],
            lambda w: f"Member #{w.other_member_record.pk} is not expected at this session.",
        ),
        (
            lambda w: [{"member": w.member_record.pk, "status": "present"}] * 2,
            lambda w: f"Member #{w.member_record.pk} appears more than once in this record.",
        ),
        (
            lambda w: [{"member": w.member_record.pk, "status": "present", "minutes_attended": 9}],
            lambda w: (
                f"Member #{w.member_record.pk}: minutes attended apply only to late or left early."
            ),
        ),
        (
            lambda w: [{"member": w.member_record.pk, "status": "late", "minutes_attended": 91}],
            lambda w: (
                f"Member #{w.member_record.pk}: minutes attended must be between 0 and "
                "90, the length of the session."
            ),
        ),
    ],
)
def test_entries_the_rules_refuse_are_a_409_and_nothing_is_written(world, api, entries, detail):
    response = _put(signed_in(api, world.users["facilitator"]), world.past_session, entries(world))

    assert response.status_code == 409
    assert response.json() == {
        "detail": detail(world),
        "code": "attendance_refused",
        "conflict_id": None,
    }
    assert not Attendance.objects.exists()


def test_recording_a_session_that_has_not_started_is_a_409(world, api):
    response = _put(
        signed_in(api, world.users["facilitator"]),
        world.future_session,
        [{"member": world.member_record.pk, "status": "present"}],
    )

    assert response.status_code == 409
    assert response.json()["detail"] == (
        "This session has not started yet; attendance can be recorded from its start."
    )


def test_recording_a_cancelled_session_is_a_409(world, api):
    GroupSession.objects.filter(pk=world.past_session.pk).update(status=SessionStatus.CANCELLED)

    response = _put(
        signed_in(api, world.users["facilitator"]),
        world.past_session,
        [{"member": world.member_record.pk, "status": "present"}],
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "This session was cancelled; there is no attendance to record.",
        "code": "attendance_refused",
        "conflict_id": None,
    }


@pytest.fixture
def locked_session(world):
    start = timezone.now().replace(microsecond=0) - dt.timedelta(days=10)
    return GroupSessionFactory(group=world.group, start=start)


def test_after_the_lock_a_facilitator_gets_a_409_attendance_locked(world, api, locked_session):
    response = _put(
        signed_in(api, world.users["facilitator"]),
        locked_session,
        [{"member": world.member_record.pk, "status": "present"}],
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "Attendance for this session locked 7 days after it ended; only a clinic "
        "admin can amend it now.",
        "code": "attendance_locked",
        "conflict_id": None,
    }


def test_after_the_lock_an_admin_amends_with_a_reason(world, api, locked_session):
    api = signed_in(api, world.users["admin"])
    entries = [{"member": world.member_record.pk, "status": "excused"}]

    without_reason = _put(api, locked_session, entries)
    with_reason = _put(api, locked_session, entries, reason="Called in sick; form arrived late.")

    assert without_reason.status_code == 409
    assert without_reason.json()["detail"] == "An amendment after the lock period needs a reason."
    assert with_reason.status_code == 200
    assert with_reason.json()["locked"] is True
    assert with_reason.json()["rows"][0]["status"] == "excused"
    assert AttendanceChange.objects.get().reason == "Called in sick; form arrived late."


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"entries": ["This field is required."]}),
        ({"entries": []}, {"entries": ["Ensure this field has at least 1 elements."]}),
        ({"entries": "present"}, {"entries": ["Expected a list of items."]}),
        (
            {"entries": [{"member": 1, "status": "asleep"}]},
            {"entries": {"0": {"status": ['"asleep" is not a valid choice.']}}},
        ),
        (
            {"entries": [{"member": "1", "status": "present"}]},
            {"entries": {"0": {"member": ["A valid integer is required."]}}},
        ),
        (
            {"entries": [{"status": "present"}]},
            {"entries": {"0": {"member": ["This field is required."]}}},
        ),
    ],
)
def test_a_malformed_record_is_a_400(world, api, body, errors):
    response = signed_in(api, world.users["facilitator"]).put(
        _sheet_url(world.past_session), body, format="json"
    )

    assert response.status_code == 400
    assert response.json() == errors


def test_privileged_fields_in_a_record_change_nothing(world, api):
    response = _put(
        signed_in(api, world.users["facilitator"]),
        world.past_session,
        [
            {
                "member": world.member_record.pk,
                "status": "present",
                "recorded_by": world.users["admin"].pk,
                "session": world.other_group_session.pk,
                "recorded_at": "2020-01-01T00:00:00Z",
            }
        ],
    )

    row = Attendance.objects.get()
    assert response.status_code == 200
    assert (row.session_id, row.recorded_by_id) == (
        world.past_session.pk,
        world.users["facilitator"].pk,
    )
    assert row.recorded_at > timezone.now() - dt.timedelta(minutes=1)


def test_a_member_may_not_record_attendance(world, api):
    response = _put(
        signed_in(api, world.users["member"]),
        world.past_session,
        [{"member": world.member_record.pk, "status": "present"}],
    )

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Only the session's facilitators and a clinic admin may record its attendance."
    }
    assert not Attendance.objects.exists()


# --- "I can't come" --------------------------------------------------------------------------


def test_a_member_who_cannot_come_in_good_time_is_excused(world, api):
    response = signed_in(api, world.users["member"]).post(_cant_url(world.future_session))

    row = Attendance.objects.get()
    assert response.status_code == 200
    assert response.json() == {
        "session": world.future_session.pk,
        "member": world.member_record.pk,
        "status": "excused",
        "recorded_at": _local(row.recorded_at),
    }


def test_saying_it_again_changes_nothing(world, api):
    api = signed_in(api, world.users["member"])
    first = api.post(_cant_url(world.future_session)).json()

    again = api.post(_cant_url(world.future_session))

    assert (again.status_code, again.json()) == (200, first)
    assert Attendance.objects.count() == 1


def test_saying_it_late_is_a_late_cancellation(world, api):
    soon = GroupSessionFactory(
        group=world.group, start=timezone.now().replace(microsecond=0) + dt.timedelta(hours=3)
    )

    response = signed_in(api, world.users["member"]).post(_cant_url(soon))

    assert response.json()["status"] == "late_cancelled"


@pytest.mark.parametrize(
    ("session", "detail"),
    [
        ("past", "This session has already started; tell your facilitator instead."),
        ("cancelled", "This session has been cancelled; there is nothing to miss."),
    ],
)
def test_a_started_or_cancelled_session_is_a_409(world, api, session, detail):
    if session == "cancelled":
        GroupSession.objects.filter(pk=world.future_session.pk).update(
            status=SessionStatus.CANCELLED
        )
        target = world.future_session
    else:
        target = world.past_session

    response = signed_in(api, world.users["member"]).post(_cant_url(target))

    assert response.status_code == 409
    assert response.json() == {"detail": detail, "code": "cant_attend_refused", "conflict_id": None}


def test_a_member_not_expected_at_the_session_is_a_409(world, api):
    world.enrolment.status = EnrolmentStatus.WAITLISTED
    world.enrolment.save()

    response = signed_in(api, world.users["member"]).post(_cant_url(world.future_session))

    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"Member #{world.member_record.pk} is not expected at this session."
    )


@pytest.mark.parametrize("persona", ["admin", "facilitator"])
def test_staff_cannot_say_it_for_a_member(world, api, persona):
    response = signed_in(api, world.users[persona]).post(_cant_url(world.future_session))

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Only a member of the group says they can't come, for themself."
    }
    assert not Attendance.objects.exists()


def test_another_member_cannot_find_the_session(world, api):
    response = signed_in(api, world.users["other_member"]).post(_cant_url(world.future_session))

    assert response.status_code == 404
    assert not Attendance.objects.exists()


def test_after_i_cant_come_the_session_can_no_longer_be_moved(world, api):
    signed_in(APIClient(), world.users["member"]).post(_cant_url(world.future_session))
    new_start = world.future_session.start + dt.timedelta(hours=1)

    response = signed_in(api, world.users["facilitator"]).patch(
        f"/api/v1/sessions/{world.future_session.pk}/",
        {"start": new_start.isoformat()},
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["detail"] == (
        "This session already has attendance recorded; its time can no longer change."
    )
