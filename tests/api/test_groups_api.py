"""/api/v1/groups/: the list, creating, reading and changing a group, its stage history."""

import datetime as dt

import pytest

from members.enums import Role
from members.models import AuditEntry
from sessions.enums import STAGE_GUIDANCE, EnrolmentStatus, GroupStatus, Stage
from sessions.models import Group, Modality, Schedule, StageTransition
from tests.api.matrix.groups import CASES as GROUP_CASES
from tests.api.world import signed_in
from tests.factories.members import ClinicFactory, ClinicRoleFactory
from tests.factories.sessions import EnrolmentFactory, GroupFactory, ModalityFactory, RoomFactory

pytestmark = pytest.mark.django_db

STAGES = [
    {"stage": stage.value, "label": stage.label, "guidance": STAGE_GUIDANCE[stage]}
    for stage in Stage
]


def _staff_view(group, **overrides):
    body = {
        "id": group.pk,
        "view": "staff",
        "clinic": group.clinic_id,
        "name": group.name,
        "description": group.description,
        "modality": {
            "id": group.modality.pk,
            "clinic": group.modality.clinic_id,
            "slug": group.modality.slug,
            "name": group.modality.name,
        },
        "lead_facilitator": {
            "id": group.lead_facilitator.pk,
            "full_name": group.lead_facilitator.full_name,
        },
        "co_facilitators": [],
        "min_size": group.min_size,
        "max_size": group.max_size,
        "enrolment_policy": group.enrolment_policy,
        "room": {"id": group.room.pk, "name": group.room.name} if group.room else None,
        "video_link": group.video_link or None,
        "billing_code": group.billing_code,
        "planned_start": group.planned_start.isoformat(),
        "planned_end": group.planned_end.isoformat() if group.planned_end else None,
        "late_cancel_notice_hours": group.late_cancel_notice_hours,
        "status": group.status,
        "stage": group.stage,
        "stage_guidance": STAGE_GUIDANCE[Stage(group.stage)],
        "stages": STAGES,
        "final_session_date": None,
        "schedule": None,
        "created_at": group.created_at.isoformat().replace("+00:00", "Z"),
    }
    body.update(overrides)
    return body


# --- list ------------------------------------------------------------------------------------


def test_list_gives_the_facilitator_the_staff_view_of_their_groups_only(world, api):
    response = signed_in(api, world.users["facilitator"]).get("/api/v1/groups/")

    assert response.status_code == 200
    assert response.json() == {
        "count": 1,
        "next": None,
        "previous": None,
        "results": [_staff_view(world.group)],
    }


def test_list_gives_a_member_the_member_safe_view(world, api):
    Schedule.objects.create(
        group=world.group,
        rrule="FREQ=WEEKLY;INTERVAL=1;BYDAY=TU,TH;COUNT=12",
        first_date=dt.date(2026, 9, 1),
        start_time=dt.time(18, 0),
        duration_minutes=90,
    )

    response = signed_in(api, world.users["member"]).get("/api/v1/groups/")

    assert response.json()["results"] == [
        {
            "id": world.group.pk,
            "view": "member",
            "name": "Tuesday Group",
            "stage": "forming",
            "schedule": {
                "first_date": "2026-09-01",
                "start_time": "18:00",
                "duration_minutes": 90,
                "timezone": "Europe/London",
                "summary": "Every week on Tuesday, Thursday, 18:00 to 19:30 (Europe/London)",
            },
            "room": "Room 1",
            "video_link": None,
            "facilitators": [{"full_name": world.users["facilitator"].full_name}],
        }
    ]


def test_list_gives_the_admin_every_group_of_the_clinic(world, api):
    GroupFactory(clinic=world.other_clinic)

    response = signed_in(api, world.users["admin"]).get("/api/v1/groups/")

    assert [group["name"] for group in response.json()["results"]] == [
        "Thursday Group",
        "Tuesday Group",
    ]


