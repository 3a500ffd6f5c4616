"""/api/v1/groups/{id}/schedule/, roster/ and agreement/."""

import datetime as dt

import pytest
import time_machine

from members.enums import Role
from sessions.enums import AcceptanceMethod, EnrolmentStatus, SessionStatus
from sessions.models import AgreementAcceptance, GroupSession, Schedule
from sessions.services.agreements import agreement_publish
from tests.api.world import build_world, signed_in
from tests.factories.members import MemberFactory, UserFactory
from tests.factories.sessions import EnrolmentFactory, GroupFactory, GroupSessionFactory

pytestmark = pytest.mark.django_db

# A Monday in autumn, before the clocks go back in London (25 October 2026).
NOW = dt.datetime(2026, 10, 5, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def world():
    """The persona world, with the clock stopped at :data:`NOW` for the whole test."""
    with time_machine.travel(NOW, tick=False):
        yield build_world()


# --- schedule --------------------------------------------------------------------------------


def _weekly(**overrides):
    body = {
        "weekdays": ["TU"],
        "count": 4,
        "first_date": "2026-10-13",
        "start_time": "18:00",
        "duration_minutes": 90,
    }
    body.update(overrides)
    return body


def test_schedule_put_creates_the_sessions_at_local_time_across_the_clock_change(world, api):
    with time_machine.travel(NOW, tick=False):
        response = signed_in(api, world.users["facilitator"]).put(
            f"/api/v1/groups/{world.group.pk}/schedule/", _weekly(), format="json"
        )

    assert response.status_code == 200
    body = response.json()
    series = list(GroupSession.objects.filter(group=world.group, series_date__isnull=False))
    assert [
        session["id"] for session in body["sessions"] if session["id"] in {s.pk for s in series}
    ] == [session.pk for session in series]
    assert [
        (session["start"], session["end"], session["status"])
        for session in body["sessions"]
        if session["id"] in {s.pk for s in series}
    ] == [
        ("2026-10-13T18:00:00+01:00", "2026-10-13T19:30:00+01:00", "scheduled"),
        ("2026-10-20T18:00:00+01:00", "2026-10-20T19:30:00+01:00", "scheduled"),
        ("2026-10-27T18:00:00+00:00", "2026-10-27T19:30:00+00:00", "scheduled"),
        ("2026-11-03T18:00:00+00:00", "2026-11-03T19:30:00+00:00", "scheduled"),
    ]
    assert {key: value for key, value in body["schedule"].items() if key != "updated_at"} == {
        "rrule": "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=4",
        "first_date": "2026-10-13",
        "start_time": "18:00",
        "duration_minutes": 90,
        "timezone": "Europe/London",
        "summary": "Every week on Tuesday, 18:00 to 19:30 (Europe/London)",
    }


def test_schedule_put_lists_every_future_session_including_extra_ones(world, api):
    with time_machine.travel(NOW, tick=False):
        response = signed_in(api, world.users["facilitator"]).put(
            f"/api/v1/groups/{world.group.pk}/schedule/", _weekly(count=1), format="json"
        )

    assert [session["id"] for session in response.json()["sessions"]] == [
        world.future_session.pk,
        GroupSession.objects.get(group=world.group, series_date=dt.date(2026, 10, 13)).pk,
    ]


def test_schedule_put_takes_an_rrule(world, api):
    body = {
        "rrule": "RRULE:FREQ=WEEKLY;BYDAY=TH;UNTIL=20261022",
        "first_date": "2026-10-15",
        "start_time": "09:15",
        "duration_minutes": 60,
    }
    with time_machine.travel(NOW, tick=False):
        response = signed_in(api, world.users["admin"]).put(
            f"/api/v1/groups/{world.group.pk}/schedule/", body, format="json"
        )

    assert response.status_code == 200
    assert Schedule.objects.get(group=world.group).rrule == (
        "FREQ=WEEKLY;INTERVAL=1;BYDAY=TH;UNTIL=20261022T235959"
    )
    assert [session["start"] for session in response.json()["sessions"]][-2:] == [
        "2026-10-15T09:15:00+01:00",
        "2026-10-22T09:15:00+01:00",
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            _weekly(rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=2"),
            {"non_field_errors": ["Give either rrule or weekdays, not both."]},
        ),
        (
            {"first_date": "2026-10-13", "start_time": "18:00", "duration_minutes": 90},
            {"non_field_errors": ["Give either rrule or weekdays, not both."]},
        ),
        (
            _weekly(count=None),
            {"count": ["This field may not be null."]},
        ),
        (
            {key: value for key, value in _weekly().items() if key != "count"},
            {"count": ["With weekdays, give count (sessions) or until (last date)."]},
        ),
        (
            _weekly(until="2026-12-01"),
            {"count": ["With weekdays, give count (sessions) or until (last date)."]},
        ),
        (_weekly(weekdays=["XX"]), {"weekdays": {"0": ['"XX" is not a valid choice.']}}),
        (_weekly(weekdays=[]), {"weekdays": ["Ensure this field has at least 1 elements."]}),
        (_weekly(count=10_000), {"count": ["Ensure this value is less than or equal to 520."]}),
        (
            _weekly(start_time="18:00+02:00"),
            {"start_time": ["Time has wrong format. Use one of these formats instead: hh:mm."]},
        ),
        (
            _weekly(duration_minutes=5),
            {"duration_minutes": ["Ensure this value is greater than or equal to 15."]},
        ),
        (
            {
                "rrule": "FREQ=DAILY;COUNT=3",
                "first_date": "2026-10-13",
                "start_time": "18:00",
                "duration_minutes": 90,
            },
            {"rrule": ["Only weekly schedules are supported (FREQ=WEEKLY), not FREQ=DAILY."]},
        ),
        (
            {
                "rrule": "FREQ=WEEKLY;BYDAY=TU;COUNT=9999",
                "first_date": "2026-10-13",
                "start_time": "18:00",
                "duration_minutes": 90,
            },
            {"rrule": ["A schedule has at most 520 sessions."]},
        ),
        (
            {
                "rrule": "FREQ=WEEKLY;BYDAY=TU;UNTIL=29991231",
                "first_date": "2026-10-13",
                "start_time": "18:00",
                "duration_minutes": 90,
            },
            {"rrule": ["A schedule spans at most 10 years."]},
        ),
        (
            {
                "rrule": "FREQ=WEEKLY;BYDAY=TU;COUNT=2",
                "count": 3,
                "first_date": "2026-10-13",
                "start_time": "18:00",
                "duration_minutes": 90,
            },
            {"count": ["This goes with weekdays; with an rrule, put it in the rule."]},
        ),
    ],
)
def test_schedule_put_refuses_invalid_input_with_field_errors(world, api, body, expected):
    response = signed_in(api, world.users["facilitator"]).put(
        f"/api/v1/groups/{world.group.pk}/schedule/", body, format="json"
    )

    assert response.status_code == 400
    assert response.json() == expected
    assert not Schedule.objects.filter(group=world.group).exists()


