"""/api/v1/enrolments/: referral, screening, seats and the waitlist, leaving.

The group's staff get the staff view; a member gets the member view of their own
enrolments (no screening, notes or staff fields) and 403 on every staff action.
"""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from members.enums import Role
from members.models import AuditEntry
from sessions.enums import EnrolmentPolicy, EnrolmentStatus, ScreeningOutcome, Stage
from sessions.models import Enrolment, Screening
from tests.api.world import signed_in
from tests.factories.members import ClinicRoleFactory, MemberFactory
from tests.factories.sessions import EnrolmentFactory, GroupFactory

pytestmark = pytest.mark.django_db

AREAS = ("acute_illness", "anxiety_or_trauma", "disruptive_behaviour", "individual_needs")


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _date(value):
    return value.isoformat() if value is not None else None


def _staff(enrolment, **overrides):
    enrolment.refresh_from_db()
    latest = enrolment.screenings.order_by("-screened_at", "-pk").first()
    body = {
        "id": enrolment.pk,
        "view": "staff",
        "group": {"id": enrolment.group.pk, "name": enrolment.group.name},
        "member": {
            "id": enrolment.member.pk,
            "preferred_name": enrolment.member.preferred_name,
            "legal_name": enrolment.member.legal_name,
        },
        "status": enrolment.status,
        "referred_at": _iso(enrolment.referred_at),
        "waitlisted_at": _iso(enrolment.waitlisted_at),
        "joined_on": _date(enrolment.joined_on),
        "left_on": _date(enrolment.left_on),
        "left_at": _iso(enrolment.left_at),
        "leave_note": enrolment.leave_note,
        "waitlist_position": None,
        "latest_screening": (
            {"outcome": latest.outcome, "screened_at": _iso(latest.screened_at)} if latest else None
        ),
        "screening_override_reason": enrolment.screening_override_reason,
        "screening_override_by": enrolment.screening_override_by_id,
        "created_at": _iso(enrolment.created_at),
        "updated_at": _iso(enrolment.updated_at),
    }
    body.update(overrides)
    return body


def _member_view(enrolment, **overrides):
    enrolment.refresh_from_db()
    body = {
        "id": enrolment.pk,
        "view": "member",
        "group": {"id": enrolment.group.pk, "name": enrolment.group.name},
        "status": enrolment.status,
        "joined_on": _date(enrolment.joined_on),
        "left_on": _date(enrolment.left_on),
        "waitlist_position": None,
    }
    body.update(overrides)
    return body


def _screen(enrolment, by, outcome=ScreeningOutcome.SUITABLE, **fields):
    return Screening.objects.create(
        enrolment=enrolment,
        outcome=outcome,
        screened_by=by,
        **dict.fromkeys(AREAS, "no_concern"),
        **fields,
    )


def _referral(world, status=EnrolmentStatus.SCREENING, group=None, **kwargs):
    return EnrolmentFactory(group=group or world.group, status=status, **kwargs)


def _findings(**overrides):
    findings = {area: {"finding": "no_concern", "note": ""} for area in AREAS}
    findings.update(overrides)
    return findings


# --- list ------------------------------------------------------------------------------------


def test_admin_lists_every_enrolment_of_the_clinic_in_the_staff_view(world, api):
    response = signed_in(api, world.users["admin"]).get("/api/v1/enrolments/")

    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [_staff(world.enrolment), _staff(world.other_enrolment)],
    }


def test_facilitator_lists_the_enrolments_of_their_groups_only(world, api):
    response = signed_in(api, world.users["facilitator"]).get("/api/v1/enrolments/")

    assert [row["id"] for row in response.json()["results"]] == [world.enrolment.pk]


def test_member_lists_their_own_enrolments_in_the_member_view(world, api):
    _screen(world.enrolment, world.users["facilitator"])
    world.enrolment.leave_note = "Private."
    world.enrolment.save()

    response = signed_in(api, world.users["member"]).get("/api/v1/enrolments/")

    assert response.json()["results"] == [_member_view(world.enrolment)]


def test_list_filters_by_group_member_and_status(world, api):
    waiting = _referral(world, status=EnrolmentStatus.REFERRED)
    signed_in(api, world.users["admin"])

    by_group = api.get("/api/v1/enrolments/", {"group": world.group.pk})
    by_member = api.get("/api/v1/enrolments/", {"member": world.other_member_record.pk})
    by_status = api.get("/api/v1/enrolments/", {"status": "referred"})

    assert [
        [row["id"] for row in r.json()["results"]] for r in (by_group, by_member, by_status)
    ] == [
        [world.enrolment.pk, waiting.pk],
        [world.other_enrolment.pk],
        [waiting.pk],
    ]