def test_list_shows_another_clinics_admin_none_of_this_clinics_groups(world, api):
    response = signed_in(api, world.users["other_clinic_admin"]).get("/api/v1/groups/")

    assert response.json()["results"] == []


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("stage=storming", ["Thursday Group"]),
        ("status=archived", []),
        ("status=active", ["Thursday Group", "Tuesday Group"]),
    ],
)
def test_list_filters_by_stage_and_status(world, api, query, names):
    Group.objects.filter(pk=world.other_group.pk).update(stage=Stage.STORMING)

    response = signed_in(api, world.users["admin"]).get(f"/api/v1/groups/?{query}")

    assert [group["name"] for group in response.json()["results"]] == names


def test_list_filters_by_modality(world, api):
    cbt = Modality.objects.get(slug="cbt")
    Group.objects.filter(pk=world.group.pk).update(modality=cbt)

    response = signed_in(api, world.users["admin"]).get(f"/api/v1/groups/?modality={cbt.pk}")

    assert [group["name"] for group in response.json()["results"]] == ["Tuesday Group"]


def test_list_refuses_an_unknown_stage_with_a_field_error(world, api):
    response = signed_in(api, world.users["admin"]).get("/api/v1/groups/?stage=dancing")

    assert response.status_code == 400
    assert response.json() == {"stage": ['"dancing" is not a valid choice.']}


def _add_groups(world, count):
    for _ in range(count):
        group = GroupFactory(clinic=world.clinic, room=RoomFactory(clinic=world.clinic))
        group.co_facilitators.add(world.users["other_facilitator"])
        ClinicRoleFactory(user=group.lead_facilitator, clinic=world.clinic, role=Role.ADMIN)
        Schedule.objects.create(
            group=group,
            rrule="FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=4",
            first_date=dt.date(2026, 9, 1),
            start_time=dt.time(18, 0),
            duration_minutes=90,
        )
        EnrolmentFactory(group=group, member=world.member_record, status=EnrolmentStatus.ACTIVE)


@pytest.mark.parametrize("persona", ["admin", "member"])
@pytest.mark.parametrize("size", [1, 5])
def test_list_runs_the_same_queries_at_any_page_size(
    world, api, django_assert_num_queries, persona, size
):
    _add_groups(world, 5)
    signed_in(api, world.users[persona])

    # session, user, count, page, co-facilitators
    with django_assert_num_queries(5):
        response = api.get(f"/api/v1/groups/?page_size={size}")

    assert len(response.json()["results"]) == size


# --- detail ----------------------------------------------------------------------------------


def test_detail_of_a_group_in_another_clinic_is_not_found(world, api):
    stranger = GroupFactory(clinic=world.other_clinic)

    response = signed_in(api, world.users["admin"]).get(f"/api/v1/groups/{stranger.pk}/")

    assert response.status_code == 404
    assert response.json() == {"detail": "No Group matches the given query."}


def test_detail_of_a_group_a_member_left_before_joining_is_not_found(world, api):
    world.enrolment.status = EnrolmentStatus.WITHDRAWN
    world.enrolment.save()

    response = signed_in(api, world.users["member"]).get(f"/api/v1/groups/{world.group.pk}/")

    assert response.status_code == 404


def test_detail_shows_the_schedule_and_co_facilitators_to_staff(world, api):
    world.group.co_facilitators.add(world.users["other_facilitator"])
    Schedule.objects.create(
        group=world.group,
        rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=WE;UNTIL=20261216T235959",
        first_date=dt.date(2026, 9, 2),
        start_time=dt.time(9, 30),
        duration_minutes=60,
    )

    response = signed_in(api, world.users["admin"]).get(f"/api/v1/groups/{world.group.pk}/")

    body = response.json()
    assert body["co_facilitators"] == [
        {
            "id": world.users["other_facilitator"].pk,
            "full_name": world.users["other_facilitator"].full_name,
        }
    ]
    assert {key: value for key, value in body["schedule"].items() if key != "updated_at"} == {
        "rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE;UNTIL=20261216T235959",
        "first_date": "2026-09-02",
        "start_time": "09:30",
        "duration_minutes": 60,
        "timezone": "Europe/London",
        "summary": "Every 2 weeks on Wednesday, 09:30 to 10:30 (Europe/London)",
    }


