"""The warning before an automatic logoff, in a real browser: it opens a little before the
session would end, takes the keyboard's focus, "Stay signed in" keeps the session, and
when nobody answers the page goes to the sign-in page, which says why.

Members sign in with a password alone, so these tests sign in as one; the limits are made
short through the settings, which the live server (same process) reads at each request.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE, sign_in
from tests.e2e.people import member_with_login
from tests.factories.members import TEST_PASSWORD, ClinicFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def member():
    clinic = ClinicFactory(name="Riverside Clinic", timezone="Europe/London")
    return member_with_login(clinic, "Max", "Max Member", "max@riverside.example").user


def test_stay_signed_in_answers_the_warning_with_the_keyboard(
    page_at, live_server, settings, member, look
):
    # The warning opens 5 s after the page loads (65 s idle, a 60 s warning).
    settings.GROUPCARE_SESSION_IDLE_MEMBER = 65
    settings.GROUPCARE_SESSION_WARNING = 60
    page = page_at(PHONE)
    sign_in(page, live_server, member.email, TEST_PASSWORD)
    dialog = page.get_by_role("alertdialog", name="Are you still there?")

    expect(dialog).to_be_hidden()
    expect(dialog).to_be_visible(timeout=15_000)

    expect(dialog).to_contain_text("For your privacy you'll be signed out in")
    stay = dialog.get_by_role("button", name="Stay signed in")
    expect(stay).to_be_focused()
    look(page, "logoff-warning", PHONE)
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Sign out")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(stay).to_be_focused()
    with page.expect_response(re.compile(r"/clinic/session/keepalive/$")) as answer:
        page.keyboard.press("Enter")
    assert answer.value.status == 200
    expect(dialog).to_be_hidden()

    page.goto("/me/groups/")
    expect(page).to_have_url(re.compile(r"/me/groups/$"))
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_an_unanswered_warning_ends_on_the_sign_in_page_saying_why(
    page_at, live_server, settings, member
):
    settings.GROUPCARE_SESSION_IDLE_MEMBER = 8
    settings.GROUPCARE_SESSION_WARNING = 5
    page = page_at(PHONE)
    sign_in(page, live_server, member.email, TEST_PASSWORD)
    expect(page.get_by_role("alertdialog")).to_be_visible(timeout=10_000)

    expect(page).to_have_url(
        re.compile(r"/accounts/login/\?next=%2Fme%2Fmeetings%2F$"), timeout=15_000
    )
    expect(page.locator(".messages")).to_have_text(
        "For your privacy you were signed out after 8 seconds without activity. "
        "Sign in again to continue."
    )
    page.locator("input[name=login]").fill(member.email)
    page.locator("input[name=password]").fill(TEST_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/me/meetings/$"))
