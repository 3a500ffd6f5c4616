"""/reports/attendance/ and its downloads: the weekly attendance rate of the rows the viewer
may export (the API export's scope), the number of rows, and the same rows as CSV and XLSX,
streamed and audited."""

import csv
import datetime as dt
import io
import re

import openpyxl
import pytest
import time_machine
from django.http import StreamingHttpResponse

from members.enums import Role
from members.models import AuditEntry, Member
from sessions.api.exports.serializers import csv_cell
from sessions.enums import AttendanceStatus, EnrolmentStatus
from sessions.models import Attendance, SessionFacilitator
from sessions.selectors.exports import ATTENDANCE_EXPORT_COLUMNS, attendance_export_rows
from tests.api.world import signed_in
from tests.factories.members import ClinicRoleFactory, MemberFactory, UserFactory
from tests.factories.sessions import EnrolmentFactory, GroupFactory, GroupSessionFactory
from tests.web.pages import (
    assert_no_inline_code,
    assert_not_in,
    assert_strict_csp,
    redirects_to_login,
)

pytestmark = pytest.mark.django_db

URL = "/reports/attendance/"
CSV_URL = "/reports/attendance.csv"
XLSX_URL = "/reports/attendance.xlsx"
UTC = dt.UTC

# Riverside (the world's clinic) is in Europe/London: British Summer Time in June.
JUNE_2 = dt.datetime(2026, 6, 2, 17, 0, tzinfo=UTC)  # Tuesday, 18:00 in London
JUNE_4 = dt.datetime(2026, 6, 4, 17, 0, tzinfo=UTC)  # Thursday
JUNE_9 = dt.datetime(2026, 6, 9, 17, 0, tzinfo=UTC)
JUNE = {"start": "2026-06-01", "end": "2026-06-30"}

#: A week's rate cell when nothing counted: a dash (shown) and words (for screen readers).
NONE = "\N{EN DASH} none counted"

PERSONAS_ALLOWED = {
    "admin": 200,
    "facilitator": 200,
    "other_facilitator": 200,
    "member": 403,
    "other_member": 403,
    "other_clinic_admin": 200,
    "anonymous": 302,
}

#: Names nobody reads on the report page itself (it shows numbers only).
MEMBER_NAMES = ("Alex", "Alexandra Stone", "Bo Reyes", "Cy", "Cyrus Vale", "Dana Hill")


def _attend(session, member, status=AttendanceStatus.PRESENT, minutes=None):
    return Attendance.objects.create(
        session=session,
        member=member,
        status=status,
        minutes_attended=minutes,
        recorded_by=session.group.lead_facilitator,
        recorded_at=session.end + dt.timedelta(minutes=30),
    )


@pytest.fixture
def register(world):
    """June: ``group`` on the 2nd (Alex present, Cy late), ``other_group`` on the 4th (Bo
    absent) and the 9th (Bo excused), and a session of the other clinic (Dana present)."""
    w = world
    session = GroupSessionFactory(group=w.group, start=JUNE_2)
    other_session = GroupSessionFactory(group=w.other_group, start=JUNE_4)
    other_later = GroupSessionFactory(group=w.other_group, start=JUNE_9)
    cy = MemberFactory(clinic=w.clinic, preferred_name="Cy", legal_name="Cyrus Vale")
    EnrolmentFactory(group=w.group, member=cy, status=EnrolmentStatus.ACTIVE, joined_on=JUNE_2)
    _attend(session, w.member_record)
    _attend(session, cy, AttendanceStatus.LATE, minutes=60)
    _attend(other_session, w.other_member_record, AttendanceStatus.ABSENT)
    _attend(other_later, w.other_member_record, AttendanceStatus.EXCUSED)
    far_group = GroupFactory(clinic=w.other_clinic, name="Hillside Group")
    far_session = GroupSessionFactory(group=far_group, start=JUNE_2)
    _attend(far_session, MemberFactory(clinic=w.other_clinic, legal_name="Dana Hill"))
    return {"session": session, "other_session": other_session, "far_group": far_group}


