"""A day outside 2000 to 2099 in a request is a 400 naming the field, never a 500 from
time-zone arithmetic that cannot hold it (east of UTC, 0001-01-01 local is before the
first instant there is)."""

import pytest

from tests.api.world import signed_in

pytestmark = pytest.mark.django_db

OUT_OF_RANGE = ["Give a date between the years 2000 and 2099."]


@pytest.fixture(autouse=True)
def clinic_far_east(world):
    world.clinic.timezone = "Asia/Tokyo"
    world.clinic.save(update_fields=["timezone"])


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-27"])
def test_a_schedule_from_an_impossible_year_is_a_400(world, api, day):
    body = {"weekdays": ["MO"], "start_time": "00:10", "duration_minutes": 90, "count": 5}

    response = signed_in(api, world.users["facilitator"]).put(
        f"/api/v1/groups/{world.group.pk}/schedule/", {**body, "first_date": day}, format="json"
    )

    assert (response.status_code, response.json()) == (400, {"first_date": OUT_OF_RANGE})


def test_adjourning_on_a_day_in_year_one_is_a_400(world, api):
    response = signed_in(api, world.users["facilitator"]).post(
        f"/api/v1/groups/{world.group.pk}/stage/",
        {"to": "adjourning", "final_session_date": "0001-01-01", "note": "Closing."},
        format="json",
    )

    assert (response.status_code, response.json()) == (400, {"final_session_date": OUT_OF_RANGE})
