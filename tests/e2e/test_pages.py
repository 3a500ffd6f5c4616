"""The main pages outside the three journeys, each opened from the menu as its person
would, checked (axe, reflow, touch targets, the Content-Security-Policy) and photographed
at a phone's width and a desktop's."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from sessions.models import AgreementAcceptance
from sessions.services.agreements import agreement_publish
from tests.e2e.conftest import DESKTOP, PHONE, TABLET, sign_in
from tests.e2e.people import hour_from_now, member_with_login, riverside, running_group, seat
from tests.factories.members import TEST_PASSWORD
from tests.factories.sessions import GroupSessionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_member_reads_and_accepts_a_new_agreement_and_finds_their_calendar_link(
    page_at, live_server, look
):
    site = riverside()
    group = running_group(site)
    sam = member_with_login(site.clinic, "Sam", "Samantha Reed", "sam@example.org")
    seat(group, sam)
    GroupSessionFactory(group=group, start=hour_from_now(days=3))
    newer = agreement_publish(group=group, text="We also start on time.", by=site.facilitator)
    page = page_at(PHONE)
    sign_in(page, live_server, "sam@example.org", TEST_PASSWORD)
    menu = page.get_by_role("navigation", name="Main")

    menu.get_by_role("link", name="My groups").click()

    card = page.get_by_role("region", name="Tuesday Evening Group")
    expect(card).to_contain_text("We also start on time.")
    expect(card).to_contain_text("Fay Field")
    look(page, "member-groups", PHONE, DESKTOP)
    card.get_by_role("checkbox").check()
    card.get_by_role("button", name="Accept the agreement").click()

    expect(page.get_by_role("region", name="Tuesday Evening Group")).to_contain_text(
        f"You accepted version {newer.version}"
    )
    assert AgreementAcceptance.objects.filter(agreement=newer, member=sam).exists()

    menu = page.get_by_role("navigation", name="Main")
    menu.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", level=1, name="My settings")).to_be_visible()
    page.get_by_role("button", name="Get my calendar link").click()
    link = page.get_by_label("My private calendar link")
    expect(link).to_have_value(re.compile(r"^https://.+/calendar/[A-Za-z0-9_-]+\.ics$"))
    url = link.input_value()
    expect(page.get_by_role("link", name="Open in my calendar app")).to_have_attribute(
        "href", url.replace("https://", "webcal://", 1)
    )
    # The link works: the calendar app would get the member's meetings.
    feed = page.request.get(live_server.url + urlsplit(url).path)
    assert (feed.status, feed.headers["content-type"].split(";")[0]) == (200, "text/calendar")
    assert "BEGIN:VEVENT" in feed.text()
    page.get_by_role("button", name="Copy link").click()
    expect(page.locator("#live-region")).not_to_be_empty()
    look(page, "member-settings", PHONE, DESKTOP)


def test_a_clinic_admin_opens_people_invitations_rooms_and_the_audit_log(
    page_at, live_server, look
):
    site = riverside()
    seat(running_group(site), member_with_login(site.clinic, "Sam", "Samantha Reed", "s@x.org"))
    page = page_at(DESKTOP)
    sign_in(page, live_server, site.admin.email, TEST_PASSWORD)
    menu = page.get_by_role("navigation", name="Main")

    menu.get_by_role("link", name="People").click()
    expect(page.get_by_role("heading", level=1, name="People")).to_be_visible()
    expect(page.get_by_role("table", name="Staff")).to_contain_text("Fay Field")
    look(page, "admin-people", DESKTOP, PHONE)

    page.get_by_role("link", name="Invite someone").click()
    expect(page.get_by_role("heading", level=1, name="Invite someone")).to_be_visible()
    look(page, "admin-invite", DESKTOP, PHONE)

    menu.get_by_role("link", name="Rooms").click()
    expect(page.get_by_role("table", name="Rooms of your clinic")).to_contain_text("Garden Room")
    look(page, "admin-rooms", DESKTOP, PHONE)

    menu.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", level=1, name="Audit log")).to_be_visible()
    expect(page.get_by_role("table", name="Entries, newest first")).to_contain_text(
        "sessions.agreement.accepted"
    )
    page.get_by_label("About member").fill("reed")
    page.get_by_role("button", name="Filter").click()
    matches = page.get_by_role("region", name="Member records matching “reed”")
    expect(matches).to_contain_text("Sam (Samantha Reed)")
    look(page, "admin-audit", DESKTOP, PHONE)
    matches.get_by_role("link", name="Sam (Samantha Reed)").click()
    expect(page.get_by_text("About member record #")).to_contain_text("Sam (Samantha Reed)")
    expect(page.get_by_label("About member")).to_have_value("")


def test_a_facilitator_opens_the_stage_move_and_cancel_pages(page_at, live_server, look):
    site = riverside()
    group = running_group(site)
    session = GroupSessionFactory(group=group, start=hour_from_now(days=4))
    page = page_at(TABLET)
    sign_in(page, live_server, site.facilitator.email, TEST_PASSWORD)

    page.goto(f"{live_server.url}/groups/{group.pk}/")
    page.get_by_role("link", name="Change stage").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Change the stage of Tuesday Evening Group"
    )
    look(page, "facilitator-group-stage", TABLET, PHONE)

    page.goto(f"{live_server.url}/sessions/{session.pk}/move/")
    expect(page.get_by_role("button", name="Move the session")).to_be_visible()
    look(page, "facilitator-session-move", TABLET, PHONE)

    page.goto(f"{live_server.url}/sessions/{session.pk}/cancel/")
    expect(page.get_by_role("region", name="What will happen")).to_contain_text(
        "No member is expected at it, so no one is told."
    )
    look(page, "facilitator-session-cancel", TABLET, PHONE)
