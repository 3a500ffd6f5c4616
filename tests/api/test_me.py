import pytest
from django.core.management import call_command

from members.enums import Role

pytestmark = pytest.mark.django_db


def test_me_returns_the_caller_and_their_roles(client, clinic, other_clinic, make_user):
    user = make_user(clinic=clinic, role=Role.FACILITATOR, email="sam@example.org", full_name="Sam")
    make_user(clinic=other_clinic, role=Role.ADMIN)
    client.force_login(user)

    response = client.get("/api/v1/me/")

    assert response.status_code == 200
    assert response.json() == {
        "id": user.pk,
        "email": "sam@example.org",
        "full_name": "Sam",
        "roles": [
            {
                "clinic_id": clinic.pk,
                "clinic_name": clinic.name,
                "clinic_timezone": "Europe/London",
                "role": "facilitator",
            }
        ],
    }


def test_me_refuses_anonymous_callers(client):
    response = client.get("/api/v1/me/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_openapi_schema_validates(capsys):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_api_docs_page_is_served_without_a_cdn(client):
    body = client.get("/api/docs/").content.decode()

    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in body
    assert "cdn.jsdelivr.net" not in body
