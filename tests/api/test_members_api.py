"""/api/v1/members/: the staff's list of client records, adding one, reading and changing it.

A member reads their own record by its id (any other record is a 404) and gets 403 on the
list and on changes.
"""

import pytest

from members.enums import Role
from members.models import AuditEntry, Member
from sessions.enums import EnrolmentStatus
from tests.api.world import signed_in
from tests.factories.members import ClinicFactory, ClinicRoleFactory, MemberFactory
from tests.factories.sessions import EnrolmentFactory, GroupFactory

pytestmark = pytest.mark.django_db


def _iso(value):
    return value.isoformat().replace("+00:00", "Z")


def _record(member, **overrides):
    body = {
        "id": member.pk,
        "clinic": member.clinic_id,
        "user": member.user_id,
        "preferred_name": member.preferred_name,
        "legal_name": member.legal_name,
        "email": member.email,
        "phone": member.phone,
        "emergency_contact_name": member.emergency_contact_name,
        "emergency_contact_phone": member.emergency_contact_phone,
        "timezone": member.timezone,
        "effective_timezone": member.effective_timezone,
        "reminders_enabled": member.reminders_enabled,
        "reminder_offsets": member.reminder_offsets,
        "quiet_hours": member.quiet_hours,
        "created_by": member.created_by_id,
        "created_at": _iso(member.created_at),
        "updated_at": _iso(member.updated_at),
        "anonymised_at": None,
    }
    body.update(overrides)
    return body


def _ids(response):
    return [row["id"] for row in response.json()["results"]]


# --- list ------------------------------------------------------------------------------------


def test_admin_lists_every_record_of_the_clinic_by_name(world, api):
    unenrolled = MemberFactory(clinic=world.clinic, preferred_name="Zed")
    MemberFactory(clinic=world.other_clinic)

    response = signed_in(api, world.users["admin"]).get("/api/v1/members/")

    assert response.status_code == 200
    assert response.json() == {
        "count": 3,
        "next": None,
        "previous": None,
        "results": [
            _record(world.member_record),
            _record(world.other_member_record),
            _record(unenrolled),
        ],
    }


def test_facilitator_lists_members_of_their_groups_and_records_they_created(world, api):
    facilitator = world.users["facilitator"]
    created = MemberFactory(clinic=world.clinic, preferred_name="Cy", created_by=facilitator)
    MemberFactory(clinic=world.clinic, preferred_name="Di")  # neither: not listed

    response = signed_in(api, facilitator).get("/api/v1/members/")

    assert _ids(response) == [world.member_record.pk, created.pk]


def test_facilitator_does_not_list_records_they_created_in_a_clinic_they_left(world, api):
    facilitator = world.users["facilitator"]
    MemberFactory(clinic=world.other_clinic, created_by=facilitator)

    response = signed_in(api, facilitator).get("/api/v1/members/")

    assert _ids(response) == [world.member_record.pk]


def test_member_may_not_list_member_records(world, api):
    response = signed_in(api, world.users["member"]).get("/api/v1/members/")

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Member records and enrolments are for the clinic's staff."
    }


@pytest.mark.parametrize(
    ("q", "expected"),
    [("alexandra", ["member_record"]), ("BO@", ["other_member_record"]), ("bo", ["other"])],
)
def test_list_searches_preferred_and_legal_name_and_email(world, api, q, expected):
    world.other_member_record.email = "bo@example.org"
    world.other_member_record.save()
    records = {
        "member_record": world.member_record.pk,
        "other_member_record": world.other_member_record.pk,
        "other": world.other_member_record.pk,
    }

    response = signed_in(api, world.users["admin"]).get("/api/v1/members/", {"q": q})

    assert _ids(response) == [records[name] for name in expected]


def test_list_filters_by_group_whatever_the_enrolment_status(world, api):
    left = MemberFactory(clinic=world.clinic, preferred_name="Al")
    EnrolmentFactory(group=world.group, member=left, status=EnrolmentStatus.WITHDRAWN)

    response = signed_in(api, world.users["admin"]).get(
        "/api/v1/members/", {"group": world.group.pk}
    )

    assert _ids(response) == [left.pk, world.member_record.pk]


def test_list_refuses_a_group_filter_that_is_not_an_id(world, api):
    response = signed_in(api, world.users["admin"]).get("/api/v1/members/", {"group": "x"})

    assert response.status_code == 400
    assert response.json() == {"group": ["A valid integer is required."]}


@pytest.mark.parametrize("size", [1, 5])
def test_list_runs_the_same_queries_at_any_page_size(world, api, django_assert_num_queries, size):
    for _ in range(5):
        MemberFactory(clinic=world.clinic)
    signed_in(api, world.users["admin"])

    # session, user, staff role, count, page, audit entry of the records shown
    # (chain head lock, insert, head update)
    with django_assert_num_queries(8):
        response = api.get(f"/api/v1/members/?page_size={size}")

    assert len(response.json()["results"]) == size


