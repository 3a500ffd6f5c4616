"""What every endpoint shares: JSON errors, strict pagination, JSON bodies of the documented
types, blank filters refused."""

import re

import pytest
from rest_framework.test import APIClient

from groupcare.api import MAX_ID
from tests.api.schemathesis_support import openapi_document
from tests.api.world import build_world
from tests.factories.sessions import RoomFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_world()


@pytest.fixture
def admin_api(world):
    client = APIClient()
    client.force_authenticate(world.users["admin"])
    return client


@pytest.mark.parametrize(
    "path", ["/api/v1/groups/not-a-number/", "/api/v1/nothing-here/", "/api/v1/groups/1/x/"]
)
def test_an_unknown_api_path_is_a_json_404(admin_api, path):
    response = admin_api.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_an_unknown_page_outside_the_api_is_still_the_sites_page(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert "application/json" not in response["Content-Type"]


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("page=0", {"page": ["Give a whole number 1 or more."]}),
        ("page=-1", {"page": ["Give a whole number 1 or more."]}),
        ("page=last", {"page": ["Give a whole number 1 or more."]}),
        ("page_size=0", {"page_size": ["Give a whole number from 1 to 200."]}),
        ("page_size=201", {"page_size": ["Give a whole number from 1 to 200."]}),
        ("page_size=1.5", {"page_size": ["Give a whole number from 1 to 200."]}),
        ("page_size=", {"page_size": ["Give a whole number from 1 to 200."]}),
    ],
)
def test_a_page_or_page_size_out_of_range_is_a_400_naming_it(admin_api, query, errors):
    response = admin_api.get(f"/api/v1/rooms/?{query}")

    assert response.status_code == 400
    assert response.json() == errors


def test_a_page_past_the_last_is_empty_and_points_back_to_the_last(world, admin_api):
    RoomFactory(clinic=world.clinic, name="Room 9")

    response = admin_api.get("/api/v1/rooms/?page=7&page_size=1")

    assert response.status_code == 200
    body = response.json()
    assert body["results"] == []
    assert body["next"] is None
    assert body["previous"].endswith(f"page={body['count']}&page_size=1")


def test_page_size_sets_the_rows_per_page(world, admin_api):
    RoomFactory(clinic=world.clinic, name="Room 9")

    body = admin_api.get("/api/v1/rooms/?page_size=1").json()

    assert len(body["results"]) == 1
    assert body["count"] >= 2
    assert "page=2" in body["next"]


def test_a_blank_filter_is_a_400_naming_it(admin_api):
    response = admin_api.get("/api/v1/groups/?stage=")

    assert response.status_code == 400
    assert response.json() == {"stage": ["Give a value, or leave out the parameter."]}


def test_a_form_encoded_body_is_refused(admin_api):
    response = admin_api.post(
        "/api/v1/rooms/", "name=Room+7&capacity=8", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"name": 7, "capacity": 8}, {"name": ["Not a valid string."]}),
        ({"name": "Room 7", "capacity": "8"}, {"capacity": ["A valid integer is required."]}),
        ({"name": "Room 7", "capacity": True}, {"capacity": ["A valid integer is required."]}),
        (
            {"capacity": "8"},
            {"name": ["This field is required."], "capacity": ["A valid integer is required."]},
        ),
    ],
)
def test_a_body_value_of_another_json_type_is_refused_not_coerced(admin_api, body, errors):
    response = admin_api.post("/api/v1/rooms/", body, format="json")

    assert response.status_code == 400
    assert response.json() == errors


def test_a_patch_flag_must_be_true_or_false(world, admin_api):
    response = admin_api.patch(
        f"/api/v1/rooms/{world.room.pk}/", {"is_active": "false"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"is_active": ["Must be a valid boolean."]}
    world.room.refresh_from_db()
    assert world.room.is_active is True


def test_an_id_beyond_any_database_is_an_unknown_id_not_an_overflow(world, admin_api):
    body = {"name": "Group X", "modality": 2**70, "lead_facilitator": 1}

    response = admin_api.post("/api/v1/groups/", body, format="json")

    assert response.status_code == 400
    assert "object does not exist" in response.json()["modality"][0]


def test_a_filter_id_beyond_any_database_is_a_400(admin_api):
    response = admin_api.get(f"/api/v1/members/?group={2**70}")

    assert response.status_code == 400
    assert list(response.json()) == ["group"]


@pytest.mark.parametrize("name", ["   ", "Room\x007", "\u3000"])
def test_text_of_spaces_only_or_with_a_nul_is_refused(admin_api, name):
    response = admin_api.post("/api/v1/rooms/", {"name": name, "capacity": 8}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["name"]


def test_the_schema_says_what_text_and_ids_accept():
    room = openapi_document()["components"]["schemas"]["RoomCreateInputRequest"]["properties"]

    pattern = re.compile(room["name"]["pattern"])
    assert pattern.search("Room 7")
    assert not pattern.search(" \u3000 ")
    assert not pattern.search("Room\x007")
    assert room["clinic"]["maximum"] == MAX_ID
