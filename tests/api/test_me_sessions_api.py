"""/api/v1/me/sessions/: the caller's own sessions still to come, the first thing a phone
client asks for."""

import datetime as dt

import pytest
from django.utils import timezone

from members.enums import Role
from members.models import ClinicRole
from sessions.enums import EnrolmentStatus, SessionStatus
from sessions.models import GroupSession, SessionFacilitator
from tests.api.world import signed_in
from tests.factories.sessions import EnrolmentFactory, GroupFactory, GroupSessionFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/me/sessions/"


def _ids(response):
    return [row["id"] for row in response.json()["results"]]


def test_a_member_gets_the_coming_sessions_of_their_group_in_the_member_view(world, api):
    response = signed_in(api, world.users["member"]).get(URL)

    assert response.status_code == 200
    body = response.json()
    assert (body["next"], body["previous"]) == (None, None)
    assert [(row["id"], row["view"]) for row in body["results"]] == [
        (world.future_session.pk, "member")
    ]


def test_a_session_under_way_is_still_to_come_a_cancelled_one_is_not(world, api):
    now = timezone.now().replace(microsecond=0)
    under_way = GroupSessionFactory(group=world.group, start=now - dt.timedelta(minutes=30))
    GroupSession.objects.filter(pk=world.future_session.pk).update(status=SessionStatus.CANCELLED)

    response = signed_in(api, world.users["member"]).get(URL)

    assert _ids(response) == [under_way.pk]


@pytest.mark.parametrize(
    "status", [EnrolmentStatus.WAITLISTED, EnrolmentStatus.COMPLETED, EnrolmentStatus.WITHDRAWN]
)
def test_a_member_not_active_in_the_group_has_none_of_its_sessions(world, api, status):
    world.enrolment.status = status
    world.enrolment.save()

    response = signed_in(api, world.users["member"]).get(URL)

    assert _ids(response) == []


def test_a_facilitator_gets_their_groups_sessions_and_those_they_cover(world, api):
    lead = world.users["facilitator"]
    co_led = GroupFactory(clinic=world.clinic, lead_facilitator=world.users["other_facilitator"])
    co_led.co_facilitators.add(lead)
    co_led_session = GroupSessionFactory(
        group=co_led, start=world.future_session.start + dt.timedelta(days=2)
    )
    covered = world.other_group_session
    SessionFacilitator.objects.create(
        session=covered, facilitator=lead, start=covered.start, end=covered.end
    )

    response = signed_in(api, lead).get(URL)

    assert [(row["id"], row["view"], row["can_manage"]) for row in response.json()["results"]] == [
        (world.future_session.pk, "staff", True),
        (covered.pk, "staff", False),
        (co_led_session.pk, "staff", True),
    ]


def test_a_clinic_admins_oversight_is_not_their_own_sessions(world, api):
    response = signed_in(api, world.users["admin"]).get(URL)

    assert _ids(response) == []


def test_a_facilitator_who_lost_the_role_has_no_sessions_left(world, api):
    ClinicRole.objects.filter(user=world.users["facilitator"], role=Role.FACILITATOR).delete()

    response = signed_in(api, world.users["facilitator"]).get(URL)

    assert _ids(response) == []


@pytest.mark.parametrize("persona", ["other_member", "other_facilitator", "other_clinic_admin"])
def test_nobody_else_gets_this_groups_sessions(world, api, persona):
    response = signed_in(api, world.users[persona]).get(URL)

    assert world.future_session.pk not in _ids(response)


def _add_groups(world, count):
    for index in range(count):
        group = GroupFactory(clinic=world.clinic, lead_facilitator=world.users["facilitator"])
        EnrolmentFactory(group=group, member=world.member_record, status=EnrolmentStatus.ACTIVE)
        GroupSessionFactory(
            group=group,
            start=world.future_session.start + dt.timedelta(days=1 + index),
            room=None,
        )


def test_my_sessions_are_paged_by_cursor(world, api):
    _add_groups(world, 2)
    api = signed_in(api, world.users["member"])

    first = api.get(URL + "?page_size=2").json()
    second = api.get(first["next"]).json()

    assert len(first["results"]) == 2
    assert len(second["results"]) == 1
    assert not set(_ids_of(first)) & set(_ids_of(second))


def _ids_of(body):
    return [row["id"] for row in body["results"]]


@pytest.mark.parametrize("persona", ["facilitator", "member"])
@pytest.mark.parametrize("size", [1, 5])
def test_my_sessions_run_the_same_queries_at_any_page_size(
    world, api, django_assert_num_queries, persona, size
):
    _add_groups(world, 5)
    signed_in(api, world.users[persona])

    # session, user, the page, its facilitators
    with django_assert_num_queries(4):
        response = api.get(f"{URL}?page_size={size}")

    assert len(response.json()["results"]) == size
