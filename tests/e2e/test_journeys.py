"""The three journeys of the browser pages, end to end in a real browser against the live
server: a facilitator running a group from creation to attendance (tablet), a member saying
they can't come (phone), an admin exporting the attendance report (desktop).

Every main page on the way is photographed and checked (axe, reflow, touch targets on a
phone) at the journey's width and the other one: phone pages also at desktop, staff pages
also on a phone. The page fixture fails the test on any Content-Security-Policy violation.
Each journey makes its own data with the factories and the services (never the demo seed)
and checks what the person did both on the page and in the database. Attendance can only
be taken once a session has started, so the facilitator's journey travels in time
(time-machine, process-wide: the live server's clock moves too) to ten minutes into it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zoneinfo

import openpyxl
import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import Page, expect

from sessions.enums import (
    AttendanceStatus,
    EnrolmentStatus,
    Finding,
    ScreeningOutcome,
    Stage,
)
from sessions.models import Attendance, Enrolment, Group, GroupSession, Screening
from sessions.selectors.enrolment import screening_latest
from sessions.services.attendance import attendance_record
from tests.e2e.conftest import DESKTOP, PHONE, TABLET, sign_in
from tests.e2e.people import (
    hour_from_now,
    member_with_login,
    riverside,
    running_group,
    seat,
)
from tests.factories.members import (
    TEST_PASSWORD,
    ClinicFactory,
    MemberFactory,
)
from tests.factories.sessions import (
    EnrolmentFactory,
    GroupFactory,
    GroupSessionFactory,
    ModalityFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# --- journey 1: a facilitator runs a group (tablet) ---------------------------------------


def pk_in(url: str, prefix: str) -> int:
    match = re.search(rf"{prefix}(\d+)/", url)
    assert match, f"no {prefix}<pk>/ in {url}"
    return int(match.group(1))


def htmx_ready(page: Page) -> None:
    """Wait until htmx has wired up the page. A person cannot type before the page has
    loaded; Playwright can, and an htmx trigger fired before htmx processed the element
    is lost."""
    page.wait_for_load_state("load")
    page.wait_for_function("window.htmx !== undefined")


def area_legend(area: str) -> str:
    label = str(Screening._meta.get_field(area).verbose_name)
    return label[:1].upper() + label[1:]


def test_facilitator_creates_schedules_enrols_screens_and_takes_attendance_on_a_tablet(
    page_at, live_server, look, settings
):
    # The journey jumps days ahead to the first session; automatic logoff (tested on its
    # own) would end the session at the jump.
    settings.GROUPCARE_SESSION_IDLE_STAFF = settings.GROUPCARE_SESSION_ABSOLUTE_STAFF = 90 * 86400
    site = riverside()
    ModalityFactory(clinic=site.clinic, name="Peer support")
    # Fay took Robin's referral last week, so Robin's record is one she may enrol.
    robin = MemberFactory(
        clinic=site.clinic,
        preferred_name="Robin",
        legal_name="Robin Hale",
        email="",
        created_by=site.facilitator,
    )
    # Someone the search must not offer: another clinic's member of the same name.
    MemberFactory(
        clinic=ClinicFactory(name="Hillside"), preferred_name="Robin", legal_name="R. Other"
    )
    today = timezone.localdate()
    first_day = today + dt.timedelta(days=1)
    page = page_at(TABLET)

    sign_in(page, live_server, site.facilitator.email, TEST_PASSWORD)

    # 1. Create the group, from the groups overview.
    main_nav = page.get_by_role("navigation", name="Main")
    main_nav.get_by_role("link", name="Groups").click()
    expect(page.get_by_role("heading", level=1, name="Groups")).to_be_visible()
    look(page, "facilitator-groups-empty", TABLET, PHONE)
    page.get_by_role("link", name="New group").click()
    expect(page).to_have_url(f"{live_server.url}/groups/new/")
    expect(page.get_by_role("heading", level=1, name="New group")).to_be_visible()
    look(page, "facilitator-group-new", TABLET, PHONE)
    page.get_by_label(re.compile(r"^Name")).fill("Thursday Anxiety Group")
    page.get_by_label("Modality").select_option(label="Peer support")
    expect(page.get_by_label("Lead facilitator")).to_have_value(str(site.facilitator.pk))
    page.get_by_label(re.compile(r"^Room")).select_option(label="Garden Room")
    page.get_by_label("Planned start").fill(today.isoformat())
    page.get_by_role("button", name="Create group").click()

    expect(page.get_by_role("heading", level=1, name="Thursday Anxiety Group")).to_be_visible()
    group = Group.objects.get(pk=pk_in(page.url, "/groups/"))
    assert (group.name, group.clinic, group.lead_facilitator, group.room, group.stage) == (
        "Thursday Anxiety Group",
        site.clinic,
        site.facilitator,
        site.room,
        Stage.FORMING,
    )
    look(page, "facilitator-group-detail-new", TABLET, PHONE)

    # 2. Schedule it: weekly on the weekday of tomorrow, 18:00, six sessions.
    page.get_by_role("link", name="Set schedule").first.click()
    expect(page).to_have_url(f"{live_server.url}/groups/{group.pk}/schedule/")
    htmx_ready(page)
    weekday = first_day.strftime("%A")
    page.get_by_role("group", name="Meets on").get_by_label(weekday).check()
    page.get_by_label("Starts at").fill("18:00")
    page.get_by_label("First date").fill(first_day.isoformat())
    count = page.get_by_role("spinbutton", name="Number of sessions")
    count.fill("6")
    count.blur()
    preview = page.get_by_role("region", name="Next dates")
    expect(preview.get_by_role("listitem")).to_have_count(6)
    expect(preview).to_contain_text("18:00")
    look(page, "facilitator-group-schedule", TABLET, PHONE)
    page.get_by_role("button", name="Save schedule").click()

    expect(page.get_by_role("status").filter(has_text="Schedule saved")).to_contain_text(
        "6 sessions from now on"
    )
    sessions = list(GroupSession.objects.filter(group=group).order_by("start"))
    assert len(sessions) == 6
    first_session = sessions[0]
    upcoming = page.get_by_role("table", name="Upcoming sessions of Thursday Anxiety Group")
    expect(upcoming.get_by_role("row")).not_to_have_count(0)
    look(page, "facilitator-group-detail-scheduled", TABLET, PHONE)
    assert timezone.localtime(first_session.start, zoneinfo.ZoneInfo("Europe/London")).replace(
        tzinfo=None
    ) == dt.datetime.combine(first_day, dt.time(18, 0))

    # 3. Enrol Robin: find them, refer them.
    page.get_by_role("link", name="Add a member").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Add a member to Thursday Anxiety Group"
    )
    htmx_ready(page)
    page.get_by_role("searchbox", name=re.compile("Search by name")).fill("Rob")
    results = page.get_by_role("table", name=re.compile("Members matching"))
    expect(results.get_by_role("row")).to_have_count(2)  # the header and Robin
    expect(results).to_contain_text("Robin Hale")
    expect(results).not_to_contain_text("R. Other")
    look(page, "facilitator-enrol", TABLET, PHONE)
    results.get_by_role("button", name="Refer Robin").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Robin")
    enrolment = Enrolment.objects.get(pk=pk_in(page.url, "/enrolments/"))
    assert (enrolment.group, enrolment.member) == (group, robin)
    look(page, "facilitator-enrolment-referred", TABLET, PHONE)

    # 4. Screen Robin: no concern in the four areas, suitable.
    page.get_by_role("link", name="Record the screening").click()
    expect(page).to_have_url(f"{live_server.url}/enrolments/{enrolment.pk}/screening/")
    look(page, "facilitator-screening", TABLET, PHONE)
    for area in Screening.AREAS:
        page.get_by_role("group", name=area_legend(area)).get_by_label("No concern").check()
    page.get_by_role("group", name="Outcome").get_by_label("Suitable", exact=True).check()
    page.get_by_role("button", name="Record the screening").click()

    expect(page.get_by_role("status").filter(has_text="Screening recorded")).to_contain_text(
        "suitable"
    )
    screening = screening_latest(enrolment=enrolment)
    assert screening is not None
    assert (screening.outcome, screening.screened_by) == (
        ScreeningOutcome.SUITABLE,
        site.facilitator,
    )
    assert {getattr(screening, area) for area in Screening.AREAS} == {Finding.NO_CONCERN}

    # 5. Give Robin a seat.
    page.get_by_role("button", name="Give a seat").click()

    expect(page.get_by_role("region", name="Seat")).to_contain_text("Robin has a seat in the group")
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.ACTIVE
    look(page, "facilitator-enrolment-active", TABLET, PHONE)

    # Kit joined the group through the API meanwhile: the sheet has one control each.
    kit = MemberFactory(clinic=site.clinic, preferred_name="Kit", legal_name="Kit Marlowe")
    EnrolmentFactory(group=group, member=kit, status=EnrolmentStatus.ACTIVE, joined_on=today)

    # 6. Ten minutes into the first session, take attendance in the room, from "Today".
    with time_machine.travel(first_session.start + dt.timedelta(minutes=10), tick=True):
        main_nav.get_by_role("link", name="Today").click()
        expect(page.get_by_role("heading", level=1, name="Today")).to_be_visible()
        look(page, "facilitator-today", TABLET, PHONE)
        page.get_by_role("link", name=re.compile("Thursday Anxiety Group")).first.click()

        expect(page).to_have_url(f"{live_server.url}/sessions/{first_session.pk}/")
        expect(page.get_by_text("Choose a mark for each member")).to_be_visible()
        htmx_ready(page)
        sheet = page.get_by_role("list", name="Members expected")
        expect(sheet.get_by_role("group")).to_have_count(2)
        robin_row = page.locator(f"#member-{robin.pk}")
        kit_row = page.locator(f"#member-{kit.pk}")
        expect(robin_row.get_by_role("radio")).to_have_count(5)
        # One tap per member: each choice saves itself, so no "Save" button is shown.
        expect(robin_row.get_by_role("button", name="Save Robin")).to_be_hidden()
        look(page, "facilitator-session-attendance", TABLET, PHONE)

        robin_row.get_by_label("Present").check()

        # Saved in place: the row says so, the live region announces it, no navigation.
        expect(robin_row.get_by_text("Saved")).to_be_visible()
        expect(page.locator("#live-region")).to_have_text("Saved: Robin, present.")
        expect(robin_row.get_by_label("Present")).to_be_checked()
        mark = Attendance.objects.get(session=first_session, member=robin)
        assert (mark.status, mark.recorded_by) == (AttendanceStatus.PRESENT, site.facilitator)

        # Kit's mark by keyboard alone: Tab onto the sheet's radios, Space to choose.
        kit_row.get_by_label("Absent").focus()
        page.keyboard.press("Space")

        expect(page.locator("#live-region")).to_have_text("Saved: Kit, absent.")
        expect(kit_row.get_by_label("Absent")).to_be_checked()
        expect(robin_row.get_by_label("Present")).to_be_checked()
        look(page, "facilitator-session-attendance-saved", TABLET, PHONE)

        # Changing a mark replaces it, still in place.
        robin_row.get_by_label("Late").check()

        expect(page.locator("#live-region")).to_have_text("Saved: Robin, late.")
        expect(robin_row.get_by_label("Late")).to_be_checked()
        expect(page).to_have_url(f"{live_server.url}/sessions/{first_session.pk}/")
        assert dict(
            Attendance.objects.filter(session=first_session).values_list("member", "status")
        ) == {robin.pk: AttendanceStatus.LATE, kit.pk: AttendanceStatus.ABSENT}

        # What was saved is what the page shows after a reload.
        page.reload()
        expect(robin_row.get_by_label("Late")).to_be_checked()
        expect(kit_row.get_by_label("Absent")).to_be_checked()


# --- journey 2: a member can't come (phone) ------------------------------------------------


def test_member_on_a_phone_says_they_cant_come_to_the_next_meeting(page_at, live_server, look):
    site = riverside()
    group = running_group(site)
    sam = member_with_login(site.clinic, "Sam", "Samantha Reed", "sam@example.org")
    seat(group, sam)
    next_meeting = GroupSessionFactory(group=group, start=hour_from_now(days=3))
    later_meeting = GroupSessionFactory(group=group, start=hour_from_now(days=10))
    page = page_at(PHONE)

    sign_in(page, live_server, "sam@example.org", TEST_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My meetings").click()

    expect(page.get_by_role("heading", level=1, name="My meetings")).to_be_visible()
    upcoming = page.get_by_role("region", name="Next meeting")
    expect(upcoming).to_contain_text("Tuesday Evening Group")
    expect(upcoming).to_contain_text("Garden Room")
    expect(upcoming).to_contain_text("Fay Field")
    look(page, "member-meetings", PHONE, DESKTOP)

    upcoming.get_by_role("link", name="I can't come").click()

    expect(page).to_have_url(f"{live_server.url}/me/meetings/{next_meeting.pk}/cant-come/")
    expect(page.get_by_role("heading", level=1, name="I can't come")).to_be_visible()
    expect(page.get_by_text("excused absence")).to_be_visible()
    look(page, "member-cant-come", PHONE, DESKTOP)

    page.get_by_role("button", name="Yes, I can't come").click()

    expect(page).to_have_url(f"{live_server.url}/me/meetings/")
    expect(
        page.get_by_role("status").filter(has_text="Thank you for letting us know")
    ).to_contain_text("It is recorded as an excused absence.")
    upcoming = page.get_by_role("region", name="Next meeting")
    expect(upcoming.get_by_text("You said you can't come")).to_be_visible()
    expect(upcoming.get_by_role("link", name="I can't come")).to_have_count(0)
    # Only the meeting they said it for: the one after still asks.
    expect(page.get_by_role("link", name="I can't come")).to_have_count(1)
    look(page, "member-meetings-after-cant-come", PHONE, DESKTOP)

    row = Attendance.objects.get(session=next_meeting, member=sam)
    assert (row.status, row.recorded_by) == (AttendanceStatus.EXCUSED, sam.user)
    assert not Attendance.objects.filter(session=later_meeting).exists()

    # The facilitator sees it on the session's page, on her tablet.
    staff_page = page_at(TABLET)
    sign_in(staff_page, live_server, site.facilitator.email, TEST_PASSWORD)
    staff_page.goto(f"/sessions/{next_meeting.pk}/")
    expect(staff_page.get_by_text("Said they can't come: Sam")).to_be_visible()


# --- journey 3: an admin exports attendance (desktop) --------------------------------------


def test_admin_downloads_the_attendance_report_as_csv_and_excel(page_at, live_server, look):
    site = riverside()
    group = running_group(site)
    sam = member_with_login(site.clinic, "Sam", "Samantha Reed", "sam@example.org")
    kit = MemberFactory(clinic=site.clinic, preferred_name="Kit", legal_name="Kit Marlowe")
    for member in (sam, kit):
        seat(group, member)
    first = GroupSessionFactory(group=group, start=hour_from_now(days=-5))
    second = GroupSessionFactory(group=group, start=hour_from_now(days=-2))
    attendance_record(
        session=first,
        by=site.facilitator,
        entries=[
            {"member_id": sam.pk, "status": AttendanceStatus.PRESENT},
            {"member_id": kit.pk, "status": AttendanceStatus.ABSENT},
        ],
    )
    attendance_record(
        session=second,
        by=site.facilitator,
        entries=[
            {"member_id": sam.pk, "status": AttendanceStatus.LATE, "minutes_attended": 60},
            {"member_id": kit.pk, "status": AttendanceStatus.PRESENT},
        ],
    )
    # Another clinic's attendance in the same days must never reach Riverside's export.
    hillside = ClinicFactory(name="Hillside", timezone="America/New_York")
    elsewhere = GroupFactory(clinic=hillside, name="Hillside Group")
    outsider = MemberFactory(clinic=hillside, preferred_name="Outsider", legal_name="Otto Side")
    EnrolmentFactory(
        group=elsewhere,
        member=outsider,
        status=EnrolmentStatus.ACTIVE,
        joined_on=timezone.localdate() - dt.timedelta(days=30),
    )
    their_session = GroupSessionFactory(group=elsewhere, start=hour_from_now(days=-3))
    attendance_record(
        session=their_session,
        by=elsewhere.lead_facilitator,
        entries=[{"member_id": outsider.pk, "status": AttendanceStatus.PRESENT}],
    )
    expected = {
        (str(first.pk), "Sam", "Samantha Reed", "present", ""),
        (str(first.pk), "Kit", "Kit Marlowe", "absent", ""),
        (str(second.pk), "Sam", "Samantha Reed", "late", "60"),
        (str(second.pk), "Kit", "Kit Marlowe", "present", ""),
    }
    page = page_at(DESKTOP)

    sign_in(page, live_server, site.admin.email, TEST_PASSWORD)
    # An admin starts on the groups overview.
    expect(page.get_by_role("heading", level=1, name="Groups")).to_be_visible()
    expect(page.get_by_role("table")).to_contain_text("Tuesday Evening Group")
    expect(page.get_by_role("table")).not_to_contain_text("Hillside Group")
    look(page, "admin-groups", DESKTOP, PHONE)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Attendance").click()

    expect(page.get_by_role("heading", level=1, name="Attendance report")).to_be_visible()
    today = timezone.localdate()
    page.get_by_label("From").fill((today - dt.timedelta(days=14)).isoformat())
    page.get_by_label(re.compile(r"^To\b")).fill(today.isoformat())
    page.get_by_label("Group").select_option(label="Tuesday Evening Group")
    page.get_by_role("button", name="Show report").click()

    downloads = page.get_by_role("region", name="Download")
    expect(downloads).to_contain_text("4 attendance records")
    expect(page.get_by_role("img", name="Weekly attendance rate")).to_be_visible()
    look(page, "admin-attendance-report", DESKTOP, PHONE)

    with page.expect_download() as csv_download:
        downloads.get_by_role("link", name="Download CSV").click()
    with page.expect_download() as xlsx_download:
        downloads.get_by_role("link", name="Download Excel (.xlsx)").click()

    assert csv_download.value.suggested_filename.endswith(".csv")
    with open(csv_download.value.path(), newline="", encoding="utf-8-sig") as handle:
        csv_rows = list(csv.DictReader(handle))
    assert {
        (
            row["session_id"],
            row["member_name"],
            row["member_legal_name"],
            row["attendance_status"],
            row["minutes_attended"],
        )
        for row in csv_rows
    } == expected
    assert {row["group_name"] for row in csv_rows} == {"Tuesday Evening Group"}
    assert len(csv_rows) == 4

    assert xlsx_download.value.suggested_filename.endswith(".xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx_download.value.path().read_bytes()))
    sheet = workbook.active
    header, *lines = list(sheet.iter_rows(values_only=True))
    xlsx_rows = [dict(zip(header, line, strict=True)) for line in lines]
    assert {
        (
            str(row["session_id"]),
            row["member_name"],
            row["member_legal_name"],
            row["attendance_status"],
            "" if row["minutes_attended"] is None else str(row["minutes_attended"]),
        )
        for row in xlsx_rows
    } == expected
    assert len(xlsx_rows) == 4
    body = csv_download.value.path().read_text(encoding="utf-8-sig")
    assert "Otto Side" not in body
    assert "Hillside" not in body