def test_detail_runs_at_most_four_queries(world, api, django_assert_max_num_queries):
    signed_in(api, world.users["facilitator"])

    with django_assert_max_num_queries(4):
        api.get(f"/api/v1/groups/{world.group.pk}/")


# --- create ----------------------------------------------------------------------------------


def _create_body(world, **overrides):
    body = {
        "name": "Wednesday Group",
        "modality": Modality.objects.get(slug="support").pk,
        "planned_start": "2027-01-06",
    }
    body.update(overrides)
    return body


def test_a_facilitator_creates_a_group_they_lead(world, api):
    response = signed_in(api, world.users["facilitator"]).post(
        "/api/v1/groups/", _create_body(world), format="json"
    )

    assert response.status_code == 201
    group = Group.objects.get(name="Wednesday Group")
    assert response.json() == _staff_view(group)
    assert (group.clinic, group.lead_facilitator, group.stage) == (
        world.clinic,
        world.users["facilitator"],
        Stage.FORMING,
    )
    assert AuditEntry.objects.filter(
        action="sessions.group.created", object_id=str(group.pk)
    ).exists()


def test_creating_ignores_stage_status_and_final_date_in_the_body(world, api):
    response = signed_in(api, world.users["facilitator"]).post(
        "/api/v1/groups/",
        _create_body(
            world,
            stage="performing",
            status="archived",
            final_session_date="2027-02-01",
            billing_code="90847",
        ),
        format="json",
    )

    group = Group.objects.get(pk=response.json()["id"])
    assert (group.stage, group.status, group.final_session_date, group.billing_code) == (
        Stage.FORMING,
        GroupStatus.ACTIVE,
        None,
        "90847",
    )


def test_an_admin_who_does_not_facilitate_must_name_the_lead(world, api):
    response = signed_in(api, world.users["admin"]).post(
        "/api/v1/groups/", _create_body(world), format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"lead_facilitator": ["Say who leads the group."]}


def test_an_admin_creates_a_group_led_by_a_facilitator(world, api):
    response = signed_in(api, world.users["admin"]).post(
        "/api/v1/groups/",
        _create_body(world, lead_facilitator=world.users["other_facilitator"].pk),
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["lead_facilitator"]["id"] == world.users["other_facilitator"].pk


def test_a_facilitator_cannot_create_a_group_they_do_not_run(world, api):
    response = signed_in(api, world.users["facilitator"]).post(
        "/api/v1/groups/",
        _create_body(world, lead_facilitator=world.users["other_facilitator"].pk),
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "lead_facilitator": ["A facilitator creates groups they lead or co-facilitate."]
    }


def test_staff_of_two_clinics_must_say_which_clinic(world, api):
    ClinicRoleFactory(user=world.users["facilitator"], clinic=world.other_clinic)

    response = signed_in(api, world.users["facilitator"]).post(
        "/api/v1/groups/", _create_body(world), format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"clinic": ["You work in more than one clinic: say which one."]}


def test_staff_of_two_clinics_create_in_the_clinic_they_name(world, api):
    ClinicRoleFactory(user=world.users["facilitator"], clinic=world.other_clinic)

    response = signed_in(api, world.users["facilitator"]).post(
        "/api/v1/groups/", _create_body(world, clinic=world.other_clinic.pk), format="json"
    )

    assert response.status_code == 201
    assert response.json()["clinic"] == world.other_clinic.pk


@pytest.mark.parametrize("clinic", ["other", "missing"])
def test_creating_in_a_clinic_where_the_caller_is_not_staff_is_forbidden(world, api, clinic):
    clinic_id = world.other_clinic.pk if clinic == "other" else 999_999

    response = signed_in(api, world.users["facilitator"]).post(
        "/api/v1/groups/", _create_body(world, clinic=clinic_id), format="json"
    )

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Only a clinic's admin or facilitators may create its groups."
    }


