"""The facilitator's group pages: creating and editing a group, the group page (stage,
roster, sessions) and changing its stage."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from members.models import AuditEntry
from sessions.enums import (
    AttendanceStatus,
    EnrolmentPolicy,
    EnrolmentStatus,
    ScreeningOutcome,
    Stage,
)
from sessions.models import Attendance, Group, Screening, StageTransition
from tests.factories.members import ClinicRoleFactory, MemberFactory
from tests.factories.sessions import EnrolmentFactory, GroupSessionFactory, RoomFactory
from tests.web.conftest import PERSONAS
from tests.web.pages import (
    assert_no_inline_code,
    assert_not_in,
    assert_strict_csp,
    redirects_to_login,
)

pytestmark = pytest.mark.django_db

#: Who may open a page of one group (the group led by ``facilitator``).
GROUP_PAGE_STATUS = {
    "admin": 200,
    "facilitator": 200,
    "other_facilitator": 404,
    "member": 403,
    "other_member": 404,
    "other_clinic_admin": 404,
    "anonymous": "login",
}


def _assert_status(response, expected):
    if expected == "login":
        assert redirects_to_login(response), response
    else:
        assert response.status_code == expected


def _other_clinic_secrets(world):
    """What nobody of Riverside, and nobody on its group's page, may see."""
    return ("Hillside", "hillside-admin@example.org")


# --- the group page ------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_group_page_is_for_the_groups_facilitators_and_clinic_admins(client_as, world, persona):
    response = client_as(persona).get(f"/groups/{world.group.pk}/")

    _assert_status(response, GROUP_PAGE_STATUS[persona])
    if response.status_code == 200:
        body = response.content.decode()
        assert_strict_csp(response)
        assert_no_inline_code(body)
        assert "<h1>Tuesday Group</h1>" in body
        assert '<span class="badge forming">Forming</span>' in body
        assert "Introductions, ground rules, goals and expectations." in body
        assert "Alex" in body
        assert_not_in(
            body,
            "Thursday Group",
            "Bo Reyes",
            ">Bo<",
            "Alexandra Stone",
            world.member_record.email,
            world.other_member_record.email,
            *_other_clinic_secrets(world),
        )


def test_group_page_header_counts_active_seats_and_the_waitlist(client_as, world):
    EnrolmentFactory(group=world.group, status=EnrolmentStatus.WAITLISTED)
    EnrolmentFactory(group=world.group, status=EnrolmentStatus.WAITLISTED)

    body = client_as("facilitator").get(f"/groups/{world.group.pk}/").content.decode()

    assert "<span>1 of 8 seats taken · 2 on the waitlist</span>" in body


def test_group_page_shows_each_stage_move_with_who_when_and_note(client_as, world):
    StageTransition.objects.create(
        group=world.group,
        from_stage=Stage.FORMING,
        to_stage=Stage.STORMING,
        by=world.users["facilitator"],
        at=dt.datetime(2026, 2, 3, 18, 30, tzinfo=dt.UTC),
        note="Conflict about lateness came up.",
    )
    world.group.stage = Stage.STORMING
    world.group.save(update_fields=["stage"])

    body = client_as("admin").get(f"/groups/{world.group.pk}/").content.decode()

    assert "<strong>Forming → Storming</strong>" in body
    assert (
        f"· {world.users['facilitator'].get_full_name()} · "
        '<time datetime="2026-02-03T18:30+00:00">Tue 3 Feb 2026, 18:30</time>'
    ) in body
    assert "Conflict about lateness came up." in body
    assert '<h2 id="stage-heading">Stage: Storming</h2>' in body
    assert "Surface and work through conflict; keep the space safe." in body


def test_roster_shows_status_screening_and_agreement_at_a_glance(client_as, world):
    waiting = EnrolmentFactory(
        group=world.group,
        status=EnrolmentStatus.WAITLISTED,
        member=MemberFactory(clinic=world.clinic, preferred_name="Casey"),
    )
    Screening.objects.create(
        enrolment=waiting,
        acute_illness="no_concern",
        anxiety_or_trauma="no_concern",
        disruptive_behaviour="no_concern",
        individual_needs="no_concern",
        outcome=ScreeningOutcome.SUITABLE,
        screened_by=world.users["facilitator"],
    )

    body = client_as("facilitator").get(f"/groups/{world.group.pk}/").content.decode()

    rows = body.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert "Alex" in rows[0]
    assert '<span class="badge ok">Active</span>' in rows[0]
    assert '<span class="muted">Not screened</span>' in rows[0]
    assert '<span class="badge ok">Accepted</span>' in rows[0]
    assert "Casey" in rows[1]
    assert '<span class="badge warn">Waitlisted</span>' in rows[1]
    assert '<span class="badge ok">Suitable</span>' in rows[1]
    assert '<span class="badge warn">Not accepted</span>' in rows[1]


