"""A security key (WebAuthn) as the second factor, in a real browser with Chromium's virtual
authenticator standing in for the key: a facilitator held at set-up adds a key instead of a
one-time-code app, the site opens, and their next sign-in asks for the key. allauth's
scripts run under our Content-Security-Policy (the page fixtures fail the test on a
violation or a script error, which is also how a refused key shows).
"""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import Page, expect

from members.enums import Role
from tests.e2e.conftest import DESKTOP, PHONE
from tests.factories.members import TEST_PASSWORD, ClinicFactory, ClinicRoleFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _plug_in_a_security_key(page: Page) -> None:
    """Chromium's virtual authenticator: answers WebAuthn calls of this page's context as a
    USB key would, with the user present and verified."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )


def _password(page: Page, email: str) -> None:
    page.goto("/accounts/login/")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(TEST_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def test_a_facilitator_adds_a_security_key_and_signs_in_with_it(page_at, live_server, look):
    user = ClinicRoleFactory(
        clinic=ClinicFactory(name="Riverside Clinic"), role=Role.FACILITATOR, _mfa=False
    ).user
    page = page_at(DESKTOP)
    _plug_in_a_security_key(page)

    _password(page, user.email)
    assert "/accounts/2fa/totp/activate/" in page.url  # held at set-up
    page.get_by_role("link", name="Two-factor authentication").click()
    page.get_by_role("link", name="Add").click()
    # Just signed in: no second request for the password.
    expect(page).to_have_url(f"{live_server.url}/accounts/2fa/webauthn/add/")
    look(page, "security-key-add", PHONE, DESKTOP)
    page.get_by_label("Name").fill("Blue key")
    with page.expect_navigation():
        page.get_by_role("button", name="Add").click()

    key = Authenticator.objects.get(user=user, type=Authenticator.Type.WEBAUTHN)
    assert key.wrap().name == "Blue key"
    page.goto("/today/")
    expect(page).to_have_url(f"{live_server.url}/today/")

    # Signed out, the next sign-in asks for the key after the password.
    page.context.clear_cookies()
    _password(page, user.email)
    assert "/accounts/2fa/authenticate/" in page.url
    look(page, "security-key-sign-in", PHONE, DESKTOP)
    with page.expect_navigation():
        page.get_by_role("button", name="Use a security key").click()
    assert "/accounts/" not in page.url, page.url
    page.goto("/today/")
    expect(page).to_have_url(f"{live_server.url}/today/")
