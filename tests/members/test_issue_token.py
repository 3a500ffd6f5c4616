"""``manage.py issue_token EMAIL``: a token for integrators, printed once on stdout."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from members.models import ApiToken, AuditEntry
from tests.factories.members import UserFactory, mfa_enrol

pytestmark = pytest.mark.django_db


def issue(*args: str) -> tuple[str, str]:
    stdout, stderr = StringIO(), StringIO()
    call_command("issue_token", *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def test_prints_the_token_alone_on_stdout_and_stores_only_its_digest():
    user = UserFactory(email="billing@example.org")
    mfa_enrol(user)

    stdout, stderr = issue("billing@example.org")

    raw = stdout.removesuffix("\n")
    assert stdout == raw + "\n"
    assert raw.startswith("gc_")
    token = ApiToken.objects.get()
    assert (token.user, token.name, token.prefix, token.digest) == (
        user,
        "Issued from the command line",
        raw[:10],
        hashlib.sha256(raw.encode()).hexdigest(),
    )
    assert raw not in stderr


def test_the_printed_token_authenticates_the_account(client):
    mfa_enrol(UserFactory(email="billing@example.org"))
    stdout, _ = issue("billing@example.org")

    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {stdout.strip()}")

    assert response.status_code == 200
    assert response.json()["email"] == "billing@example.org"


def test_explains_on_stderr_how_to_use_the_token():
    mfa_enrol(UserFactory(email="billing@example.org"))

    _, stderr = issue("billing@example.org")

    assert stderr == (
        "Token for billing@example.org. It is shown only now; send it as "
        "'Authorization: Bearer <token>'.\n"
    )


def test_finds_the_account_whatever_the_case_of_the_address():
    user = UserFactory(email="billing@example.org")
    mfa_enrol(user)

    issue("  Billing@Example.ORG ")

    assert ApiToken.objects.get().user == user


def test_names_the_token_as_asked():
    mfa_enrol(UserFactory(email="billing@example.org"))

    issue("billing@example.org", "--name", "EHR sync")

    assert ApiToken.objects.get().name == "EHR sync"


def test_issuing_is_audited_as_done_by_the_account_itself():
    user = UserFactory(email="billing@example.org")
    mfa_enrol(user)

    issue("billing@example.org")

    token = ApiToken.objects.get()
    assert list(
        AuditEntry.objects.values_list("action", "actor", "object_id", "data", "ip_address")
    ) == [("members.api_token.issued", user.pk, str(token.pk), {"user_id": user.pk}, None)]


def test_an_unknown_address_is_an_error_and_issues_nothing():
    mfa_enrol(UserFactory(email="billing@example.org"))

    with pytest.raises(
        CommandError, match=r"^No account has the e-mail address nobody@example\.org\.$"
    ):
        issue("nobody@example.org")

    assert ApiToken.objects.count() == 0


def test_a_deactivated_account_is_an_error_and_issues_nothing():
    UserFactory(email="gone@example.org", is_active=False)

    with pytest.raises(CommandError, match=r"^The account gone@example\.org is deactivated\.$"):
        issue("gone@example.org")

    assert ApiToken.objects.count() == 0


def test_a_blank_name_is_an_error_and_issues_nothing():
    mfa_enrol(UserFactory(email="billing@example.org"))

    with pytest.raises(CommandError, match="needs a name"):
        issue("billing@example.org", "--name", "   ")

    assert ApiToken.objects.count() == 0


def test_an_account_without_two_factor_authentication_gets_no_token():
    UserFactory(email="billing@example.org")

    with pytest.raises(CommandError, match=r"^Set up two-factor authentication before creating"):
        issue("billing@example.org")

    assert ApiToken.objects.count() == 0
