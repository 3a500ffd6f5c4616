"""The life of a signed-in session: a new session key at sign-in, automatic logoff when
idle or too old (staff sooner than members), the keep-alive behind "Stay signed in", and
sign-out or a new password ending the person's other sessions."""

from __future__ import annotations

import datetime as dt

import pytest
from allauth.usersessions.models import UserSession
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from members.enums import Role
from members.models import AuditEntry
from members.services import api_token_issue, clinic_role_grant, user_sessions_end_all
from members.session_timeouts import (
    ACTIVITY_KEY,
    CLASS_KEY,
    IDLE_REMAINING_HEADER,
    SIGNED_IN_KEY,
)
from tests.factories.members import TEST_PASSWORD, UserFactory, mfa_enrol

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
#: Any signed-in page: allauth's own, so it renders the same for everyone.
PAGE = "/accounts/password/change/"
LOGIN = "/accounts/login/"
KEEPALIVE = "/clinic/session/keepalive/"
API = "/api/v1/me/"

STAFF_IDLE, STAFF_ABSOLUTE = 15 * 60, 12 * 3600
MEMBER_IDLE, MEMBER_ABSOLUTE = 30 * 60, 30 * 86400


@pytest.fixture(autouse=True)
def limits(settings):
    """The documented defaults, whatever the environment says."""
    settings.GROUPCARE_SESSION_IDLE_STAFF = STAFF_IDLE
    settings.GROUPCARE_SESSION_ABSOLUTE_STAFF = STAFF_ABSOLUTE
    settings.GROUPCARE_SESSION_IDLE_MEMBER = MEMBER_IDLE
    settings.GROUPCARE_SESSION_ABSOLUTE_MEMBER = MEMBER_ABSOLUTE
    settings.GROUPCARE_SESSION_WARNING = 60
    return settings


@pytest.fixture
def clock(time_machine):
    """``clock(s)``: the frozen time is ``s`` seconds after T0."""
    time_machine.move_to(T0, tick=False)

    def _at(seconds: float) -> None:
        time_machine.move_to(T0 + dt.timedelta(seconds=seconds), tick=False)

    return _at


@pytest.fixture
def people(clinic, make_user):
    django_admin = UserFactory(is_staff=True)
    superuser = UserFactory(is_staff=True, is_superuser=True)
    for staff in (django_admin, superuser):  # enrolled in MFA, as staff must be
        mfa_enrol(staff)
    return {
        "clinic admin": make_user(clinic, Role.ADMIN),
        "facilitator": make_user(clinic, Role.FACILITATOR),
        "django admin": django_admin,
        "superuser": superuser,
        "member": make_user(clinic, Role.MEMBER),
        "no role yet": make_user(),
    }


@pytest.fixture
def member(people):
    return people["member"]


@pytest.fixture
def facilitator(people):
    return people["facilitator"]


def signed_in(user, **client_kwargs) -> Client:
    client = Client(**client_kwargs)
    client.force_login(user)
    return client


