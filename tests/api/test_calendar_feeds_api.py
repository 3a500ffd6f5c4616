"""/api/v1/me/calendar-feed/ and /api/v1/members/{id}/calendar-feed/: issuing, reading,
rotating and revoking the secret calendar links, and who may."""

import datetime as dt
from urllib.parse import urlsplit

import pytest
import time_machine
import vobject
from django.conf import settings
from rest_framework.test import APIClient

from members.services import api_token_issue
from sessions.ics import session_uid
from sessions.models import CalendarFeed
from sessions.services.calendar_feeds import calendar_feed_issue
from tests.api.world import signed_in
from tests.factories.members import MemberFactory, mfa_enrol
from tests.factories.sessions import EnrolmentFactory

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/calendar-feed/"
NO_FEED = {"detail": "There is no calendar feed; issue one with POST."}
ISSUED_AT = dt.datetime(2026, 6, 1, 9, 30, tzinfo=dt.UTC)


def _path(url: str) -> str:
    return urlsplit(url).path


def _uids(client, url: str) -> list[str]:
    response = client.get(_path(url))
    assert response.status_code == 200
    calendar = vobject.readOne(response.content.decode())
    return [event.uid.value for event in calendar.contents.get("vevent", [])]


def _feed_url(feed: CalendarFeed) -> str:
    return f"{settings.GROUPCARE_BASE_URL}/calendar/{feed.token}.ics"


# --------------------------------------------------------------------------- your own


def test_without_a_feed_there_is_nothing_to_read_or_revoke(world, api):
    signed_in(api, world.users["member"])

    assert (api.get(ME).status_code, api.get(ME).json()) == (404, NO_FEED)
    assert (api.delete(ME).status_code, api.delete(ME).json()) == (404, NO_FEED)


def test_issuing_gives_the_url_and_reading_gives_it_again(world, api):
    signed_in(api, world.users["member"])

    with time_machine.travel(ISSUED_AT, tick=False):
        issued = api.post(ME)
    read = api.get(ME)

    feed = CalendarFeed.objects.get(user=world.users["member"])
    expected = {"url": _feed_url(feed), "created_at": "2026-06-01T09:30:00Z"}
    assert (issued.status_code, issued.json()) == (201, expected)
    assert (read.status_code, read.json()) == (200, expected)


def test_the_url_lists_the_callers_sessions(world, api, client):
    url = signed_in(api, world.users["member"]).post(ME).json()["url"]

    assert _uids(client, url) == [
        session_uid(world.past_session),
        session_uid(world.future_session),
    ]


def test_issuing_again_rotates_the_old_url_gives_404(world, api, client):
    signed_in(api, world.users["facilitator"])
    old = api.post(ME).json()["url"]

    new = api.post(ME).json()["url"]

    assert new != old
    assert client.get(_path(old)).status_code == 404
    assert _uids(client, new) == [
        session_uid(world.past_session),
        session_uid(world.future_session),
    ]
    assert api.get(ME).json()["url"] == new
    assert CalendarFeed.objects.filter(user=world.users["facilitator"]).count() == 2


def test_revoking_ends_the_url(world, api, client):
    signed_in(api, world.users["member"])
    url = api.post(ME).json()["url"]

    response = api.delete(ME)

    assert (response.status_code, response.content) == (204, b"")
    assert client.get(_path(url)).status_code == 404
    assert (api.get(ME).status_code, api.delete(ME).status_code) == (404, 404)


def test_a_feed_can_be_issued_with_a_bearer_token(world):
    mfa_enrol(world.users["member"])
    _, raw = api_token_issue(user=world.users["member"], name="phone")
    api = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}")

    response = api.post(ME)

    assert response.status_code == 201
    assert CalendarFeed.objects.filter(user=world.users["member"], revoked_at=None).count() == 1


def test_one_persons_feed_is_not_another_persons(world, api):
    calendar_feed_issue(user=world.users["member"], by=world.users["member"])

    response = signed_in(api, world.users["other_member"]).get(ME)

    assert (response.status_code, response.json()) == (404, NO_FEED)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", ME),
        ("post", ME),
        ("delete", ME),
        ("post", "/api/v1/members/1/calendar-feed/"),
        ("delete", "/api/v1/members/1/calendar-feed/"),
    ],
)
def test_anonymous_callers_get_401(world, api, method, path):
    response = getattr(api, method)(path)

    assert (response.status_code, response.json()) == (
        401,
        {"detail": "Authentication credentials were not provided."},
    )
    assert not CalendarFeed.objects.exists()


