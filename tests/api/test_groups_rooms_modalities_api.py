"""/api/v1/rooms/ and /api/v1/modalities/."""

import pytest

from members.enums import Role
from members.models import AuditEntry
from sessions.models import Modality, Room
from tests.api.world import signed_in
from tests.factories.members import ClinicRoleFactory
from tests.factories.sessions import ModalityFactory, RoomFactory

pytestmark = pytest.mark.django_db


def _room(room):
    return {
        "id": room.pk,
        "clinic": room.clinic_id,
        "name": room.name,
        "capacity": room.capacity,
        "is_active": room.is_active,
    }


# --- rooms -----------------------------------------------------------------------------------


def test_a_facilitator_lists_the_rooms_of_their_clinic_only(world, api):
    RoomFactory(clinic=world.other_clinic, name="Hillside Room")

    response = signed_in(api, world.users["facilitator"]).get("/api/v1/rooms/")

    assert response.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [_room(room) for room in Room.objects.filter(clinic=world.clinic)],
    }


def test_members_may_not_list_rooms(world, api):
    response = signed_in(api, world.users["member"]).get("/api/v1/rooms/")

    assert response.status_code == 403
    assert response.json() == {"detail": "Rooms and modalities are for the clinic's staff."}


@pytest.mark.parametrize("size", [1, 5])
def test_the_room_list_runs_the_same_queries_at_any_page_size(
    world, api, django_assert_num_queries, size
):
    for _ in range(5):
        RoomFactory(clinic=world.clinic)
    signed_in(api, world.users["admin"])

    # session, user, staff check, count, page
    with django_assert_num_queries(5):
        response = api.get(f"/api/v1/rooms/?page_size={size}")

    assert len(response.json()["results"]) == size


def test_an_admin_adds_a_room(world, api):
    response = signed_in(api, world.users["admin"]).post(
        "/api/v1/rooms/", {"name": " Garden Room ", "capacity": 8}, format="json"
    )

    assert response.status_code == 201
    room = Room.objects.get(name="Garden Room")
    assert response.json() == _room(room)
    assert room.clinic == world.clinic
    assert AuditEntry.objects.filter(action="sessions.room.created").count() == 1


def test_a_room_name_is_unique_in_the_clinic(world, api):
    response = signed_in(api, world.users["admin"]).post(
        "/api/v1/rooms/", {"name": "Room 1", "capacity": 8}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "The clinic already has a room with this name.",
        "code": "name_in_use",
        "conflict_id": Room.objects.get(clinic=world.clinic, name="Room 1").pk,
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"name": "X", "capacity": 0},
            {"capacity": ["Ensure this value is greater than or equal to 1."]},
        ),
        ({"name": "", "capacity": 4}, {"name": ["This field may not be blank."]}),
        (
            {"capacity": "ten"},
            {"name": ["This field is required."], "capacity": ["A valid integer is required."]},
        ),
    ],
)
def test_a_room_with_invalid_fields_is_refused(world, api, body, expected):
    response = signed_in(api, world.users["admin"]).post("/api/v1/rooms/", body, format="json")

    assert response.status_code == 400
    assert response.json() == expected


def test_a_facilitator_may_not_add_a_room(world, api):
    response = signed_in(api, world.users["facilitator"]).post(
        "/api/v1/rooms/", {"name": "Mine", "capacity": 4}, format="json"
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "Only a clinic admin may add rooms."}


def test_an_admin_of_two_clinics_adds_a_room_to_the_one_they_name(world, api):
    ClinicRoleFactory(user=world.users["admin"], clinic=world.other_clinic, role=Role.ADMIN)
    signed_in(api, world.users["admin"])

    unnamed = api.post("/api/v1/rooms/", {"name": "Annex", "capacity": 4}, format="json")
    named = api.post(
        "/api/v1/rooms/",
        {"name": "Annex", "capacity": 4, "clinic": world.other_clinic.pk},
        format="json",
    )

    assert (unnamed.status_code, unnamed.json()) == (
        400,
        {"clinic": ["You work in more than one clinic: say which one."]},
    )
    assert (named.status_code, named.json()["clinic"]) == (201, world.other_clinic.pk)


def test_an_admin_may_not_add_a_room_to_a_clinic_they_do_not_run(world, api):
    response = signed_in(api, world.users["admin"]).post(
        "/api/v1/rooms/",
        {"name": "Annex", "capacity": 4, "clinic": world.other_clinic.pk},
        format="json",
    )

    assert response.status_code == 403
    assert not Room.objects.filter(name="Annex").exists()