def test_list_refuses_an_unknown_status(world, api):
    response = signed_in(api, world.users["admin"]).get("/api/v1/enrolments/", {"status": "gone"})

    assert response.status_code == 400
    assert response.json() == {"status": ['"gone" is not a valid choice.']}


@pytest.mark.parametrize("persona", ["admin", "member"])
@pytest.mark.parametrize("size", [1, 5])
def test_list_runs_the_same_queries_at_any_page_size(
    world, api, django_assert_num_queries, persona, size
):
    for _ in range(5):
        _screen(_referral(world), world.users["facilitator"])
        group = GroupFactory(clinic=world.clinic)
        EnrolmentFactory(group=group, member=world.member_record, status=EnrolmentStatus.ACTIVE)
    signed_in(api, world.users[persona])

    # session, user, count, page, audit entry of the enrolments shown (3)
    with django_assert_num_queries(7):
        response = api.get(f"/api/v1/enrolments/?page_size={size}")

    assert len(response.json()["results"]) == size


# --- detail ----------------------------------------------------------------------------------


def test_member_reads_their_own_enrolment_with_their_place_in_line(world, api):
    Enrolment.objects.filter(pk=world.enrolment.pk).update(
        status=EnrolmentStatus.WAITLISTED,
        joined_on=None,
        waitlisted_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
    )
    _referral(
        world,
        status=EnrolmentStatus.WAITLISTED,
        waitlisted_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )

    response = signed_in(api, world.users["member"]).get(
        f"/api/v1/enrolments/{world.enrolment.pk}/"
    )

    assert response.json() == _member_view(world.enrolment, waitlist_position=2)


def test_another_member_does_not_see_the_enrolment(world, api):
    response = signed_in(api, world.users["other_member"]).get(
        f"/api/v1/enrolments/{world.enrolment.pk}/"
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "No Enrolment matches the given query."}


def test_detail_runs_six_queries(world, api, django_assert_num_queries):
    signed_in(api, world.users["facilitator"])

    # session, user, enrolment, audit entry of the read (chain head lock, insert, head update)
    with django_assert_num_queries(6):
        response = api.get(f"/api/v1/enrolments/{world.enrolment.pk}/")

    assert response.json() == _staff(world.enrolment)


# --- refer -----------------------------------------------------------------------------------


def _new_client(world, **kwargs):
    return MemberFactory(clinic=world.clinic, created_by=world.users["facilitator"], **kwargs)


def test_facilitator_refers_a_client_to_their_group(world, api):
    client = _new_client(world)

    response = signed_in(api, world.users["facilitator"]).post(
        "/api/v1/enrolments/", {"group": world.group.pk, "member": client.pk}, format="json"
    )

    assert response.status_code == 201
    enrolment = Enrolment.objects.get(member=client)
    assert response.json() == _staff(enrolment, status="referred")
    assert AuditEntry.objects.filter(
        action="sessions.enrolment.referred", object_id=str(enrolment.pk)
    ).exists()


def test_refer_ignores_a_status_and_dates_in_the_body(world, api):
    client = _new_client(world)

    signed_in(api, world.users["admin"]).post(
        "/api/v1/enrolments/",
        {
            "group": world.group.pk,
            "member": client.pk,
            "status": "active",
            "joined_on": "2026-01-01",
            "screening_override_reason": "x",
        },
        format="json",
    )

    enrolment = Enrolment.objects.get(member=client)
    assert (enrolment.status, enrolment.joined_on, enrolment.screening_override_reason) == (
        EnrolmentStatus.REFERRED,
        None,
        "",
    )


def test_refer_of_a_member_with_an_open_enrolment_is_a_conflict(world, api):
    response = signed_in(api, world.users["admin"]).post(
        "/api/v1/enrolments/",
        {"group": world.group.pk, "member": world.member_record.pk},
        format="json",
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "This member already has an open enrolment in this group.",
        "code": "enrolment_refused",
        "conflict_id": world.enrolment.pk,
    }


def test_refer_of_an_unknown_member_id_is_invalid(world, api):
    response = signed_in(api, world.users["admin"]).post(
        "/api/v1/enrolments/", {"group": world.group.pk, "member": 999999}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"member": ['Invalid pk "999999" - object does not exist.']}


def test_refer_of_a_member_of_another_clinic_is_invalid_as_if_unknown(world, api):
    stranger = MemberFactory(clinic=world.other_clinic)

    response = signed_in(api, world.users["admin"]).post(
        "/api/v1/enrolments/", {"group": world.group.pk, "member": stranger.pk}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"member": [f'Invalid pk "{stranger.pk}" - object does not exist.']}