def test_a_member_cannot_create_a_group(world, api):
    response = signed_in(api, world.users["member"]).post(
        "/api/v1/groups/", _create_body(world), format="json"
    )

    assert response.status_code == 403


def test_ids_from_another_clinic_read_as_missing(world, api):
    other_room = RoomFactory(clinic=world.other_clinic)
    other_modality = ModalityFactory(clinic=world.other_clinic)
    outsider = ClinicRoleFactory(clinic=world.other_clinic, role=Role.FACILITATOR).user

    response = signed_in(api, world.users["facilitator"]).post(
        "/api/v1/groups/",
        _create_body(
            world,
            room=other_room.pk,
            modality=other_modality.pk,
            co_facilitators=[outsider.pk],
        ),
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "modality": [f'Invalid pk "{other_modality.pk}" - object does not exist.'],
        "co_facilitators": [f'Invalid pk "{outsider.pk}" - object does not exist.'],
        "room": [f'Invalid pk "{other_room.pk}" - object does not exist.'],
    }


def test_a_group_with_a_room_and_a_video_link_is_refused_per_field(world, api):
    response = signed_in(api, world.users["facilitator"]).post(
        "/api/v1/groups/",
        _create_body(world, room=world.room.pk, video_link="https://meet.example.org/x"),
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "video_link": ["A group meets in a room or by video link, not both."]
    }


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"min_size": 6, "max_size": 4},
            {"max_size": ["The maximum size cannot be below the minimum size."]},
        ),
        (
            {"planned_end": "2026-12-01"},
            {"planned_end": ["The planned end cannot be before the planned start."]},
        ),
        (
            {"video_link": "http://meet.example.org/x"},
            {"video_link": ["Enter a video link that starts with https://."]},
        ),
        ({"billing_code": "9085"}, {"billing_code": ["A billing code is five digits or letters."]}),
        ({"min_size": "many"}, {"min_size": ["A valid integer is required."]}),
        (
            {"planned_start": "soon"},
            {
                "planned_start": [
                    "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."
                ]
            },
        ),
        ({"name": "   "}, {"name": ["This field may not be blank."]}),
    ],
)
def test_create_refuses_invalid_fields_with_field_errors(world, api, overrides, expected):
    response = signed_in(api, world.users["facilitator"]).post(
        "/api/v1/groups/", _create_body(world, **overrides), format="json"
    )

    assert response.status_code == 400
    assert response.json() == expected


def test_create_refuses_a_body_that_is_not_an_object(world, api):
    response = signed_in(api, world.users["facilitator"]).post(
        "/api/v1/groups/", [1, 2], format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
    }


# --- update ----------------------------------------------------------------------------------


def test_patch_changes_the_group_and_writes_an_audit_entry(world, api):
    response = signed_in(api, world.users["facilitator"]).patch(
        f"/api/v1/groups/{world.group.pk}/",
        {
            "name": "Tuesday Evening Group",
            "max_size": 10,
            "enrolment_policy": "open",
            "room": None,
            "video_link": "https://meet.example.org/tuesday",
            "co_facilitators": [world.users["other_facilitator"].pk],
        },
        format="json",
    )

    assert response.status_code == 200
    world.group.refresh_from_db()
    assert response.json() == _staff_view(
        world.group,
        co_facilitators=[
            {
                "id": world.users["other_facilitator"].pk,
                "full_name": world.users["other_facilitator"].full_name,
            }
        ],
    )
    assert (world.group.name, world.group.max_size, world.group.room) == (
        "Tuesday Evening Group",
        10,
        None,
    )
    entry = AuditEntry.objects.get(action="sessions.group.updated")
    assert entry.data == {
        "fields": [
            "enrolment_policy",
            "max_size",
            "name",
            "room",
            "video_link",
            "co_facilitators",
        ]
    }


