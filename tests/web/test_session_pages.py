"""One session's pages: the session and its attendance sheet, marking a member (htmx and
plain POST), moving, cancelling and changing its facilitators."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from members.models import AuditEntry
from sessions.enums import AttendanceStatus, EnrolmentStatus, SessionStatus
from sessions.models import Attendance, GroupSession, SessionFacilitator
from sessions.services.attendance import attendance_cant_attend
from tests.api.world import signed_in
from tests.factories.members import MemberFactory
from tests.factories.sessions import EnrolmentFactory, GroupSessionFactory
from tests.web.pages import (
    assert_no_inline_code,
    assert_not_in,
    assert_strict_csp,
    redirects_to_login,
)

pytestmark = pytest.mark.django_db

#: Personas and what they get on a page of ``world.group``'s session for its runners.
RUNNERS = [
    ("admin", 200),
    ("facilitator", 200),
    ("other_facilitator", 404),
    ("member", 403),
    ("other_member", 404),
    ("other_clinic_admin", 404),
    ("anonymous", 302),
]

#: What nobody sees on these pages: legal names, contact details, another group's member.
SECRETS = ("Alexandra Stone", "Bo Reyes", "member@example.org", "other-member@example.org")


def _url(name: str, session: GroupSession, *args: int) -> str:
    return reverse(f"sessions:{name}", args=[session.pk, *args])


def _mark_url(world, session: GroupSession | None = None) -> str:
    return _url("session-attendance", session or world.past_session, world.member_record.pk)


def _assert_status(response, persona: str, status: int) -> None:
    if persona == "anonymous":
        assert redirects_to_login(response)
    else:
        assert response.status_code == status


def _has_word(body: str, word: str) -> bool:
    return re.search(rf"\b{re.escape(word)}\b", body) is not None


# --- the session page ----------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "status"), RUNNERS)
def test_session_page_is_for_the_staff_who_run_the_session(client_as, world, persona, status):
    response = client_as(persona).get(_url("session-detail", world.past_session))

    _assert_status(response, persona, status)
    if status != 200:
        return
    body = response.content.decode()
    assert_strict_csp(response)
    assert_no_inline_code(body)
    assert "<h1>Tuesday Group: session</h1>" in body
    assert '<span class="member-name">Alex</span>' in body
    assert not _has_word(body, "Bo")
    assert_not_in(body, *SECRETS)


def test_session_page_shows_time_place_stage_and_facilitators(client_as, world):
    world.users["facilitator"].full_name = "Robin Lee"
    world.users["facilitator"].save(update_fields=["full_name"])

    body = (
        client_as("facilitator").get(_url("session-detail", world.future_session)).content.decode()
    )

    start = timezone.localtime(world.future_session.start, timezone=world.group.tz)
    assert f"{start:%a} {start.day} {start:%b %Y, %H:%M}</time>" in body
    assert "<dd>Room 1</dd>" in body
    assert '<span class="badge forming">Forming</span>' in body
    assert "<dd>Robin Lee</dd>" in body
    assert f'href="/sessions/{world.future_session.pk}/move/"' in body
    assert f'href="/sessions/{world.future_session.pk}/cancel/"' in body
    assert f'href="/sessions/{world.future_session.pk}/facilitators/"' in body


def test_session_page_names_the_clinic_zone_when_the_viewer_is_elsewhere(client_as, world):
    client = client_as("facilitator")
    session = client.session
    session["groupcare.viewer_tz"] = "America/New_York"
    session.save()

    body = client.get(_url("session-detail", world.future_session)).content.decode()

    assert "(New York time)</time>" in body


def test_session_page_shows_who_said_they_cannot_come_and_offers_no_marks_yet(client_as, world):
    attendance_cant_attend(
        session=world.future_session, member=world.member_record, by=world.users["member"]
    )

    body = (
        client_as("facilitator").get(_url("session-detail", world.future_session)).content.decode()
    )

    assert "Said they can't come: Alex</p>" in body
    assert '<span class="badge warn">Said they can\'t come</span>' in body
    assert "You can take attendance from the start of the session." in body
    assert 'type="radio"' not in body


def test_session_page_offers_one_large_choice_per_mark_for_each_expected_member(client_as, world):
    body = client_as("facilitator").get(_url("session-detail", world.past_session)).content.decode()

    member = world.member_record.pk
    assert "<legend>" in body
    labels = re.findall(
        rf'<label class="mark" for="att-{member}-status_\d">.*?<span>([^<]+)</span>', body
    )
    assert labels == ["Present", "Late", "Left early", "Absent", "Excused"]
    assert f'hx-post="/sessions/{world.past_session.pk}/attendance/{member}/"' in body
    assert f'action="/sessions/{world.past_session.pk}/attendance/{member}/"' in body


def test_a_substitute_runs_the_session_but_may_not_move_it(client_as, world):
    SessionFacilitator.objects.create(
        session=world.past_session,
        facilitator=world.users["other_facilitator"],
        start=world.past_session.start,
        end=world.past_session.end,
    )
    client = client_as("other_facilitator")

    page = client.get(_url("session-detail", world.past_session))
    move = client.get(_url("session-move", world.past_session))

    assert page.status_code == 200
    assert "/move/" not in page.content.decode()
    assert move.status_code == 403


def test_session_page_writes_the_same_audit_entries_as_the_apis_attendance_sheet(client_as, world):
    api = signed_in(APIClient(), world.users["facilitator"])
    before = AuditEntry.objects.count()
    api.get(f"/api/v1/sessions/{world.past_session.pk}/attendance/")
    api_entries = list(AuditEntry.objects.order_by("pk").values_list("action", flat=True)[before:])
    before = AuditEntry.objects.count()

    client_as("facilitator").get(_url("session-detail", world.past_session))

    page_entries = list(AuditEntry.objects.order_by("pk").values_list("action", flat=True)[before:])
    assert page_entries == api_entries


@pytest.mark.parametrize("count", [1, 5])
def test_session_page_runs_the_same_queries_for_one_or_five_members(
    client_as, world, django_assert_num_queries, count
):
    for _ in range(count - 1):
        EnrolmentFactory(
            group=world.group,
            member=MemberFactory(clinic=world.clinic),
            status=EnrolmentStatus.ACTIVE,
            joined_on=world.enrolment.joined_on,
        )
    client = client_as("facilitator")
    client.get("/")

    # ... and the audit entry of the sheet shown (3: chain head lock, insert, head update)
    with django_assert_num_queries(11):
        response = client.get(_url("session-detail", world.past_session))

    assert response.content.decode().count('class="attendance-row') == count


# --- marking attendance --------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "status"), [("admin", 302), *RUNNERS[1:]])
def test_marking_attendance_is_for_the_staff_who_run_the_session(client_as, world, persona, status):
    if persona == "facilitator":
        status = 302

    response = client_as(persona).post(_mark_url(world), {"status": "present"})

    _assert_status(response, persona, status)
    stored = list(Attendance.objects.values_list("status", flat=True))
    assert stored == (["present"] if status == 302 and persona != "anonymous" else [])


def test_htmx_mark_saves_in_place_and_answers_the_members_row(client_as, world):
    response = client_as("facilitator").post(
        _mark_url(world), {"status": "late"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    body = response.content.decode()
    member = world.member_record.pk
    assert body.lstrip().startswith(f'<li id="member-{member}" class="attendance-row is-saved">')
    assert '<p class="saved-note">Saved</p>' in body
    assert '<div hx-swap-oob="innerHTML:#live-region">Saved: Alex, late.</div>' in body
    assert re.search(
        rf'<input type="radio" name="status" value="late"[^>]*'
        rf'id="att-{member}-status_1"[^>]*checked',
        body,
    )
    assert "<html" not in body
    row = Attendance.objects.get()
    assert (row.session_id, row.member_id, row.status) == (
        world.past_session.pk,
        member,
        AttendanceStatus.LATE,
    )
    assert AuditEntry.objects.filter(action="sessions.attendance.recorded").count() == 1


def test_plain_post_mark_redirects_back_to_the_session(client_as, world):
    client = client_as("facilitator")

    response = client.post(_mark_url(world), {"status": "absent"})

    assert response.status_code == 302
    assert (
        response["Location"]
        == f"/sessions/{world.past_session.pk}/#member-{world.member_record.pk}"
    )
    assert Attendance.objects.get().status == AttendanceStatus.ABSENT
    assert "Saved: Alex, absent." in client.get(response["Location"]).content.decode()


def test_a_mark_without_a_choice_is_refused_next_to_the_member(client_as, world):
    response = client_as("facilitator").post(_mark_url(world), {}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    body = response.content.decode()
    assert (
        f'<ul class="errorlist" id="att-{world.member_record.pk}-status_error">'
        "<li>Choose present, late, left early, absent or excused.</li></ul>"
    ) in body
    assert '<p class="saved-note">' not in body
    assert (
        '<div hx-swap-oob="innerHTML:#live-region">Not saved for Alex: Choose present, late, '
        "left early, absent or excused.</div>"
    ) in body
    assert not Attendance.objects.exists()


def test_a_plain_post_without_a_choice_shows_the_page_with_the_error(client_as, world):
    response = client_as("facilitator").post(_mark_url(world), {"status": "sleeping"})

    assert response.status_code == 200
    body = response.content.decode()
    assert "<h1>Tuesday Group: session</h1>" in body
    assert "Select a valid choice. sleeping is not one of the available choices." in body
    assert not Attendance.objects.exists()


def test_marking_a_session_that_has_not_started_shows_the_services_refusal(client_as, world):
    response = client_as("facilitator").post(
        _mark_url(world, world.future_session), {"status": "present"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert (
        "This session has not started yet; attendance can be recorded from its start."
        in response.content.decode()
    )
    assert not Attendance.objects.exists()


def test_a_member_not_on_the_sheet_is_not_found(client_as, world):
    response = client_as("facilitator").post(
        _url("session-attendance", world.past_session, world.other_member_record.pk),
        {"status": "present"},
    )

    assert response.status_code == 404
    assert not Attendance.objects.exists()


def test_after_the_lock_a_facilitator_is_refused_and_reads_the_sheet(client_as, world):
    after_lock = world.past_session.end + dt.timedelta(days=world.clinic.attendance_lock_days)
    with time_machine.travel(after_lock, tick=False):
        client = client_as("facilitator")
        page = client.get(_url("session-detail", world.past_session)).content.decode()
        response = client.post(_mark_url(world), {"status": "present"}, HTTP_HX_REQUEST="true")

    assert "only a clinic admin can amend it now." in page
    assert 'type="radio"' not in page
    assert (
        "Attendance for this session locked 7 days after it ended; only a clinic admin can "
        "amend it now."
    ) in response.content.decode()
    assert not Attendance.objects.exists()


def test_after_the_lock_an_admin_amends_with_a_reason(client_as, world):
    after_lock = world.past_session.end + dt.timedelta(days=world.clinic.attendance_lock_days)
    with time_machine.travel(after_lock, tick=False):
        client = client_as("admin")
        page = client.get(_url("session-detail", world.past_session)).content.decode()
        refused = client.post(_mark_url(world), {"status": "present"}, HTTP_HX_REQUEST="true")
        saved = client.post(
            _mark_url(world),
            {"status": "present", "reason": "Paper register"},
            HTTP_HX_REQUEST="true",
        )

    assert "Reason for the amendment" in page
    assert "An amendment after the lock period needs a reason." in refused.content.decode()
    assert '<p class="saved-note">Saved</p>' in saved.content.decode()
    row = Attendance.objects.get()
    assert (row.status, row.changes.get().reason) == ("present", "Paper register")


# --- moving --------------------------------------------------------------------------------


MANAGERS = [
    ("admin", 200),
    ("facilitator", 200),
    ("other_facilitator", 404),
    ("member", 403),
    ("other_member", 404),
    ("other_clinic_admin", 404),
    ("anonymous", 302),
]


@pytest.mark.parametrize(("persona", "status"), MANAGERS)
def test_move_page_is_for_the_staff_who_run_the_group(client_as, world, persona, status):
    response = client_as(persona).get(_url("session-move", world.future_session))

    _assert_status(response, persona, status)
    if status == 200:
        body = response.content.decode()
        assert_no_inline_code(body)
        assert "<h1>Move this session</h1>" in body
        assert "Times are in the clinic&#x27;s time zone (Europe/London)." in body
        assert_not_in(body, *SECRETS)


def test_moving_a_session_stores_the_new_local_time(client_as, world):
    new_day = (
        timezone.localtime(world.future_session.start, world.group.tz) + dt.timedelta(days=1)
    ).date()

    response = client_as("facilitator").post(
        _url("session-move", world.future_session),
        {
            "date": new_day.isoformat(),
            "start_time": "18:00",
            "end_time": "19:30",
            "room": world.room.pk,
        },
    )

    assert response.status_code == 302
    world.future_session.refresh_from_db()
    start = dt.datetime.combine(new_day, dt.time(18, 0), tzinfo=world.group.tz)
    assert (
        world.future_session.start,
        world.future_session.end,
        world.future_session.is_moved,
    ) == (
        start,
        start + dt.timedelta(minutes=90),
        True,
    )


def test_a_move_ending_before_it_starts_is_refused_next_to_the_end(client_as, world):
    before = (world.future_session.start, world.future_session.end)

    response = client_as("facilitator").post(
        _url("session-move", world.future_session),
        {"date": "2030-01-08", "start_time": "18:00", "end_time": "17:00", "room": world.room.pk},
    )

    assert response.status_code == 200
    assert re.search(
        r'id="id_end_time".*?<ul class="errorlist" id="id_end_time_error"><li>The session must end '
        r"after it starts.</li>",
        response.content.decode(),
        re.S,
    )
    world.future_session.refresh_from_db()
    assert (world.future_session.start, world.future_session.end) == before


def test_moving_a_past_session_shows_the_services_refusal(client_as, world):
    response = client_as("facilitator").post(
        _url("session-move", world.past_session),
        {"date": "2030-01-08", "start_time": "18:00", "end_time": "19:00", "room": world.room.pk},
    )

    assert response.status_code == 200
    assert "This session is already over; it cannot be moved." in response.content.decode()
    assert not GroupSession.objects.filter(is_moved=True).exists()


# --- cancelling ----------------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "status"), MANAGERS)
def test_cancel_page_says_who_is_told(client_as, world, persona, status):
    response = client_as(persona).get(_url("session-cancel", world.future_session))

    _assert_status(response, persona, status)
    if status == 200:
        body = response.content.decode()
        assert_no_inline_code(body)
        assert "<h1>Cancel this session?</h1>" in body
        assert (
            "The member expected at it is told by e-mail that it is cancelled (not why) and "
            "gets no reminder for it."
        ) in body
        assert_not_in(body, *SECRETS)


def test_cancelling_stores_the_reason(client_as, world):
    response = client_as("facilitator").post(
        _url("session-cancel", world.future_session), {"reason": "Facilitator ill"}
    )

    assert response.status_code == 302
    world.future_session.refresh_from_db()
    assert (world.future_session.status, world.future_session.cancel_reason) == (
        SessionStatus.CANCELLED,
        "Facilitator ill",
    )


def test_cancelling_without_a_reason_is_refused_next_to_the_reason(client_as, world):
    response = client_as("facilitator").post(
        _url("session-cancel", world.future_session), {"reason": "   "}
    )

    assert response.status_code == 200
    assert (
        '<ul class="errorlist" id="id_reason_error"><li>Give a reason for cancelling the '
        "session.</li></ul>"
    ) in response.content.decode()
    world.future_session.refresh_from_db()
    assert world.future_session.status == SessionStatus.SCHEDULED


def test_cancelling_a_past_session_shows_the_services_refusal(client_as, world):
    response = client_as("facilitator").post(
        _url("session-cancel", world.past_session), {"reason": "Too late"}
    )

    assert response.status_code == 200
    assert "This session is already over; it cannot be cancelled." in response.content.decode()
    world.past_session.refresh_from_db()
    assert world.past_session.status == SessionStatus.SCHEDULED


# --- facilitators --------------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "status"), MANAGERS)
def test_facilitators_page_is_for_the_staff_who_run_the_group(client_as, world, persona, status):
    response = client_as(persona).get(_url("session-facilitators", world.future_session))

    _assert_status(response, persona, status)
    if status == 200:
        body = response.content.decode()
        assert_no_inline_code(body)
        # The clinic's staff to choose from; nobody of another clinic.
        assert str(world.users["other_facilitator"]) in body
        assert str(world.users["other_clinic_admin"]) not in body
        assert_not_in(body, *SECRETS)


def test_a_substitute_replaces_the_lead_for_one_session(client_as, world):
    substitute = world.users["other_facilitator"]

    response = client_as("facilitator").post(
        _url("session-facilitators", world.future_session), {"facilitators": [substitute.pk]}
    )

    assert response.status_code == 302
    assert list(
        SessionFacilitator.objects.filter(session=world.future_session).values_list(
            "facilitator_id", flat=True
        )
    ) == [substitute.pk]


def test_a_session_without_facilitators_is_refused_next_to_the_list(client_as, world):
    response = client_as("facilitator").post(_url("session-facilitators", world.future_session), {})

    assert response.status_code == 200
    assert (
        '<ul class="errorlist" id="id_facilitators_error"><li>A session needs at least one '
        "facilitator.</li></ul>"
    ) in response.content.decode()
    assert list(
        SessionFacilitator.objects.filter(session=world.future_session).values_list(
            "facilitator_id", flat=True
        )
    ) == [world.users["facilitator"].pk]


def test_a_double_booked_substitute_shows_the_services_refusal(client_as, world):
    substitute = world.users["other_facilitator"]
    GroupSessionFactory(
        group=world.other_group,
        start=world.future_session.start,
        room=world.other_group.room,
        facilitators=[substitute],
    )

    response = client_as("facilitator").post(
        _url("session-facilitators", world.future_session), {"facilitators": [substitute.pk]}
    )

    assert response.status_code == 200
    assert "is not available at that time." in response.content.decode()
    assert not SessionFacilitator.objects.filter(
        session=world.future_session, facilitator=substitute
    ).exists()