def test_refer_across_two_clinics_one_administers_is_refused(world, api):
    admin = world.users["admin"]
    ClinicRoleFactory(user=admin, clinic=world.other_clinic, role=Role.ADMIN)
    stranger = MemberFactory(clinic=world.other_clinic)

    response = signed_in(api, admin).post(
        "/api/v1/enrolments/", {"group": world.group.pk, "member": stranger.pk}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"member": ["This member is not a client of the group's clinic."]}


def test_refer_to_a_group_the_facilitator_does_not_run_is_invalid(world, api):
    client = _new_client(world)

    response = signed_in(api, world.users["facilitator"]).post(
        "/api/v1/enrolments/",
        {"group": world.other_group.pk, "member": client.pk},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "group": [f'Invalid pk "{world.other_group.pk}" - object does not exist.']
    }


def test_refer_to_a_group_the_caller_attends_as_a_member_is_forbidden(world, api):
    # A member of this clinic who is a facilitator elsewhere sees the group, but does not run it.
    ClinicRoleFactory(user=world.users["member"], clinic=world.other_clinic, role=Role.FACILITATOR)

    response = signed_in(api, world.users["member"]).post(
        "/api/v1/enrolments/",
        {"group": world.group.pk, "member": world.other_member_record.pk},
        format="json",
    )

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Only the group's facilitators and a clinic admin may refer."
    }


@pytest.mark.parametrize(
    "body",
    [{}, {"group": "x", "member": []}, {"group": None, "member": None}, []],
)
def test_refer_refuses_malformed_bodies(world, api, body):
    response = signed_in(api, world.users["admin"]).post("/api/v1/enrolments/", body, format="json")

    assert response.status_code == 400


def test_refer_to_an_adjourned_group_is_a_conflict(world, api):
    group = GroupFactory(
        clinic=world.clinic, lead_facilitator=world.users["facilitator"], stage=Stage.ADJOURNING
    )

    response = signed_in(api, world.users["facilitator"]).post(
        "/api/v1/enrolments/",
        {"group": group.pk, "member": _new_client(world).pk},
        format="json",
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "An adjourned group cannot take new members.",
        "code": "group_closed",
        "conflict_id": None,
    }


# --- screening -------------------------------------------------------------------------------


def test_facilitator_records_a_screening(world, api):
    enrolment = _referral(world, status=EnrolmentStatus.REFERRED)

    response = signed_in(api, world.users["facilitator"]).post(
        f"/api/v1/enrolments/{enrolment.pk}/screening/",
        {
            "findings": _findings(
                anxiety_or_trauma={"finding": "manageable", "note": "Startles at loud noise."}
            ),
            "outcome": "suitable_with_support",
            "support_plan": "Seat near the door.",
        },
        format="json",
    )

    assert response.status_code == 201
    screening = Screening.objects.get(enrolment=enrolment)
    assert response.json() == {
        "id": screening.pk,
        "enrolment": enrolment.pk,
        "findings": _findings(
            anxiety_or_trauma={"finding": "manageable", "note": "Startles at loud noise."}
        ),
        "outcome": "suitable_with_support",
        "support_plan": "Seat near the door.",
        "screened_by": {
            "id": world.users["facilitator"].pk,
            "full_name": world.users["facilitator"].full_name,
        },
        "screened_at": _iso(screening.screened_at),
    }
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.SCREENING


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"findings": _findings(mood={"finding": "no_concern"}), "outcome": "suitable"},
            {
                "findings": {
                    "mood": [
                        "Unknown screening area; the areas are: acute_illness, "
                        "anxiety_or_trauma, disruptive_behaviour, individual_needs."
                    ]
                }
            },
        ),
        (
            {"findings": _findings(), "outcome": "fine"},
            {"outcome": ['"fine" is not a valid choice.']},
        ),
        (
            {"findings": _findings(acute_illness={"finding": "awful"}), "outcome": "suitable"},
            {"findings": {"acute_illness": {"finding": ['"awful" is not a valid choice.']}}},
        ),
        (
            {
                "findings": {area: {"finding": "no_concern"} for area in AREAS[:3]},
                "outcome": "suitable",
            },
            {"findings": {"individual_needs": ["This field is required."]}},
        ),
        (
            {"findings": _findings(), "outcome": "suitable_with_support"},
            {
                "support_plan": [
                    "Describe the support plan for a member found suitable with support."
                ]
            },
        ),
        (
            {"findings": "all fine", "outcome": "suitable"},
            {
                "findings": {
                    "non_field_errors": ["Invalid data. Expected a dictionary, but got str."]
                }
            },
        ),
    ],
    ids=["unknown-area", "bad-outcome", "bad-finding", "missing-area", "no-plan", "not-a-dict"],
)
def test_screening_refuses_invalid_bodies(world, api, body, errors):
    response = signed_in(api, world.users["facilitator"]).post(
        f"/api/v1/enrolments/{world.enrolment.pk}/screening/", body, format="json"
    )

    assert response.status_code == 400
    assert response.json() == errors
    assert not Screening.objects.exists()


