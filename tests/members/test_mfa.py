"""Multi-factor authentication: staff must enrol before anything opens, codes are single use,
and API tokens are no way around it."""

from __future__ import annotations

from io import StringIO

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from members.enums import Role
from members.mfa import FACTOR_TYPES
from members.models import ApiToken, AuditEntry, User
from members.services import api_token_issue
from tests.factories.members import (
    TEST_PASSWORD,
    ClinicFactory,
    ClinicRoleFactory,
    MemberFactory,
    UserFactory,
    current_totp_code,
    mfa_enrol,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _forget_used_codes():
    # allauth remembers used codes in the cache by user id, and ids repeat between tests.
    cache.clear()


SETUP = reverse("mfa_activate_totp")
LOGIN = reverse("account_login")
AUTHENTICATE = reverse("mfa_authenticate")


def unenrolled_staff(role: str = Role.FACILITATOR) -> User:
    return ClinicRoleFactory(role=role, _mfa=False).user


def _placeholders(pattern: URLPattern | URLResolver) -> dict:
    """Placeholder arguments for one pattern's own part of the path: typed path() arguments
    get a value of their type; a regex route's groups (DRF's routers, allauth's keys) all
    accept "1"."""
    kwargs = dict.fromkeys(pattern.pattern.regex.groupindex, "1")
    if "app_label" in kwargs:  # the Django admin's app index lists its apps
        kwargs["app_label"] = "members"
    kwargs.update(
        (name, 1 if type(conv).__name__ == "IntConverter" else "x")
        for name, conv in pattern.pattern.converters.items()
    )
    return kwargs


def _routes(
    resolver: URLResolver | None = None, prefix: str = "", outer: dict | None = None
) -> list[tuple[str, dict]]:
    """Every named route of the URL conf, with placeholder arguments: generated, so a new
    route is covered without anyone remembering to add it here."""
    resolver = resolver or get_resolver()
    outer = outer or {}
    found = []
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            namespace = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            found += _routes(pattern, namespace, {**outer, **_placeholders(pattern)})
        elif isinstance(pattern, URLPattern) and pattern.name:
            found.append((prefix + pattern.name, {**outer, **_placeholders(pattern)}))
    return found


#: What a staff member without MFA may still open: the set-up itself and the way out.
OPEN_TO_THE_UNENROLLED = ("/accounts/2fa/", "/accounts/logout/", "/accounts/reauthenticate/")


unreachable: list[str] = []


def _closed_paths() -> list[str]:
    paths = set()
    for name, kwargs in _routes():
        try:
            path = reverse(name, kwargs=kwargs)
        except NoReverseMatch:
            unreachable.append(name)
            continue
        if path.startswith(OPEN_TO_THE_UNENROLLED) or path in ("/healthz", "/favicon.ico"):
            continue
        # Signing in and up is for the signed-out; a signed-in user is sent on from there.
        if path.startswith(("/accounts/login/", "/accounts/signup/")):
            continue
        paths.add(path)
    return sorted(paths)


CLOSED_PATHS = _closed_paths()


def test_every_route_of_the_site_is_checked():
    assert unreachable == []
    assert len(CLOSED_PATHS) > 60
    assert any(path.startswith("/api/v1/") for path in CLOSED_PATHS)
    assert any(path.startswith("/admin/") for path in CLOSED_PATHS)


@pytest.mark.parametrize("path", CLOSED_PATHS)
@pytest.mark.parametrize("role", [Role.ADMIN, Role.FACILITATOR])
def test_staff_without_mfa_are_sent_to_set_it_up_from_every_page(client, path, role):
    client.force_login(unenrolled_staff(role))

    response = client.get(path)

    if path.startswith("/api/"):
        assert response.status_code == 403
        assert response.json()["code"] == "mfa_required"
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(SETUP + "?next=")


@pytest.mark.parametrize("path", ["/api/v1/groups/", "/api/v1/me/tokens/", "/groups/"])
def test_staff_without_mfa_cannot_post_either(client, path):
    client.force_login(unenrolled_staff())

    response = client.post(path, {}, content_type="application/json")

    assert response.status_code == (403 if path.startswith("/api/") else 302)
    assert not ApiToken.objects.exists()


def test_a_django_admin_account_without_mfa_is_held_too(client):
    user = UserFactory(is_staff=True)
    client.force_login(user)

    assert client.get("/admin/")["Location"].startswith(SETUP)


def test_htmx_requests_are_redirected_by_htmx(client):
    client.force_login(unenrolled_staff())

    response = client.get("/today/", headers={"HX-Request": "true"})

    assert response["HX-Redirect"].startswith(SETUP)


def test_enrolled_staff_and_members_without_mfa_go_where_they_asked(client):
    enrolled = ClinicRoleFactory(role=Role.ADMIN).user
    role = ClinicRoleFactory(role=Role.MEMBER)
    member = MemberFactory(clinic=role.clinic, user=role.user).user

    client.force_login(enrolled)
    assert client.get("/groups/").status_code == 200
    client.force_login(member)
    assert client.get("/me/meetings/").status_code == 200


def test_the_set_up_page_and_sign_out_stay_open(client):
    client.force_login(unenrolled_staff())

    assert client.get("/accounts/2fa/").status_code == 200
    assert client.post(reverse("account_logout")).status_code == 302


def _sign_in_with_password(client: Client, user: User) -> None:
    response = client.post(LOGIN, {"login": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 302, response.content[:300]


def _confirm_password(client: Client) -> None:
    """allauth asks for the password again before a factor is removed."""
    response = client.post(reverse("account_reauthenticate"), {"password": TEST_PASSWORD})
    assert response.status_code == 302, response.content[:300]


@pytest.mark.django_db(transaction=True)  # allauth decides on commit, inside the request
def test_enrolling_opens_the_site(client):
    user = unenrolled_staff()
    _sign_in_with_password(client, user)
    assert client.get("/today/")["Location"].startswith(SETUP)

    # Just signed in: the set-up page does not ask for the password again.
    assert client.get(SETUP).status_code == 200
    secret = client.session["mfa.totp.secret"]
    response = client.post(SETUP, {"code": current_totp_code(secret)})

    assert response.status_code == 302
    assert Authenticator.objects.filter(user=user, type__in=FACTOR_TYPES).count() == 1
    assert client.get("/today/").status_code == 200


def test_staff_with_mfa_sign_in_with_password_then_a_code(client):
    user = ClinicRoleFactory(role=Role.FACILITATOR).user

    response = client.post(LOGIN, {"login": user.email, "password": TEST_PASSWORD})
    assert response["Location"] == AUTHENTICATE
    assert client.get("/today/").status_code == 302  # not signed in yet

    response = client.post(AUTHENTICATE, {"code": current_totp_code()})

    assert response.status_code == 302
    assert client.get("/today/").status_code == 200


def test_a_one_time_code_cannot_be_used_twice():
    user = ClinicRoleFactory(role=Role.FACILITATOR).user
    code = current_totp_code()
    first, second = Client(), Client()
    _sign_in_with_password(first, user)
    _sign_in_with_password(second, user)

    assert first.post(AUTHENTICATE, {"code": code}).status_code == 302
    replay = second.post(AUTHENTICATE, {"code": code})

    assert replay.status_code == 200
    assert "Incorrect code" in replay.content.decode()
    assert second.get("/today/").status_code == 302


def test_a_wrong_code_is_refused(client):
    user = ClinicRoleFactory(role=Role.FACILITATOR).user
    _sign_in_with_password(client, user)

    response = client.post(
        AUTHENTICATE, {"code": "000000" if current_totp_code() != "000000" else "1"}
    )

    assert response.status_code == 200
    assert client.get("/today/").status_code == 302


def test_a_recovery_code_works_once():
    user = ClinicRoleFactory(role=Role.FACILITATOR).user
    [code, *_] = RecoveryCodes.activate(user).get_unused_codes()
    first, second = Client(), Client()
    _sign_in_with_password(first, user)
    _sign_in_with_password(second, user)

    assert first.post(AUTHENTICATE, {"code": code}).status_code == 302
    assert first.get("/today/").status_code == 200
    assert second.post(AUTHENTICATE, {"code": code}).status_code == 200
    assert second.get("/today/").status_code == 302


# --- API tokens ----------------------------------------------------------------------


def test_a_member_without_mfa_cannot_create_a_token():
    member = ClinicRoleFactory(role=Role.MEMBER).user
    api = APIClient()
    api.force_login(member)

    response = api.post("/api/v1/me/tokens/", {"name": "laptop"}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "mfa_required"
    assert not ApiToken.objects.exists()


def test_the_command_line_issues_no_token_to_an_account_without_mfa():
    user = unenrolled_staff()

    with pytest.raises(CommandError, match="two-factor"):
        call_command("issue_token", user.email, stdout=StringIO(), stderr=StringIO())

    assert not ApiToken.objects.exists()


def test_a_token_stops_working_when_its_account_loses_mfa():
    user = ClinicRoleFactory(role=Role.FACILITATOR).user
    _, raw = api_token_issue(user=user, name="laptop")
    api = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/me/").status_code == 200

    # Removed behind allauth's back (the Django admin, the database): refused all the same.
    Authenticator.objects.filter(user=user).delete()

    response = api.get("/api/v1/me/")
    assert response.status_code == 401
    assert "two-factor" in response.json()["detail"]


def test_turning_mfa_off_revokes_the_tokens_and_closes_the_site(client):
    clinic = ClinicFactory()
    user = ClinicRoleFactory(role=Role.FACILITATOR, clinic=clinic).user
    token, raw = api_token_issue(user=user, name="laptop")
    _sign_in_with_password(client, user)
    client.post(AUTHENTICATE, {"code": current_totp_code()})
    _confirm_password(client)

    response = client.post(reverse("mfa_deactivate_totp"))

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEntry.objects.filter(
        action="members.api_token.revoked_all", object_id=str(user.pk)
    ).exists()
    assert client.get("/today/")["Location"].startswith(SETUP)
    # Enrolling again does not bring the old token back.
    mfa_enrol(user)
    assert APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/me/").status_code == 401


def test_a_new_password_is_no_way_around_the_code(client, mailoutbox):
    user = ClinicRoleFactory(role=Role.FACILITATOR).user
    client.post(reverse("account_reset_password"), {"email": user.email})
    [message] = mailoutbox
    link = next(word for word in message.body.split() if "/accounts/password/reset/key/" in word)
    path = link.split("://", 1)[1].split("/", 1)[1]
    form_url = client.get("/" + path)["Location"]

    response = client.post(
        form_url, {"password1": "a-new-long-passphrase-1", "password2": "a-new-long-passphrase-1"}
    )

    assert response["Location"] == AUTHENTICATE
    assert client.get("/today/").status_code == 302


def test_turning_mfa_off_ends_the_other_sessions(client):
    user = ClinicRoleFactory(role=Role.FACILITATOR).user
    [recovery_code, *_] = RecoveryCodes.activate(user).get_unused_codes()
    ward_pc = Client()
    _sign_in_with_password(ward_pc, user)
    ward_pc.post(AUTHENTICATE, {"code": current_totp_code()})
    assert ward_pc.get("/today/").status_code == 200
    _sign_in_with_password(client, user)
    client.post(AUTHENTICATE, {"code": recovery_code})  # the app's code was just used
    _confirm_password(client)

    client.post(reverse("mfa_deactivate_totp"))

    assert ward_pc.get("/today/")["Location"].startswith(LOGIN)
    assert client.get("/today/")["Location"].startswith(SETUP)


def test_removing_a_factor_asks_for_the_password_even_just_after_signing_in(client):
    user = ClinicRoleFactory(role=Role.FACILITATOR).user
    _sign_in_with_password(client, user)
    client.post(AUTHENTICATE, {"code": current_totp_code()})
    deactivate = reverse("mfa_deactivate_totp")

    response = client.get(deactivate)

    assert response["Location"].startswith(reverse("account_reauthenticate"))
    _confirm_password(client)
    assert client.get(deactivate).status_code == 200


def test_a_first_factor_asks_for_the_password_once_the_sign_in_is_not_fresh(client, time_machine):
    user = unenrolled_staff()
    time_machine.move_to("2026-12-07 09:00:00+00:00", tick=False)
    _sign_in_with_password(client, user)
    assert client.get(SETUP).status_code == 200

    time_machine.move_to("2026-12-07 09:05:01+00:00", tick=False)  # 301 s on, not idle yet

    assert client.get(SETUP)["Location"].startswith(reverse("account_reauthenticate"))


def test_a_session_that_did_not_sign_in_with_the_password_here_is_asked_for_it(client):
    # No record of a sign-in in this session (as for a session restored from before the
    # logoff clock existed): the first factor needs the password too.
    client.force_login(unenrolled_staff())

    assert client.get(SETUP)["Location"].startswith(reverse("account_reauthenticate"))


def test_a_security_key_is_offered_and_counts_as_a_second_factor(client, settings):
    assert "webauthn" in settings.MFA_SUPPORTED_TYPES
    assert settings.MFA_PASSKEY_LOGIN_ENABLED is False  # a second factor, not a password
    user = unenrolled_staff()
    Authenticator.objects.create(
        user=user, type=Authenticator.Type.WEBAUTHN, data={"name": "Blue key"}
    )

    token, _raw = api_token_issue(user=user, name="laptop")
    client.force_login(user)

    assert token.revoked_at is None
    assert client.get("/today/").status_code == 200
    assert "You have added 1 security key." in client.get(reverse("mfa_index")).content.decode()
