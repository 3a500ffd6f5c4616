import pytest

from members.enums import Role
from tests.factories.members import ClinicRoleFactory

pytestmark = pytest.mark.django_db


def test_home_sends_anonymous_visitors_to_sign_in(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/"


@pytest.mark.parametrize(
    ("roles", "landing"),
    [
        ([Role.FACILITATOR], "/today/"),
        ([Role.ADMIN], "/groups/"),
        ([Role.MEMBER], "/me/meetings/"),
        ([Role.ADMIN, Role.FACILITATOR], "/today/"),
        ([Role.MEMBER, Role.ADMIN], "/groups/"),
    ],
)
def test_home_sends_each_person_to_the_page_of_their_role(
    client, clinic, other_clinic, make_user, roles, landing
):
    user = make_user(clinic=clinic, role=roles[0])
    if len(roles) > 1:
        ClinicRoleFactory(user=user, clinic=other_clinic, role=roles[1])
    client.force_login(user)

    response = client.get("/")

    assert response.status_code == 302
    assert response.url == landing


def test_home_explains_an_account_without_a_role(client, make_user):
    client.force_login(make_user())

    body = client.get("/").content.decode()

    assert "no role in any clinic yet" in body