# --------------------------------------------------------------------------- a member record's


@pytest.fixture
def client_without_login(world):
    """A member of ``group`` who does not sign in."""
    member = MemberFactory(clinic=world.clinic, preferred_name="Dee", legal_name="Dee Park")
    EnrolmentFactory(
        group=world.group, member=member, status="active", joined_on=world.enrolment.joined_on
    )
    return member


def _member_url(member) -> str:
    return f"/api/v1/members/{member.pk}/calendar-feed/"


def test_an_admin_issues_a_feed_for_a_member_who_does_not_sign_in(
    world, api, client, client_without_login
):
    with time_machine.travel(ISSUED_AT, tick=False):
        response = signed_in(api, world.users["admin"]).post(_member_url(client_without_login))

    feed = CalendarFeed.objects.get(member=client_without_login)
    assert (response.status_code, response.json()) == (
        201,
        {"url": _feed_url(feed), "created_at": "2026-06-01T09:30:00Z"},
    )
    assert _uids(client, response.json()["url"]) == [
        session_uid(world.past_session),
        session_uid(world.future_session),
    ]


def test_a_groups_facilitator_may_not_issue_a_members_feed(world, api, client_without_login):
    """The feed would list the member's other groups too (and their video links)."""
    response = signed_in(api, world.users["facilitator"]).post(_member_url(client_without_login))

    assert response.status_code == 403
    assert not CalendarFeed.objects.filter(member=client_without_login).exists()


def test_issuing_a_members_feed_again_rotates_it(world, api, client, client_without_login):
    signed_in(api, world.users["admin"])
    old = api.post(_member_url(client_without_login)).json()["url"]

    new = api.post(_member_url(client_without_login)).json()["url"]

    assert (client.get(_path(old)).status_code, client.get(_path(new)).status_code) == (404, 200)


@pytest.mark.parametrize("persona", ["other_facilitator", "other_clinic_admin", "member"])
@pytest.mark.parametrize("method", ["post", "delete"])
def test_someone_elses_member_record_is_a_404(world, api, client_without_login, persona, method):
    feed = calendar_feed_issue(member=client_without_login, by=world.users["admin"])

    response = getattr(signed_in(api, world.users[persona]), method)(
        _member_url(client_without_login)
    )

    assert (response.status_code, response.json()) == (
        404,
        {"detail": "No Member matches the given query."},
    )
    assert list(CalendarFeed.objects.filter(member=client_without_login)) == [feed]
    assert CalendarFeed.objects.get(pk=feed.pk).revoked_at is None


def test_a_member_may_not_issue_a_feed_for_their_own_record(world, api):
    response = signed_in(api, world.users["member"]).post(_member_url(world.member_record))

    assert (response.status_code, response.json()) == (
        403,
        {"detail": "Only the clinic's admins may manage a member's calendar feed."},
    )


def test_a_member_who_signs_in_takes_their_own_feed_not_one_of_their_record(world, api):
    response = signed_in(api, world.users["admin"]).post(_member_url(world.member_record))

    assert (response.status_code, response.json()) == (
        409,
        {
            "detail": "This member signs in to GroupCare: they take their own calendar link "
            "from their account.",
            "code": "member_has_login",
            "conflict_id": None,
        },
    )
    assert not CalendarFeed.objects.exists()


def test_revoking_a_members_feed_ends_its_url(world, api, client, client_without_login):
    signed_in(api, world.users["admin"])
    url = api.post(_member_url(client_without_login)).json()["url"]

    response = api.delete(_member_url(client_without_login))

    assert (response.status_code, response.content) == (204, b"")
    assert client.get(_path(url)).status_code == 404
    again = api.delete(_member_url(client_without_login))
    assert (again.status_code, again.json()) == (404, NO_FEED)


def test_an_unknown_member_is_a_404(world, api):
    signed_in(api, world.users["admin"])

    assert api.post("/api/v1/members/999999/calendar-feed/").status_code == 404
    assert api.post(f"/api/v1/members/{2**70}/calendar-feed/").status_code == 404
    assert api.post("/api/v1/members/abc/calendar-feed/").status_code == 404
