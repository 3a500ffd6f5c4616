"""Sign-in, sign-out and password reset through allauth, in GroupCare's own layout."""

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from tests.factories.members import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "heading"),
    [
        ("/accounts/login/", "Sign in"),
        ("/accounts/password/reset/", "Password Reset"),
    ],
)
def test_entrance_pages_render_in_our_layout(client, url, heading):
    response = client.get(url)

    assert response.status_code == 200
    body = response.content.decode()
    assert heading in body
    assert '<a class="brand" href="/">GroupCare</a>' in body
    assert "<form" in body


def test_login_page_offers_no_sign_up(client):
    body = client.get("/accounts/login/").content.decode()

    assert "/accounts/signup/" not in body
    assert "no self sign-up" in body


def test_signup_page_says_sign_up_is_closed(client):
    response = client.get("/accounts/signup/")

    assert response.status_code == 200
    assert "Sign Up Closed" in response.content.decode()


def test_uninvited_visitor_cannot_create_an_account(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "stranger@example.org", "password1": "a-long-enough-password-1"},
    )

    assert response.status_code == 200
    assert not get_user_model().objects.filter(email="stranger@example.org").exists()


def test_login_with_email_in_any_case_reaches_home(client):
    UserFactory(email="sam@example.org")

    response = client.post(
        "/accounts/login/", {"login": "SAM@example.org", "password": TEST_PASSWORD}
    )

    assert response.status_code == 302
    assert response.url == "/"


def test_login_with_wrong_password_is_refused(client):
    UserFactory(email="sam@example.org")

    response = client.post("/accounts/login/", {"login": "sam@example.org", "password": "nope"})

    assert response.status_code == 200
    assert "not correct" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout_asks_then_signs_out(client):
    client.force_login(UserFactory())

    assert client.get("/accounts/logout/").status_code == 200
    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_password_reset_mails_a_link_to_a_known_address(client):
    UserFactory(email="sam@example.org")

    response = client.post("/accounts/password/reset/", {"email": "sam@example.org"})

    assert response.status_code == 302
    assert [message.to for message in mail.outbox] == [["sam@example.org"]]
    assert "/accounts/password/reset/key/" in mail.outbox[0].body