def test_schedule_that_ends_before_it_starts_is_a_400_with_a_code(world, api):
    body = _weekly(first_date="2026-10-13", until="2026-10-01")
    del body["count"]

    response = signed_in(api, world.users["facilitator"]).put(
        f"/api/v1/groups/{world.group.pk}/schedule/", body, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "schedule_invalid"
    assert list(response.json()) == ["detail", "code", "conflict_id"]


def test_schedule_that_double_books_the_facilitator_is_a_conflict(world, api):
    GroupSessionFactory(
        group=world.other_group,
        start=dt.datetime(2026, 10, 20, 17, 30, tzinfo=dt.UTC),
        facilitators=[world.users["facilitator"]],
    )

    with time_machine.travel(NOW, tick=False):
        response = signed_in(api, world.users["facilitator"]).put(
            f"/api/v1/groups/{world.group.pk}/schedule/", _weekly(), format="json"
        )

    assert response.status_code == 409
    assert response.json()["code"] == "double_booking"
    assert not Schedule.objects.filter(group=world.group).exists()


def test_a_member_may_read_the_schedule_but_not_set_it(world, api):
    signed_in(api, world.users["member"])

    assert api.get(f"/api/v1/groups/{world.group.pk}/schedule/").json() == {
        "detail": "This group has no schedule yet."
    }
    response = api.put(f"/api/v1/groups/{world.group.pk}/schedule/", _weekly(), format="json")
    assert response.status_code == 403


# --- roster ----------------------------------------------------------------------------------


@pytest.fixture
def crowded(world):
    """Two more members in ``world.group``: one active with a login, one waitlisted."""
    active = MemberFactory(
        clinic=world.clinic,
        preferred_name="Chris",
        legal_name="Christopher Vale",
        phone="+44 20 7946 0000",
        user=UserFactory(email="chris@example.org"),
    )
    EnrolmentFactory(
        group=world.group,
        member=active,
        status=EnrolmentStatus.ACTIVE,
        joined_on=dt.date(2026, 9, 20),
    )
    waiting = MemberFactory(clinic=world.clinic, preferred_name="Dee", legal_name="Dee Ward")
    EnrolmentFactory(group=world.group, member=waiting, status=EnrolmentStatus.WAITLISTED)
    return active, waiting


def test_a_member_sees_the_preferred_names_of_active_members_and_nothing_else(world, api, crowded):
    response = signed_in(api, world.users["member"]).get(f"/api/v1/groups/{world.group.pk}/roster/")

    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [{"preferred_name": "Alex"}, {"preferred_name": "Chris"}],
    }
    text = response.content.decode()
    for secret in ("Christopher Vale", "Dee", "+44", "chris@example.org", "active", "waitlisted"):
        assert secret not in text