def test_roster_rows_link_to_the_enrolment_and_offer_to_add_a_member(client_as, world):
    detail = reverse("sessions:enrolment-detail", args=[world.enrolment.pk])
    add = reverse("sessions:enrolment-add", args=[world.group.pk])

    body = client_as("facilitator").get(f"/groups/{world.group.pk}/").content.decode()

    assert f'<a href="{detail}">Alex</a>' in body
    assert f'<a class="button" href="{add}">Add a member</a>' in body


def test_roster_view_is_audited_like_the_api_roster(client_as, world):
    client_as("facilitator").get(f"/groups/{world.group.pk}/")

    entry = AuditEntry.objects.get(action="sessions.roster.viewed")
    assert (entry.actor, entry.clinic_id, entry.object_type, entry.object_id, entry.data) == (
        world.users["facilitator"],
        world.clinic.pk,
        "group_sessions.group",
        str(world.group.pk),
        {"member_ids": [world.member_record.pk]},
    )


def test_a_refused_viewer_leaves_no_roster_audit_entry(client_as, world):
    client_as("member").get(f"/groups/{world.group.pk}/")

    assert not AuditEntry.objects.filter(action="sessions.roster.viewed").exists()


def test_past_sessions_show_their_attendance_rate(client_as, world):
    session = world.past_session
    for status in (AttendanceStatus.PRESENT, AttendanceStatus.ABSENT, AttendanceStatus.EXCUSED):
        Attendance.objects.create(
            session=session,
            member=EnrolmentFactory(group=world.group, status=EnrolmentStatus.ACTIVE).member,
            status=status,
            recorded_by=world.users["facilitator"],
        )
    Attendance.objects.create(
        session=session,
        member=world.member_record,
        status=AttendanceStatus.LATE,
        recorded_by=world.users["facilitator"],
    )

    body = client_as("facilitator").get(f"/groups/{world.group.pk}/").content.decode()

    past = body.split('id="past-heading"')[1]
    assert '<td class="number">2 of 3 (67%)</td>' in past


def test_past_sessions_without_marks_say_not_recorded(client_as, world):
    body = client_as("facilitator").get(f"/groups/{world.group.pk}/").content.decode()

    past = body.split('id="past-heading"')[1]
    assert '<span class="muted">Not recorded</span>' in past


def test_sessions_are_listed_upcoming_and_past_with_links(client_as, world):
    future_url = reverse("sessions:session-detail", args=[world.future_session.pk])
    past_url = reverse("sessions:session-detail", args=[world.past_session.pk])

    body = client_as("facilitator").get(f"/groups/{world.group.pk}/").content.decode()

    upcoming, past = body.split('id="upcoming-heading"')[1].split('id="past-heading"')
    assert f'href="{future_url}"' in upcoming
    assert f'href="{past_url}"' in past
    assert f'href="{past_url}"' not in upcoming


def test_past_sessions_are_paginated_by_25(client_as, world):
    start = world.past_session.start
    for week in range(1, 26):
        GroupSessionFactory(group=world.group, start=start - dt.timedelta(weeks=week))

    first = client_as("facilitator").get(f"/groups/{world.group.pk}/").content.decode()
    second = client_as("facilitator").get(f"/groups/{world.group.pk}/?page=2").content.decode()

    assert first.split('id="past-heading"')[1].count('<th scope="row">') == 25
    assert second.split('id="past-heading"')[1].count('<th scope="row">') == 1
    assert '<span aria-current="page">Page 2 of 2</span>' in second


def _grow(world, size):
    for index in range(size - 1):
        EnrolmentFactory(
            group=world.group,
            status=EnrolmentStatus.WAITLISTED,
            member=MemberFactory(clinic=world.clinic),
        )
        GroupSessionFactory(
            group=world.group, start=world.past_session.start - dt.timedelta(weeks=index + 1)
        )
        GroupSessionFactory(
            group=world.group, start=world.future_session.start + dt.timedelta(weeks=index + 1)
        )


