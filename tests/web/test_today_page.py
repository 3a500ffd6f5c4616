"""The "Today" page: a facilitator's next sessions and their week in a calendar."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse

from sessions.enums import SessionStatus
from sessions.models import GroupSession
from sessions.services.attendance import attendance_cant_attend
from tests.factories.sessions import GroupSessionFactory
from tests.web.pages import (
    assert_no_inline_code,
    assert_not_in,
    assert_strict_csp,
    redirects_to_login,
)

pytestmark = pytest.mark.django_db

URL = reverse("sessions:today")

#: Tuesday 1 December 2026, 09:00 in London (UTC in winter): the week of Mon 30 Nov.
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def _week_of(session) -> str:
    day = session.start.date()
    return (day - dt.timedelta(days=day.weekday())).isoformat()


def _group_names_shown(body: str) -> set[str]:
    return set(re.findall(r'<span class="session-group">([^<]+)</span>', body))


@pytest.mark.parametrize(
    ("persona", "status", "groups_shown"),
    [
        ("admin", 200, {"Tuesday Group", "Thursday Group"}),
        ("facilitator", 200, {"Tuesday Group"}),
        ("other_facilitator", 200, {"Thursday Group"}),
        ("member", 403, None),
        ("other_member", 403, None),
        ("other_clinic_admin", 200, set()),
        ("anonymous", 302, None),
    ],
)
def test_today_shows_the_sessions_the_viewer_runs_and_nothing_else(
    client_as, world, persona, status, groups_shown
):
    response = client_as(persona).get(URL)

    if persona == "anonymous":
        assert redirects_to_login(response)
        return
    assert response.status_code == status
    if status != 200:
        return
    body = response.content.decode()
    assert_strict_csp(response)
    assert_no_inline_code(body)
    assert _group_names_shown(body) == groups_shown
    assert_not_in(
        body, "Alexandra Stone", "Bo Reyes", "member@example.org", "other-member@example.org"
    )


def test_a_member_without_a_staff_role_is_told_the_page_is_not_theirs(client_as):
    response = client_as("member").get(URL)

    assert response.status_code == 403


def test_next_sessions_show_time_room_expected_count_and_who_cannot_come(client_as, world):
    attendance_cant_attend(
        session=world.future_session, member=world.member_record, by=world.users["member"]
    )

    body = client_as("facilitator").get(URL).content.decode()

    next_list = body.split('class="plain-list next-sessions"', 1)[1].split("</ul>", 1)[0]
    assert "Tuesday Group" in next_list
    assert "Room 1" in next_list
    assert "1 expected" in next_list
    assert "Can't come: Alex</span>" in next_list
    assert f'href="/sessions/{world.future_session.pk}/"' in next_list


def test_the_week_calendar_shows_each_day_and_strikes_through_a_cancelled_session(client_as, world):
    with time_machine.travel(NOW, tick=False):
        held = GroupSessionFactory(
            group=world.group, start=dt.datetime(2026, 12, 3, 18, 0, tzinfo=dt.UTC)
        )
        cancelled = GroupSessionFactory(
            group=world.group,
            start=dt.datetime(2026, 12, 4, 18, 0, tzinfo=dt.UTC),
            status=SessionStatus.CANCELLED,
        )

        body = client_as("facilitator").get(URL, {"week": "2026-12-02"}).content.decode()

    assert "Week of Mon 30 Nov 2026" in body
    days = re.findall(r"<h3>([^<]+?)(?: <span|</h3>)", body)
    assert days == [
        "Mon 30 Nov 2026",
        "Tue 1 Dec 2026",
        "Wed 2 Dec 2026",
        "Thu 3 Dec 2026",
        "Fri 4 Dec 2026",
        "Sat 5 Dec 2026",
        "Sun 6 Dec 2026",
    ]
    assert f'class="session-link" href="/sessions/{held.pk}/"' in body
    assert f'class="session-link strike" href="/sessions/{cancelled.pk}/"' in body
    assert '<span class="badge cancelled">Cancelled</span>' in body
    assert '<a class="button secondary" href="?week=2026-11-23" rel="prev">' in body
    assert '<a class="button secondary" href="?week=2026-12-07" rel="next">' in body


def test_groups_are_told_apart_by_a_colour_class_and_their_name(client_as, world):
    body = client_as("admin").get(URL, {"week": _week_of(world.future_session)}).content.decode()

    assert re.search(r'session-line group-colour-0[^"]*">\s*<a[^>]*>.*?Tuesday Group', body, re.S)
    assert re.search(r'session-line group-colour-1[^"]*">\s*<a[^>]*>.*?Thursday Group', body, re.S)
    assert " style=" not in body


@pytest.mark.parametrize(
    ("week", "message"),
    [
        ("next tuesday", "Give the week as a date, e.g. 2026-11-30."),
        ("2026-13-01", "Give the week as a date, e.g. 2026-11-30."),
        ("0001-01-01", "Pick a week between the years 2000 and 2099."),
        ("9999-12-31", "Pick a week between the years 2000 and 2099."),
    ],
)
def test_a_bad_week_is_a_clear_message_not_a_crash(client_as, world, week, message):
    with time_machine.travel(NOW, tick=False):
        response = client_as("facilitator").get(URL, {"week": week})

    assert response.status_code == 400
    body = response.content.decode()
    assert f"<p>{message} This week is shown instead.</p>" in body
    assert "Week of Mon 30 Nov 2026" in body


def test_a_week_given_by_any_of_its_days_shows_from_its_monday(client_as, world):
    response = client_as("facilitator").get(URL, {"week": "2026-12-06"})

    assert response.status_code == 200
    assert "Week of Mon 30 Nov 2026" in response.content.decode()


def test_the_week_is_read_in_the_viewers_zone(client_as, world):
    # 23:30 UTC on Sunday 6 Dec is already Monday 7 Dec in Sydney, so it belongs to the
    # next week there.
    world.clinic.timezone = "Australia/Sydney"
    world.clinic.save(update_fields=["timezone"])
    with time_machine.travel(NOW, tick=False):
        late = GroupSessionFactory(
            group=world.group, start=dt.datetime(2026, 12, 6, 23, 30, tzinfo=dt.UTC)
        )
        client = client_as("facilitator")

        this_week = client.get(URL, {"week": "2026-11-30"}).content.decode()
        next_week = client.get(URL, {"week": "2026-12-07"}).content.decode()

    assert f"/sessions/{late.pk}/" not in this_week.split("week-calendar", 1)[1]
    assert f"/sessions/{late.pk}/" in next_week.split("week-calendar", 1)[1]


@pytest.mark.parametrize("count", [1, 5])
def test_today_runs_the_same_queries_for_one_or_five_sessions(
    client_as, world, django_assert_num_queries, count
):
    with time_machine.travel(NOW, tick=False):
        for day in range(count):
            GroupSessionFactory(
                group=world.group, start=dt.datetime(2026, 12, 1 + day, 18, 0, tzinfo=dt.UTC)
            )
        client = client_as("facilitator")
        client.get(URL)  # the viewer's zone is worked out once per login session

        with django_assert_num_queries(10):
            response = client.get(URL, {"week": "2026-11-30"})

    assert response.status_code == 200
    assert response.content.decode().count('class="session-link"') >= count


def test_next_sessions_are_paginated_keeping_the_week(client_as, world):
    with time_machine.travel(NOW, tick=False):
        for day in range(6):
            GroupSessionFactory(
                group=world.group, start=dt.datetime(2027, 1, 4 + day, 18, 0, tzinfo=dt.UTC)
            )
        client = client_as("facilitator")

        first = client.get(URL, {"week": "2027-01-04"}).content.decode()
        second = client.get(URL, {"week": "2027-01-04", "page": "2"}).content.decode()
    # The world's own sessions are set from the real clock: count what is still ahead at NOW.
    upcoming = GroupSession.objects.filter(group=world.group, end__gt=NOW).count()

    def next_list(body: str) -> str:
        return body.split('class="plain-list next-sessions"', 1)[1].split("</ul>", 1)[0]

    assert next_list(first).count('class="session-link"') == 5
    assert '<a href="?week=2027-01-04&amp;page=2" rel="next">Next</a>' in first
    assert next_list(second).count('class="session-link"') == upcoming - 5
