"""A member's download of their own data (``/me/settings/data.json``) and the admin's page
that anonymises a discharged member's record (``/members/<pk>/anonymise/``)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from members.models import AuditEntry, Member
from sessions.enums import EnrolmentStatus
from sessions.models import Enrolment
from tests.factories.members import MemberFactory
from tests.factories.sessions import EnrolmentFactory
from tests.web.conftest import PERSONAS
from tests.web.pages import assert_no_inline_code, assert_strict_csp, redirects_to_login

pytestmark = pytest.mark.django_db

DOWNLOAD = reverse("sessions:me-data-download")
SETTINGS = reverse("sessions:me-settings")
RETENTION_DAYS = 30


def _anonymise_url(member) -> str:
    return reverse("sessions:member-anonymise", args=[member.pk])


def _assert_status(response, expected) -> None:
    if expected == "login":
        assert redirects_to_login(response), response
    else:
        assert response.status_code == expected


@pytest.fixture
def fellow(world):
    """Another active member of ``world.group``: never in ``member``'s download."""
    record = MemberFactory(
        clinic=world.clinic,
        preferred_name="Zephyrine",
        legal_name="Zephyrine Okonkwo-Hart",
        email="zephyrine@example.org",
        phone="+44 7700 900999",
    )
    EnrolmentFactory(
        group=world.group,
        member=record,
        status=EnrolmentStatus.ACTIVE,
        joined_on=world.enrolment.joined_on,
    )
    return record


@pytest.fixture
def ended(world, settings):
    """``member``'s only enrolment completed 31 days ago; the clinic keeps records 30 days."""
    settings.GROUPCARE_RETENTION_DAYS = RETENTION_DAYS
    left_at = timezone.now() - dt.timedelta(days=RETENTION_DAYS + 1)
    Enrolment.objects.filter(pk=world.enrolment.pk).update(
        status=EnrolmentStatus.COMPLETED,
        joined_on=left_at.date() - dt.timedelta(days=60),
        left_on=left_at.date(),
        left_at=left_at,
    )
    return world.member_record


# =========================================================================== download

#: Only a person with a member record of their own has anything to download.
DOWNLOAD_STATUS = {
    "admin": 404,
    "facilitator": 404,
    "other_facilitator": 404,
    "member": 200,
    "other_member": 200,
    "other_clinic_admin": 404,
    "anonymous": "login",
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_download_is_for_a_person_with_a_member_record_only(client_as, world, persona):
    response = client_as(persona).get(DOWNLOAD)

    _assert_status(response, DOWNLOAD_STATUS[persona])
    if response.status_code == 200:
        records = json.loads(response.content)["member_records"]
        own = world.users[persona].member_records.get()
        assert [(r["id"], r["preferred_name"]) for r in records] == [(own.pk, own.preferred_name)]


def test_download_is_a_private_json_attachment_with_a_dated_name(client_as):
    with time_machine.travel(dt.datetime(2026, 11, 29, 23, 30, tzinfo=dt.UTC), tick=False):
        response = client_as("member").get(DOWNLOAD)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="groupcare-my-data-2026-11-29.json"'
    )
    assert response["Cache-Control"] == "no-store"
    document = json.loads(response.content)
    assert (document["format"], document["version"], document["generated_at"]) == (
        "groupcare.member-data",
        1,
        "2026-11-29T23:30:00+00:00",
    )


def test_download_holds_the_members_own_record_and_no_fellow_member(client_as, world, fellow):
    response = client_as("member").get(DOWNLOAD)

    body = response.content.decode()
    record = json.loads(body)["member_records"][0]
    assert (record["preferred_name"], record["legal_name"], record["email"]) == (
        "Alex",
        "Alexandra Stone",
        world.member_record.email,
    )
    assert [e["group"] for e in record["enrolments"]] == ["Tuesday Group"]
    for marker in (
        fellow.preferred_name,
        fellow.legal_name,
        fellow.email,
        fellow.phone,
        "Bo Reyes",
        world.other_member_record.email,
        "Thursday Group",
    ):
        assert marker not in body


def test_download_is_audited_with_the_record_ids(client_as, world):
    client_as("member").get(DOWNLOAD)

    entry = AuditEntry.objects.get(action="members.member.data_exported")
    assert (entry.actor_id, entry.clinic_id, entry.data) == (
        world.users["member"].pk,
        world.clinic.pk,
        {"member_ids": [world.member_record.pk]},
    )


def test_download_refuses_a_post(client_as):
    assert client_as("member").post(DOWNLOAD).status_code == 405


def test_settings_page_offers_the_download_and_says_what_is_in_it(client_as):
    response = client_as("member").get(SETTINGS)

    assert_strict_csp(response)
    body = response.content.decode()
    assert_no_inline_code(body)
    assert f'href="{DOWNLOAD}"' in body
    assert "Download everything GroupCare holds about you" in body
    assert "Nothing about other members is in it." in body