# --- detail ----------------------------------------------------------------------------------


def test_member_reads_their_own_record(world, api):
    response = signed_in(api, world.users["member"]).get(
        f"/api/v1/members/{world.member_record.pk}/"
    )

    assert response.status_code == 200
    assert response.json() == _record(world.member_record)


def test_member_does_not_see_another_members_record(world, api):
    response = signed_in(api, world.users["member"]).get(
        f"/api/v1/members/{world.other_member_record.pk}/"
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "No Member matches the given query."}


def test_admin_of_another_clinic_does_not_see_the_record(world, api):
    response = signed_in(api, world.users["other_clinic_admin"]).get(
        f"/api/v1/members/{world.member_record.pk}/"
    )

    assert response.status_code == 404


def test_detail_runs_six_queries(world, api, django_assert_num_queries):
    signed_in(api, world.users["facilitator"])

    # session, user, record, audit entry of the read (chain head lock, insert, head update)
    with django_assert_num_queries(6):
        api.get(f"/api/v1/members/{world.member_record.pk}/")


# --- create ----------------------------------------------------------------------------------


def test_facilitator_adds_a_record_to_their_clinic(world, api):
    facilitator = world.users["facilitator"]

    response = signed_in(api, facilitator).post(
        "/api/v1/members/",
        {
            "preferred_name": "Eli",
            "legal_name": "Elias Grant",
            "email": "eli@example.org",
            "phone": "+44 20 7946 0001",
            "emergency_contact_name": "Ruth Grant",
            "emergency_contact_phone": "+44 20 7946 0002",
            "timezone": "Europe/Dublin",
            "reminders_enabled": False,
            "reminder_offsets": [60],
        },
        format="json",
    )

    assert response.status_code == 201
    member = Member.objects.get(preferred_name="Eli")
    assert (member.clinic, member.created_by) == (world.clinic, facilitator)
    assert response.json() == _record(
        member,
        email="eli@example.org",
        timezone="Europe/Dublin",
        effective_timezone="Europe/Dublin",
        reminders_enabled=False,
        reminder_offsets=[60],
    )


def test_create_writes_an_audit_entry(world, api):
    response = signed_in(api, world.users["admin"]).post(
        "/api/v1/members/", {"preferred_name": "Eli", "legal_name": "Eli G"}, format="json"
    )

    entry = AuditEntry.objects.get(action="members.member.created")
    assert (entry.actor, entry.data) == (world.users["admin"], {"member_id": response.json()["id"]})


def test_create_ignores_clinic_user_and_author_in_the_body(world, api):
    response = signed_in(api, world.users["admin"]).post(
        "/api/v1/members/",
        {
            "preferred_name": "Eli",
            "legal_name": "Eli G",
            "user": world.users["other_member"].pk,
            "created_by": world.users["facilitator"].pk,
            "id": 999,
        },
        format="json",
    )

    member = Member.objects.get(preferred_name="Eli")
    assert (member.user, member.created_by, member.pk != 999) == (
        None,
        world.users["admin"],
        True,
    )
    assert response.json()["clinic"] == world.clinic.pk