def _week_rows(body):
    """The weekly table's rows as lists of cell texts (tags dropped, spaces folded)."""
    table = body.split('<caption id="attendance-report-table">Attendance by week')[1].split(
        "</table>"
    )[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1], flags=re.S)
    return [
        [
            " ".join(re.sub(r"<[^>]+>", " ", cell).split())
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)
        ]
        for row in rows
    ]


def _content(response):
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


def _csv_rows(response):
    return list(csv.reader(io.StringIO(_content(response).decode("utf-8"))))


def _xlsx_rows(response):
    workbook = openpyxl.load_workbook(io.BytesIO(_content(response)), read_only=True)
    try:
        return [list(row) for row in workbook["Attendance"].iter_rows(values_only=True)]
    finally:
        workbook.close()


# --------------------------------------------------------------------------- who


#: The groups each persona's report covers (its choices, its downloads' rows).
GROUPS_IN_SCOPE = {
    "admin": {"Tuesday Group", "Thursday Group"},
    "facilitator": {"Tuesday Group"},
    "other_facilitator": {"Thursday Group"},
    "member": set(),
    "other_member": set(),
    "other_clinic_admin": {"Hillside Group"},
    "anonymous": set(),
}
ALL_GROUPS = {"Tuesday Group", "Thursday Group", "Hillside Group"}


@pytest.mark.parametrize(("persona", "status"), PERSONAS_ALLOWED.items())
def test_report_page_persona_matrix(client_as, register, persona, status):
    response = client_as(persona).get(URL, JUNE)

    assert response.status_code == status
    if persona == "anonymous":
        assert redirects_to_login(response)
        return
    body = response.content.decode()
    assert_not_in(body, *MEMBER_NAMES, *sorted(ALL_GROUPS - GROUPS_IN_SCOPE[persona]))
    if status == 200:
        assert_strict_csp(response)
        assert_no_inline_code(body)
        assert "<h1>Attendance report</h1>" in body
        for name in GROUPS_IN_SCOPE[persona]:
            assert f">{name}</option>" in body


@pytest.mark.parametrize(
    ("persona", "count", "weeks"),
    [
        # Week of 1 June: 2 attended, 1 unexcused; week of 8 June: 1 excused (no rate).
        ("admin", 4, [["2", "2", "1", "0", "67%"], ["1", "0", "0", "1", NONE]]),
        ("facilitator", 2, [["1", "2", "0", "0", "100%"], ["0", "0", "0", "0", NONE]]),
        (
            "other_facilitator",
            2,
            [["1", "0", "1", "0", "0%"], ["1", "0", "0", "1", NONE]],
        ),
        (
            "other_clinic_admin",
            1,
            [["1", "1", "0", "0", "100%"], ["0", "0", "0", "0", NONE]],
        ),
    ],
)
def test_each_viewer_sees_the_count_and_weekly_rates_of_their_own_scope(
    client_as, register, persona, count, weeks
):
    body = client_as(persona).get(URL, JUNE).content.decode()

    rows = _week_rows(body)
    assert [row[0] for row in rows] == [
        "Mon 1 Jun 2026",
        "Mon 8 Jun 2026",
        "Mon 15 Jun 2026",
        "Mon 22 Jun 2026",
        "Mon 29 Jun 2026",
    ]
    assert [row[1:] for row in rows[:2]] == weeks
    assert f"<strong>{count}</strong> attendance record" in body
    # The count comes before the links that download those rows.
    assert body.index(f"<strong>{count}</strong>") < body.index(f'href="{CSV_URL}?')


def test_the_chart_is_an_accessible_inline_svg_with_the_tables_numbers(client_as, register):
    body = client_as("admin").get(URL, JUNE).content.decode()

    svg = body.split("<svg", 1)[1].split("</svg>")[0]
    assert 'role="img"' in svg
    assert 'aria-labelledby="chart-title chart-desc"' in svg
    assert (
        '<title id="chart-title">Weekly attendance rate, 1 Jun 2026 to 30 Jun 2026</title>' in svg
    )
    assert (
        "Week of 1 Jun: 67%. Week of 8 Jun: no attendance counted. Week of 15 Jun: no "
        "attendance counted." in svg
    )
    assert svg.count('<rect class="chart-bar"') == 1  # only the week with a rate has a bar
    assert " style=" not in svg


