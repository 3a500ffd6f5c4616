"""The life of a personal API token: issued, used as ``Authorization: Bearer``, listed
without its secret, revoked, refused afterwards; and the browser-session rules around it."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import time_machine
from rest_framework.test import APIClient

from members.enums import Role
from members.models import ApiToken, AuditEntry
from members.services import api_token_issue
from tests.factories.members import mfa_enrol

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 3, 4, 9, 30, tzinfo=dt.UTC)
REFUSED = {"detail": "The token is not valid, or it was revoked."}


@pytest.fixture
def user(clinic, make_user):
    """A member who opted in to MFA: only such an account may hold tokens."""
    user = make_user(clinic=clinic, role=Role.MEMBER, email="ren@example.org", full_name="Ren")
    mfa_enrol(user)
    return user


@pytest.fixture
def issued(user):
    """A token of ``user`` and its clear text, issued at ``NOW``."""
    with time_machine.travel(NOW, tick=False):
        return api_token_issue(user=user, name="phone")


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_a_bearer_token_authenticates_its_user(user, clinic, issued):
    _, raw = issued

    response = bearer(raw).get("/api/v1/me/")

    assert response.status_code == 200
    assert response.json() == {
        "id": user.pk,
        "email": "ren@example.org",
        "full_name": "Ren",
        "roles": [
            {
                "clinic_id": clinic.pk,
                "clinic_name": clinic.name,
                "clinic_timezone": "Europe/London",
                "role": "member",
            }
        ],
    }


def test_using_a_token_records_when_it_was_last_used(issued):
    token, raw = issued

    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        bearer(raw).get("/api/v1/me/")

    token.refresh_from_db()
    assert token.last_used_at == NOW + dt.timedelta(hours=1)


def test_last_used_is_written_at_most_once_a_minute(issued, django_assert_num_queries):
    token, raw = issued
    client = bearer(raw)
    with time_machine.travel(NOW, tick=False):
        client.get("/api/v1/me/")

    # Within the minute: the token lookup and the roles, no UPDATE.
    with (
        time_machine.travel(NOW + dt.timedelta(seconds=59), tick=False),
        django_assert_num_queries(2),
    ):
        client.get("/api/v1/me/")
    token.refresh_from_db()
    assert token.last_used_at == NOW

    with time_machine.travel(NOW + dt.timedelta(seconds=60), tick=False):
        client.get("/api/v1/me/")
    token.refresh_from_db()
    assert token.last_used_at == NOW + dt.timedelta(seconds=60)


def test_a_revoked_token_is_refused_with_a_bearer_challenge(issued):
    token, raw = issued
    client = bearer(raw)

    revoked = client.delete(f"/api/v1/me/tokens/{token.pk}/")
    response = client.get("/api/v1/me/")

    assert revoked.status_code == 204
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json() == REFUSED


def test_revoking_keeps_the_token_on_record_with_the_time_of_revocation(user, issued):
    token, _ = issued
    client = APIClient()
    client.force_login(user)

    with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
        client.delete(f"/api/v1/me/tokens/{token.pk}/")
    response = client.get(f"/api/v1/me/tokens/{token.pk}/")

    assert response.json() == {
        "id": token.pk,
        "name": "phone",
        "prefix": token.prefix,
        "created_at": "2025-03-04T09:30:00Z",
        "last_used_at": None,
        "revoked_at": "2025-03-05T09:30:00Z",
    }


def test_revoking_a_revoked_token_changes_nothing(user, issued):
    token, _ = issued
    client = APIClient()
    client.force_login(user)
    with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
        client.delete(f"/api/v1/me/tokens/{token.pk}/")

    with time_machine.travel(NOW + dt.timedelta(days=2), tick=False):
        again = client.delete(f"/api/v1/me/tokens/{token.pk}/")

    assert again.status_code == 204
    token.refresh_from_db()
    assert token.revoked_at == NOW + dt.timedelta(days=1)
    assert AuditEntry.objects.filter(action="members.api_token.revoked").count() == 1


def test_an_unknown_token_is_refused():
    response = bearer("gc_" + "x" * 43).get("/api/v1/me/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json() == REFUSED


ONE_TOKEN = "Send the header as 'Authorization: Bearer <token>', with one token."


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Bearer", ONE_TOKEN),
        ("Bearer two tokens", ONE_TOKEN),
        ("Bearer \xe9t\xe9", "The token is not valid."),
        # Another scheme is not ours to judge: the caller is anonymous, and still refused.
        ("Token gc_abc", "Authentication credentials were not provided."),
    ],
    ids=["no-token", "two-tokens", "not-utf8", "other-scheme"],
)
def test_a_malformed_authorization_header_is_refused(header, detail, issued):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/v1/me/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": detail}


def test_the_token_of_a_deactivated_account_is_refused(user, issued):
    _, raw = issued
    user.is_active = False
    user.save(update_fields=["is_active"])

    response = bearer(raw).get("/api/v1/me/")

    assert response.status_code == 401
    assert response.json() == REFUSED


def test_the_token_is_stored_only_as_its_sha256_digest(issued):
    token, raw = issued

    row = ApiToken.objects.values().get(pk=token.pk)

    assert row["digest"] == hashlib.sha256(raw.encode()).hexdigest()
    assert row["prefix"] == raw[:10]
    assert [column for column, value in row.items() if raw in str(value)] == []


def test_the_audit_log_never_holds_the_token(issued):
    _, raw = issued

    entries = list(AuditEntry.objects.values())

    assert entries
    assert [entry for entry in entries if raw in str(entry)] == []


def test_the_list_shows_the_prefix_never_the_token(user, issued):
    token, raw = issued
    client = APIClient()
    client.force_login(user)

    response = client.get("/api/v1/me/tokens/")

    assert response.status_code == 200
    assert response.json() == {
        "count": 1,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": token.pk,
                "name": "phone",
                "prefix": raw[:10],
                "created_at": "2025-03-04T09:30:00Z",
                "last_used_at": None,
                "revoked_at": None,
            }
        ],
    }
    assert raw not in response.content.decode()
    assert raw[10:] not in response.content.decode()


def test_the_list_holds_only_the_callers_tokens(user, issued, make_user):
    someone = make_user()
    mfa_enrol(someone)
    api_token_issue(user=someone, name="someone else's")
    client = APIClient()
    client.force_login(user)

    response = client.get("/api/v1/me/tokens/")

    assert [row["name"] for row in response.json()["results"]] == ["phone"]


def test_a_token_cannot_issue_another_token(issued):
    _, raw = issued

    response = bearer(raw).post("/api/v1/me/tokens/", {"name": "successor"}, format="json")

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Issue tokens from a signed-in browser session, not with a token."
    }
    assert ApiToken.objects.count() == 1


def test_a_browser_session_issues_a_token_and_shows_it_once(user):
    client = APIClient()
    client.force_login(user)

    with time_machine.travel(NOW, tick=False):
        response = client.post("/api/v1/me/tokens/", {"name": "  laptop  "}, format="json")

    assert response.status_code == 201
    body = response.json()
    token = ApiToken.objects.get()
    assert body == {
        "id": token.pk,
        "name": "laptop",
        "prefix": body["token"][:10],
        "created_at": "2025-03-04T09:30:00Z",
        "last_used_at": None,
        "revoked_at": None,
        "token": body["token"],
    }
    assert body["token"].startswith("gc_")
    assert token.digest == hashlib.sha256(body["token"].encode()).hexdigest()
    assert "token" not in client.get(f"/api/v1/me/tokens/{token.pk}/").json()
    assert bearer(body["token"]).get("/api/v1/me/").status_code == 200


@pytest.mark.parametrize("name", ["", "   "])
def test_a_token_needs_a_name(user, name):
    client = APIClient()
    client.force_login(user)

    response = client.post("/api/v1/me/tokens/", {"name": name}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["name"]
    assert ApiToken.objects.count() == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/api/v1/me/tokens/"), ("delete", "/api/v1/me/tokens/{pk}/")],
)
def test_a_session_write_without_a_csrf_token_is_refused(method, path, user, issued):
    token, _ = issued
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)

    response = getattr(client, method)(path.format(pk=token.pk), {"name": "laptop"}, format="json")

    assert response.status_code == 403
    assert response.json() == {"detail": "CSRF Failed: CSRF cookie not set."}
    assert ApiToken.objects.filter(revoked_at=None).count() == 1


def test_a_bearer_write_needs_no_csrf_token(issued):
    # A browser never sends the Authorization header on its own, so there is no CSRF to fear.
    token, raw = issued
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    response = client.delete(f"/api/v1/me/tokens/{token.pk}/")

    assert response.status_code == 204


def test_issuing_and_revoking_are_audited(user):
    client = APIClient()
    client.force_login(user)
    token_id = client.post("/api/v1/me/tokens/", {"name": "laptop"}, format="json").json()["id"]

    client.delete(f"/api/v1/me/tokens/{token_id}/")

    entries = AuditEntry.objects.order_by("pk").values_list(
        "action", "actor", "clinic", "object_type", "object_id", "data", "ip_address"
    )
    assert list(entries) == [
        (
            "members.api_token.issued",
            user.pk,
            None,
            "members.apitoken",
            str(token_id),
            {"user_id": user.pk},
            "127.0.0.1",
        ),
        (
            "members.api_token.revoked",
            user.pk,
            None,
            "members.apitoken",
            str(token_id),
            {"user_id": user.pk},
            "127.0.0.1",
        ),
    ]


@pytest.mark.parametrize("size", [1, 5])
def test_the_token_list_runs_a_constant_number_of_queries(size, user, django_assert_num_queries):
    for number in range(size):
        api_token_issue(user=user, name=f"device {number}")
    client = APIClient()
    client.force_authenticate(user)

    # COUNT for the page, then the page itself.
    with django_assert_num_queries(2):
        response = client.get("/api/v1/me/tokens/")

    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", [1, 5])
def test_the_token_list_by_bearer_runs_a_constant_number_of_queries(
    size, user, django_assert_num_queries
):
    for number in range(size):
        _, raw = api_token_issue(user=user, name=f"device {number}")
    client = bearer(raw)
    client.get("/api/v1/me/")  # last_used_at is now fresh: no UPDATE below.

    # The token with its user, COUNT, the page.
    with django_assert_num_queries(3):
        response = client.get("/api/v1/me/tokens/")

    assert len(response.json()["results"]) == size