@pytest.mark.parametrize("size", [1, 5])
def test_group_page_queries_do_not_grow_with_the_roster_or_sessions(
    client_as, world, django_assert_num_queries, size
):
    _grow(world, size)
    client = client_as("facilitator")
    client.get("/")  # the session's zone is settled once per login

    # of which the roster's audit entry takes 3 (chain head lock, insert, head update)
    with django_assert_num_queries(16):
        response = client.get(f"/groups/{world.group.pk}/")

    assert response.status_code == 200


# --- creating a group ----------------------------------------------------------------------

CREATE_STATUS = {
    "admin": 200,
    "facilitator": 200,
    "other_facilitator": 200,
    "member": 403,
    "other_member": 403,
    "other_clinic_admin": 200,
    "anonymous": "login",
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_new_group_page_is_for_clinic_staff(client_as, world, persona):
    RoomFactory(clinic=world.other_clinic, name="Hillside Hall")

    response = client_as(persona).get("/groups/new/")

    _assert_status(response, CREATE_STATUS[persona])
    if response.status_code == 200:
        body = response.content.decode()
        assert_strict_csp(response)
        assert_no_inline_code(body)
        assert "<h1>New group</h1>" in body
        if persona == "other_clinic_admin":
            assert_not_in(body, "Room 1", "Room 2", world.users["facilitator"].get_full_name())
        else:
            assert "Room 1" in body
            assert world.users["facilitator"].get_full_name() in body
            assert_not_in(body, "Hillside Hall", "Alex", "Alexandra Stone")


def test_a_facilitator_is_the_default_lead_of_a_group_they_create(client_as, world):
    body = client_as("facilitator").get("/groups/new/").content.decode()

    assert f'<option value="{world.users["facilitator"].pk}" selected>' in body


def _group_post(world, **changes):
    data = {
        "name": "Wednesday Skills",
        "modality": str(world.group.modality_id),
        "description": "Skills practice.",
        "lead_facilitator": str(world.users["facilitator"].pk),
        "co_facilitators": [str(world.users["other_facilitator"].pk)],
        "min_size": "3",
        "max_size": "9",
        "enrolment_policy": EnrolmentPolicy.OPEN,
        "room": str(world.room.pk),
        "video_link": "",
        "billing_code": "90853",
        "planned_start": "2026-09-01",
        "planned_end": "2026-12-01",
        "late_cancel_notice_hours": "24",
    }
    data.update(changes)
    return data


def test_creating_a_group_stores_it_in_forming_and_opens_its_page(client_as, world):
    response = client_as("facilitator").post("/groups/new/", _group_post(world))

    group = Group.objects.get(name="Wednesday Skills")
    assert response.status_code == 302
    assert response["Location"] == f"/groups/{group.pk}/"
    assert (
        group.clinic,
        group.modality_id,
        group.lead_facilitator,
        list(group.co_facilitators.all()),
        group.min_size,
        group.max_size,
        group.enrolment_policy,
        group.room,
        group.planned_start,
        group.planned_end,
        group.stage,
    ) == (
        world.clinic,
        world.group.modality_id,
        world.users["facilitator"],
        [world.users["other_facilitator"]],
        3,
        9,
        EnrolmentPolicy.OPEN,
        world.room,
        dt.date(2026, 9, 1),
        dt.date(2026, 12, 1),
        Stage.FORMING,
    )
    assert list(group.transitions.values_list("from_stage", "to_stage")) == [("", "forming")]


def test_a_maximum_below_the_minimum_is_shown_next_to_the_maximum(client_as, world):
    response = client_as("facilitator").post(
        "/groups/new/", _group_post(world, min_size="6", max_size="4")
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "max_size": ["The maximum size cannot be below the minimum size."]
    }
    assert 'id="id_max_size_error"' in response.content.decode()
    assert not Group.objects.filter(name="Wednesday Skills").exists()


def test_a_room_and_a_video_link_together_are_refused_on_the_link(client_as, world):
    response = client_as("admin").post(
        "/groups/new/", _group_post(world, video_link="https://meet.example.org/abc")
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "video_link": ["A group meets in a room or by video link, not both."]
    }
    assert not Group.objects.filter(name="Wednesday Skills").exists()


def test_a_facilitator_may_not_create_a_group_they_do_not_run(client_as, world):
    response = client_as("facilitator").post(
        "/groups/new/",
        _group_post(
            world, lead_facilitator=str(world.users["other_facilitator"].pk), co_facilitators=[]
        ),
    )

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["lead_facilitator"]
    assert not Group.objects.filter(name="Wednesday Skills").exists()


def test_an_admin_may_create_a_group_led_by_any_facilitator(client_as, world):
    response = client_as("admin").post("/groups/new/", _group_post(world, co_facilitators=[]))

    assert response.status_code == 302
    assert Group.objects.get(name="Wednesday Skills").lead_facilitator == world.users["facilitator"]


def test_another_clinics_room_and_facilitators_are_not_choices(client_as, world):
    response = client_as("other_clinic_admin").post("/groups/new/", _group_post(world))

    assert response.status_code == 200
    assert set(response.context["form"].errors) == {
        "lead_facilitator",
        "co_facilitators",
        "room",
    }
    assert not Group.objects.filter(name="Wednesday Skills").exists()


def test_staff_of_several_clinics_first_choose_the_clinic(client_as, world):
    ClinicRoleFactory(user=world.users["facilitator"], clinic=world.other_clinic)
    client = client_as("facilitator")

    chooser = client.get("/groups/new/")
    form = client.get(f"/groups/new/?clinic={world.other_clinic.pk}")

    assert "Which clinic is the group for?" in chooser.content.decode()
    assert "form" not in chooser.context
    assert form.context["clinic"] == world.other_clinic
    assert "Room 1" not in form.content.decode()


def test_a_clinic_where_the_viewer_is_not_staff_is_refused(client_as, world):
    response = client_as("facilitator").get(f"/groups/new/?clinic={world.other_clinic.pk}")

    assert response.status_code == 403


# --- editing a group -----------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_edit_page_is_for_the_groups_facilitators_and_clinic_admins(client_as, world, persona):
    response = client_as(persona).get(f"/groups/{world.group.pk}/edit/")

    _assert_status(response, GROUP_PAGE_STATUS[persona])
    if response.status_code == 200:
        body = response.content.decode()
        assert_no_inline_code(body)
        assert "<h1>Edit Tuesday Group</h1>" in body
        assert 'value="Tuesday Group"' in body
        assert_not_in(body, "Alexandra Stone", *_other_clinic_secrets(world))


def _edit_post(world, **changes):
    data = _group_post(world, name="Tuesday Evening Group", **changes)
    data.pop("lead_facilitator")
    data["planned_start"] = world.group.planned_start.isoformat()
    return data


def test_editing_a_group_saves_its_fields_and_co_facilitators(client_as, world):
    response = client_as("facilitator").post(f"/groups/{world.group.pk}/edit/", _edit_post(world))

    world.group.refresh_from_db()
    assert response.status_code == 302
    assert (world.group.name, world.group.max_size, world.group.enrolment_policy) == (
        "Tuesday Evening Group",
        9,
        EnrolmentPolicy.OPEN,
    )
    assert list(world.group.co_facilitators.all()) == [world.users["other_facilitator"]]


def test_editing_a_group_keeps_its_room_after_the_room_left_use(client_as, world):
    world.room.is_active = False
    world.room.save(update_fields=["is_active"])

    response = client_as("facilitator").post(f"/groups/{world.group.pk}/edit/", _edit_post(world))

    world.group.refresh_from_db()
    assert response.status_code == 302
    assert world.group.room_id == world.room.pk


def test_a_maximum_below_the_seats_taken_shows_the_services_refusal(client_as, world):
    EnrolmentFactory(group=world.group, status=EnrolmentStatus.ACTIVE)

    response = client_as("facilitator").post(
        f"/groups/{world.group.pk}/edit/", _edit_post(world, min_size="1", max_size="1")
    )

    world.group.refresh_from_db()
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "The group already has 2 seats taken; the maximum cannot go below that (asked for 1)."
    ]
    assert (world.group.name, world.group.max_size) == ("Tuesday Group", 8)