def test_the_default_range_is_the_last_eight_full_weeks(client_as, world):
    with time_machine.travel(dt.datetime(2026, 6, 17, 12, tzinfo=UTC), tick=False):
        body = client_as("facilitator").get(URL).content.decode()

    assert 'name="start" value="2026-04-20"' in body
    assert 'name="end" value="2026-06-14"' in body
    assert len(_week_rows(body)) == 8


@pytest.mark.parametrize(
    ("query", "error"),
    [
        (
            {"start": "2026-06-30", "end": "2026-06-01"},
            "The last day cannot be before the first day.",
        ),
        (
            {"start": "2026-01-01", "end": "2027-01-02"},
            "A report covers at most 366 days; choose a shorter range.",
        ),
    ],
)
def test_a_reversed_or_too_long_range_is_an_error_next_to_the_last_day(
    client_as, register, query, error
):
    response = client_as("admin").get(URL, query)

    body = response.content.decode()
    assert response.status_code == 200
    assert f'<ul class="errorlist" id="id_end_error"><li>{error}</li></ul>' in body
    assert "<svg" not in body
    assert CSV_URL not in body


def test_a_leap_year_range_of_366_days_is_accepted(client_as, world):
    response = client_as("admin").get(URL, {"start": "2028-01-01", "end": "2028-12-31"})

    assert response.status_code == 200
    assert "errorlist" not in response.content.decode()


def test_a_group_the_viewer_does_not_run_is_not_on_offer(client_as, world):
    response = client_as("facilitator").get(URL, {**JUNE, "group": world.other_group.pk})

    body = response.content.decode()
    assert response.status_code == 200
    assert '<ul class="errorlist" id="id_group_error"><li>Select a valid choice.' in body
    assert_not_in(body, "Thursday Group")


def test_the_facilitator_filter_narrows_to_the_sessions_they_ran(client_as, world, register):
    substitute = UserFactory(full_name="Pat Sub")
    ClinicRoleFactory(user=substitute, clinic=world.clinic, role=Role.FACILITATOR)
    SessionFacilitator.objects.filter(session=register["other_session"]).update(
        facilitator=substitute
    )

    page = client_as("admin").get(URL, {**JUNE, "facilitator": substitute.pk})
    download = client_as("admin").get(CSV_URL, {**JUNE, "facilitator": substitute.pk})

    assert "<strong>1</strong> attendance record" in page.content.decode()
    assert f'<option value="{substitute.pk}" selected>Pat Sub</option>' in (page.content.decode())
    rows = _csv_rows(download)
    assert [row[ATTENDANCE_EXPORT_COLUMNS.index("session_id")] for row in rows[1:]] == [
        str(register["other_session"].pk)
    ]


# --------------------------------------------------------------------------- downloads


@pytest.mark.parametrize(("persona", "status"), PERSONAS_ALLOWED.items())
@pytest.mark.parametrize("url", [CSV_URL, XLSX_URL])
def test_download_persona_matrix(client_as, register, url, persona, status):
    response = client_as(persona).get(url, JUNE)

    assert response.status_code == status
    if persona == "anonymous":
        assert redirects_to_login(response)
    elif status == 200:
        assert response["Cache-Control"] == "no-store"
        rows = _csv_rows(response) if url == CSV_URL else _xlsx_rows(response)
        group_name = ATTENDANCE_EXPORT_COLUMNS.index("group_name")
        assert {row[group_name] for row in rows[1:]} == GROUPS_IN_SCOPE[persona]


