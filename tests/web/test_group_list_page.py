"""/groups/: the groups overview of a clinic admin (every group of the clinic) and of a
facilitator (the groups they run), with fill, recent attendance and members at risk taken
from the weekly summaries."""

import datetime as dt
import re

import pytest
import time_machine

from members.enums import Role
from sessions.enums import AttendanceStatus, EnrolmentStatus, Stage
from sessions.models import Attendance
from sessions.services.summaries import attendance_summary_build
from tests.factories.members import ClinicRoleFactory, MemberFactory, UserFactory
from tests.factories.sessions import EnrolmentFactory, GroupFactory, GroupSessionFactory
from tests.web.pages import (
    assert_no_inline_code,
    assert_not_in,
    assert_strict_csp,
    redirects_to_login,
)

pytestmark = pytest.mark.django_db

URL = "/groups/"
UTC = dt.UTC

# Wednesday 17 June 2026: the overview's last 8 full weeks are 20 April to 14 June.
TODAY = dt.datetime(2026, 6, 17, 12, 0, tzinfo=UTC)
JUNE_2 = dt.datetime(2026, 6, 2, 17, 0, tzinfo=UTC)  # a Tuesday, 18:00 in London
JUNE_9 = dt.datetime(2026, 6, 9, 17, 0, tzinfo=UTC)

#: A figure's cell without a summary: a dash (shown) and words (for screen readers).
NO_SUMMARY = "\N{EN DASH} No summary yet"

#: What no staff overview shows: members' names, legal names and e-mail addresses.
MEMBER_DETAILS = ("Alex", "Alexandra Stone", "Bo Reyes", "member@example.org")


@pytest.mark.parametrize(
    ("persona", "status", "shown", "hidden"),
    [
        ("admin", 200, ["Tuesday Group", "Thursday Group"], []),
        ("facilitator", 200, ["Tuesday Group"], ["Thursday Group"]),
        ("other_facilitator", 200, ["Thursday Group"], ["Tuesday Group"]),
        ("member", 403, [], ["Tuesday Group", "Thursday Group"]),
        ("other_member", 403, [], ["Tuesday Group", "Thursday Group"]),
        ("other_clinic_admin", 200, [], ["Tuesday Group", "Thursday Group"]),
        ("anonymous", 302, [], []),
    ],
)
def test_overview_shows_each_persona_the_groups_they_run(
    client_as, world, persona, status, shown, hidden
):
    response = client_as(persona).get(URL)

    assert response.status_code == status
    if persona == "anonymous":
        assert redirects_to_login(response)
        return
    body = response.content.decode()
    for name in shown:
        assert name in body
    assert_not_in(body, *hidden)
    if status == 200:
        assert_strict_csp(response)
        assert_no_inline_code(body)
        assert_not_in(body, *MEMBER_DETAILS)


def test_a_row_shows_stage_facilitators_fill_and_links_to_the_group(client_as, world):
    co = UserFactory(full_name="Robin Co")
    ClinicRoleFactory(user=co, clinic=world.clinic, role=Role.FACILITATOR)
    world.group.co_facilitators.add(co)
    world.group.max_size = 8
    world.group.save(update_fields=["max_size"])
    # Names no random factory value can contain, so the leak check cannot misfire.
    for name in ("Qwyn Waitlisted", "Xavra Waitlisted"):
        EnrolmentFactory(
            group=world.group,
            member=MemberFactory(clinic=world.clinic, preferred_name=name),
            status=EnrolmentStatus.WAITLISTED,
        )
    world.users["facilitator"].full_name = "Sam Lead"
    world.users["facilitator"].save(update_fields=["full_name"])

    body = client_as("admin").get(URL).content.decode()

    row = body.split(f'<a href="/groups/{world.group.pk}/">Tuesday Group</a>')[1].split("</tr>")[0]
    assert '<span class="badge forming">Forming</span>' in row
    assert 'Sam Lead <span class="muted">(lead)</span>, Robin Co' in row
    assert '<td class="number">1 of 8</td>' in row
    assert '<td class="number">2</td>' in row
    assert_not_in(body, "Qwyn", "Xavra")


def test_the_new_group_button_leads_to_group_creation(client_as, world):
    body = client_as("facilitator").get(URL).content.decode()

    assert '<a class="button" href="/groups/new/">New group</a>' in body


def _row_cells(body, group_name):
    """The text of each cell in the row of ``group_name`` (tags dropped, spaces folded)."""
    row = body.split(f"{group_name}</a>")[1].split("</tr>")[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells]


def _attend(session, member, status):
    Attendance.objects.create(
        session=session,
        member=member,
        status=status,
        recorded_by=session.group.lead_facilitator,
        recorded_at=session.end,
    )


