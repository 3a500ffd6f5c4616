"""The browser set-up works: the live server serves pages with their CSS and scripts, and
the sign-in page and each role's home page are accessible, CSP-clean, at phone and desktop
width."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from members.enums import Role
from tests.e2e.checks import assert_accessible, check_page
from tests.e2e.conftest import DESKTOP, PHONE, sign_in
from tests.factories.members import (
    TEST_PASSWORD,
    ClinicFactory,
    ClinicRoleFactory,
    MemberFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people():
    clinic = ClinicFactory(name="Riverside", timezone="Europe/London")
    users = {}
    for role, email, name in [
        (Role.ADMIN, "admin@example.org", "Ada Admin"),
        (Role.FACILITATOR, "facilitator@example.org", "Fay Facilitator"),
        (Role.MEMBER, "member@example.org", "Max Member"),
    ]:
        user = UserFactory(email=email, full_name=name)
        user.set_password(TEST_PASSWORD)
        user.save(update_fields=["password"])
        ClinicRoleFactory(user=user, clinic=clinic, role=role)
        users[role.value] = user
    MemberFactory(clinic=clinic, user=users["member"], preferred_name="Max")
    return clinic, users


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_sign_in_page_is_styled_accessible_and_csp_clean(page_at, live_server, width):
    page = page_at(width)

    page.goto("/accounts/login/")

    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    expect(page.get_by_label("Email")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_visible()
    # The stylesheet was served and applied: <main> is centred at 64rem, and the htmx and
    # GroupCare scripts loaded (from the live server, under the CSP).
    assert page.evaluate("getComputedStyle(document.querySelector('main')).maxWidth") == "1024px"
    assert page.evaluate("getComputedStyle(document.body).marginTop") == "0px"
    page.wait_for_function("typeof window.htmx === 'object'")
    check_page(page, "login")


LANDING = {
    "admin": ("/groups/", "Groups"),
    "facilitator": ("/today/", "Today"),
    "member": ("/me/meetings/", "My meetings"),
}


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
@pytest.mark.parametrize("role", ["admin", "facilitator", "member"])
def test_each_role_lands_on_its_start_page_accessible_and_csp_clean(
    page_at, live_server, people, role, width
):
    _, users = people
    path, heading = LANDING[role]
    page = page_at(width)

    sign_in(page, live_server, users[role].email, TEST_PASSWORD)

    expect(page).to_have_url(f"{live_server.url}{path}")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    check_page(page, f"start-{role}")


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_an_account_without_a_role_gets_the_welcome_page(page_at, live_server, width):
    user = UserFactory(email="new@example.org", full_name="Nia New")
    user.set_password(TEST_PASSWORD)
    user.save(update_fields=["password"])
    page = page_at(width)

    sign_in(page, live_server, user.email, TEST_PASSWORD)

    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Nia New")
    expect(page.get_by_text("no role in any clinic yet")).to_be_visible()
    check_page(page, "home-no-role")


def test_wrong_password_is_refused_on_the_page(page_at, live_server, people):
    _, users = people
    page = page_at(PHONE)
    page.goto("/accounts/login/")

    page.get_by_label("Email").fill(users["admin"].email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    expect(
        page.get_by_text("The email address and/or password you specified are not correct.")
    ).to_be_visible()
    assert page.url.endswith("/accounts/login/")
    check_page(page, "login-refused")


def test_a_csp_violation_is_caught(page_at, page_problems, live_server):
    """The guard itself: an inline style and an inline script that the policy refuses are
    both reported (and then forgiven, so this test passes)."""
    page = page_at(DESKTOP)
    page.goto("/accounts/login/")

    page.evaluate(
        """() => {
        const style = document.createElement("style");
        style.textContent = "body { color: red }";
        document.head.append(style);
        const script = document.createElement("script");
        script.textContent = "window.injected = true";
        document.head.append(script);
    }"""
    )

    page.wait_for_timeout(200)
    assert page.evaluate("window.injected") is None
    assert any("style-src" in m for m in page_problems.csp), page_problems.csp
    assert any("script-src" in m for m in page_problems.csp), page_problems.csp
    page_problems.csp.clear()


def test_flash_messages_are_a_list_announced_as_a_status(page_at, live_server, people):
    _, users = people
    page = page_at(DESKTOP)

    sign_in(page, live_server, users["admin"].email, TEST_PASSWORD)

    expect(page.get_by_text("Successfully signed in")).to_be_visible()
    assert_accessible(page, "home-with-message")