# --- changing the stage --------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_stage_page_is_for_the_groups_facilitators_and_clinic_admins(client_as, world, persona):
    response = client_as(persona).get(f"/groups/{world.group.pk}/stage/")

    _assert_status(response, GROUP_PAGE_STATUS[persona])
    if response.status_code == 200:
        body = response.content.decode()
        assert_no_inline_code(body)
        assert '<span class="badge forming">Forming</span>' in body
        assert "Storming: Surface and work through conflict; keep the space safe." in body
        assert 'value="forming"' not in body
        assert_not_in(body, "Alex", *_other_clinic_secrets(world))


@pytest.mark.parametrize("persona", ["member", "other_facilitator", "other_clinic_admin"])
def test_only_managers_may_change_the_stage(client_as, world, persona):
    response = client_as(persona).post(f"/groups/{world.group.pk}/stage/", {"to": "storming"})

    assert response.status_code == GROUP_PAGE_STATUS[persona]
    world.group.refresh_from_db()
    assert world.group.stage == Stage.FORMING


def test_moving_forward_records_the_transition(client_as, world):
    response = client_as("facilitator").post(
        f"/groups/{world.group.pk}/stage/", {"to": "storming", "note": "First conflict."}
    )

    world.group.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == f"/groups/{world.group.pk}/"
    assert world.group.stage == Stage.STORMING
    last = world.group.transitions.order_by("-pk").first()
    assert (last.from_stage, last.to_stage, last.by, last.note) == (
        "forming",
        "storming",
        world.users["facilitator"],
        "First conflict.",
    )


