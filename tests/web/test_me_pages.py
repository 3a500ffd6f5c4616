"""A member's own pages: my meetings, "I can't come", my groups (and agreement), my settings
(reminders, time zone, calendar link)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from members.enums import Role
from members.models import Member
from members.viewer import SESSION_KEY
from sessions.enums import AttendanceStatus, EnrolmentStatus, SessionStatus
from sessions.models import (
    AgreementAcceptance,
    Attendance,
    CalendarFeed,
    Enrolment,
    Schedule,
)
from sessions.services.agreements import agreement_accept, agreement_publish
from sessions.services.calendar_feeds import calendar_feed_issue
from tests.factories.members import ClinicRoleFactory, MemberFactory
from tests.factories.sessions import EnrolmentFactory, GroupFactory, GroupSessionFactory
from tests.web.conftest import PERSONAS
from tests.web.pages import (
    assert_no_inline_code,
    assert_not_in,
    assert_strict_csp,
    redirects_to_login,
)

pytestmark = pytest.mark.django_db

MEETINGS = reverse("sessions:me-meetings")
GROUPS = reverse("sessions:me-groups")
SETTINGS = reverse("sessions:me-settings")
LINK_RESET = reverse("sessions:me-calendar-link-reset")
LINK_STOP = reverse("sessions:me-calendar-link-stop")

#: Who may open the member pages at all: people with a member record of their own.
AREA_STATUS = {
    "admin": 403,
    "facilitator": 403,
    "other_facilitator": 403,
    "member": 200,
    "other_member": 200,
    "other_clinic_admin": 403,
    "anonymous": "login",
}


def cant_come_url(session) -> str:
    return reverse("sessions:me-cant-come", args=[session.pk])


def assert_status(response, expected) -> None:
    if expected == "login":
        assert redirects_to_login(response), response
    else:
        assert response.status_code == expected


def page_checks(response) -> str:
    assert_strict_csp(response)
    body = response.content.decode()
    assert_no_inline_code(body)
    return body


@pytest.fixture
def fellow(world):
    """A second active member of ``world.group``: the member must never see them."""
    record = MemberFactory(
        clinic=world.clinic,
        preferred_name="Zephyrine",
        legal_name="Zephyrine Okonkwo-Hart",
        email="zephyrine@example.org",
        phone="+44 7700 900123",
    )
    EnrolmentFactory(
        group=world.group,
        member=record,
        status=EnrolmentStatus.ACTIVE,
        joined_on=world.enrolment.joined_on,
    )
    return record


# --- my meetings ---------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_meetings_page_is_for_members_only(client_as, persona):
    response = client_as(persona).get(MEETINGS)

    assert_status(response, AREA_STATUS[persona])


def test_meetings_shows_the_next_meeting_and_nothing_of_others(client_as, world, fellow):
    Attendance.objects.create(
        session=world.past_session,
        member=fellow,
        status=AttendanceStatus.ABSENT,
        recorded_by=world.users["facilitator"],
    )

    response = client_as("member").get(MEETINGS)

    body = page_checks(response)
    assert response.context["next_session"] == world.future_session
    assert "Next meeting" in body
    assert "Tuesday Group" in body
    assert "Room 1" in body
    assert world.users["facilitator"].full_name in body
    assert cant_come_url(world.future_session) in body
    assert "at least 24 hours before" in body
    assert_not_in(
        body,
        "Thursday Group",
        "Zephyrine",
        "zephyrine@example.org",
        "Alexandra Stone",
        "Bo Reyes",
        "other-member@example.org",
        "Hillside",
        "Absent",
    )


def test_another_member_sees_their_own_group_only(client_as, world):
    body = page_checks(client_as("other_member").get(MEETINGS))

    assert "Thursday Group" in body
    assert_not_in(body, "Tuesday Group", "Alex", "Alexandra Stone", "member@example.org")


def test_meetings_lists_own_past_marks_only(client_as, world, fellow):
    Attendance.objects.create(
        session=world.past_session,
        member=world.member_record,
        status=AttendanceStatus.LATE,
        minutes_attended=60,
        recorded_by=world.users["facilitator"],
    )
    Attendance.objects.create(
        session=world.past_session,
        member=fellow,
        status=AttendanceStatus.ABSENT,
        recorded_by=world.users["facilitator"],
    )

    response = client_as("member").get(MEETINGS)

    body = page_checks(response)
    rows = [(row.member_id, row.status) for row in response.context["past_page"].object_list]
    assert rows == [(world.member_record.pk, AttendanceStatus.LATE)]
    assert "Late (60 min)" in body
    assert_not_in(body, "Absent", "Zephyrine")


def test_meetings_marks_a_meeting_already_declined(client_as, world):
    Attendance.objects.create(
        session=world.future_session,
        member=world.member_record,
        status=AttendanceStatus.EXCUSED,
        recorded_by=world.users["member"],
    )

    body = page_checks(client_as("member").get(MEETINGS))

    assert "You said you can't come" in body
    assert cant_come_url(world.future_session) not in body


def test_meetings_lists_cancelled_and_staff_only_sessions_out(client_as, world):
    cancelled = GroupSessionFactory(
        group=world.group,
        start=world.future_session.start + dt.timedelta(days=1),
        status=SessionStatus.CANCELLED,
    )

    response = client_as("member").get(MEETINGS)

    shown = [response.context["next_session"], *response.context["sessions"]]
    assert shown == [world.future_session]
    assert cant_come_url(cancelled) not in response.content.decode()


def test_meetings_span_every_clinic_where_the_person_is_a_member(client_as, world):
    other_clinic_group = GroupFactory(clinic=world.other_clinic, name="Hillside Circle")
    record = MemberFactory(clinic=world.other_clinic, user=world.users["member"])
    ClinicRoleFactory(user=world.users["member"], clinic=world.other_clinic, role=Role.MEMBER)
    EnrolmentFactory(
        group=other_clinic_group,
        member=record,
        status=EnrolmentStatus.ACTIVE,
        joined_on=world.enrolment.joined_on,
    )
    there = GroupSessionFactory(
        group=other_clinic_group, start=world.future_session.start + dt.timedelta(days=2)
    )

    response = client_as("member").get(MEETINGS)

    shown = [response.context["next_session"], *response.context["sessions"]]
    assert shown == [world.future_session, there]
    assert "Hillside Circle" in response.content.decode()


def test_meetings_paginate_25_per_page(client_as, world):
    start = world.future_session.start
    for week in range(1, 26):
        GroupSessionFactory(group=world.group, start=start + dt.timedelta(weeks=week))

    first = client_as("member").get(MEETINGS)
    second = client_as("member").get(MEETINGS, {"page": 2})

    assert len(first.context["sessions"]) == 24  # the first of the 25 is the "next" card
    assert first.context["page_obj"].paginator.num_pages == 2
    assert second.context["next_session"] is None
    assert len(second.context["sessions"]) == 1


@pytest.mark.parametrize("size", [1, 5])
def test_meetings_page_queries_do_not_grow_with_the_list(
    client_as, world, size, django_assert_num_queries
):
    start = world.future_session.start
    for week in range(1, size):
        GroupSessionFactory(group=world.group, start=start + dt.timedelta(weeks=week))
    for day in range(size):
        past = GroupSessionFactory(
            group=world.group, start=world.past_session.start - dt.timedelta(days=7 * day + 1)
        )
        Attendance.objects.create(
            session=past,
            member=world.member_record,
            status=AttendanceStatus.PRESENT,
            recorded_by=world.users["facilitator"],
        )
    client = client_as("member")
    client.get(MEETINGS)  # the viewer's zone is kept in the session from the first page

    # ... and the audit entry of the member's own attendance shown (3: chain head lock,
    # insert, head update)
    with django_assert_num_queries(12):
        response = client.get(MEETINGS)

    assert len(response.context["sessions"]) == size - 1
    assert len(response.context["past_page"].object_list) == size


# --- I can't come --------------------------------------------------------------------------

CANT_COME_STATUS = {
    "admin": 403,
    "facilitator": 403,
    "other_facilitator": 403,
    "member": 200,
    "other_member": 404,
    "other_clinic_admin": 403,
    "anonymous": "login",
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_cant_come_page_is_for_the_member_of_that_session(client_as, world, persona):
    response = client_as(persona).get(cant_come_url(world.future_session))

    assert_status(response, CANT_COME_STATUS[persona])
    if response.status_code == 200:
        body = page_checks(response)
        assert "Tuesday Group" in body
        assert_not_in(body, "Zephyrine", "Bo Reyes", "Alexandra Stone", "Thursday Group")


@pytest.mark.parametrize("persona", PERSONAS)
def test_cant_come_post_is_for_the_member_of_that_session(client_as, world, persona):
    response = client_as(persona).post(cant_come_url(world.future_session))

    expected = 302 if persona == "member" else CANT_COME_STATUS[persona]
    assert_status(response, expected)
    rows = list(Attendance.objects.filter(session=world.future_session).values_list("member_id"))
    assert rows == ([(world.member_record.pk,)] if persona == "member" else [])


def test_cant_come_for_another_groups_session_is_not_found(client_as, world):
    response = client_as("member").get(cant_come_url(world.other_group_session))

    assert response.status_code == 404


def test_cant_come_explains_an_excused_absence_ahead_of_the_notice(client_as, world):
    body = page_checks(client_as("member").get(cant_come_url(world.future_session)))

    assert "Your group's facilitators see that you can't come" in body
    assert "so it counts as an <strong>excused absence</strong>" in body
    assert "Yes, I can't come" in body


def test_cant_come_records_an_excused_absence_and_says_so(client_as, world):
    response = client_as("member").post(cant_come_url(world.future_session), follow=True)

    assert response.redirect_chain == [(MEETINGS, 302)]
    row = Attendance.objects.get(session=world.future_session)
    assert (row.member_id, row.status, row.recorded_by_id) == (
        world.member_record.pk,
        AttendanceStatus.EXCUSED,
        world.users["member"].pk,
    )
    assert "It is recorded as an excused absence." in response.content.decode()
    assert "You said you can't come" in response.content.decode()


def test_cant_come_within_the_notice_is_a_late_cancellation(client_as, world):
    with time_machine.travel(world.future_session.start - dt.timedelta(hours=2), tick=False):
        page = client_as("member").get(cant_come_url(world.future_session))
        response = client_as("member").post(cant_come_url(world.future_session), follow=True)

    assert "so it is recorded as a <strong>late cancellation</strong>" in page.content.decode()
    assert Attendance.objects.get(session=world.future_session).status == (
        AttendanceStatus.LATE_CANCELLED
    )
    assert "It is recorded as a late cancellation." in response.content.decode()


def test_cant_come_refusal_is_shown_and_stores_nothing(client_as, world):
    client = client_as("member")
    page = client.get(cant_come_url(world.future_session))
    assert page.status_code == 200
    world.future_session.status = SessionStatus.CANCELLED
    world.future_session.save(update_fields=["status"])

    response = client.post(cant_come_url(world.future_session))

    assert response.status_code == 200
    assert "This session has been cancelled; there is nothing to miss." in (
        response.content.decode()
    )
    assert not Attendance.objects.filter(session=world.future_session).exists()


def test_cant_come_after_the_start_offers_nothing_to_confirm(client_as, world):
    with time_machine.travel(world.future_session.start + dt.timedelta(minutes=5), tick=False):
        response = client_as("member").get(cant_come_url(world.future_session))

    body = page_checks(response)
    assert "This meeting has already started" in body
    assert "Yes, I can't come" not in body


def test_cant_come_twice_shows_it_is_already_recorded(client_as, world):
    client = client_as("member")
    client.post(cant_come_url(world.future_session))

    body = page_checks(client.get(cant_come_url(world.future_session)))

    assert "You have already told us" in body
    assert "an excused absence" in body
    assert Attendance.objects.filter(session=world.future_session).count() == 1


def test_cant_come_with_htmx_redirects_the_page(client_as, world):
    response = client_as("member").post(cant_come_url(world.future_session), HTTP_HX_REQUEST="true")

    assert response.status_code == 204
    assert response["HX-Redirect"] == MEETINGS
    assert Attendance.objects.get(session=world.future_session).status == AttendanceStatus.EXCUSED


# --- my groups -----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_groups_page_is_for_members_only(client_as, persona):
    assert_status(client_as(persona).get(GROUPS), AREA_STATUS[persona])


def test_groups_shows_the_group_and_no_other_members_details(client_as, world, fellow):
    Schedule.objects.create(
        group=world.group,
        rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=12",
        first_date=dt.date(2026, 1, 6),
        start_time=dt.time(18, 0),
        duration_minutes=90,
    )
    world.group.co_facilitators.add(world.users["other_facilitator"])

    body = page_checks(client_as("member").get(GROUPS))

    assert "Tuesday Group" in body
    assert "Every week on Tuesday, 18:00 to 19:30 (Europe/London)" in body
    assert "Room 1" in body
    assert world.users["facilitator"].full_name in body
    assert world.users["other_facilitator"].full_name in body
    assert "We keep what is said here confidential." in body
    assert "You accepted version 1 on" in body
    assert_not_in(
        body,
        "Zephyrine",
        "zephyrine@example.org",
        "+44 7700 900123",
        "Alexandra Stone",
        "Thursday Group",
        "Bo Reyes",
        "facilitator@example.org",
        "90853",
    )


def test_groups_hides_the_video_link_from_a_member_on_the_waitlist(client_as, world):
    world.group.room = None
    world.group.video_link = "https://video.example.org/room-42"
    world.group.save(update_fields=["room", "video_link"])
    body_active = client_as("member").get(GROUPS).content.decode()
    Enrolment.objects.filter(pk=world.enrolment.pk).update(status=EnrolmentStatus.WAITLISTED)

    body_waiting = client_as("member").get(GROUPS).content.decode()

    assert "https://video.example.org/room-42" in body_active
    assert "https://video.example.org/room-42" not in body_waiting
    assert "On the waiting list" in body_waiting


def test_groups_accepting_a_new_agreement_version_stores_it(client_as, world):
    v2 = agreement_publish(group=world.group, text="Version two.", by=world.users["facilitator"])
    client = client_as("member")
    page = client.get(GROUPS).content.decode()
    assert "Accept the agreement" in page

    response = client.post(GROUPS, {"agreement": v2.pk, "accept": "on"}, follow=True)

    assert response.redirect_chain == [(f"{GROUPS}#group-{world.group.pk}", 302)]
    acceptance = AgreementAcceptance.objects.get(agreement=v2)
    assert (acceptance.member_id, acceptance.method, acceptance.recorded_by_id) == (
        world.member_record.pk,
        "online",
        world.users["member"].pk,
    )
    body = response.content.decode()
    assert "You accepted the agreement of Tuesday Group (version 2)." in body
    assert "You accepted version 2 on" in body


def test_groups_accept_without_the_tick_shows_the_error_at_the_box(client_as, world):
    v2 = agreement_publish(group=world.group, text="Version two.", by=world.users["facilitator"])

    response = client_as("member").post(GROUPS, {"agreement": v2.pk})

    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="id_accept_error"><li>Tick the box to say that you accept the agreement.' in body
    assert not AgreementAcceptance.objects.filter(agreement=v2).exists()


def test_groups_accepting_an_old_version_shows_the_refusal(client_as, world, fellow):
    old = world.agreement
    agreement_publish(group=world.group, text="Version two.", by=world.users["facilitator"])
    client = client_as("member")
    AgreementAcceptance.objects.filter(agreement=old).delete()

    response = client.post(GROUPS, {"agreement": old.pk, "accept": "on"})

    assert response.status_code == 200
    assert "Only the current version (v2) of this agreement can be accepted, not v1." in (
        response.content.decode()
    )
    assert not AgreementAcceptance.objects.filter(member=world.member_record).exists()


def test_groups_accepting_another_groups_agreement_is_not_found(client_as, world):
    other = world.other_group.agreements.get()

    response = client_as("member").post(GROUPS, {"agreement": other.pk, "accept": "on"})

    assert response.status_code == 404


@pytest.mark.parametrize("size", [1, 5])
def test_groups_page_queries_do_not_grow_with_the_list(
    client_as, world, size, django_assert_num_queries
):
    for _ in range(size - 1):
        group = GroupFactory(clinic=world.clinic)
        EnrolmentFactory(
            group=group,
            member=world.member_record,
            status=EnrolmentStatus.ACTIVE,
            joined_on=world.enrolment.joined_on,
        )
        agreement = agreement_publish(group=group, text="Be kind.", by=group.lead_facilitator)
        agreement_accept(agreement=agreement, member=world.member_record, by=world.users["member"])
    client = client_as("member")
    client.get(GROUPS)

    # ... and the audit entry of the member's own enrolments shown (3: chain head lock,
    # insert, head update)
    with django_assert_num_queries(13):
        response = client.get(GROUPS)

    assert len(response.context["cards"]) == size


# --- my settings ---------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_settings_page_is_for_members_only(client_as, persona):
    response = client_as(persona).get(SETTINGS)

    assert_status(response, AREA_STATUS[persona])
    if response.status_code == 200:
        body = page_checks(response)
        assert_not_in(body, "Zephyrine", "Alexandra Stone", "Bo Reyes", "Hillside")


def _settings_post(member: Member, **overrides) -> dict[str, object]:
    prefix = f"member-{member.pk}"
    data: dict[str, object] = {
        "member": member.pk,
        f"{prefix}-reminders_enabled": "on",
        f"{prefix}-reminder_offsets": ["1440", "120"],
        f"{prefix}-quiet_hours": "on",
        f"{prefix}-timezone": "",
    }
    data.update({f"{prefix}-{name}": value for name, value in overrides.items()})
    return {key: value for key, value in data.items() if value is not None}


def test_settings_saves_reminders_and_switches_the_pages_zone(client_as, world):
    client = client_as("member")
    client.get(SETTINGS)
    assert client.session[SESSION_KEY] == "Europe/London"

    response = client.post(
        SETTINGS,
        _settings_post(
            world.member_record,
            reminder_offsets=["10080", "60"],
            quiet_hours=None,
            timezone="America/New_York",
        ),
    )

    assert response.status_code == 302
    assert response["Location"] == SETTINGS
    world.member_record.refresh_from_db()
    assert (
        world.member_record.reminders_enabled,
        world.member_record.reminder_offsets,
        world.member_record.quiet_hours,
        world.member_record.timezone,
    ) == (True, [10080, 60], False, "America/New_York")
    assert SESSION_KEY not in client.session
    client.get(SETTINGS)
    assert client.session[SESSION_KEY] == "America/New_York"


def test_settings_turning_reminders_off_keeps_the_chosen_times(client_as, world):
    response = client_as("member").post(
        SETTINGS,
        _settings_post(world.member_record, reminders_enabled=None, reminder_offsets=None),
    )

    assert response.status_code == 302
    world.member_record.refresh_from_db()
    assert (world.member_record.reminders_enabled, world.member_record.reminder_offsets) == (
        False,
        [1440, 120],
    )


def test_settings_reminders_on_without_a_time_is_an_error_at_the_times(client_as, world):
    response = client_as("member").post(
        SETTINGS, _settings_post(world.member_record, reminder_offsets=None)
    )

    assert response.status_code == 200
    prefix = f"member-{world.member_record.pk}"
    assert (
        f'id="id_{prefix}-reminder_offsets_error"><li>Choose at least one time, or turn '
        "reminders off above.</li>" in response.content.decode()
    )
    world.member_record.refresh_from_db()
    assert world.member_record.reminder_offsets == [1440, 120]


def test_settings_unknown_time_zone_is_an_error_at_the_zone(client_as, world):
    response = client_as("member").post(
        SETTINGS, _settings_post(world.member_record, timezone="Mars/Olympus_Mons")
    )

    assert response.status_code == 200
    prefix = f"member-{world.member_record.pk}"
    assert f'id="id_{prefix}-timezone_error"><li>Select a valid choice.' in (
        response.content.decode()
    )
    world.member_record.refresh_from_db()
    assert world.member_record.timezone == ""


def test_settings_for_someone_elses_record_is_not_found(client_as, world):
    response = client_as("member").post(SETTINGS, _settings_post(world.other_member_record))

    assert response.status_code == 404
    world.other_member_record.refresh_from_db()
    assert world.other_member_record.reminder_offsets == [1440, 120]


def test_settings_keep_an_offset_set_elsewhere(client_as, world):
    world.member_record.reminder_offsets = [45]
    world.member_record.save(update_fields=["reminder_offsets"])

    body = client_as("member").get(SETTINGS).content.decode()

    assert "45 minutes before" in body


def test_settings_has_a_form_per_clinic_labelled_with_its_name(client_as, world):
    record = MemberFactory(clinic=world.other_clinic, user=world.users["member"])
    ClinicRoleFactory(user=world.users["member"], clinic=world.other_clinic, role=Role.MEMBER)
    client = client_as("member")

    body = client.get(SETTINGS).content.decode()
    response = client.post(SETTINGS, _settings_post(record, reminder_offsets=["60"]))

    assert "Reminders and time zone: Hillside" in body
    assert "Reminders and time zone: Riverside" in body
    assert response.status_code == 302
    record.refresh_from_db()
    world.member_record.refresh_from_db()
    assert (record.reminder_offsets, world.member_record.reminder_offsets) == ([60], [1440, 120])


def test_settings_without_a_calendar_link_offers_one(client_as, world):
    client = client_as("member")
    assert "Get my calendar link" in client.get(SETTINGS).content.decode()

    response = client.post(LINK_RESET, follow=True)

    feed = CalendarFeed.objects.get(user=world.users["member"], revoked_at__isnull=True)
    body = response.content.decode()
    assert f'value="https://testserver/calendar/{feed.token}.ics"' in body
    assert f'href="webcal://testserver/calendar/{feed.token}.ics"' in body
    assert 'data-copy-target="calendar-url"' in body


@pytest.mark.parametrize("persona", PERSONAS)
def test_calendar_link_reset_asks_first_for_members_only(client_as, world, persona):
    response = client_as(persona).get(LINK_RESET)

    assert_status(response, AREA_STATUS[persona])


def test_calendar_link_reset_says_the_old_link_stops_and_rotates_it(client_as, world):
    old = calendar_feed_issue(user=world.users["member"], by=world.users["member"])
    client = client_as("member")

    page = client.get(LINK_RESET).content.decode()
    response = client.post(LINK_RESET)

    assert "The old link stops working at once" in page
    assert response.status_code == 302
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert (
        CalendarFeed.objects.filter(user=world.users["member"], revoked_at__isnull=True).count()
        == 1
    )


def test_calendar_link_stop_revokes_it(client_as, world):
    feed = calendar_feed_issue(user=world.users["member"], by=world.users["member"])
    client = client_as("member")

    page = client.get(LINK_STOP)
    response = client.post(LINK_STOP)

    assert page.status_code == 200
    assert response.status_code == 302
    feed.refresh_from_db()
    assert feed.revoked_at is not None


@pytest.mark.parametrize("persona", PERSONAS)
def test_calendar_link_stop_is_for_members_only(client_as, world, persona):
    people = [user for user in world.users.values() if user is not None]
    for user in people:
        calendar_feed_issue(user=user, by=user)
    may = persona in ("member", "other_member")

    response = client_as(persona).post(LINK_STOP)

    assert_status(response, 302 if may else AREA_STATUS[persona])
    live = set(CalendarFeed.objects.filter(revoked_at__isnull=True).values_list("user", flat=True))
    revoked = {user.pk for user in people} - live
    assert revoked == ({world.users[persona].pk} if may else set())


def test_other_clinic_staff_with_member_record_see_only_their_own(client_as, world):
    # The personas cover a staff member without a member record (403); here an admin of
    # another clinic who is also a member here sees only their own member pages.
    user = world.users["other_clinic_admin"]
    ClinicRoleFactory(user=user, clinic=world.clinic, role=Role.MEMBER)
    MemberFactory(clinic=world.clinic, user=user, preferred_name="Quill")

    body = client_as("other_clinic_admin").get(MEETINGS).content.decode()

    assert "You have no meetings coming up." in body
    assert_not_in(body, "Tuesday Group", "Thursday Group")