def test_a_member_cannot_filter_the_roster_to_learn_statuses(world, api, crowded):
    response = signed_in(api, world.users["member"]).get(
        f"/api/v1/groups/{world.group.pk}/roster/?status=waitlisted"
    )

    assert response.json()["results"] == [{"preferred_name": "Alex"}, {"preferred_name": "Chris"}]


def test_a_waitlisted_member_may_not_see_the_roster(world, api):
    world.enrolment.status = EnrolmentStatus.WAITLISTED
    world.enrolment.save()

    response = signed_in(api, world.users["member"]).get(f"/api/v1/groups/{world.group.pk}/roster/")

    assert response.status_code == 403
    assert response.json() == {
        "detail": "The roster is for the group's active members and its staff."
    }


def test_staff_see_every_enrolment_with_contact_details(world, api, crowded):
    active, waiting = crowded

    response = signed_in(api, world.users["facilitator"]).get(
        f"/api/v1/groups/{world.group.pk}/roster/"
    )

    def entry(enrolment, member):
        return {
            "enrolment": enrolment.pk,
            "member": {
                "id": member.pk,
                "preferred_name": member.preferred_name,
                "legal_name": member.legal_name,
                "email": member.email,
                "phone": member.phone,
                "emergency_contact_name": "",
                "emergency_contact_phone": "",
            },
            "status": enrolment.status,
            "joined_on": enrolment.joined_on.isoformat() if enrolment.joined_on else None,
            "left_on": None,
        }

    assert response.json()["results"] == [
        entry(world.enrolment, world.member_record),
        entry(active.enrolments.get(), active),
        entry(waiting.enrolments.get(), waiting),
    ]


def test_staff_filter_the_roster_by_status(world, api, crowded):
    response = signed_in(api, world.users["admin"]).get(
        f"/api/v1/groups/{world.group.pk}/roster/?status=waitlisted"
    )

    assert [row["member"]["preferred_name"] for row in response.json()["results"]] == ["Dee"]


def test_the_roster_refuses_an_unknown_status(world, api):
    response = signed_in(api, world.users["admin"]).get(
        f"/api/v1/groups/{world.group.pk}/roster/?status=gone"
    )

    assert response.status_code == 400
    assert response.json() == {"status": ['"gone" is not a valid choice.']}