def test_patch_ignores_clinic_stage_status_final_date_and_lead(world, api):
    signed_in(api, world.users["admin"]).patch(
        f"/api/v1/groups/{world.group.pk}/",
        {
            "clinic": world.other_clinic.pk,
            "stage": "performing",
            "status": "archived",
            "final_session_date": "2027-01-01",
            "lead_facilitator": world.users["other_facilitator"].pk,
            "id": 12345,
        },
        format="json",
    )

    world.group.refresh_from_db()
    assert (
        world.group.pk,
        world.group.clinic,
        world.group.stage,
        world.group.status,
        world.group.final_session_date,
        world.group.lead_facilitator,
    ) == (
        world.group.pk,
        world.clinic,
        Stage.FORMING,
        GroupStatus.ACTIVE,
        None,
        world.users["facilitator"],
    )
    assert not AuditEntry.objects.filter(action="sessions.group.updated").exists()


def test_patch_refuses_a_maximum_below_the_seats_taken(world, api):
    response = signed_in(api, world.users["facilitator"]).patch(
        f"/api/v1/groups/{world.group.pk}/", {"min_size": 1, "max_size": 1}, format="json"
    )
    assert response.status_code == 200

    EnrolmentFactory(group=world.group, status=EnrolmentStatus.ACTIVE)
    response = api.patch(f"/api/v1/groups/{world.group.pk}/", {"max_size": 1}, format="json")
    assert response.status_code == 200  # unchanged: nothing to check

    Group.objects.filter(pk=world.group.pk).update(max_size=3)
    response = api.patch(f"/api/v1/groups/{world.group.pk}/", {"max_size": 1}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "The group already has 2 seats taken; the maximum cannot go below that "
        "(asked for 1).",
        "code": "group_refused",
        "conflict_id": None,
    }


def test_patch_refuses_an_archived_group(world, api):
    Group.objects.filter(pk=world.group.pk).update(status=GroupStatus.ARCHIVED)

    response = signed_in(api, world.users["facilitator"]).patch(
        f"/api/v1/groups/{world.group.pk}/", {"name": "Renamed"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "group_refused"


def test_patch_by_a_member_of_the_group_is_forbidden_and_says_nothing_of_it(world, api):
    response = signed_in(api, world.users["member"]).patch(
        f"/api/v1/groups/{world.group.pk}/", {"name": "Ours"}, format="json"
    )

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Only the group's facilitators and a clinic admin may do this."
    }


def test_patch_by_a_facilitator_of_another_group_is_not_found(world, api):
    response = signed_in(api, world.users["other_facilitator"]).patch(
        f"/api/v1/groups/{world.group.pk}/", {"name": "Mine"}, format="json"
    )

    assert response.status_code == 404


# --- stage -----------------------------------------------------------------------------------


def test_stage_history_lists_the_transitions_oldest_first(world, api):
    transition = StageTransition.objects.create(
        group=world.group,
        from_stage="",
        to_stage=Stage.FORMING,
        by=world.users["admin"],
        at=dt.datetime(2026, 9, 1, 9, 0, tzinfo=dt.UTC),
    )

    response = signed_in(api, world.users["facilitator"]).get(
        f"/api/v1/groups/{world.group.pk}/stage/"
    )

    assert response.json() == {
        "count": 1,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": transition.pk,
                "from_stage": None,
                "to_stage": "forming",
                "by": {"id": world.users["admin"].pk, "full_name": world.users["admin"].full_name},
                "at": "2026-09-01T09:00:00Z",
                "note": "",
                "guidance": STAGE_GUIDANCE[Stage.FORMING],
            }
        ],
    }


@pytest.mark.parametrize("size", [1, 5])
def test_stage_history_runs_the_same_queries_at_any_page_size(
    world, api, django_assert_num_queries, size
):
    for _ in range(5):
        StageTransition.objects.create(
            group=world.group, from_stage="", to_stage=Stage.FORMING, by=world.users["admin"]
        )
    signed_in(api, world.users["facilitator"])

    # session, user, group, co-facilitators, count, page
    with django_assert_num_queries(6):
        response = api.get(f"/api/v1/groups/{world.group.pk}/stage/?page_size={size}")

    assert len(response.json()["results"]) == size