def test_an_admin_changes_a_room_and_its_clinic_stays(world, api):
    response = signed_in(api, world.users["admin"]).patch(
        f"/api/v1/rooms/{world.room.pk}/",
        {"name": "Room One", "capacity": 6, "is_active": False, "clinic": world.other_clinic.pk},
        format="json",
    )

    assert response.status_code == 200
    world.room.refresh_from_db()
    assert response.json() == _room(world.room)
    assert (world.room.name, world.room.capacity, world.room.is_active, world.room.clinic) == (
        "Room One",
        6,
        False,
        world.clinic,
    )
    assert AuditEntry.objects.get(action="sessions.room.updated").data == {
        "fields": ["capacity", "is_active", "name"]
    }


def test_renaming_a_room_to_a_name_in_use_is_refused(world, api):
    response = signed_in(api, world.users["admin"]).patch(
        f"/api/v1/rooms/{world.room.pk}/", {"name": "Room 2"}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "The clinic already has a room with this name.",
        "code": "name_in_use",
        "conflict_id": Room.objects.get(clinic=world.clinic, name="Room 2").pk,
    }


def test_a_facilitator_may_read_but_not_change_a_room(world, api):
    signed_in(api, world.users["facilitator"])

    assert api.get(f"/api/v1/rooms/{world.room.pk}/").json() == _room(world.room)
    response = api.patch(f"/api/v1/rooms/{world.room.pk}/", {"capacity": 2}, format="json")
    assert (response.status_code, response.json()) == (
        403,
        {"detail": "Only a clinic admin may change its rooms."},
    )


def test_a_room_of_another_clinic_is_not_found(world, api):
    response = signed_in(api, world.users["other_clinic_admin"]).patch(
        f"/api/v1/rooms/{world.room.pk}/", {"capacity": 2}, format="json"
    )

    assert response.status_code == 404


# --- modalities ------------------------------------------------------------------------------


def test_modalities_are_the_built_in_ones_and_the_clinics_own(world, api):
    own = ModalityFactory(clinic=world.clinic, name="Compassion-focused", slug="compassion")
    ModalityFactory(clinic=world.other_clinic, name="Hillside special")

    response = signed_in(api, world.users["facilitator"]).get("/api/v1/modalities/?page_size=100")

    expected = Modality.objects.filter(clinic=None) | Modality.objects.filter(pk=own.pk)
    assert response.json()["results"] == [
        {"id": m.pk, "clinic": m.clinic_id, "slug": m.slug, "name": m.name}
        for m in expected.order_by("name", "pk")
    ]


def test_members_may_not_list_modalities(world, api):
    response = signed_in(api, world.users["member"]).get("/api/v1/modalities/")

    assert response.status_code == 403


@pytest.mark.parametrize("size", [1, 5])
def test_the_modality_list_runs_the_same_queries_at_any_page_size(
    world, api, django_assert_num_queries, size
):
    signed_in(api, world.users["admin"])

    # session, user, staff check, count, page
    with django_assert_num_queries(5):
        response = api.get(f"/api/v1/modalities/?page_size={size}")

    assert len(response.json()["results"]) == size


def test_an_admin_adds_a_modality(world, api):
    response = signed_in(api, world.users["admin"]).post(
        "/api/v1/modalities/", {"name": "Compassion-focused", "clinic": 123}, format="json"
    )

    assert response.status_code == 403  # a clinic they do not run, named or not

    response = api.post("/api/v1/modalities/", {"name": "Compassion-focused"}, format="json")

    modality = Modality.objects.get(name="Compassion-focused")
    assert (response.status_code, response.json()) == (
        201,
        {
            "id": modality.pk,
            "clinic": world.clinic.pk,
            "slug": "compassion-focused",
            "name": "Compassion-focused",
        },
    )


def test_a_modality_name_is_unique_in_the_clinic(world, api):
    signed_in(api, world.users["admin"]).post(
        "/api/v1/modalities/", {"name": "Compassion-focused"}, format="json"
    )

    response = api.post("/api/v1/modalities/", {"name": "COMPASSION-focused"}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "A modality of this name already exists.",
        "code": "name_in_use",
        "conflict_id": Modality.objects.get(name__iexact="Compassion-focused").pk,
    }


def test_a_modality_may_not_take_a_built_in_name(world, api):
    response = signed_in(api, world.users["admin"]).post(
        "/api/v1/modalities/", {"name": "support"}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "A modality of this name already exists.",
        "code": "name_in_use",
        "conflict_id": Modality.objects.get(name__iexact="support").pk,
    }


def test_a_modality_name_needs_letters(world, api):
    response = signed_in(api, world.users["admin"]).post(
        "/api/v1/modalities/", {"name": "!!!"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"name": ["A modality's name needs letters or digits."]}


def test_a_facilitator_may_not_add_a_modality(world, api):
    response = signed_in(api, world.users["facilitator"]).post(
        "/api/v1/modalities/", {"name": "Mine"}, format="json"
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "Only a clinic admin may add modalities."}