# =========================================================================== anonymise

#: Clinic admins only; whoever else may read the record is refused, the rest never see it.
ANONYMISE_STATUS = {
    "admin": 200,
    "facilitator": 403,
    "other_facilitator": 404,
    "member": 403,
    "other_member": 404,
    "other_clinic_admin": 404,
    "anonymous": "login",
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_anonymise_page_is_for_the_clinic_admin_only(client_as, ended, persona):
    response = client_as(persona).get(_anonymise_url(ended))

    _assert_status(response, ANONYMISE_STATUS[persona])
    body = response.content.decode()
    if persona == "admin":
        assert "Anonymise Alex&#x27;s record" in body
        assert "Anonymise the record</button>" in body
    else:
        assert "Alexandra Stone" not in body


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p != "admin"])
def test_anonymise_post_by_anyone_but_the_admin_changes_nothing(client_as, ended, persona):
    response = client_as(persona).post(_anonymise_url(ended))

    _assert_status(response, ANONYMISE_STATUS[persona])
    assert Member.objects.get(pk=ended.pk).anonymised_at is None


def test_anonymise_page_says_what_will_happen(client_as, ended):
    response = client_as("admin").get(_anonymise_url(ended))

    assert_strict_csp(response)
    body = response.content.decode()
    assert_no_inline_code(body)
    assert f"“Anonymised member #{ended.pk}”" in body
    assert "agreement acceptances and attendance stay" in body
    assert "Their login is unlinked from this record" in body
    assert "This cannot be undone." in body


def test_anonymising_redirects_to_the_member_list_with_a_message(client_as, world, ended):
    response = client_as("admin").post(_anonymise_url(ended), follow=True)

    assert response.redirect_chain == [
        (f"{reverse('members:people')}?clinic={world.clinic.pk}&show=member", 302)
    ]
    assert f"It is now “Anonymised member #{ended.pk}”" in response.content.decode()
    member = Member.objects.get(pk=ended.pk)
    assert (member.preferred_name, member.legal_name, member.user_id) == (
        f"Anonymised member #{ended.pk}",
        "",
        None,
    )


def test_anonymise_page_explains_an_open_enrolment_and_offers_no_button(client_as, world):
    response = client_as("admin").get(_anonymise_url(world.member_record))

    body = response.content.decode()
    assert response.status_code == 200
    assert "This member still has an enrolment that is active." in body
    assert "Anonymise the record</button>" not in body


def test_anonymise_page_explains_the_retention_period_still_running(client_as, world, settings):
    settings.GROUPCARE_RETENTION_DAYS = RETENTION_DAYS
    Enrolment.objects.filter(pk=world.enrolment.pk).update(
        status=EnrolmentStatus.COMPLETED, left_at=timezone.now()
    )

    body = client_as("admin").get(_anonymise_url(world.member_record)).content.decode()

    assert "The clinic keeps a record for 30 days" in body
    assert "Anonymise the record</button>" not in body


def test_anonymise_post_refused_shows_the_reason_on_the_page(client_as, world):
    response = client_as("admin").post(_anonymise_url(world.member_record))

    assert response.status_code == 200
    assert "This member still has an enrolment that is active." in response.content.decode()
    assert Member.objects.get(pk=world.member_record.pk).anonymised_at is None


def test_anonymise_of_an_unknown_member_is_not_found(client_as):
    assert (
        client_as("admin").get(reverse("sessions:member-anonymise", args=[99999])).status_code
        == 404
    )


def test_enrolment_page_offers_anonymising_to_the_admin_once_every_enrolment_ended(
    client_as, world, ended
):
    url = reverse("sessions:enrolment-detail", args=[world.enrolment.pk])
    link = f'href="{_anonymise_url(ended)}"'

    assert link in client_as("admin").get(url).content.decode()
    assert link not in client_as("facilitator").get(url).content.decode()


def test_enrolment_page_offers_no_anonymising_while_another_enrolment_is_open(
    client_as, world, ended
):
    EnrolmentFactory(group=world.other_group, member=ended, status=EnrolmentStatus.REFERRED)

    body = (
        client_as("admin")
        .get(reverse("sessions:enrolment-detail", args=[world.enrolment.pk]))
        .content.decode()
    )

    assert _anonymise_url(ended) not in body


def test_enrolment_page_of_an_anonymised_member_says_so(client_as, world, ended):
    client_as("admin").post(_anonymise_url(ended))

    body = (
        client_as("admin")
        .get(reverse("sessions:enrolment-detail", args=[world.enrolment.pk]))
        .content.decode()
    )

    assert "This record was anonymised on" in body
    assert "Alexandra Stone" not in body
    assert _anonymise_url(ended) not in body
