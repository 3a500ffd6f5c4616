"""Rooms of the admin's clinic: list, add, edit."""

from __future__ import annotations

import pytest

from members.models import AuditEntry, ClinicRole
from sessions.models import Room
from tests.factories.sessions import RoomFactory
from tests.web.pages import assert_no_inline_code, assert_not_in, assert_strict_csp

pytestmark = pytest.mark.django_db

ROOMS = "/rooms/"
NEW = "/rooms/new/"

MATRIX = [
    ("admin", 200),
    ("facilitator", 403),
    ("other_facilitator", 403),
    ("member", 403),
    ("other_member", 403),
    ("other_clinic_admin", 200),
    ("anonymous", 302),
]


@pytest.mark.parametrize(("persona", "expected"), MATRIX)
def test_room_list_shows_the_admins_clinic_only(client_as, world, persona, expected):
    RoomFactory(clinic=world.other_clinic, name="Garden Room", capacity=6)

    response = client_as(persona).get(ROOMS)

    assert response.status_code == expected
    if persona == "anonymous":
        assert response["Location"].startswith("/accounts/login/")
    if expected != 200:
        return
    body = response.content.decode()
    assert_strict_csp(response)
    assert_no_inline_code(body)
    if persona == "admin":
        assert '<th scope="row">Room 1</th>' in body
        assert '<th scope="row">Room 2</th>' in body
        assert_not_in(body, "Garden Room")
    else:
        assert '<th scope="row">Garden Room</th>' in body
        assert '<td class="number">6</td>' in body
        assert_not_in(body, "Room 1", "Room 2")


@pytest.mark.parametrize("rows", [1, 5])
def test_room_list_queries_do_not_grow_with_rows(client_as, world, rows, django_assert_num_queries):
    for _ in range(rows):
        RoomFactory(clinic=world.clinic)
    client = client_as("admin")
    client.get(ROOMS)

    # session, user, viewer's clinics, page count, navigation roles, page (with clinic)
    with django_assert_num_queries(6):
        assert client.get(ROOMS).status_code == 200


@pytest.mark.parametrize(("persona", "expected"), MATRIX)
def test_add_room_page_is_for_admins(client_as, world, persona, expected):
    response = client_as(persona).get(NEW)

    assert response.status_code == expected
    if expected == 200:
        body = response.content.decode()
        assert_no_inline_code(body)
        assert 'name="capacity"' in body
        assert 'name="clinic"' not in body


def test_adding_a_room_stores_it_with_an_audit_entry(client_as, world):
    response = client_as("admin").post(NEW, {"name": " Quiet Room ", "capacity": "8"})

    assert (response.status_code, response["Location"]) == (302, ROOMS)
    room = Room.objects.get(name="Quiet Room")
    assert (room.clinic, room.capacity, room.is_active) == (world.clinic, 8, True)
    assert AuditEntry.objects.filter(
        action="sessions.room.created", object_id=str(room.pk)
    ).exists()


def test_a_name_in_use_is_shown_next_to_the_name(client_as, world):
    response = client_as("admin").post(NEW, {"name": "Room 1", "capacity": "8"})

    body = response.content.decode()
    assert response.status_code == 200
    assert (
        '<ul class="errorlist" id="id_name_error">'
        "<li>The clinic already has a room with this name.</li></ul>" in body
    )
    assert Room.objects.filter(clinic=world.clinic, name="Room 1").count() == 1


def test_a_capacity_below_one_is_shown_next_to_the_capacity(client_as, world):
    response = client_as("admin").post(NEW, {"name": "Tiny", "capacity": "0"})

    assert response.status_code == 200
    assert 'id="id_capacity_error"' in response.content.decode()
    assert not Room.objects.filter(name="Tiny").exists()


def test_another_clinic_may_use_the_same_name(client_as, world):
    response = client_as("other_clinic_admin").post(NEW, {"name": "Room 1", "capacity": "4"})

    assert response.status_code == 302
    assert Room.objects.get(clinic=world.other_clinic).name == "Room 1"


def test_an_admin_of_two_clinics_chooses_the_clinic(client_as, world):
    ClinicRole.objects.create(user=world.users["admin"], clinic=world.other_clinic, role="admin")
    client = client_as("admin")

    assert 'name="clinic"' in client.get(NEW).content.decode()
    client.post(NEW, {"clinic": world.other_clinic.pk, "name": "Annex", "capacity": "5"})

    assert Room.objects.get(name="Annex").clinic == world.other_clinic


EDIT_MATRIX = [
    ("admin", 200),
    ("facilitator", 403),
    ("other_facilitator", 403),
    ("member", 403),
    ("other_member", 403),
    ("other_clinic_admin", 404),
    ("anonymous", 302),
]


@pytest.mark.parametrize(("persona", "expected"), EDIT_MATRIX)
def test_edit_page_is_for_the_rooms_admins(client_as, world, persona, expected):
    response = client_as(persona).get(f"/rooms/{world.room.pk}/edit/")

    assert response.status_code == expected
    if expected == 200:
        body = response.content.decode()
        assert_no_inline_code(body)
        assert 'value="Room 1"' in body


def test_editing_a_room_changes_it(client_as, world):
    response = client_as("admin").post(
        f"/rooms/{world.room.pk}/edit/", {"name": "Room One", "capacity": "10"}
    )

    assert response.status_code == 302
    world.room.refresh_from_db()
    assert (world.room.name, world.room.capacity, world.room.is_active) == ("Room One", 10, False)
    entry = AuditEntry.objects.get(action="sessions.room.updated")
    assert entry.data == {"fields": ["capacity", "is_active", "name"]}


def test_renaming_to_a_name_in_use_is_refused_next_to_the_name(client_as, world):
    response = client_as("admin").post(
        f"/rooms/{world.room.pk}/edit/", {"name": "Room 2", "capacity": "12", "is_active": "on"}
    )

    assert response.status_code == 200
    assert 'id="id_name_error"' in response.content.decode()
    world.room.refresh_from_db()
    assert world.room.name == "Room 1"


def test_a_facilitator_who_also_administers_another_clinic_cannot_edit_this_clinics_room(
    client_as, world
):
    ClinicRole.objects.create(
        user=world.users["facilitator"], clinic=world.other_clinic, role="admin"
    )

    response = client_as("facilitator").get(f"/rooms/{world.room.pk}/edit/")

    assert response.status_code == 403