def test_stage_change_records_the_transition(world, api):
    response = signed_in(api, world.users["facilitator"]).post(
        f"/api/v1/groups/{world.group.pk}/stage/",
        {"to": "storming", "note": "Conflict about lateness."},
        format="json",
    )

    assert response.status_code == 201
    transition = StageTransition.objects.get(group=world.group, to_stage=Stage.STORMING)
    assert response.json() == {
        "id": transition.pk,
        "from_stage": "forming",
        "to_stage": "storming",
        "by": {
            "id": world.users["facilitator"].pk,
            "full_name": world.users["facilitator"].full_name,
        },
        "at": transition.at.isoformat().replace("+00:00", "Z"),
        "note": "Conflict about lateness.",
        "guidance": STAGE_GUIDANCE[Stage.STORMING],
    }
    world.group.refresh_from_db()
    assert world.group.stage == Stage.STORMING


def test_moving_back_without_a_note_is_a_conflict_with_a_code(world, api):
    Group.objects.filter(pk=world.group.pk).update(stage=Stage.NORMING)

    response = signed_in(api, world.users["facilitator"]).post(
        f"/api/v1/groups/{world.group.pk}/stage/", {"to": "storming"}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "Moving back from norming to storming needs a note saying why.",
        "code": "stage_change_refused",
        "conflict_id": None,
    }


def test_adjourning_without_a_final_session_date_is_a_conflict(world, api):
    response = signed_in(api, world.users["facilitator"]).post(
        f"/api/v1/groups/{world.group.pk}/stage/", {"to": "adjourning"}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "Moving to adjourning needs the date of the group's final session.",
        "code": "stage_change_refused",
        "conflict_id": None,
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"to": "chaos"}, {"to": ['"chaos" is not a valid choice.']}),
        ({}, {"to": ["This field is required."]}),
        (
            {"to": "adjourning", "final_session_date": "next week"},
            {
                "final_session_date": [
                    "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."
                ]
            },
        ),
    ],
)
def test_stage_change_refuses_invalid_input(world, api, body, expected):
    response = signed_in(api, world.users["facilitator"]).post(
        f"/api/v1/groups/{world.group.pk}/stage/", body, format="json"
    )

    assert response.status_code == 400
    assert response.json() == expected


def test_a_member_may_not_change_their_groups_stage(world, api):
    response = signed_in(api, world.users["member"]).post(
        f"/api/v1/groups/{world.group.pk}/stage/", {"to": "storming"}, format="json"
    )

    assert response.status_code == 403
    world.group.refresh_from_db()
    assert world.group.stage == Stage.FORMING


def test_the_group_of_another_clinic_has_no_stage_for_its_admin(world, api):
    response = signed_in(api, world.users["other_clinic_admin"]).get(
        f"/api/v1/groups/{world.group.pk}/stage/"
    )

    assert response.status_code == 404


def test_another_clinic_is_unknown_to_staff_of_one(world, api):
    other = ClinicFactory()

    response = signed_in(api, world.users["admin"]).post(
        "/api/v1/groups/", _create_body(world, clinic=other.pk), format="json"
    )

    assert response.status_code == 403


READS = [case for case in GROUP_CASES if case.method == "get"]


@pytest.mark.parametrize("case", READS, ids=lambda case: case.id)
@pytest.mark.parametrize("persona", ["admin", "member"])
def test_every_read_of_the_area_runs_at_most_ten_queries(
    world, api, django_assert_max_num_queries, case, persona
):
    url = case.url(world)
    signed_in(api, world.users[persona])

    # The most: the roster shown to a member (their own enrolment first), whose audit entry
    # takes 3 (chain head lock, insert, head update).
    with django_assert_max_num_queries(10):
        api.get(url)
