"""POST /api/v1/members/{id}/anonymise/: a clinic admin anonymises a discharged member's
record after the retention period; every refusal is a 409 with its code."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from members.models import AuditEntry, Member
from members.services import api_token_issue
from sessions.enums import EnrolmentStatus
from sessions.models import Enrolment
from tests.api.world import PERSONAS, signed_in
from tests.factories.members import mfa_enrol

pytestmark = pytest.mark.django_db

RETENTION_DAYS = 30


def _url(member) -> str:
    return f"/api/v1/members/{member.pk}/anonymise/"


def _iso(value):
    return value.isoformat().replace("+00:00", "Z")


def _end(world, days_ago: int) -> None:
    left_at = timezone.now() - dt.timedelta(days=days_ago)
    Enrolment.objects.filter(pk=world.enrolment.pk).update(
        status=EnrolmentStatus.DISCHARGED,
        joined_on=left_at.date() - dt.timedelta(days=60),
        left_on=left_at.date(),
        left_at=left_at,
    )


@pytest.fixture(autouse=True)
def _retention(settings):
    settings.GROUPCARE_RETENTION_DAYS = RETENTION_DAYS


def test_admin_anonymises_the_record_and_gets_it_back(world, api):
    _end(world, RETENTION_DAYS + 1)
    member = world.member_record

    response = signed_in(api, world.users["admin"]).post(_url(member))

    assert response.status_code == 200
    member.refresh_from_db()
    assert response.json() == {
        "id": member.pk,
        "clinic": world.clinic.pk,
        "user": None,
        "preferred_name": f"Anonymised member #{member.pk}",
        "legal_name": "",
        "email": "",
        "phone": "",
        "emergency_contact_name": "",
        "emergency_contact_phone": "",
        "timezone": "",
        "effective_timezone": "Europe/London",
        "reminders_enabled": False,
        "reminder_offsets": [1440, 120],
        "quiet_hours": True,
        "created_by": None,
        "created_at": _iso(member.created_at),
        "updated_at": _iso(member.updated_at),
        "anonymised_at": _iso(member.anonymised_at),
    }
    assert (
        AuditEntry.objects.filter(
            action="members.member.anonymised", actor=world.users["admin"], object_id=str(member.pk)
        ).count()
        == 1
    )


EXPECTED = {
    "admin": 200,
    "facilitator": 403,
    "other_facilitator": 404,
    "member": 403,
    "other_member": 404,
    "other_clinic_admin": 404,
    "anonymous": 401,
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_the_clinic_admin_may_anonymise(world, api, persona):
    _end(world, RETENTION_DAYS + 1)
    user = world.users[persona]
    if user is not None:
        signed_in(api, user)

    response = api.post(_url(world.member_record))

    assert response.status_code == EXPECTED[persona]
    anonymised = Member.objects.get(pk=world.member_record.pk).anonymised_at is not None
    assert anonymised is (persona == "admin")
    if response.status_code != 200:
        assert list(response.json()) == ["detail"]
        assert "Alex" not in response.json()["detail"]


def test_an_open_enrolment_is_a_409_naming_it(world, api):
    response = signed_in(api, world.users["admin"]).post(_url(world.member_record))

    assert response.status_code == 409
    assert response.json() == {
        "detail": "This member still has an enrolment that is active. Every enrolment must "
        "have ended (completed, withdrawn, discharged or declined) before the record can be "
        "anonymised.",
        "code": "member_still_enrolled",
        "conflict_id": world.enrolment.pk,
    }


def test_the_retention_period_still_running_is_a_409(world, api):
    _end(world, RETENTION_DAYS - 1)

    response = signed_in(api, world.users["admin"]).post(_url(world.member_record))

    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["conflict_id"]) == ("retention_period_running", None)
    assert body["detail"].startswith("The clinic keeps a record for 30 days")
    assert Member.objects.get(pk=world.member_record.pk).preferred_name == "Alex"


def test_anonymising_twice_is_a_409(world, api):
    _end(world, RETENTION_DAYS + 1)
    signed_in(api, world.users["admin"])
    api.post(_url(world.member_record))

    response = api.post(_url(world.member_record))

    assert response.status_code == 409
    assert response.json()["code"] == "already_anonymised"


def test_an_integrator_token_of_the_admin_may_anonymise_and_the_members_token_dies(world, api):
    _end(world, RETENTION_DAYS + 1)
    _, admin_raw = api_token_issue(user=world.users["admin"], name="EHR")
    mfa_enrol(world.users["member"])  # a token needs a second factor behind it
    _, member_raw = api_token_issue(user=world.users["member"], name="Phone")

    response = api.post(_url(world.member_record), HTTP_AUTHORIZATION=f"Bearer {admin_raw}")

    assert response.status_code == 200
    assert api.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {member_raw}").status_code == 401