def test_screening_of_a_closed_enrolment_is_a_conflict(world, api):
    enrolment = _referral(world, status=EnrolmentStatus.DECLINED)

    response = signed_in(api, world.users["facilitator"]).post(
        f"/api/v1/enrolments/{enrolment.pk}/screening/",
        {"findings": _findings(), "outcome": "suitable"},
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["code"] == "enrolment_refused"


def test_staff_read_the_latest_screening(world, api):
    facilitator = world.users["facilitator"]
    _screen(world.enrolment, facilitator, outcome=ScreeningOutcome.NOT_SUITABLE)
    latest = _screen(world.enrolment, facilitator, support_plan="")

    response = signed_in(api, world.users["admin"]).get(
        f"/api/v1/enrolments/{world.enrolment.pk}/screening/"
    )

    assert response.json()["id"] == latest.pk


def test_screening_read_without_a_screening_is_not_found(world, api):
    response = signed_in(api, world.users["admin"]).get(
        f"/api/v1/enrolments/{world.enrolment.pk}/screening/"
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "No screening is recorded for this enrolment yet."}


def test_member_may_not_read_their_own_screening(world, api):
    _screen(world.enrolment, world.users["facilitator"], acute_illness_note="Clinical.")

    response = signed_in(api, world.users["member"]).get(
        f"/api/v1/enrolments/{world.enrolment.pk}/screening/"
    )

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Only the group's facilitators and a clinic admin may do this."
    }


def test_screening_read_runs_seven_queries(world, api, django_assert_num_queries):
    _screen(world.enrolment, world.users["facilitator"])
    signed_in(api, world.users["facilitator"])

    # session, user, enrolment, screening, audit entry of the read (chain head lock,
    # insert, head update)
    with django_assert_num_queries(7):
        api.get(f"/api/v1/enrolments/{world.enrolment.pk}/screening/")


# --- activate and waitlist --------------------------------------------------------------------