def test_attendance_and_at_risk_come_from_the_weekly_summaries(client_as, world):
    # Alex attends on the 2nd and misses the 9th; Cy misses both: Cy is at risk.
    world.enrolment.joined_on = dt.date(2026, 5, 1)
    world.enrolment.save(update_fields=["joined_on"])
    cy = MemberFactory(clinic=world.clinic, preferred_name="Cy")
    EnrolmentFactory(
        group=world.group, member=cy, status=EnrolmentStatus.ACTIVE, joined_on=dt.date(2026, 5, 1)
    )
    first = GroupSessionFactory(group=world.group, start=JUNE_2)
    second = GroupSessionFactory(group=world.group, start=JUNE_9)
    _attend(first, world.member_record, AttendanceStatus.PRESENT)
    _attend(first, cy, AttendanceStatus.ABSENT)
    _attend(second, world.member_record, AttendanceStatus.ABSENT)
    _attend(second, cy, AttendanceStatus.LATE_CANCELLED)
    for monday in (dt.date(2026, 6, 1), dt.date(2026, 6, 8)):
        attendance_summary_build(group=world.group, week_start=monday, now=TODAY)

    with time_machine.travel(TODAY, tick=False):
        body = client_as("facilitator").get(URL).content.decode()

    # Attended 1 of 4 expected: 25 %; 1 member at risk in the latest summary (8 June).
    assert _row_cells(body, "Tuesday Group")[-2:] == ["25%", "1"]
    assert '<span class="badge warn">1</span>' in body
    assert "20 Apr to 14 Jun 2026" in body
    assert_not_in(body, "Cy")


def test_a_summary_older_than_eight_weeks_is_not_counted(client_as, world):
    world.enrolment.joined_on = dt.date(2026, 1, 1)
    world.enrolment.save(update_fields=["joined_on"])
    session = GroupSessionFactory(group=world.group, start=dt.datetime(2026, 3, 3, 18, tzinfo=UTC))
    _attend(session, world.member_record, AttendanceStatus.PRESENT)
    attendance_summary_build(group=world.group, week_start=dt.date(2026, 3, 2), now=TODAY)

    with time_machine.travel(TODAY, tick=False):
        body = client_as("facilitator").get(URL).content.decode()

    assert _row_cells(body, "Tuesday Group")[-2:] == [NO_SUMMARY, NO_SUMMARY]


def test_stage_filter_narrows_the_list(client_as, world):
    world.other_group.stage = Stage.NORMING
    world.other_group.save(update_fields=["stage"])

    body = client_as("admin").get(URL, {"stage": "norming"}).content.decode()

    assert "Thursday Group" in body
    assert_not_in(body, "Tuesday Group")
    assert '<option value="norming" selected>Norming</option>' in body


def test_facilitator_filter_narrows_to_their_led_and_co_led_groups(client_as, world):
    co_led = GroupFactory(clinic=world.clinic, name="Friday Group")
    co_led.co_facilitators.add(world.users["other_facilitator"])

    body = (
        client_as("admin")
        .get(URL, {"facilitator": world.users["other_facilitator"].pk})
        .content.decode()
    )

    assert "Thursday Group" in body
    assert "Friday Group" in body
    assert_not_in(body, "Tuesday Group")


def test_a_facilitator_not_on_offer_is_an_error_next_to_the_field(client_as, world):
    outsider = UserFactory()

    response = client_as("facilitator").get(URL, {"facilitator": outsider.pk})

    body = response.content.decode()
    assert response.status_code == 200
    assert '<ul class="errorlist" id="id_facilitator_error"><li>Select a valid choice.' in body
    assert "Tuesday Group" in body


def test_the_list_is_paginated_25_a_page(client_as, world):
    for number in range(25):
        GroupFactory(clinic=world.clinic, name=f"Z group {number:02d}")

    first = client_as("admin").get(URL).content.decode()
    second = client_as("admin").get(URL, {"page": 2}).content.decode()

    assert "27 groups" in first
    assert "Page 1 of 2" in first
    assert "Z group 24" in second
    assert_not_in(second, "Tuesday Group", "Z group 00")


def _more_groups_for(world, count):
    """``count`` more groups led by the facilitator, each with a co-facilitator, a member, a
    waitlisted one and a weekly summary."""
    for number in range(count):
        group = GroupFactory(
            clinic=world.clinic, name=f"Extra {number}", lead_facilitator=world.users["facilitator"]
        )
        co = UserFactory()
        ClinicRoleFactory(user=co, clinic=world.clinic, role=Role.FACILITATOR)
        group.co_facilitators.add(co)
        member = MemberFactory(clinic=world.clinic)
        EnrolmentFactory(
            group=group, member=member, status=EnrolmentStatus.ACTIVE, joined_on=dt.date(2026, 5, 1)
        )
        EnrolmentFactory(group=group, status=EnrolmentStatus.WAITLISTED)
        # Two hours apart: a facilitator is never in two sessions at once (PostgreSQL's
        # exclusion constraint refuses it).
        session = GroupSessionFactory(group=group, start=JUNE_9 + dt.timedelta(hours=2 * number))
        _attend(session, member, AttendanceStatus.PRESENT)
        attendance_summary_build(group=group, week_start=dt.date(2026, 6, 8), now=TODAY)


@pytest.mark.parametrize("extra", [0, 4])
def test_overview_runs_the_same_queries_for_1_and_5_groups(
    client_as, world, django_assert_num_queries, extra
):
    _more_groups_for(world, extra)
    client = client_as("facilitator")
    client.get(URL)  # the viewer's zone is worked out once per login session

    with time_machine.travel(TODAY, tick=False), django_assert_num_queries(8):
        response = client.get(URL)

    assert response.content.decode().count("</tr>") == 2 + extra  # header row + groups
