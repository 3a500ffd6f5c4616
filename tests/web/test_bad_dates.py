"""A date outside 2000 to 2099 (a typo: year 0001, 9999) is named next to its field on every
page that takes one; it never reaches time-zone arithmetic that cannot hold it (a 500)."""

import pytest

from sessions.models import GroupSession, Schedule

pytestmark = pytest.mark.django_db

OUT_OF_RANGE = "Give a date between the years 2000 and 2099."


@pytest.fixture(autouse=True)
def clinic_far_east(world):
    # East of UTC, 0001-01-01 00:10 local is before the first instant Python can hold.
    world.clinic.timezone = "Asia/Tokyo"
    world.clinic.save(update_fields=["timezone"])


SCHEDULE = {
    "weekdays": "MO",
    "start_time": "00:10",
    "duration_minutes": "90",
    "interval": "1",
    "ends": "count",
    "count": "5",
}


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_the_schedule_preview_names_a_date_out_of_range(client_as, world, day):
    response = client_as("facilitator").get(
        f"/groups/{world.group.pk}/schedule/preview/", {**SCHEDULE, "first_date": day}
    )

    assert response.status_code == 200
    assert OUT_OF_RANGE in response.content.decode()


def test_saving_a_schedule_from_year_one_is_refused_and_stores_nothing(client_as, world):
    before = list(Schedule.objects.filter(group=world.group).values())
    sessions_before = list(GroupSession.objects.filter(group=world.group).values("pk", "start"))

    response = client_as("facilitator").post(
        f"/groups/{world.group.pk}/schedule/", {**SCHEDULE, "first_date": "0001-01-01"}
    )

    assert response.status_code == 200
    assert OUT_OF_RANGE in response.content.decode()
    assert list(Schedule.objects.filter(group=world.group).values()) == before
    assert list(GroupSession.objects.filter(group=world.group).values("pk", "start")) == (
        sessions_before
    )


def test_moving_a_session_to_year_one_is_refused(client_as, world):
    start = world.future_session.start
    response = client_as("facilitator").post(
        f"/sessions/{world.future_session.pk}/move/",
        {"date": "0001-01-01", "start_time": "00:10", "end_time": "01:10"},
    )

    world.future_session.refresh_from_db()
    assert response.status_code == 200
    assert OUT_OF_RANGE in response.content.decode()
    assert world.future_session.start == start


def test_adjourning_with_a_final_date_in_year_one_is_refused(client_as, world):
    response = client_as("facilitator").post(
        f"/groups/{world.group.pk}/stage/",
        {"to": "adjourning", "final_session_date": "0001-01-01", "note": "Closing."},
    )

    world.group.refresh_from_db()
    assert response.status_code == 200
    assert OUT_OF_RANGE in response.content.decode()
    assert world.group.stage == "forming"


@pytest.mark.parametrize("query", [{"end": "9999-12-31"}, {"start": "0001-01-01"}])
def test_the_audit_log_names_a_date_out_of_range(client_as, query):
    response = client_as("admin").get("/clinic/audit/", query)

    assert response.status_code == 200
    assert OUT_OF_RANGE in response.content.decode()
