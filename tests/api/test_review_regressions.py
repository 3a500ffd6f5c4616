"""What a member without a seat, a facilitator of another group, or a member exporting their
own attendance must not learn; and reads of a member's record leave a trace."""

import datetime as dt
import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from members.enums import Role
from members.models import AuditEntry
from sessions.enums import AttendanceStatus, EnrolmentStatus, ScreeningOutcome
from sessions.models import Attendance, Screening
from tests.api.world import build_world
from tests.factories.members import ClinicRoleFactory, MemberFactory, UserFactory
from tests.factories.sessions import EnrolmentFactory

pytestmark = pytest.mark.django_db

LINK = "https://video.example.org/private-room"


@pytest.fixture
def world():
    return build_world()


def _as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def by_video(world):
    world.group.video_link, world.group.room = LINK, None
    world.group.save()
    session = world.future_session
    session.video_link, session.room = LINK, None
    session.save()
    return session


@pytest.mark.parametrize("status", [EnrolmentStatus.WAITLISTED, EnrolmentStatus.COMPLETED])
def test_a_member_without_a_seat_is_not_given_the_video_link(world, by_video, status):
    user = UserFactory(email="waiting@example.org")
    ClinicRoleFactory(user=user, clinic=world.clinic, role=Role.MEMBER)
    member = MemberFactory(clinic=world.clinic, user=user, preferred_name="Wait")
    EnrolmentFactory(group=world.group, member=member, status=status)
    api = _as(user)

    session = api.get(f"/api/v1/sessions/{by_video.pk}/")
    group = api.get(f"/api/v1/groups/{world.group.pk}/")
    listed = api.get(f"/api/v1/sessions/?group={world.group.pk}")

    assert session.status_code == group.status_code == listed.status_code == 200
    assert session.json()["video_link"] is None
    assert group.json()["video_link"] is None
    assert LINK not in listed.content.decode()


def test_an_active_member_is_given_the_video_link(world, by_video):
    api = _as(world.users["member"])

    assert api.get(f"/api/v1/sessions/{by_video.pk}/").json()["video_link"] == LINK
    assert api.get(f"/api/v1/groups/{world.group.pk}/").json()["video_link"] == LINK


def test_a_clash_with_a_session_the_facilitator_cannot_see_does_not_name_it(world):
    other = world.other_group_session
    api = _as(world.users["facilitator"])
    assert api.get(f"/api/v1/sessions/{other.pk}/").status_code == 404

    response = api.patch(
        f"/api/v1/sessions/{world.future_session.pk}/",
        {
            "start": other.start.isoformat(),
            "facilitators": [world.users["facilitator"].pk, world.users["other_facilitator"].pk],
        },
        format="json",
    )

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "double_booking"
    assert body["conflict_id"] is None
    assert world.other_group.name not in body["detail"]
    assert "not available at that time" in body["detail"]


def test_an_admin_is_told_which_session_clashes(world):
    other = world.other_group_session

    response = _as(world.users["admin"]).patch(
        f"/api/v1/sessions/{world.future_session.pk}/",
        {
            "start": other.start.isoformat(),
            "facilitators": [world.users["facilitator"].pk, world.users["other_facilitator"].pk],
        },
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["conflict_id"] == other.pk


def test_the_member_list_filter_does_not_reveal_enrolments_in_groups_one_does_not_run(world):
    EnrolmentFactory(
        group=world.other_group, member=world.member_record, status=EnrolmentStatus.REFERRED
    )

    response = _as(world.users["facilitator"]).get(f"/api/v1/members/?group={world.other_group.pk}")

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_a_members_own_export_leaves_out_the_billing_code(world):
    world.group.billing_code = "90853"
    world.group.save()
    Attendance.objects.create(
        session=world.past_session,
        member=world.member_record,
        status=AttendanceStatus.PRESENT,
        recorded_by=world.users["facilitator"],
        recorded_at=timezone.now(),
    )
    day = world.past_session.start.date()
    query = {
        "from": (day - dt.timedelta(days=1)).isoformat(),
        "to": (day + dt.timedelta(days=1)).isoformat(),
    }

    mine = _as(world.users["member"]).get("/api/v1/exports/attendance/", query)
    staff = _as(world.users["facilitator"]).get("/api/v1/exports/attendance/", query)

    mine_rows = json.loads(b"".join(mine.streaming_content))
    staff_rows = json.loads(b"".join(staff.streaming_content))
    assert [row["billing_code"] for row in mine_rows] == [None]
    assert {row["billing_code"] for row in staff_rows} == {"90853"}


def test_reading_a_members_record_or_screening_is_audited_without_its_contents(world):
    api = _as(world.users["admin"])
    enrolment = world.member_record.enrolments.get(group=world.group)
    screening = Screening.objects.create(
        enrolment=enrolment,
        outcome=ScreeningOutcome.SUITABLE,
        screened_by=world.users["facilitator"],
        acute_illness="no_concern",
        anxiety_or_trauma="no_concern",
        disruptive_behaviour="no_concern",
        individual_needs="no_concern",
    )

    assert api.get(f"/api/v1/members/{world.member_record.pk}/").status_code == 200
    api.get(f"/api/v1/enrolments/{enrolment.pk}/screening/")

    entries = AuditEntry.objects.filter(actor=world.users["admin"]).order_by("pk")
    viewed = entries.filter(action="members.member.viewed").get()
    assert viewed.object_id == str(world.member_record.pk)
    assert world.member_record.legal_name not in str(viewed.data)
    assert entries.filter(action="sessions.screening.viewed").get().object_id == str(screening.pk)


def test_a_final_session_date_beyond_the_calendar_is_a_400_not_a_crash(world):
    response = _as(world.users["facilitator"]).post(
        f"/api/v1/groups/{world.group.pk}/stage/",
        {"to": "adjourning", "final_session_date": "9999-12-31"},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()) == ["final_session_date"]


def test_a_page_of_member_records_or_a_staff_roster_is_audited_by_ids(world):
    api = _as(world.users["facilitator"])

    assert api.get("/api/v1/members/").status_code == 200
    assert api.get(f"/api/v1/groups/{world.group.pk}/roster/").status_code == 200

    read = AuditEntry.objects.filter(
        actor=world.users["facilitator"],
        action__in=["members.member.listed", "sessions.roster.viewed"],
    ).order_by("pk")
    assert [(entry.action, entry.data["member_ids"]) for entry in read] == [
        ("members.member.listed", [world.member_record.pk]),
        ("sessions.roster.viewed", [world.member_record.pk]),
    ]
    assert read[1].object_id == str(world.group.pk)


def test_a_members_view_of_the_roster_is_audited_as_a_roster_not_a_read_of_records(world):
    assert (
        _as(world.users["member"]).get(f"/api/v1/groups/{world.group.pk}/roster/").status_code
        == 200
    )

    assert not AuditEntry.objects.filter(action="members.member.listed").exists()
    [entry] = AuditEntry.objects.filter(action="sessions.roster.viewed")
    assert (entry.actor, entry.data) == (
        world.users["member"],
        {"member_ids": [world.member_record.pk]},
    )
