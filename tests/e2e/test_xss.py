"""Script stored in names and notes stays text in a real browser: no dialog opens, no script
runs (the page fixtures fail the test on a CSP violation or a JavaScript error), and the
payload reads on the page as the characters that were typed."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.utils import timezone
from playwright.sync_api import Dialog, Page

from members.enums import Role
from sessions.enums import EnrolmentStatus, Finding, ScreeningOutcome
from sessions.services.enrolment import screening_record
from tests.e2e.conftest import sign_in
from tests.factories.members import (
    TEST_PASSWORD,
    TEST_TOTP_SECRET,
    ClinicFactory,
    ClinicRoleFactory,
    MemberFactory,
    UserFactory,
)
from tests.factories.sessions import EnrolmentFactory, GroupFactory, GroupSessionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _payload(tag: str) -> str:
    return f'<script>alert("{tag}")</script><img src=x onerror=alert("{tag}")>{tag}'


GROUP_NAME = _payload("group")[:140]
PREFERRED = _payload("pref")[:90]
LEGAL = _payload("legal")[:190]
NOTE = _payload("note")


@pytest.fixture
def seeded():
    clinic = ClinicFactory(name="Riverside", timezone="Europe/London")
    facilitator = UserFactory(email="lead@example.org", full_name="Lee Lead")
    ClinicRoleFactory(user=facilitator, clinic=clinic, role=Role.FACILITATOR)
    member_user = UserFactory(email="pat@example.org", full_name="Pat")
    ClinicRoleFactory(user=member_user, clinic=clinic, role=Role.MEMBER)
    group = GroupFactory(
        clinic=clinic,
        name=GROUP_NAME,
        description=_payload("description"),
        lead_facilitator=facilitator,
    )
    member = MemberFactory(
        clinic=clinic, user=member_user, preferred_name=PREFERRED, legal_name=LEGAL
    )
    enrolment = EnrolmentFactory(group=group, member=member, status=EnrolmentStatus.REFERRED)
    screening_record(
        enrolment=enrolment,
        by=facilitator,
        findings=dict.fromkeys(
            ("acute_illness", "anxiety_or_trauma", "disruptive_behaviour", "individual_needs"),
            (Finding.NO_CONCERN, NOTE),
        ),
        outcome=ScreeningOutcome.SUITABLE,
    )
    enrolment.status = EnrolmentStatus.ACTIVE
    enrolment.joined_on = timezone.localdate() - dt.timedelta(days=7)
    enrolment.save(update_fields=["status", "joined_on"])
    start = timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=3)
    GroupSessionFactory(group=group, start=start)
    return {
        "group": group,
        "enrolment": enrolment,
        "facilitator": facilitator,
        "member": member_user,
    }


def _watch_dialogs(page: Page) -> list[str]:
    opened: list[str] = []

    def _on_dialog(dialog: Dialog) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", _on_dialog)
    return opened


def _staff_sign_in(page: Page, live_server, email: str) -> None:
    """The shared sign-in, then the one-time code when the account asks for one (test
    staff are enrolled in MFA)."""
    sign_in(page, live_server, email, TEST_PASSWORD)
    if "/2fa/" in page.url:
        code = format_hotp_value(hotp_value(TEST_TOTP_SECRET, int(time.time()) // 30))
        page.locator("input[name=code]").fill(code)
        with page.expect_navigation():
            page.locator("form button[type=submit]").first.click()
    assert "/accounts/" not in page.url, f"sign-in as {email} failed: {page.url}"


def _text(page: Page) -> str:
    return page.locator("main").inner_text()


def test_script_in_names_and_notes_stays_text_for_the_facilitator(page, live_server, seeded):
    dialogs = _watch_dialogs(page)
    _staff_sign_in(page, live_server, seeded["facilitator"].email)

    page.goto(f"/groups/{seeded['group'].pk}/")
    page.wait_for_load_state("load")
    group_page = _text(page)
    page.goto(f"/enrolments/{seeded['enrolment'].pk}/")
    page.wait_for_load_state("load")
    enrolment_page = _text(page)
    page.goto(f"/enrolments/{seeded['enrolment'].pk}/screening/")
    page.wait_for_load_state("load")
    screening_page = _text(page)

    assert dialogs == []
    assert GROUP_NAME in group_page
    assert PREFERRED in group_page or LEGAL in group_page
    assert LEGAL in enrolment_page
    assert NOTE in screening_page
    assert page.evaluate("document.querySelectorAll('main script, main img[onerror]').length") == 0


def test_script_in_the_group_name_stays_text_in_the_members_meetings(page, live_server, seeded):
    dialogs = _watch_dialogs(page)
    sign_in(page, live_server, seeded["member"].email, TEST_PASSWORD)

    page.goto("/me/meetings/")
    page.wait_for_load_state("load")

    assert dialogs == []
    assert GROUP_NAME in _text(page)
    assert page.evaluate("document.querySelectorAll('main script, main img[onerror]').length") == 0
