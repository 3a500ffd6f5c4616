"""Every door into an account is rate limited by allauth (settings.ACCOUNT_RATE_LIMITS),
counted in the cache (Redis in production, shared by every web process):

- failed sign-ins: 5 in 5 minutes for one account, 10 a minute from one address;
- sign-in attempts of any kind: 30 a minute from one address (then a 429 page);
- password-reset requests: 5 a minute for one address, 20 a minute from one client;
- wrong one-time codes at the MFA step count as failed sign-ins of the account;
- the Django admin has no sign-in of its own: it sends everyone to allauth's.

The suite's cache is emptied before every test (tests/conftest.py).
"""

from __future__ import annotations

import time

import pytest
import time_machine
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client, override_settings

from tests.factories.members import TEST_PASSWORD, TEST_TOTP_SECRET, UserFactory, mfa_enrol
from tests.web.pages import assert_strict_csp

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
MFA = "/accounts/2fa/authenticate/"
RESET = "/accounts/password/reset/"
LOCKED = "Too many failed login attempts"
WRONG_PASSWORD = "not-the-password-at-all"


def _sign_in(client: Client, email: str, password: str, **extra: str):
    return client.post(LOGIN, {"login": email, "password": password}, **extra)


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _totp_codes_now() -> set[str]:
    """Every code the authenticator app could show now (allauth accepts one step either side)."""
    counter = int(time.time()) // 30
    return {
        format_hotp_value(hotp_value(TEST_TOTP_SECRET, step))
        for step in range(counter - 1, counter + 2)
    }