def test_moving_back_without_a_note_shows_the_refusal_next_to_the_note(client_as, world):
    world.group.stage = Stage.NORMING
    world.group.save(update_fields=["stage"])

    response = client_as("facilitator").post(
        f"/groups/{world.group.pk}/stage/", {"to": "storming", "note": ""}
    )

    world.group.refresh_from_db()
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "note": ["Moving back from norming to storming needs a note saying why."]
    }
    assert 'id="id_note_error"' in response.content.decode()
    assert world.group.stage == Stage.NORMING


def test_adjourning_without_a_final_date_shows_the_refusal_next_to_the_date(client_as, world):
    response = client_as("facilitator").post(
        f"/groups/{world.group.pk}/stage/", {"to": "adjourning"}
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "final_session_date": ["Moving to adjourning needs the date of the group's final session."]
    }
    world.group.refresh_from_db()
    assert world.group.stage == Stage.FORMING


def test_adjourning_on_a_day_without_a_session_is_refused_on_the_date(client_as, world):
    response = client_as("facilitator").post(
        f"/groups/{world.group.pk}/stage/",
        {"to": "adjourning", "final_session_date": "2031-01-07"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "final_session_date": [
            "There is no scheduled or held session of this group on 2031-01-07 to be its "
            "final session."
        ]
    }


def test_adjourning_on_the_day_of_a_session_marks_it_final(client_as, world):
    day = world.future_session.start.astimezone(world.group.tz).date()

    response = client_as("admin").post(
        f"/groups/{world.group.pk}/stage/",
        {"to": "adjourning", "final_session_date": day.isoformat()},
    )

    world.group.refresh_from_db()
    world.future_session.refresh_from_db()
    assert response.status_code == 302
    assert (world.group.stage, world.group.final_session_date) == (Stage.ADJOURNING, day)
    assert world.future_session.is_final


def test_upcoming_sessions_are_paged_and_keep_the_other_lists_pages(client_as, world):
    first = world.future_session.start
    for week in range(1, 12):  # with the world's own: twelve sessions to come
        GroupSessionFactory(group=world.group, start=first + dt.timedelta(weeks=week))
    client = client_as("facilitator")

    first_page = client.get(f"/groups/{world.group.pk}/", {"roster": "1"}).content.decode()
    second_page = client.get(f"/groups/{world.group.pk}/", {"upcoming": "2"}).content.decode()

    upcoming = first_page.split('id="upcoming-heading"')[1].split("</section>")[0]
    assert upcoming.count("<tr>") == 1 + 10  # the header and the next ten
    assert '<a href="?roster=1&amp;upcoming=2#upcoming-heading" rel="next">Next</a>' in upcoming
    later = second_page.split('id="upcoming-heading"')[1].split("</section>")[0]
    assert later.count("<tr>") == 1 + 2
    assert "Page 2 of 2" in later