def test_the_csv_is_the_api_exports_csv(client_as, register, world):
    response = client_as("admin").get(CSV_URL, JUNE)
    api = signed_in(client_as("anonymous"), world.users["admin"]).get(
        "/api/v1/exports/attendance/", {"from": JUNE["start"], "to": JUNE["end"], "format": "csv"}
    )

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="attendance-2026-06-01-to-2026-06-30.csv"'
    )
    rows = _csv_rows(response)
    expected = [
        [csv_cell(row[column]) for column in ATTENDANCE_EXPORT_COLUMNS]
        for row in attendance_export_rows(
            user=world.users["admin"], first_day=dt.date(2026, 6, 1), last_day=dt.date(2026, 6, 30)
        )
    ]
    assert rows == [list(ATTENDANCE_EXPORT_COLUMNS), *expected]
    assert len(expected) == 4
    assert rows == _csv_rows(api)


def test_the_xlsx_holds_the_same_rows_as_the_csv(client_as, register, world):
    group = {"group": world.group.pk}
    xlsx = client_as("facilitator").get(XLSX_URL, {**JUNE, **group})
    csv_response = client_as("facilitator").get(CSV_URL, {**JUNE, **group})

    assert xlsx["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert xlsx["Content-Disposition"] == (
        f'attachment; filename="attendance-2026-06-01-to-2026-06-30-group-{world.group.pk}.xlsx"'
    )
    sheet = _xlsx_rows(xlsx)
    as_text = [["" if value is None else str(value) for value in row] for row in sheet]
    assert as_text == _csv_rows(csv_response)
    assert len(sheet) == 3  # header, Alex, Cy
    member_names = [row[ATTENDANCE_EXPORT_COLUMNS.index("member_name")] for row in sheet[1:]]
    assert member_names == ["Alex", "Cy"]
    assert sheet[1][ATTENDANCE_EXPORT_COLUMNS.index("session_id")] == register["session"].pk


def test_a_name_that_looks_like_a_formula_stays_text_in_the_workbook(client_as, world):
    session = GroupSessionFactory(group=world.group, start=JUNE_2)
    _attend(session, MemberFactory(clinic=world.clinic, preferred_name="=HYPERLINK(1)"))

    sheet = _xlsx_rows(client_as("admin").get(XLSX_URL, JUNE))
    csv_rows = _csv_rows(client_as("admin").get(CSV_URL, JUNE))

    name = ATTENDANCE_EXPORT_COLUMNS.index("member_name")
    assert sheet[1][name] == "=HYPERLINK(1)"
    assert csv_rows[1][name] == "'=HYPERLINK(1)"


def test_each_download_is_audited_and_the_page_is_not(client_as, register, world):
    client = client_as("admin")

    client.get(URL, JUNE)
    assert not AuditEntry.objects.filter(action="sessions.attendance.exported").exists()
    _content(client.get(XLSX_URL, {**JUNE, "group": world.group.pk}))

    entry = AuditEntry.objects.get(action="sessions.attendance.exported")
    cy = Member.objects.get(preferred_name="Cy")
    assert (entry.actor, entry.clinic, entry.data) == (
        world.users["admin"],
        world.clinic,
        {
            "from": "2026-06-01",
            "to": "2026-06-30",
            "group_id": world.group.pk,
            "format": "xlsx",
            "member_ids": sorted([world.member_record.pk, cy.pk]),
        },
    )


def test_a_download_with_a_bad_range_shows_the_form_and_exports_nothing(client_as, register):
    response = client_as("admin").get(CSV_URL, {"start": "2026-06-30", "end": "2026-06-01"})

    assert response.status_code == 400
    assert "The last day cannot be before the first day." in response.content.decode()
    assert not AuditEntry.objects.filter(action="sessions.attendance.exported").exists()


# --------------------------------------------------------------------------- queries


@pytest.mark.parametrize("sessions", [1, 5])
def test_report_runs_the_same_queries_for_1_and_5_sessions(
    client_as, world, django_assert_num_queries, sessions
):
    for week in range(sessions):
        session = GroupSessionFactory(group=world.group, start=JUNE_2 + dt.timedelta(weeks=week))
        _attend(session, world.member_record)
    client = client_as("facilitator")
    client.get(URL, JUNE)  # the viewer's zone is worked out once per login session

    with django_assert_num_queries(7):
        body = client.get(URL, JUNE).content.decode()

    assert f"<strong>{sessions}</strong> attendance record" in body