def _current_code() -> str:
    """The code the authenticator app shows now."""
    return format_hotp_value(hotp_value(TEST_TOTP_SECRET, int(time.time()) // 30))


def _wrong_code() -> str:
    valid = _totp_codes_now()
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in valid)


# --- Failed sign-ins of one account ----------------------------------------------------


def test_after_five_failed_sign_ins_even_the_right_password_is_refused(client):
    UserFactory(email="sam@example.org")
    for _ in range(5):
        failed = _sign_in(client, "sam@example.org", WRONG_PASSWORD)
        assert "not correct" in failed.content.decode()

    response = _sign_in(client, "sam@example.org", TEST_PASSWORD)

    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    assert not _signed_in(client)


def test_the_lock_is_on_the_account_whatever_the_spelling_or_the_address(client):
    UserFactory(email="sam@example.org")
    for number in range(5):
        _sign_in(client, "SAM@example.org", WRONG_PASSWORD, REMOTE_ADDR=f"192.0.2.{number}")

    response = _sign_in(Client(), "sam@example.org", TEST_PASSWORD, REMOTE_ADDR="198.51.100.7")

    assert LOCKED in response.content.decode()


def test_another_account_signs_in_from_the_same_address_meanwhile(client):
    UserFactory(email="sam@example.org")
    UserFactory(email="kim@example.org")
    for _ in range(5):
        _sign_in(client, "sam@example.org", WRONG_PASSWORD)

    response = _sign_in(client, "kim@example.org", TEST_PASSWORD)

    assert response.status_code == 302
    assert _signed_in(client)


def test_the_account_opens_again_five_minutes_later(client):
    UserFactory(email="sam@example.org")
    with time_machine.travel("2026-03-02 09:00:00Z", tick=False) as clock:
        for _ in range(5):
            _sign_in(client, "sam@example.org", WRONG_PASSWORD)
        clock.shift(299)
        assert LOCKED in _sign_in(client, "sam@example.org", TEST_PASSWORD).content.decode()

        clock.shift(2)
        response = _sign_in(client, "sam@example.org", TEST_PASSWORD)

        assert response.status_code == 302
        assert _signed_in(client)


# --- One address trying many accounts --------------------------------------------------


def test_ten_failures_a_minute_from_one_address_lock_that_address_out_of_every_account(client):
    for number in range(10):
        _sign_in(client, f"guess{number}@example.org", WRONG_PASSWORD)
    UserFactory(email="sam@example.org")

    from_there = _sign_in(client, "sam@example.org", TEST_PASSWORD)
    from_elsewhere = _sign_in(Client(), "sam@example.org", TEST_PASSWORD, REMOTE_ADDR="192.0.2.9")

    assert LOCKED in from_there.content.decode()
    assert from_elsewhere.status_code == 302


def test_the_thirty_first_sign_in_attempt_a_minute_from_one_address_gets_the_429_page(client):
    for number in range(30):
        assert _sign_in(client, f"guess{number}@example.org", WRONG_PASSWORD).status_code == 200

    response = _sign_in(client, "guess@example.org", WRONG_PASSWORD)

    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many attempts" in body
    assert '<a class="brand" href="/">GroupCare</a>' in body
    assert_strict_csp(response)


@override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=1)
def test_behind_the_proxy_each_visitor_is_counted_by_their_own_address():
    """Every request reaches the app from the proxy; the visitor is the address the proxy
    appended to X-Forwarded-For (settings: GROUPCARE_TRUSTED_PROXY_COUNT)."""
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    attacker = Client(HTTP_X_FORWARDED_FOR="203.0.113.66", **proxy)
    visitor = Client(HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy)
    # A forged first entry does not change who is counted: the proxy's entry is last.
    forger = Client(HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.66", **proxy)
    UserFactory(email="sam@example.org")
    for number in range(10):
        _sign_in(attacker, f"guess{number}@example.org", WRONG_PASSWORD)

    assert LOCKED in _sign_in(forger, "sam@example.org", TEST_PASSWORD).content.decode()
    assert _sign_in(visitor, "sam@example.org", TEST_PASSWORD).status_code == 302


# --- The Django admin ------------------------------------------------------------------


def test_the_admin_login_page_sends_visitors_to_the_sign_in_page(client):
    response = client.get("/admin/login/?next=/admin/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2F"


def test_the_admin_index_leads_an_anonymous_visitor_to_the_sign_in_page(client):
    response = client.get("/admin/", follow=True)

    assert response.redirect_chain[-1] == ("/accounts/login/?next=%2Fadmin%2F", 302)
    assert response.status_code == 200


def test_posting_a_password_to_the_admin_login_checks_nothing_and_signs_nobody_in(client):
    root = get_user_model().objects.create_superuser(email="root@example.org", password="x")
    root.set_password(TEST_PASSWORD)
    root.save()

    response = client.post(
        "/admin/login/?next=/admin/", {"username": "root@example.org", "password": TEST_PASSWORD}
    )

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not _signed_in(client)


def test_the_admin_is_reached_only_through_sign_in_and_its_one_time_code(client):
    root = get_user_model().objects.create_superuser(email="root@example.org", password="x")
    root.set_password(TEST_PASSWORD)
    root.save()
    mfa_enrol(root)

    password_step = client.post(
        "/accounts/login/?next=/admin/", {"login": "root@example.org", "password": TEST_PASSWORD}
    )
    assert password_step["Location"] == MFA
    assert not _signed_in(client)
    code_step = client.post(MFA, {"code": _current_code()})

    assert code_step["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_the_admin_refuses_a_signed_in_person_without_admin_access(client_as):
    client = client_as("admin")  # a clinic admin: a clinic role, not Django admin access

    response = client.get("/admin/", follow=True)

    assert response.status_code == 403
    assert client.get("/admin/login/").status_code == 403


def test_failed_sign_ins_lock_an_admin_account_like_any_other(client):
    root = get_user_model().objects.create_superuser(email="root@example.org", password="x")
    root.set_password(TEST_PASSWORD)
    root.save()
    for _ in range(5):
        _sign_in(client, "root@example.org", WRONG_PASSWORD)

    response = _sign_in(client, "root@example.org", TEST_PASSWORD)

    assert LOCKED in response.content.decode()
    assert not _signed_in(client)


# --- Password reset --------------------------------------------------------------------


def test_password_reset_mails_one_address_at_most_five_times_a_minute(client):
    UserFactory(email="sam@example.org")
    for _ in range(5):
        assert client.post(RESET, {"email": "sam@example.org"}).status_code == 302

    response = client.post(RESET, {"email": "sam@example.org"})

    assert response.status_code == 429
    assert_strict_csp(response)
    assert len(mail.outbox) == 5


def test_password_reset_limit_is_per_address(client):
    UserFactory(email="sam@example.org")
    UserFactory(email="kim@example.org")
    for _ in range(5):
        client.post(RESET, {"email": "sam@example.org"})

    response = client.post(RESET, {"email": "kim@example.org"})

    assert response.status_code == 302
    assert mail.outbox[-1].to == ["kim@example.org"]


def test_password_reset_requests_from_one_client_stop_after_twenty_a_minute(client):
    for number in range(20):
        assert client.post(RESET, {"email": f"guess{number}@example.org"}).status_code == 302

    response = client.post(RESET, {"email": "guess@example.org"})

    assert response.status_code == 429


# --- The one-time code (MFA) -----------------------------------------------------------


@pytest.fixture
def enrolled_member():
    user = UserFactory(email="member@example.org")
    mfa_enrol(user)
    return user


def _past_the_password(client: Client) -> None:
    response = _sign_in(client, "member@example.org", TEST_PASSWORD)
    assert response["Location"] == MFA
    assert not _signed_in(client)


def test_a_wrong_code_is_refused_and_the_right_one_signs_in(client, enrolled_member):
    _past_the_password(client)

    wrong = client.post(MFA, {"code": _wrong_code()})
    right = client.post(MFA, {"code": _current_code()})

    assert wrong.status_code == 200
    assert "Incorrect code" in wrong.content.decode()
    assert right.status_code == 302
    assert _signed_in(client)


def test_after_five_wrong_codes_even_the_right_code_is_refused(client, enrolled_member):
    _past_the_password(client)
    for _ in range(5):
        assert "Incorrect code" in client.post(MFA, {"code": _wrong_code()}).content.decode()

    response = client.post(MFA, {"code": _current_code()})

    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    assert not _signed_in(client)


def test_wrong_codes_lock_the_account_across_new_password_steps(client, enrolled_member):
    """Starting again from the password does not reset the count of wrong codes."""
    for _ in range(5):
        _past_the_password(client)
        client.post(MFA, {"code": _wrong_code()})
        client.cookies.clear()

    _past_the_password(client)
    response = client.post(MFA, {"code": _current_code()})

    assert LOCKED in response.content.decode()
    assert not _signed_in(client)