def _fill(world, count):
    for _ in range(count):
        member = MemberFactory(clinic=world.clinic, user=UserFactory())
        EnrolmentFactory(
            group=world.group, member=member, status=EnrolmentStatus.ACTIVE, joined_on=NOW.date()
        )


@pytest.mark.parametrize("persona", ["facilitator", "member"])
@pytest.mark.parametrize("size", [1, 5])
def test_the_roster_runs_the_same_queries_at_any_page_size(
    world, api, django_assert_num_queries, persona, size
):
    _fill(world, 5)
    signed_in(api, world.users[persona])

    # session, user, group, co-facilitators, count, page, the audit entry of the roster
    # shown (chain head lock, insert, head update), and for a member first their own
    # enrolment
    with django_assert_num_queries({"facilitator": 9, "member": 10}[persona]):
        response = api.get(f"/api/v1/groups/{world.group.pk}/roster/?page_size={size}")

    assert len(response.json()["results"]) == size


# --- agreement -------------------------------------------------------------------------------


def test_a_member_reads_the_agreement_and_whether_they_accepted_it(world, api):
    acceptance = AgreementAcceptance.objects.get(member=world.member_record)

    response = signed_in(api, world.users["member"]).get(
        f"/api/v1/groups/{world.group.pk}/agreement/"
    )

    assert response.json() == {
        "id": world.agreement.pk,
        "version": 1,
        "text": "We keep what is said here confidential.",
        "published_at": "2026-10-05T09:00:00Z",
        "accepted": True,
        "accepted_at": acceptance.accepted_at.isoformat().replace("+00:00", "Z"),
    }


def test_a_new_version_is_not_accepted_until_the_member_accepts_it(world, api):
    agreement_publish(group=world.group, text="Version two.", by=world.users["facilitator"])

    response = signed_in(api, world.users["member"]).get(
        f"/api/v1/groups/{world.group.pk}/agreement/"
    )

    assert (response.json()["version"], response.json()["accepted"]) == (2, False)


def test_staff_read_the_agreement_without_an_acceptance_of_their_own(world, api):
    response = signed_in(api, world.users["facilitator"]).get(
        f"/api/v1/groups/{world.group.pk}/agreement/"
    )

    assert (response.json()["accepted"], response.json()["accepted_at"]) == (None, None)


def test_a_group_without_an_agreement_answers_404(world, api):
    group = GroupFactory(clinic=world.clinic, lead_facilitator=world.users["facilitator"])

    response = signed_in(api, world.users["facilitator"]).get(
        f"/api/v1/groups/{group.pk}/agreement/"
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "This group has no agreement yet."}


def test_put_publishes_a_new_version(world, api):
    with time_machine.travel(NOW, tick=False):
        response = signed_in(api, world.users["facilitator"]).put(
            f"/api/v1/groups/{world.group.pk}/agreement/",
            {"text": "  Be kind. Keep confidences.  "},
            format="json",
        )

    assert response.status_code == 201
    assert response.json() == {
        "id": world.group.agreements.get(version=2).pk,
        "version": 2,
        "text": "Be kind. Keep confidences.",
        "published_at": "2026-10-05T09:00:00Z",
        "accepted": None,
        "accepted_at": None,
    }


def test_put_refuses_blank_text(world, api):
    response = signed_in(api, world.users["facilitator"]).put(
        f"/api/v1/groups/{world.group.pk}/agreement/", {"text": "   "}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"text": ["This field may not be blank."]}


def test_a_member_accepts_the_new_version_online_once(world, api):
    agreement = agreement_publish(group=world.group, text="v2", by=world.users["facilitator"])
    signed_in(api, world.users["member"])

    with time_machine.travel(NOW, tick=False):
        first = api.post(f"/api/v1/groups/{world.group.pk}/agreement/", {}, format="json")
        again = api.post(f"/api/v1/groups/{world.group.pk}/agreement/", {}, format="json")

    expected = {
        "member": world.member_record.pk,
        "version": 2,
        "accepted_at": "2026-10-05T09:00:00Z",
        "method": "online",
    }
    assert (first.status_code, first.json()) == (201, expected)
    assert (again.status_code, again.json()) == (200, expected)
    assert AgreementAcceptance.objects.filter(agreement=agreement).count() == 1