def test_activate_gives_a_screened_member_a_seat(world, api):
    enrolment = _referral(world)
    _screen(enrolment, world.users["facilitator"])

    response = signed_in(api, world.users["facilitator"]).post(
        f"/api/v1/enrolments/{enrolment.pk}/activate/", {}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == _staff(enrolment, status="active")


def test_activate_in_a_full_group_puts_the_member_in_line(world, api):
    world.group.min_size = world.group.max_size = 1
    world.group.save()
    enrolment = _referral(world)
    _screen(enrolment, world.users["facilitator"])

    response = signed_in(api, world.users["facilitator"]).post(
        f"/api/v1/enrolments/{enrolment.pk}/activate/", {}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == _staff(enrolment, status="waitlisted", waitlist_position=1)


def test_activate_without_a_screening_is_a_conflict(world, api):
    enrolment = _referral(world, status=EnrolmentStatus.REFERRED)

    response = signed_in(api, world.users["facilitator"]).post(
        f"/api/v1/enrolments/{enrolment.pk}/activate/", {}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "This member has no screening yet; record a screening before they join.",
        "code": "screening_required",
        "conflict_id": None,
    }


def test_facilitator_may_not_override_a_not_suitable_screening(world, api):
    enrolment = _referral(world)
    _screen(enrolment, world.users["facilitator"], outcome=ScreeningOutcome.NOT_SUITABLE)

    response = signed_in(api, world.users["facilitator"]).post(
        f"/api/v1/enrolments/{enrolment.pk}/activate/",
        {"override_reason": "I think it is fine."},
        format="json",
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "Only a clinic admin may override the screening.",
        "code": "screening_required",
        "conflict_id": None,
    }


def test_admin_overrides_a_not_suitable_screening_with_a_reason(world, api):
    enrolment = _referral(world)
    _screen(enrolment, world.users["facilitator"], outcome=ScreeningOutcome.NOT_SUITABLE)

    response = signed_in(api, world.users["admin"]).post(
        f"/api/v1/enrolments/{enrolment.pk}/activate/",
        {"override_reason": "Reviewed with the referrer."},
        format="json",
    )

    assert response.json() == _staff(
        enrolment,
        status="active",
        screening_override_reason="Reviewed with the referrer.",
        screening_override_by=world.users["admin"].pk,
    )


def test_activate_in_a_closed_group_past_forming_is_a_conflict(world, api):
    group = GroupFactory(
        clinic=world.clinic,
        lead_facilitator=world.users["facilitator"],
        enrolment_policy=EnrolmentPolicy.CLOSED,
        stage=Stage.NORMING,
    )
    enrolment = _referral(world, group=group)
    _screen(enrolment, world.users["facilitator"])

    response = signed_in(api, world.users["facilitator"]).post(
        f"/api/v1/enrolments/{enrolment.pk}/activate/", {}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "This is a closed group: it takes new members only while forming "
        "(it is now norming).",
        "code": "group_closed",
        "conflict_id": None,
    }


def test_activate_refuses_a_reason_that_is_not_text(world, api):
    response = signed_in(api, world.users["admin"]).post(
        f"/api/v1/enrolments/{world.enrolment.pk}/activate/",
        {"override_reason": {"a": 1}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"override_reason": ["Not a valid string."]}


def test_member_may_not_activate_their_own_enrolment(world, api):
    response = signed_in(api, world.users["member"]).post(
        f"/api/v1/enrolments/{world.enrolment.pk}/activate/", {}, format="json"
    )

    assert response.status_code == 403


def test_waitlist_puts_a_screened_member_in_line(world, api):
    enrolment = _referral(world)
    _screen(enrolment, world.users["facilitator"])
    world.group.min_size = world.group.max_size = 1
    world.group.save()

    response = signed_in(api, world.users["facilitator"]).post(
        f"/api/v1/enrolments/{enrolment.pk}/waitlist/"
    )

    assert response.status_code == 200
    assert response.json() == _staff(enrolment, status="waitlisted", waitlist_position=1)


# --- leaving ---------------------------------------------------------------------------------


def test_withdraw_keeps_the_note_for_staff_and_hides_it_from_the_member(world, api):
    response = signed_in(api, world.users["facilitator"]).post(
        f"/api/v1/enrolments/{world.enrolment.pk}/withdraw/",
        {"note": "Moved to another city."},
        format="json",
    )
    member_view = signed_in(APIClient(), world.users["member"]).get(
        f"/api/v1/enrolments/{world.enrolment.pk}/"
    )

    assert response.status_code == 200
    assert response.json() == _staff(
        world.enrolment, status="withdrawn", leave_note="Moved to another city."
    )
    assert member_view.json() == _member_view(world.enrolment, status="withdrawn")


def test_complete_ends_an_active_enrolment(world, api):
    response = signed_in(api, world.users["admin"]).post(
        f"/api/v1/enrolments/{world.enrolment.pk}/complete/", {}, format="json"
    )

    assert response.json() == _staff(world.enrolment, status="completed")


def test_complete_of_a_referral_is_a_conflict(world, api):
    enrolment = _referral(world, status=EnrolmentStatus.REFERRED)

    response = signed_in(api, world.users["admin"]).post(
        f"/api/v1/enrolments/{enrolment.pk}/complete/", {}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "This enrolment is referred; it cannot be marked completed.",
        "code": "enrolment_refused",
        "conflict_id": None,
    }


def test_discharge_ends_the_place(world, api):
    response = signed_in(api, world.users["facilitator"]).post(
        f"/api/v1/enrolments/{world.enrolment.pk}/discharge/",
        {"note": "Needs more intensive care."},
        format="json",
    )

    assert response.json() == _staff(
        world.enrolment, status="discharged", leave_note="Needs more intensive care."
    )


def test_decline_closes_a_referral(world, api):
    enrolment = _referral(world, status=EnrolmentStatus.REFERRED)

    response = signed_in(api, world.users["facilitator"]).post(
        f"/api/v1/enrolments/{enrolment.pk}/decline/"
    )

    assert response.json() == _staff(enrolment, status="declined")


def test_leave_ignores_a_status_and_dates_in_the_body(world, api):
    signed_in(api, world.users["admin"]).post(
        f"/api/v1/enrolments/{world.enrolment.pk}/withdraw/",
        {"status": "completed", "left_on": "2020-01-01", "member": 1},
        format="json",
    )

    world.enrolment.refresh_from_db()
    assert world.enrolment.status == EnrolmentStatus.WITHDRAWN
    assert world.enrolment.left_on != dt.date(2020, 1, 1)
