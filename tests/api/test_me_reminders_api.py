"""A member's own reminder preferences: read, change, and what changes in the outbox."""

import datetime as dt

import pytest
from django.utils import timezone

from members.enums import Role
from members.models import AuditEntry
from sessions.enums import NotificationKind, NotificationStatus
from sessions.models import Notification
from sessions.services.notifications import reminders_plan
from tests.api.world import signed_in
from tests.factories.members import ClinicRoleFactory, MemberFactory

pytestmark = pytest.mark.django_db


def _url(member):
    return f"/api/v1/me/reminders/{member.pk}/"


def test_a_member_reads_their_preferences_in_each_clinic(world, api):
    signed_in(api, world.users["member"])

    response = api.get("/api/v1/me/reminders/")

    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "member": world.member_record.pk,
            "clinic": world.clinic.pk,
            "clinic_name": "Riverside",
            "reminders_enabled": True,
            "reminder_offsets": [1440, 120],
            "quiet_hours": True,
            "timezone": "",
            "effective_timezone": "Europe/London",
        }
    ]


def test_staff_see_only_their_own_member_records_here(world, api):
    signed_in(api, world.users["admin"])

    assert api.get("/api/v1/me/reminders/").json()["results"] == []
    assert api.get(_url(world.member_record)).status_code == 404
    assert api.patch(_url(world.member_record), {"quiet_hours": False}).status_code == 404


def test_another_members_record_is_not_found(world, api):
    signed_in(api, world.users["other_member"])

    response = api.patch(_url(world.member_record), {"reminders_enabled": False})

    assert (response.status_code, response.json()) == (
        404,
        {"detail": "No Member matches the given query."},
    )
    world.member_record.refresh_from_db()
    assert world.member_record.reminders_enabled is True


def test_anonymous_gets_401(world, api):
    assert api.get("/api/v1/me/reminders/").status_code == 401


def test_changing_offsets_replans_the_pending_reminders(world, api):
    now = timezone.now()
    reminders_plan(sessions=[world.future_session], now=now)
    signed_in(api, world.users["member"])

    response = api.patch(_url(world.member_record), {"reminder_offsets": [30, 30]})

    assert response.status_code == 200
    assert response.json()["reminder_offsets"] == [30]
    rows = Notification.objects.filter(
        kind=NotificationKind.REMINDER,
        session=world.future_session,
        member=world.member_record,
    )
    pending = rows.filter(status=NotificationStatus.PENDING)
    assert list(pending.values_list("offset_minutes", "due_at")) == [
        (30, world.future_session.start - dt.timedelta(minutes=30))
    ]
    assert AuditEntry.objects.filter(
        action="members.member.updated", object_id=str(world.member_record.pk)
    ).values_list("data", flat=True).get() == {
        "member_id": world.member_record.pk,
        "fields": ["reminder_offsets"],
    }


def test_turning_reminders_off_skips_every_pending_one(world, api):
    reminders_plan(sessions=[world.future_session], now=timezone.now())
    signed_in(api, world.users["member"])

    api.patch(_url(world.member_record), {"reminders_enabled": False})

    assert not Notification.objects.filter(
        member=world.member_record, status=NotificationStatus.PENDING
    ).exists()


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"reminder_offsets": []},
            {"reminder_offsets": ["Ensure this field has at least 1 elements."]},
        ),
        (
            {"reminder_offsets": [1]},
            {"reminder_offsets": {"0": ["Ensure this value is greater than or equal to 5."]}},
        ),
        ({"quiet_hours": "yes"}, {"quiet_hours": ["Must be a valid boolean."]}),
        (
            {"timezone": "Mars/Base"},
            {
                "timezone": [
                    "Mars/Base is not a known time zone; use an IANA name such as Europe/London."
                ]
            },
        ),
    ],
)
def test_bad_preferences_are_refused_naming_the_field(world, api, body, errors):
    signed_in(api, world.users["member"])

    response = api.patch(_url(world.member_record), body)

    assert (response.status_code, response.json()) == (400, errors)


def test_a_record_in_a_clinic_where_the_member_role_is_gone_is_not_here(world, api):
    MemberFactory(clinic=world.other_clinic, user=world.users["member"])
    signed_in(api, world.users["member"])

    response = api.get("/api/v1/me/reminders/")

    assert [row["member"] for row in response.json()["results"]] == [world.member_record.pk]


def test_a_member_in_two_clinics_changes_one_record_only(world, api):
    elsewhere = MemberFactory(clinic=world.other_clinic, user=world.users["member"])
    ClinicRoleFactory(user=world.users["member"], clinic=world.other_clinic, role=Role.MEMBER)
    signed_in(api, world.users["member"])

    api.patch(_url(elsewhere), {"quiet_hours": False})

    world.member_record.refresh_from_db()
    elsewhere.refresh_from_db()
    assert (world.member_record.quiet_hours, elsewhere.quiet_hours) == (True, False)
