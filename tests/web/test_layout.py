"""The frame every page shares: the policy it is sent with, its scripts, the viewer's zone."""

import datetime as dt

import pytest
from django.template import Context, Template
from django.utils import timezone

from members.viewer import SESSION_KEY
from tests.web.pages import assert_no_inline_code, assert_strict_csp

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("persona", "path"),
    [
        ("admin", "/groups/"),
        ("facilitator", "/today/"),
        ("member", "/me/meetings/"),
        ("anonymous", "/accounts/login/"),
    ],
)
def test_pages_carry_the_strict_policy_and_no_inline_code(client_as, persona, path):
    response = client_as(persona).get("/", follow=True)
    if persona == "anonymous":
        assert response.redirect_chain == [("/accounts/login/?next=/", 302)]
    else:
        assert response.redirect_chain == [(path, 302)]

    assert response.status_code == 200
    assert_strict_csp(response)
    assert_no_inline_code(response.content.decode())


def test_htmx_is_served_from_this_site(client_as):
    body = client_as("member").get("/me/meetings/").content.decode()

    assert '<script src="/static/js/vendor/htmx-2.0.11.min.js" defer></script>' in body


def test_a_member_sees_times_in_their_own_zone_named_when_not_the_clinics(client_as, world):
    world.member_record.timezone = "America/New_York"
    world.member_record.save(update_fields=["timezone"])
    client = client_as("member")

    client.get("/")

    assert client.session[SESSION_KEY] == "America/New_York"


def test_staff_see_times_in_their_clinics_zone(client_as, world):
    client = client_as("facilitator")

    client.get("/")

    assert client.session[SESSION_KEY] == "Europe/London"


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        ("Europe/London", "Tue 1 Dec 2026, 18:00"),
        ("America/New_York", "Tue 1 Dec 2026, 13:00 (New York time)"),
    ],
)
def test_local_datetime_names_the_zone_only_when_it_differs(viewer, expected):
    start = dt.datetime(2026, 12, 1, 18, 0, tzinfo=dt.UTC)
    template = Template("{% load viewer %}{{ start|local_datetime:'Europe/London' }}")

    with timezone.override(viewer):
        rendered = template.render(Context({"start": start}))

    assert rendered == expected


def test_the_api_docs_allow_inline_styles_but_never_inline_scripts(client_as):
    response = client_as("facilitator").get("/api/docs/")

    policy = response.headers["Content-Security-Policy"]
    assert response.status_code == 200
    assert "style-src 'self' 'unsafe-inline'" in policy
    assert "script-src 'self';" in policy + ";"
    scripts = response.content.decode().lower().split("<script")[1:]
    assert scripts != []
    assert all(" src=" in script.split(">", 1)[0] for script in scripts)


def test_the_favicon_the_admin_asks_for_is_the_sites_own(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"] == "/static/img/favicon.svg"


def test_local_date_takes_a_calendar_day_as_it_is_and_an_instant_in_the_viewers_zone():
    template = Template("{% load viewer %}{{ day|local_date }} / {{ instant|local_date }}")
    context = Context(
        {"day": dt.date(2026, 12, 1), "instant": dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC)}
    )

    with timezone.override("America/New_York"):
        rendered = template.render(context)

    assert rendered == "Tue 1 Dec 2026 / Tue 1 Dec 2026"
