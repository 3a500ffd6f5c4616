import pytest

from members.enums import Role

pytestmark = pytest.mark.django_db


def test_home_sends_anonymous_visitors_to_sign_in(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/"


def test_home_lists_only_the_users_own_clinics(client, clinic, other_clinic, make_user):
    user = make_user(clinic=clinic, role=Role.FACILITATOR)
    make_user(clinic=other_clinic, role=Role.ADMIN)
    client.force_login(user)

    body = client.get("/").content.decode()

    assert f"{clinic.name} — Facilitator" in body
    assert other_clinic.name not in body


def test_home_explains_an_account_without_a_role(client, make_user):
    client.force_login(make_user())

    body = client.get("/").content.decode()

    assert "no role in any clinic yet" in body