def password_sign_in(user) -> Client:
    """A client signed in through allauth's form (which records a user session)."""
    client = Client()
    response = client.post(LOGIN, {"login": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 302, response.content.decode()
    return client


def is_signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def login_redirect(next_path: str) -> str:
    return f"{LOGIN}?next={next_path}"


def messages_after(client: Client, response) -> list[str]:
    """The messages the page that ``response`` redirects to shows."""
    page = client.get(response["Location"])
    assert page.status_code == 200
    return [str(message) for message in page.context["messages"]]


IDLE_MESSAGE = (
    "For your privacy you were signed out after {} without activity. Sign in again to continue."
)
ABSOLUTE_MESSAGE = (
    "For your privacy you were signed out: a session lasts at most {}. Sign in again to continue."
)

# --- Which limits apply ----------------------------------------------------------------

PERSONA_IDLE = [
    ("clinic admin", STAFF_IDLE, "15 minutes"),
    ("facilitator", STAFF_IDLE, "15 minutes"),
    ("django admin", STAFF_IDLE, "15 minutes"),
    ("superuser", STAFF_IDLE, "15 minutes"),
    ("member", MEMBER_IDLE, "30 minutes"),
    ("no role yet", MEMBER_IDLE, "30 minutes"),
]


@pytest.mark.parametrize(("persona", "idle", "_text"), PERSONA_IDLE)
def test_a_session_idle_just_under_its_limit_stays_signed_in(clock, people, persona, idle, _text):
    client = signed_in(people[persona])

    clock(idle - 1)
    response = client.get(PAGE)

    assert response.status_code == 200
    assert is_signed_in(client)


@pytest.mark.parametrize(("persona", "idle", "text"), PERSONA_IDLE)
def test_a_session_idle_past_its_limit_is_signed_out_and_told_why(
    clock, people, persona, idle, text
):
    client = signed_in(people[persona])

    clock(idle + 1)
    response = client.get(f"{PAGE}?tab=1")

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next=/accounts/password/change/%3Ftab%3D1"
    assert not is_signed_in(client)
    assert messages_after(client, response) == [IDLE_MESSAGE.format(text)]


@pytest.mark.parametrize(
    ("persona", "setting"),
    [
        ("facilitator", "GROUPCARE_SESSION_ABSOLUTE_STAFF"),
        ("member", "GROUPCARE_SESSION_ABSOLUTE_MEMBER"),
    ],
)
def test_an_active_session_ends_at_its_maximum_length(clock, people, limits, persona, setting):
    setattr(limits, setting, 3000)
    client = signed_in(people[persona])

    for seconds in (600, 1200, 1800, 2400, 2999):
        clock(seconds)
        assert client.get(PAGE).status_code == 200, seconds
    clock(3001)
    response = client.get(PAGE)

    assert response["Location"] == login_redirect(PAGE)
    assert not is_signed_in(client)
    assert messages_after(client, response) == [ABSOLUTE_MESSAGE.format("50 minutes")]


def test_activity_keeps_a_session_alive_past_one_idle_period(clock, member):
    client = signed_in(member)

    for minutes in (20, 40, 60, 80):
        clock(minutes * 60)
        assert client.get(PAGE).status_code == 200

    assert is_signed_in(client)


def test_the_limits_follow_the_settings(clock, limits, member):
    limits.GROUPCARE_SESSION_IDLE_MEMBER = 120
    client = signed_in(member)

    clock(121)
    response = client.get(PAGE)

    assert messages_after(client, response) == [IDLE_MESSAGE.format("2 minutes")]


def test_whether_someone_is_staff_is_decided_at_sign_in(clock, clinic, member):
    client = signed_in(member)
    session = client.session
    assert (session[CLASS_KEY], session[SIGNED_IN_KEY], session[ACTIVITY_KEY]) == (
        "member",
        T0.timestamp(),
        T0.timestamp(),
    )

    # Becoming staff takes effect at the next sign-in, with no query per request.
    member.clinic_roles.create(clinic=clinic, role=Role.FACILITATOR)
    clock(STAFF_IDLE + 1)
    assert client.get(PAGE).status_code == 200


def test_a_session_from_before_automatic_logoff_starts_its_clock_with_staff_limits(
    clock, facilitator
):
    client = signed_in(facilitator)
    session = client.session
    for key in (CLASS_KEY, SIGNED_IN_KEY, ACTIVITY_KEY):
        del session[key]
    session.save()

    clock(3600)
    assert client.get(PAGE).status_code == 200
    clock(3600 + STAFF_IDLE + 1)
    response = client.get(PAGE)

    assert response["Location"] == login_redirect(PAGE)


# --- How an ended session is answered ---------------------------------------------------


def test_an_htmx_request_of_an_ended_session_redirects_the_whole_page(clock, member):
    client = signed_in(member)

    clock(MEMBER_IDLE + 1)
    response = client.get(
        "/me/meetings/?page=2",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/me/groups/?x=1"},
    )

    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{LOGIN}?next=/me/groups/%3Fx%3D1"
    assert not is_signed_in(client)


def test_an_htmx_request_from_another_site_is_not_sent_back_there(clock, member):
    client = signed_in(member)

    clock(MEMBER_IDLE + 1)
    response = client.post(
        "/me/meetings/",
        headers={"HX-Request": "true", "HX-Current-URL": "https://evil.example/phish"},
    )

    assert response["HX-Redirect"] == LOGIN


def test_a_form_posted_after_the_session_ended_returns_to_the_page_it_came_from(clock, member):
    client = signed_in(member)

    clock(MEMBER_IDLE + 1)
    response = client.post(PAGE, {}, headers={"Referer": "http://testserver/me/settings/"})

    assert response["Location"] == login_redirect("/me/settings/")


def test_an_api_call_of_an_ended_session_is_a_401(clock, member):
    client = signed_in(member)

    clock(MEMBER_IDLE + 1)
    response = client.get(API)

    assert response.status_code == 401
    assert response.json() == {"detail": IDLE_MESSAGE.format("30 minutes")}
    assert not is_signed_in(client)


def test_an_api_call_within_the_limits_answers(clock, member):
    client = signed_in(member)

    clock(MEMBER_IDLE - 1)

    assert client.get(API).status_code == 200


def test_a_bearer_token_call_has_no_session_to_end(clock, member):
    mfa_enrol(member)  # a token needs a second factor behind it
    _token, raw = api_token_issue(user=member, name="script")

    clock(MEMBER_ABSOLUTE + 1)
    response = Client().get(API, headers={"Authorization": f"Bearer {raw}"})

    assert response.status_code == 200


def test_the_sign_in_page_reached_after_the_end_says_why_and_keeps_next(clock, member):
    client = signed_in(member)

    clock(MEMBER_IDLE + 1)
    response = client.get(f"{LOGIN}?next=/me/groups/")

    assert response["Location"] == f"{LOGIN}?next=/me/groups/"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert [str(m) for m in page.context["messages"]] == [IDLE_MESSAGE.format("30 minutes")]


def test_a_timed_out_session_ends_alone(clock, member):
    office, phone = password_sign_in(member), password_sign_in(member)

    clock(MEMBER_IDLE - 100)
    assert phone.get(PAGE).status_code == 200
    clock(MEMBER_IDLE + 1)
    assert office.get(PAGE).status_code == 302

    assert phone.get(PAGE).status_code == 200
    assert not AuditEntry.objects.filter(action="members.user.signed_out_everywhere").exists()


# --- The page's countdown -----------------------------------------------------------------


def test_a_signed_in_page_carries_the_clock_for_the_warning(clock, member):
    client = signed_in(member)

    clock(100)
    body = client.get(PAGE).content.decode()

    assert '<dialog id="logoff-warning"' in body
    assert 'role="alertdialog"' in body
    assert f'data-idle-remaining="{MEMBER_IDLE - 100}"' in body
    assert f'data-absolute-remaining="{MEMBER_ABSOLUTE - 100}"' in body
    assert 'data-warning="60"' in body
    assert f'data-keepalive-url="{KEEPALIVE}"' in body
    assert '<script src="/static/js/session-timeout.js" defer></script>' in body


def test_a_signed_out_page_has_no_warning(client):
    body = client.get(LOGIN).content.decode()

    assert "logoff-warning" not in body


def test_an_htmx_response_tells_the_page_the_new_idle_time(clock, member):
    client = signed_in(member)

    clock(10)
    response = client.get("/me/meetings/", headers={"HX-Request": "true"})

    assert response[IDLE_REMAINING_HEADER] == str(MEMBER_IDLE - 10)


# --- Stay signed in -------------------------------------------------------------------------


def test_stay_signed_in_restarts_the_idle_clock(clock, member):
    client = signed_in(member)

    clock(MEMBER_IDLE - 30)
    response = client.post(KEEPALIVE)

    assert response.status_code == 200
    assert response.json() == {
        "idle_remaining": MEMBER_IDLE,
        "absolute_remaining": MEMBER_ABSOLUTE - MEMBER_IDLE + 30,
        "warning": 60,
    }
    clock(2 * MEMBER_IDLE - 31)
    assert client.get(PAGE).status_code == 200


def test_stay_signed_in_does_not_extend_the_maximum_length(clock, limits, member):
    limits.GROUPCARE_SESSION_ABSOLUTE_MEMBER = 3000
    client = signed_in(member)

    for seconds in (1500, 2950):
        clock(seconds)
        assert client.post(KEEPALIVE).status_code == 200
    assert client.post(KEEPALIVE).json()["absolute_remaining"] == 50
    clock(3001)
    response = client.get(PAGE)

    assert messages_after(client, response) == [ABSOLUTE_MESSAGE.format("50 minutes")]


def test_stay_signed_in_after_the_end_is_a_401_for_the_page_script(clock, member):
    client = signed_in(member)

    clock(MEMBER_IDLE + 1)
    response = client.post(KEEPALIVE, headers={"Accept": "application/json"})

    assert response.status_code == 401
    assert response.json() == {"detail": IDLE_MESSAGE.format("30 minutes")}


@pytest.mark.parametrize(
    ("persona", "method", "status"),
    [
        ("anonymous", "post", 302),
        ("anonymous", "get", 302),
        ("member", "get", 405),
        ("facilitator", "get", 405),
        ("member", "post", 200),
        ("facilitator", "post", 200),
        ("clinic admin", "post", 200),
    ],
)
def test_the_keepalive_answers_only_a_post_of_someone_signed_in(people, persona, method, status):
    client = Client() if persona == "anonymous" else signed_in(people[persona])

    response = getattr(client, method)(KEEPALIVE)

    assert response.status_code == status
    if status == 302:
        assert response["Location"] == login_redirect(KEEPALIVE)


def test_the_keepalive_needs_the_csrf_token(member):
    client = signed_in(member, enforce_csrf_checks=True)
    client.get(PAGE)  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value

    assert client.post(KEEPALIVE).status_code == 403
    assert client.post(KEEPALIVE, headers={"X-CSRFToken": token}).status_code == 200


# --- No cost per request --------------------------------------------------------------------


def test_automatic_logoff_adds_no_query_to_a_request(
    clock, settings, member, django_assert_num_queries
):
    client = signed_in(member)
    clock(1)
    client.get(PAGE)  # the first request after sign-in settles the session (time zone)
    without = [m for m in settings.MIDDLEWARE if not m.endswith("SessionTimeoutMiddleware")]
    with_it = list(settings.MIDDLEWARE)

    # A client loads the middleware at its first request: a second one, on the same
    # session, runs without automatic logoff.
    settings.MIDDLEWARE = without
    bare = Client()
    bare.cookies = client.cookies
    clock(5)
    with CaptureQueriesContext(connection) as baseline:
        assert bare.get(PAGE).status_code == 200
    settings.MIDDLEWARE = with_it
    clock(10)
    with django_assert_num_queries(len(baseline.captured_queries)):
        assert client.get(PAGE).status_code == 200


def test_activity_is_written_to_the_session_only_once_it_moved_by_a_step(
    clock, member, django_assert_num_queries
):
    client = signed_in(member)
    clock(1)
    client.get(PAGE)
    clock(10)
    with CaptureQueriesContext(connection) as quiet:
        client.get(PAGE)
    step = MEMBER_IDLE // 15

    clock(step - 1)
    with django_assert_num_queries(len(quiet.captured_queries)):
        client.get(PAGE)
    clock(step + 1)
    with CaptureQueriesContext(connection) as moved:
        client.get(PAGE)

    assert not any(session_written(q) for q in quiet.captured_queries)
    assert [session_written(q) for q in moved.captured_queries].count(True) == 1
    assert client.session[ACTIVITY_KEY] == T0.timestamp() + step + 1


def session_written(query: dict) -> bool:
    return query["sql"].startswith('UPDATE "django_session"')


# --- Sign-in, sign-out, new password ---------------------------------------------------------


def test_signing_in_gives_the_session_a_new_key(member):
    client = Client()
    before = client.session.session_key

    response = client.post(LOGIN, {"login": member.email, "password": TEST_PASSWORD})

    assert response.status_code == 302
    after = client.session.session_key
    assert after != before
    assert client.session["_auth_user_id"] == str(member.pk)


def test_signing_out_ends_the_persons_other_sessions(member):
    laptop, phone = password_sign_in(member), password_sign_in(member)
    assert phone.get(PAGE).status_code == 200

    laptop.post("/accounts/logout/")

    assert phone.get(PAGE)["Location"] == login_redirect(PAGE)
    assert UserSession.objects.filter(user=member).count() == 0
    entry = AuditEntry.objects.get(action="members.user.signed_out_everywhere")
    assert (entry.actor, entry.data) == (member, {"count": 2, "reason": "signed_out"})


def test_signing_out_of_the_django_admin_ends_the_other_sessions_too(people):
    admin = people["superuser"]
    clients = [signed_in(admin), signed_in(admin)]
    for client in clients:
        UserSession.objects.create(
            user=admin, session_key=client.session.session_key, ip="127.0.0.1", user_agent="t"
        )

    clients[0].post("/admin/logout/")

    assert clients[1].get("/admin/")["Location"].startswith("/admin/login/")
    assert UserSession.objects.filter(user=admin).count() == 0


def test_signing_out_leaves_other_peoples_sessions_alone(people, member):
    other = people["no role yet"]
    mine, theirs = password_sign_in(member), password_sign_in(other)

    mine.post("/accounts/logout/")

    assert theirs.get(PAGE).status_code == 200
    assert UserSession.objects.filter(user=other).count() == 1


def test_a_new_password_ends_the_other_sessions_and_keeps_this_one(member):
    here, elsewhere = password_sign_in(member), password_sign_in(member)
    new_password = "a-brand-new-long-passphrase"

    response = here.post(
        PAGE,
        {"oldpassword": TEST_PASSWORD, "password1": new_password, "password2": new_password},
    )

    assert response.status_code == 302
    assert here.get(PAGE).status_code == 200
    assert is_signed_in(here)
    assert elsewhere.get(PAGE)["Location"] == login_redirect(PAGE)
    assert list(UserSession.objects.filter(user=member).values_list("session_key", flat=True)) == [
        here.session.session_key
    ]


def test_ending_all_sessions_spares_the_one_named_and_is_idempotent(member):
    keep, end = password_sign_in(member), password_sign_in(member)
    keep_key = keep.session.session_key

    ended = user_sessions_end_all(user=member, except_session_key=keep_key, reason="test")
    again = user_sessions_end_all(user=member, except_session_key=keep_key, reason="test")

    assert (ended, again) == (1, 0)
    assert is_signed_in(keep)
    assert not is_signed_in(end)
    entries = AuditEntry.objects.filter(action="members.user.signed_out_everywhere")
    assert [entry.data for entry in entries.order_by("pk")] == [
        {"count": 1, "reason": "test"},
        {"count": 0, "reason": "test"},
    ]


def test_a_bearer_header_does_not_exempt_a_signed_in_session(clock, member):
    client = signed_in(member, HTTP_AUTHORIZATION="Bearer not-a-token")

    clock(MEMBER_IDLE + 1)
    response = client.get(PAGE)

    assert response.status_code == 302
    assert not is_signed_in(client)


def test_becoming_staff_signs_the_person_out_everywhere(
    clinic, member, django_capture_on_commit_callbacks
):
    phone = password_sign_in(member)

    with django_capture_on_commit_callbacks(execute=True):
        clinic_role_grant(user=member, clinic=clinic, role=Role.FACILITATOR)

    # The next sign-in decides again: staff limits, and MFA required.
    assert phone.get(PAGE)["Location"] == login_redirect(PAGE)
    entry = AuditEntry.objects.get(action="members.user.signed_out_everywhere")
    assert entry.data == {"count": 1, "reason": "became_staff"}