def test_create_names_an_unknown_time_zone(world, api):
    response = signed_in(api, world.users["admin"]).post(
        "/api/v1/members/",
        {"preferred_name": "Eli", "legal_name": "Eli G", "timezone": "Mars/Olympus"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "timezone": [
            "Mars/Olympus is not a known time zone; use an IANA name such as Europe/London."
        ]
    }


@pytest.mark.parametrize(
    ("offsets", "errors"),
    [
        ([60, 1], {"1": ["Ensure this value is greater than or equal to 5."]}),
        ([60, 10081], {"1": ["Ensure this value is less than or equal to 10080."]}),
        ([], ["Ensure this field has at least 1 elements."]),
        (["60"], {"0": ["A valid integer is required."]}),
    ],
)
def test_create_refuses_bad_reminder_offsets(world, api, offsets, errors):
    response = signed_in(api, world.users["admin"]).post(
        "/api/v1/members/",
        {"preferred_name": "Eli", "legal_name": "Eli G", "reminder_offsets": offsets},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"reminder_offsets": errors}
    assert not Member.objects.filter(legal_name="Eli G").exists()


def test_a_repeated_reminder_offset_counts_once(world, api):
    response = signed_in(api, world.users["admin"]).post(
        "/api/v1/members/",
        {"preferred_name": "Eli", "legal_name": "Eli G", "reminder_offsets": [60, 30, 60]},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["reminder_offsets"] == [60, 30]


def test_create_refuses_a_body_without_names(world, api):
    response = signed_in(api, world.users["admin"]).post("/api/v1/members/", {}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "preferred_name": ["This field is required."],
        "legal_name": ["This field is required."],
    }


def test_staff_of_several_clinics_must_say_which(world, api):
    admin = world.users["admin"]
    ClinicRoleFactory(user=admin, clinic=world.other_clinic, role=Role.FACILITATOR)

    response = signed_in(api, admin).post(
        "/api/v1/members/", {"preferred_name": "Eli", "legal_name": "Eli G"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"clinic": ["You work in more than one clinic: say which one."]}


def test_staff_of_several_clinics_adds_to_the_one_they_name(world, api):
    admin = world.users["admin"]
    ClinicRoleFactory(user=admin, clinic=world.other_clinic, role=Role.FACILITATOR)

    response = signed_in(api, admin).post(
        "/api/v1/members/",
        {"preferred_name": "Eli", "legal_name": "Eli G", "clinic": world.other_clinic.pk},
        format="json",
    )

    assert response.status_code == 201
    assert Member.objects.get(preferred_name="Eli").clinic == world.other_clinic


def test_create_in_a_clinic_where_the_caller_is_not_staff_is_refused(world, api):
    response = signed_in(api, world.users["admin"]).post(
        "/api/v1/members/",
        {"preferred_name": "Eli", "legal_name": "Eli G", "clinic": ClinicFactory().pk},
        format="json",
    )

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Only a clinic's admins and facilitators may add its members."
    }
    assert not Member.objects.filter(preferred_name="Eli").exists()


# --- update ----------------------------------------------------------------------------------


def test_facilitator_changes_a_record_of_their_group(world, api):
    response = signed_in(api, world.users["facilitator"]).patch(
        f"/api/v1/members/{world.member_record.pk}/",
        {"phone": "+44 20 7946 0003", "reminder_offsets": [30, 1440]},
        format="json",
    )

    world.member_record.refresh_from_db()
    assert response.status_code == 200
    assert response.json() == _record(world.member_record)
    assert (world.member_record.phone, world.member_record.reminder_offsets) == (
        "+44 20 7946 0003",
        [30, 1440],
    )


def test_update_ignores_clinic_user_and_author(world, api):
    record = world.member_record

    response = signed_in(api, world.users["admin"]).patch(
        f"/api/v1/members/{record.pk}/",
        {
            "clinic": world.other_clinic.pk,
            "user": world.users["other_member"].pk,
            "created_by": world.users["admin"].pk,
            "id": 999,
        },
        format="json",
    )

    record.refresh_from_db()
    assert response.status_code == 200
    assert (record.clinic, record.user, record.created_by) == (
        world.clinic,
        world.users["member"],
        None,
    )


def test_member_may_not_change_their_own_record(world, api):
    response = signed_in(api, world.users["member"]).patch(
        f"/api/v1/members/{world.member_record.pk}/", {"phone": "1"}, format="json"
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "Only the clinic's staff may change a member record."}


def test_facilitator_of_another_group_does_not_see_the_record(world, api):
    response = signed_in(api, world.users["other_facilitator"]).patch(
        f"/api/v1/members/{world.member_record.pk}/", {"phone": "1"}, format="json"
    )

    assert response.status_code == 404


def test_update_refuses_an_unknown_time_zone(world, api):
    response = signed_in(api, world.users["admin"]).patch(
        f"/api/v1/members/{world.member_record.pk}/", {"timezone": "Nowhere"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "timezone": ["Nowhere is not a known time zone; use an IANA name such as Europe/London."]
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reminder_offsets": "60"}, "reminder_offsets"),
        ({"reminder_offsets": [True]}, "reminder_offsets"),
        ({"reminders_enabled": "maybe"}, "reminders_enabled"),
        ({"email": "not-an-address"}, "email"),
        ({"preferred_name": ""}, "preferred_name"),
        ({"preferred_name": {"a": 1}}, "preferred_name"),
    ],
)
def test_update_refuses_values_of_the_wrong_type(world, api, body, field):
    response = signed_in(api, world.users["admin"]).patch(
        f"/api/v1/members/{world.member_record.pk}/", body, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_facilitator_sees_a_record_once_its_member_is_referred_to_their_group(world, api):
    group = GroupFactory(clinic=world.clinic, lead_facilitator=world.users["other_facilitator"])
    record = MemberFactory(clinic=world.clinic)
    EnrolmentFactory(group=group, member=record)

    response = signed_in(api, world.users["other_facilitator"]).get(f"/api/v1/members/{record.pk}/")

    assert response.status_code == 200


def test_create_runs_nine_queries(world, api, django_assert_num_queries):
    signed_in(api, world.users["facilitator"])

    # session, user, staff clinics, savepoint, insert, audit (chain head lock, insert,
    # head update), release
    with django_assert_num_queries(9):
        api.post(
            "/api/v1/members/", {"preferred_name": "Eli", "legal_name": "Eli G"}, format="json"
        )


def test_update_runs_nine_queries(world, api, django_assert_num_queries):
    signed_in(api, world.users["facilitator"])

    # session, user, record, savepoint, update, audit (chain head lock, insert, head
    # update), release
    with django_assert_num_queries(9):
        api.patch(f"/api/v1/members/{world.member_record.pk}/", {"phone": "1"}, format="json")