def test_a_member_may_not_record_a_paper_signature(world, api):
    agreement_publish(group=world.group, text="v2", by=world.users["facilitator"])

    response = signed_in(api, world.users["member"]).post(
        f"/api/v1/groups/{world.group.pk}/agreement/", {"method": "paper"}, format="json"
    )

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Only the group's facilitators or a clinic admin record a paper signature."
    }


def test_a_member_cannot_accept_for_someone_else(world, api):
    agreement_publish(group=world.group, text="v2", by=world.users["facilitator"])
    fellow = EnrolmentFactory(group=world.group, status=EnrolmentStatus.ACTIVE).member

    response = signed_in(api, world.users["member"]).post(
        f"/api/v1/groups/{world.group.pk}/agreement/", {"member": fellow.pk}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"member": [f'Invalid pk "{fellow.pk}" - object does not exist.']}


def test_staff_record_a_paper_signature_for_a_member(world, api):
    agreement = agreement_publish(group=world.group, text="v2", by=world.users["facilitator"])

    response = signed_in(api, world.users["facilitator"]).post(
        f"/api/v1/groups/{world.group.pk}/agreement/",
        {"member": world.member_record.pk, "method": "paper"},
        format="json",
    )

    assert response.status_code == 201
    acceptance = AgreementAcceptance.objects.get(agreement=agreement)
    assert (acceptance.method, acceptance.recorded_by) == (
        AcceptanceMethod.PAPER,
        world.users["facilitator"],
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, {"member": ["Say whose paper signature this is."]}),
        (
            {"method": "online", "member": "MEMBER"},
            {"method": ["Staff record a paper signature; members accept online."]},
        ),
        ({"method": "fax", "member": "MEMBER"}, {"method": ['"fax" is not a valid choice.']}),
    ],
)
def test_staff_acceptance_input_is_checked(world, api, body, expected):
    if body.get("member") == "MEMBER":
        body["member"] = world.member_record.pk

    response = signed_in(api, world.users["admin"]).post(
        f"/api/v1/groups/{world.group.pk}/agreement/", body, format="json"
    )

    assert response.status_code == 400
    assert response.json() == expected


def test_staff_cannot_name_a_member_of_another_group(world, api):
    response = signed_in(api, world.users["admin"]).post(
        f"/api/v1/groups/{world.group.pk}/agreement/",
        {"member": world.other_member_record.pk},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "member": [f'Invalid pk "{world.other_member_record.pk}" - object does not exist.']
    }


def test_accepting_without_an_open_enrolment_is_a_conflict(world, api):
    agreement_publish(group=world.group, text="v2", by=world.users["facilitator"])
    world.enrolment.status = EnrolmentStatus.COMPLETED
    world.enrolment.save()

    response = signed_in(api, world.users["admin"]).post(
        f"/api/v1/groups/{world.group.pk}/agreement/",
        {"member": world.member_record.pk},
        format="json",
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "This member has no open enrolment in this group.",
        "code": "agreement_refused",
        "conflict_id": None,
    }


def test_a_session_of_the_schedule_keeps_its_status(world, api):
    # A cancelled future session is listed with its status after the series is set again.
    world.future_session.status = SessionStatus.CANCELLED
    world.future_session.save()
    with time_machine.travel(NOW, tick=False):
        response = signed_in(api, world.users["facilitator"]).put(
            f"/api/v1/groups/{world.group.pk}/schedule/", _weekly(count=1), format="json"
        )

    assert response.json()["sessions"][0]["status"] == "cancelled"


def test_a_clinic_role_is_needed_for_the_member_view(world, api):
    world.users["member"].clinic_roles.filter(role=Role.MEMBER).delete()

    response = signed_in(api, world.users["member"]).get(
        f"/api/v1/groups/{world.group.pk}/agreement/"
    )

    assert response.status_code == 404
