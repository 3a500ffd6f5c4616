"""The schedule editor of a group: its live preview (htmx and plain), saving the series,
and what the page says about the sessions already generated."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from sessions.models import GroupSession, Schedule
from sessions.services.scheduling import schedule_set
from tests.web.conftest import PERSONAS
from tests.web.pages import (
    assert_no_inline_code,
    assert_not_in,
    assert_strict_csp,
    redirects_to_login,
)

pytestmark = pytest.mark.django_db

#: A Tuesday morning in London, three weeks before the clocks go forward (Sun 29 Mar 2026).
NOW = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)

STATUS = {
    "admin": 200,
    "facilitator": 200,
    "other_facilitator": 404,
    "member": 403,
    "other_member": 404,
    "other_clinic_admin": 404,
    "anonymous": "login",
}


@pytest.fixture
def frozen():
    """Time stands at NOW; request it before ``world`` so the world is built at NOW too."""
    with time_machine.travel(NOW, tick=False):
        yield


def _assert_status(response, expected):
    if expected == "login":
        assert redirects_to_login(response), response
    else:
        assert response.status_code == expected


def _schedule(**changes):
    """Tuesdays 18:00 for 90 minutes, four sessions from Tue 10 Mar 2026."""
    data = {
        "weekdays": ["TU"],
        "start_time": "18:00",
        "duration_minutes": "90",
        "interval": "1",
        "first_date": "2026-03-10",
        "ends": "count",
        "count": "4",
        "until": "",
    }
    data.update(changes)
    return data


# --- who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_schedule_editor_is_for_the_groups_facilitators_and_clinic_admins(
    frozen, client_as, world, persona
):
    response = client_as(persona).get(f"/groups/{world.group.pk}/schedule/")

    _assert_status(response, STATUS[persona])
    if response.status_code == 200:
        body = response.content.decode()
        assert_strict_csp(response)
        assert_no_inline_code(body)
        assert "<h1>Schedule of Tuesday Group</h1>" in body
        assert "Times are in the clinic's local time (Europe/London)." in body
        assert_not_in(body, "Thursday Group", "Alex", "Hillside")


@pytest.mark.parametrize("persona", PERSONAS)
def test_schedule_preview_is_for_the_groups_facilitators_and_clinic_admins(
    frozen, client_as, world, persona
):
    response = client_as(persona).get(
        f"/groups/{world.group.pk}/schedule/preview/", _schedule(), HTTP_HX_REQUEST="true"
    )

    _assert_status(response, STATUS[persona])
    if response.status_code == 200:
        body = response.content.decode()
        assert body.strip().startswith('<section id="schedule-preview"')
        assert_not_in(body, "Thursday Group", "Alex", "Hillside")


@pytest.mark.parametrize("persona", ["member", "other_facilitator", "other_clinic_admin"])
def test_only_managers_may_save_a_schedule(frozen, client_as, world, persona):
    response = client_as(persona).post(f"/groups/{world.group.pk}/schedule/", _schedule())

    assert response.status_code == STATUS[persona]
    assert not Schedule.objects.filter(group=world.group).exists()


# --- the preview -----------------------------------------------------------------------------


def test_preview_fragment_lists_the_dates_and_the_clock_change_inside_the_series(
    frozen, client_as, world
):
    response = client_as("facilitator").get(
        f"/groups/{world.group.pk}/schedule/preview/", _schedule(), HTTP_HX_REQUEST="true"
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert (
        '<p class="clock-change">Clocks change on Sun 29 Mar 2026: sessions stay at 18:00 '
        "local time.</p>"
    ) in body
    assert [line.strip() for line in body.splitlines() if line.strip().startswith("<li>")] == [
        '<li><time datetime="2026-03-10T18:00+00:00">Tue 10 Mar 2026, 18:00</time></li>',
        '<li><time datetime="2026-03-17T18:00+00:00">Tue 17 Mar 2026, 18:00</time></li>',
        '<li><time datetime="2026-03-24T18:00+00:00">Tue 24 Mar 2026, 18:00</time></li>',
        '<li><time datetime="2026-03-31T18:00+01:00">Tue 31 Mar 2026, 18:00</time></li>',
    ]
    assert "4 sessions from now." in body


def test_preview_without_a_clock_change_has_no_note(frozen, client_as, world):
    response = client_as("facilitator").get(
        f"/groups/{world.group.pk}/schedule/preview/",
        _schedule(count="2"),
        HTTP_HX_REQUEST="true",
    )

    assert "Clocks change" not in response.content.decode()


def test_preview_shows_at_most_eight_dates_and_counts_the_rest(frozen, client_as, world):
    response = client_as("facilitator").get(
        f"/groups/{world.group.pk}/schedule/preview/",
        _schedule(count="12"),
        HTTP_HX_REQUEST="true",
    )

    body = response.content.decode()
    assert body.count("<li><time") == 8
    assert "12 sessions from now, the first 8 shown." in body


def test_preview_of_bad_input_says_what_to_fix(frozen, client_as, world):
    response = client_as("facilitator").get(
        f"/groups/{world.group.pk}/schedule/preview/",
        _schedule(weekdays=[]),
        HTTP_HX_REQUEST="true",
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "<p>Fix the marked fields to see the dates.</p>" in body
    assert "<li>Meets on: This field is required.</li>" in body


def test_preview_without_javascript_renders_the_whole_editor_with_the_input_kept(
    frozen, client_as, world
):
    response = client_as("facilitator").get(
        f"/groups/{world.group.pk}/schedule/preview/", _schedule()
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Schedule of Tuesday Group</h1>" in body
    assert 'value="18:00"' in body
    assert 'value="TU" id="id_weekdays_1" checked' in body
    assert "Clocks change on Sun 29 Mar 2026" in body
    assert not Schedule.objects.filter(group=world.group).exists()


def test_editor_asks_for_a_live_preview_on_change_and_offers_a_preview_button(
    frozen, client_as, world
):
    body = client_as("facilitator").get(f"/groups/{world.group.pk}/schedule/").content.decode()

    preview = f"/groups/{world.group.pk}/schedule/preview/"
    assert f'hx-get="{preview}" hx-trigger="change" hx-target="#schedule-preview"' in body
    assert f'formaction="{preview}" formmethod="get" formnovalidate>Preview dates</button>' in body


# --- saving ----------------------------------------------------------------------------------


def test_saving_stores_the_rule_and_generates_the_sessions(frozen, client_as, world):
    response = client_as("facilitator").post(f"/groups/{world.group.pk}/schedule/", _schedule())

    assert response.status_code == 302
    assert response["Location"] == f"/groups/{world.group.pk}/"
    schedule = Schedule.objects.get(group=world.group)
    assert (
        schedule.rrule,
        schedule.first_date,
        schedule.start_time,
        schedule.duration_minutes,
    ) == ("FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=4", dt.date(2026, 3, 10), dt.time(18, 0), 90)
    starts = list(
        GroupSession.objects.filter(group=world.group, series_date__isnull=False)
        .order_by("start")
        .values_list("start", flat=True)
    )
    assert starts == [
        dt.datetime(2026, 3, 10, 18, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 17, 18, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 24, 18, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 31, 17, 0, tzinfo=dt.UTC),
    ]


def test_saving_until_a_date_every_other_week(frozen, client_as, world):
    client_as("admin").post(
        f"/groups/{world.group.pk}/schedule/",
        _schedule(weekdays=["MO", "TH"], interval="2", ends="until", count="", until="2026-04-30"),
    )

    schedule = Schedule.objects.get(group=world.group)
    assert schedule.rrule == "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;UNTIL=20260430T235959"


def test_the_editor_opens_with_the_saved_schedule(frozen, client_as, world):
    schedule_set(
        group=world.group,
        rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=WE;UNTIL=20260601",
        first_date=dt.date(2026, 3, 11),
        start_time=dt.time(10, 30),
        duration_minutes=60,
        by=world.users["facilitator"],
    )

    response = client_as("facilitator").get(f"/groups/{world.group.pk}/schedule/")

    form = response.context["form"]
    assert {name: form[name].value() for name in form.fields} == {
        "weekdays": ["WE"],
        "start_time": dt.time(10, 30),
        "duration_minutes": 60,
        "interval": 2,
        "first_date": dt.date(2026, 3, 11),
        "ends": "until",
        "count": None,
        "until": dt.date(2026, 6, 1),
    }
    assert (
        '<time datetime="2026-03-11T10:30+00:00">Wed 11 Mar 2026, 10:30</time>'
        in response.content.decode()
    )


def test_the_editor_says_what_saving_does_to_generated_sessions(frozen, client_as, world):
    schedule_set(
        group=world.group,
        rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=4",
        first_date=dt.date(2026, 3, 10),
        start_time=dt.time(18, 0),
        duration_minutes=90,
        by=world.users["facilitator"],
    )

    body = client_as("facilitator").get(f"/groups/{world.group.pk}/schedule/").content.decode()

    # The four generated sessions and the world's extra one.
    assert "<li>This group has 5 sessions still to come.</li>" in body
    assert (
        "Members are sent a notice for each of their sessions in the next 14 days that moves"
        in body
    )
    assert "stay exactly as they are" in body


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"weekdays": []}, {"weekdays": ["This field is required."]}),
        ({"count": ""}, {"count": ["Say how many sessions the series has."]}),
        ({"ends": "until", "until": ""}, {"until": ["Say the date of the last session."]}),
        (
            {"duration_minutes": "10"},
            {"duration_minutes": ["Ensure this value is greater than or equal to 15."]},
        ),
        ({"start_time": "6pm"}, {"start_time": ["Enter a valid time."]}),
    ],
)
def test_bad_input_is_shown_next_to_its_field_and_nothing_is_stored(
    frozen, client_as, world, changes, errors
):
    response = client_as("facilitator").post(
        f"/groups/{world.group.pk}/schedule/", _schedule(**changes)
    )

    assert response.status_code == 200
    assert response.context["form"].errors == errors
    field = next(iter(errors))
    assert f'id="id_{field}_error"' in response.content.decode()
    assert not Schedule.objects.filter(group=world.group).exists()


def test_a_schedule_without_sessions_shows_the_services_refusal(frozen, client_as, world):
    response = client_as("facilitator").post(
        f"/groups/{world.group.pk}/schedule/",
        _schedule(ends="until", count="", until="2026-03-01"),
    )

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "This schedule would have no sessions: it ends on 2026-03-01 (UNTIL), before its "
        "first meeting day on or after 2026-03-10."
    ]
    assert '<div class="form-errors" role="alert">' in response.content.decode()
    assert not Schedule.objects.filter(group=world.group).exists()
    assert not GroupSession.objects.filter(group=world.group, series_date__isnull=False).exists()
