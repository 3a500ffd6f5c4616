"""/api/v1/sessions/: the list and its filters, one session, moving and cancelling it."""

import datetime as dt
import zoneinfo
from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from groupcare.api import MAX_ID
from members.enums import Role
from sessions.enums import SessionStatus
from sessions.models import GroupSession, SessionFacilitator
from tests.api.world import signed_in
from tests.factories.members import ClinicRoleFactory, UserFactory
from tests.factories.sessions import GroupFactory, GroupSessionFactory, RoomFactory

pytestmark = pytest.mark.django_db

LONDON = zoneinfo.ZoneInfo("Europe/London")
INSTANT_ERROR = (
    "Give a date and time with its offset. An RFC 3339 date and time with its offset, e.g. "
    "2026-03-03T18:00:00+00:00 or 2026-03-03T18:00:00Z (in a URL, percent-encode the + of "
    "an offset)."
)


def _local(moment):
    return moment.astimezone(LONDON).isoformat()


def _url(session, tail=""):
    return f"/api/v1/sessions/{session.pk}/{tail}"


def _staff_view(session, facilitators, **overrides):
    body = {
        "id": session.pk,
        "view": "staff",
        "group": {"id": session.group.pk, "name": session.group.name},
        "start": _local(session.start),
        "end": _local(session.end),
        "timezone": "Europe/London",
        "status": session.status,
        "stage": session.stage,
        "topic": session.topic,
        "room": {"id": session.room.pk, "name": session.room.name} if session.room else None,
        "video_link": session.video_link or None,
        "facilitators": [{"id": user.pk, "full_name": user.full_name} for user in facilitators],
        "is_final": session.is_final,
        "is_moved": session.is_moved,
        "cancelled_at": None,
        "cancel_reason": None,
        "can_manage": True,
    }
    body.update(overrides)
    return body


def _member_view(session, facilitators, **overrides):
    body = {
        "id": session.pk,
        "view": "member",
        "group": {"id": session.group.pk, "name": session.group.name},
        "start": _local(session.start),
        "end": _local(session.end),
        "timezone": "Europe/London",
        "status": session.status,
        "room": {"id": session.room.pk, "name": session.room.name} if session.room else None,
        "video_link": session.video_link or None,
        "facilitators": [{"full_name": user.full_name} for user in facilitators],
        "is_final": session.is_final,
        "own_attendance": None,
    }
    body.update(overrides)
    return body


def _ids(response):
    return [row["id"] for row in response.json()["results"]]


# --- list ------------------------------------------------------------------------------------


def test_list_gives_the_facilitator_the_staff_view_of_their_groups_sessions(world, api):
    lead = world.users["facilitator"]

    response = signed_in(api, lead).get("/api/v1/sessions/")

    assert response.status_code == 200
    assert response.json() == {
        "next": None,
        "previous": None,
        "results": [
            _staff_view(world.past_session, [lead]),
            _staff_view(world.future_session, [lead]),
        ],
    }


def test_list_gives_a_member_the_member_view_of_their_own_groups_sessions(world, api):
    lead = world.users["facilitator"]

    response = signed_in(api, world.users["member"]).get("/api/v1/sessions/")

    assert response.json()["results"] == [
        _member_view(world.past_session, [lead]),
        _member_view(world.future_session, [lead]),
    ]


def test_list_gives_the_admin_every_session_of_the_clinic_earliest_first(world, api):
    GroupSessionFactory(group=GroupFactory(), start=world.future_session.start)

    response = signed_in(api, world.users["admin"]).get("/api/v1/sessions/")

    assert _ids(response) == [
        world.past_session.pk,
        world.future_session.pk,
        world.other_group_session.pk,
    ]


@pytest.mark.parametrize("persona", ["other_clinic_admin", "other_member"])
def test_list_shows_nobody_else_this_groups_sessions(world, api, persona):
    response = signed_in(api, world.users[persona]).get("/api/v1/sessions/")

    assert world.future_session.pk not in _ids(response)
    assert world.past_session.pk not in _ids(response)


def test_a_substitute_sees_the_session_they_cover_in_the_staff_view_without_managing_it(world, api):
    substitute = world.users["other_facilitator"]
    SessionFacilitator.objects.create(
        session=world.future_session,
        facilitator=substitute,
        start=world.future_session.start,
        end=world.future_session.end,
    )
    people = sorted([world.users["facilitator"], substitute], key=lambda u: (u.full_name, u.pk))

    response = signed_in(api, substitute).get("/api/v1/sessions/")

    assert response.json()["results"] == [
        _staff_view(world.future_session, people, can_manage=False),
        _staff_view(world.other_group_session, [substitute]),
    ]


def test_a_member_sees_their_own_attendance_on_the_session(world, api):
    api = signed_in(api, world.users["member"])
    api.post(_url(world.future_session, "cant-attend/"))

    response = api.get(_url(world.future_session))

    assert response.json()["own_attendance"] == "excused"


# --- list: filters ---------------------------------------------------------------------------


def _get(api, **query):
    return api.get("/api/v1/sessions/?" + urlencode(query))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (lambda w: {"group": w.other_group.pk}, lambda w: [w.other_group_session]),
        (lambda w: {"room": w.room.pk}, lambda w: [w.past_session, w.future_session]),
        (
            lambda w: {"facilitator": w.users["other_facilitator"].pk},
            lambda w: [w.other_group_session],
        ),
        (lambda w: {"status": "cancelled"}, lambda w: [w.future_session]),
        (lambda w: {"status": "scheduled"}, lambda w: [w.past_session, w.other_group_session]),
        (
            lambda w: {"group": w.group.pk, "status": "scheduled"},
            lambda w: [w.past_session],
        ),
    ],
)
def test_list_filters_by_group_room_facilitator_and_status(world, api, query, expected):
    GroupSession.objects.filter(pk=world.future_session.pk).update(status=SessionStatus.CANCELLED)

    response = _get(signed_in(api, world.users["admin"]), **query(world))

    assert response.status_code == 200
    assert _ids(response) == [session.pk for session in expected(world)]


def test_list_range_takes_sessions_starting_at_or_after_start_and_before_end(world, api):
    api = signed_in(api, world.users["admin"])
    future, other = world.future_session, world.other_group_session

    from_future = _get(api, start=future.start.isoformat())
    before_other = _get(api, start=future.start.isoformat(), end=other.start.isoformat())
    after_future = _get(api, start=(future.start + dt.timedelta(seconds=1)).isoformat())

    assert _ids(from_future) == [future.pk, other.pk]
    assert _ids(before_other) == [future.pk]
    assert _ids(after_future) == [other.pk]


def test_list_range_reads_the_offset_of_each_bound(world, api):
    future = world.future_session
    in_athens = future.start.astimezone(zoneinfo.ZoneInfo("Europe/Athens"))
    just_after_in_new_york = (future.start + dt.timedelta(minutes=1)).astimezone(
        zoneinfo.ZoneInfo("America/New_York")
    )

    response = _get(
        signed_in(api, world.users["admin"]),
        start=in_athens.isoformat(),
        end=just_after_in_new_york.isoformat(),
    )

    assert _ids(response) == [future.pk]


def test_list_range_takes_z_for_utc(world, api):
    start = world.future_session.start.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    response = _get(signed_in(api, world.users["admin"]), start=start)

    assert _ids(response) == [world.future_session.pk, world.other_group_session.pk]


def test_list_range_at_the_edges_of_the_calendar_is_an_answer_not_an_error(world, api):
    response = _get(
        signed_in(api, world.users["admin"]),
        start="0001-01-01T00:00:00+23:59",
        end="9999-12-31T23:59:59-23:59",
    )

    assert response.status_code == 200
    assert len(_ids(response)) == 3


def test_an_empty_range_is_an_empty_list(world, api):
    future = world.future_session
    response = _get(
        signed_in(api, world.users["admin"]),
        start=future.end.isoformat(),
        end=future.start.isoformat(),
    )

    assert response.status_code == 200
    assert _ids(response) == []


def test_a_filter_by_another_clinics_group_is_an_empty_list_not_an_error(world, api):
    elsewhere = GroupSessionFactory(group=GroupFactory(clinic=world.other_clinic))

    response = _get(signed_in(api, world.users["admin"]), group=elsewhere.group.pk)

    assert response.status_code == 200
    assert _ids(response) == []


ID_ERROR = [f"Give an id: a whole number from 1 to {MAX_ID}."]


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ({"group": "abc"}, {"group": ID_ERROR}),
        ({"group": "0"}, {"group": ID_ERROR}),
        ({"group": "-1"}, {"group": ID_ERROR}),
        ({"group": "1.0"}, {"group": ID_ERROR}),
        ({"group": str(2**70)}, {"group": ID_ERROR}),
        ({"facilitator": "me"}, {"facilitator": ID_ERROR}),
        ({"room": "²"}, {"room": ID_ERROR}),
        ({"start": "garbage"}, {"start": [INSTANT_ERROR]}),
        ({"start": "2026-03-03"}, {"start": [INSTANT_ERROR]}),
        ({"start": "2026-03-03T18:00:00"}, {"start": [INSTANT_ERROR]}),
        ({"start": "2026-03-03T18:00"}, {"start": [INSTANT_ERROR]}),
        ({"end": "2026-03-03T18:00:00 01:00"}, {"end": [INSTANT_ERROR]}),
        ({"end": "2026-02-30T18:00:00Z"}, {"end": [INSTANT_ERROR]}),
        ({"end": "20260303T180000Z"}, {"end": [INSTANT_ERROR]}),
        ({"status": "dancing"}, {"status": ['"dancing" is not a valid choice.']}),
        ({"status": ""}, {"status": ["Give a value, or leave out the parameter."]}),
        ({"start": ""}, {"start": ["Give a value, or leave out the parameter."]}),
        (
            {"group": "", "start": "soon"},
            {"group": ["Give a value, or leave out the parameter."], "start": [INSTANT_ERROR]},
        ),
    ],
)
def test_list_refuses_a_bad_filter_with_a_400_naming_it(world, api, query, errors):
    response = _get(signed_in(api, world.users["admin"]), **query)

    assert response.status_code == 400
    assert response.json() == errors


def test_the_list_is_paged_by_cursor(world, api):
    api = signed_in(api, world.users["admin"])

    first = api.get("/api/v1/sessions/?page_size=2").json()
    second = api.get(first["next"]).json()

    assert [row["id"] for row in first["results"]] == [
        world.past_session.pk,
        world.future_session.pk,
    ]
    assert [row["id"] for row in second["results"]] == [world.other_group_session.pk]
    assert second["next"] is None


def test_a_cursor_the_api_did_not_give_is_a_400_naming_it(world, api):
    response = signed_in(api, world.users["admin"]).get("/api/v1/sessions/?cursor=Tuesday")

    assert response.status_code == 400
    assert list(response.json()) == ["cursor"]


def _add_sessions(world, count):
    """Sessions of as many groups of the clinic, each with a second facilitator, and the
    member enrolled in each, so both views have something on every row."""
    from sessions.enums import EnrolmentStatus
    from tests.factories.sessions import EnrolmentFactory

    for index in range(count):
        group = GroupFactory(clinic=world.clinic, room=RoomFactory(clinic=world.clinic))
        EnrolmentFactory(group=group, member=world.member_record, status=EnrolmentStatus.ACTIVE)
        co = UserFactory()
        ClinicRoleFactory(user=co, clinic=world.clinic, role=Role.FACILITATOR)
        GroupSessionFactory(
            group=group,
            start=world.future_session.start + dt.timedelta(days=10 + index),
            facilitators=[group.lead_facilitator, co],
        )


@pytest.mark.parametrize("persona", ["admin", "member"])
@pytest.mark.parametrize("size", [1, 5])
def test_list_runs_the_same_queries_at_any_page_size(
    world, api, django_assert_num_queries, persona, size
):
    _add_sessions(world, 5)
    signed_in(api, world.users[persona])

    # session, user, the page, its facilitators
    with django_assert_num_queries(4):
        response = api.get(f"/api/v1/sessions/?page_size={size}&status=scheduled")

    assert len(response.json()["results"]) == size


# --- one session -----------------------------------------------------------------------------


def test_detail_gives_staff_and_member_their_views(world, api):
    lead = world.users["facilitator"]

    as_admin = signed_in(APIClient(), world.users["admin"]).get(_url(world.future_session))
    as_member = signed_in(api, world.users["member"]).get(_url(world.future_session))

    assert as_admin.json() == _staff_view(world.future_session, [lead])
    assert as_member.json() == _member_view(world.future_session, [lead])


def test_a_video_session_gives_its_link_and_no_room(world, api):
    link = "https://meet.example.org/tuesday"
    GroupSession.objects.filter(pk=world.future_session.pk).update(room=None, video_link=link)

    body = signed_in(api, world.users["member"]).get(_url(world.future_session)).json()

    assert (body["room"], body["video_link"]) == (None, link)


def test_detail_ignores_the_lists_query_parameters(world, api):
    response = signed_in(api, world.users["admin"]).get(_url(world.future_session) + "?status=nope")

    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/sessions/abc/", f"/api/v1/sessions/{2**70}/"])
def test_a_session_id_that_cannot_exist_is_a_404(world, api, path):
    response = signed_in(api, world.users["admin"]).get(path)

    assert response.status_code == 404


def test_detail_runs_four_queries(world, api, django_assert_num_queries):
    signed_in(api, world.users["member"])

    with django_assert_num_queries(4):
        api.get(_url(world.future_session))


# --- moving ----------------------------------------------------------------------------------


def test_moving_the_start_keeps_the_length_and_marks_it_moved(world, api):
    session = world.future_session
    new_start = session.start + dt.timedelta(hours=3)

    response = signed_in(api, world.users["facilitator"]).patch(
        _url(session), {"start": new_start.isoformat()}, format="json"
    )

    session.refresh_from_db()
    assert response.status_code == 200
    assert (session.start, session.end, session.is_moved) == (
        new_start,
        new_start + dt.timedelta(minutes=90),
        True,
    )
    assert response.json() == _staff_view(session, [world.users["facilitator"]])


def test_moving_with_an_end_or_a_duration_sets_the_length(world, api):
    session = world.future_session
    api = signed_in(api, world.users["facilitator"])

    by_end = api.patch(
        _url(session), {"end": (session.start + dt.timedelta(hours=2)).isoformat()}, format="json"
    )
    by_duration = api.patch(_url(session), {"duration_minutes": 60}, format="json")

    session.refresh_from_db()
    assert by_end.json()["end"] == _local(session.start + dt.timedelta(hours=2))
    assert (by_duration.status_code, session.end) == (200, session.start + dt.timedelta(hours=1))


def test_moving_takes_an_offset_and_answers_in_the_clinics_time(world, api):
    session = world.future_session
    in_tokyo = (session.start + dt.timedelta(hours=1)).astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))

    response = signed_in(api, world.users["facilitator"]).patch(
        _url(session), {"start": in_tokyo.isoformat()}, format="json"
    )

    assert response.json()["start"] == _local(session.start + dt.timedelta(hours=1))


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"start": "2026-03-03T18:00:00"}, {"start": [INSTANT_ERROR]}),
        ({"start": "tomorrow"}, {"start": [INSTANT_ERROR]}),
        ({"start": 1767225600}, {"start": ["Not a valid string."]}),
        (
            {"end": "2030-03-03T18:00:00Z", "duration_minutes": 60},
            {"duration_minutes": ["Give `end` or `duration_minutes`, not both."]},
        ),
        (
            {"duration_minutes": 5},
            {"duration_minutes": ["Ensure this value is greater than or equal to 15."]},
        ),
        ({"facilitators": []}, {"facilitators": ["Ensure this field has at least 1 elements."]}),
        ({"room": "1"}, {"room": ["A valid integer is required."]}),
    ],
)
def test_moving_refuses_invalid_input_with_a_400(world, api, body, errors):
    response = signed_in(api, world.users["facilitator"]).patch(
        _url(world.future_session), body, format="json"
    )

    assert response.status_code == 400
    assert response.json() == errors


def test_moving_to_another_room_or_none(world, api):
    session = world.future_session
    garden = RoomFactory(clinic=world.clinic, name="Garden Room")
    api = signed_in(api, world.users["facilitator"])

    to_garden = api.patch(_url(session), {"room": garden.pk}, format="json")
    to_none = api.patch(_url(session), {"room": None}, format="json")

    assert to_garden.json()["room"] == {"id": garden.pk, "name": "Garden Room"}
    assert to_none.json()["room"] is None
    session.refresh_from_db()
    assert (session.room, session.is_moved) == (None, False)


def test_another_clinics_room_or_facilitator_reads_as_unknown(world, api):
    elsewhere_room = RoomFactory(clinic=world.other_clinic)
    api = signed_in(api, world.users["facilitator"])

    room = api.patch(_url(world.future_session), {"room": elsewhere_room.pk}, format="json")
    person = api.patch(
        _url(world.future_session),
        {"facilitators": [world.users["other_clinic_admin"].pk]},
        format="json",
    )

    assert room.json() == {"room": [f'Invalid pk "{elsewhere_room.pk}" - object does not exist.']}
    pk = world.users["other_clinic_admin"].pk
    assert person.json() == {"facilitators": {"0": [f'Invalid pk "{pk}" - object does not exist.']}}


def test_a_member_cannot_be_made_a_sessions_facilitator(world, api):
    pk = world.users["member"].pk

    response = signed_in(api, world.users["admin"]).patch(
        _url(world.future_session), {"facilitators": [pk]}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "facilitators": {"0": [f'Invalid pk "{pk}" - object does not exist.']}
    }


def test_a_substitute_takes_over_and_may_then_record_but_not_move(world, api):
    session = world.future_session
    substitute = world.users["other_facilitator"]

    response = signed_in(api, world.users["facilitator"]).patch(
        _url(session), {"facilitators": [substitute.pk]}, format="json"
    )
    as_substitute = signed_in(APIClient(), substitute)
    seen = as_substitute.get(_url(session))
    moved = as_substitute.patch(_url(session), {"room": None}, format="json")

    assert response.json()["facilitators"] == [
        {"id": substitute.pk, "full_name": substitute.full_name}
    ]
    assert seen.json() == _staff_view(session, [substitute], can_manage=False)
    assert moved.status_code == 403
    assert moved.json() == {
        "detail": "Only the group's facilitators and a clinic admin may move or cancel a session."
    }


def test_privileged_fields_in_a_move_change_nothing(world, api):
    session = world.future_session
    before = GroupSession.objects.values().get(pk=session.pk)

    response = signed_in(api, world.users["facilitator"]).patch(
        _url(session),
        {
            "status": "cancelled",
            "group": world.other_group.pk,
            "clinic": world.other_clinic.pk,
            "stage": "performing",
            "is_final": True,
            "is_moved": True,
            "cancel_reason": "No reason",
            "series_date": "2030-01-01",
        },
        format="json",
    )

    assert response.status_code == 200
    assert GroupSession.objects.values().get(pk=session.pk) == before


def test_a_double_booked_room_is_a_409_naming_the_session_in_the_way(world, api):
    other = world.other_group_session

    response = signed_in(api, world.users["admin"]).patch(
        _url(world.future_session),
        {"start": other.start.isoformat(), "room": other.room.pk},
        format="json",
    )

    local = other.start.astimezone(LONDON)
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"Room Room 2 is already booked: Thursday Group, {local:%a %Y-%m-%d %H:%M} "
        f"(session #{other.pk}).",
        "code": "double_booking",
        "conflict_id": other.pk,
    }
    world.future_session.refresh_from_db()
    assert world.future_session.is_moved is False


def test_a_double_booked_facilitator_is_a_409_naming_the_session_in_the_way(world, api):
    other = world.other_group_session
    busy = world.users["other_facilitator"]

    response = signed_in(api, world.users["admin"]).patch(
        _url(world.future_session),
        {
            "start": (other.start + dt.timedelta(minutes=30)).isoformat(),
            "facilitators": [world.users["facilitator"].pk, busy.pk],
        },
        format="json",
    )

    assert response.status_code == 409
    assert (response.json()["code"], response.json()["conflict_id"]) == (
        "double_booking",
        other.pk,
    )


@pytest.mark.parametrize(
    ("session", "detail"),
    [
        ("past_session", "This session is already over; it cannot be moved."),
        ("cancelled", "This session is cancelled; it cannot be moved."),
    ],
)
def test_moving_a_past_or_cancelled_session_is_a_409(world, api, session, detail):
    if session == "cancelled":
        GroupSession.objects.filter(pk=world.future_session.pk).update(
            status=SessionStatus.CANCELLED
        )
        target = world.future_session
    else:
        target = world.past_session

    response = signed_in(api, world.users["facilitator"]).patch(
        _url(target), {"start": (target.start + dt.timedelta(hours=1)).isoformat()}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": detail,
        "code": "session_change_refused",
        "conflict_id": None,
    }


@pytest.mark.parametrize(
    ("start", "detail"),
    [
        ("0001-01-01T00:00:00+01:00", "A session cannot be moved to a time in the past."),
        ("2001-01-01T00:00:00Z", "A session cannot be moved to a time in the past."),
        ("9999-12-31T23:59:59-23:59", "A session can be moved at most 10 years ahead."),
    ],
)
def test_moving_out_of_any_reasonable_time_is_a_409_not_a_crash(world, api, start, detail):
    response = signed_in(api, world.users["facilitator"]).patch(
        _url(world.future_session), {"start": start}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["detail"] == detail


def test_a_member_may_not_move_their_session(world, api):
    before = GroupSession.objects.values().get(pk=world.future_session.pk)

    response = signed_in(api, world.users["member"]).patch(
        _url(world.future_session), {"room": None}, format="json"
    )

    assert response.status_code == 403
    assert GroupSession.objects.values().get(pk=world.future_session.pk) == before


def test_the_detail_route_offers_no_put_or_delete(world, api):
    api = signed_in(api, world.users["admin"])

    assert api.put(_url(world.future_session), {}, format="json").status_code == 405
    assert api.delete(_url(world.future_session)).status_code == 405


# --- cancelling ------------------------------------------------------------------------------


def test_cancelling_keeps_the_reason_and_frees_the_facilitators(world, api):
    session = world.future_session

    response = signed_in(api, world.users["facilitator"]).post(
        _url(session, "cancel/"), {"reason": "The facilitator is unwell."}, format="json"
    )

    session.refresh_from_db()
    assert response.status_code == 200
    assert response.json() == _staff_view(
        session,
        [world.users["facilitator"]],
        status="cancelled",
        cancelled_at=_local(session.cancelled_at),
        cancel_reason="The facilitator is unwell.",
    )
    assert list(SessionFacilitator.objects.filter(session=session).values_list("is_cancelled")) == [
        (True,)
    ]


def test_a_member_sees_a_cancelled_session_without_the_reason(world, api):
    signed_in(APIClient(), world.users["admin"]).post(
        _url(world.future_session, "cancel/"), {"reason": "Building closed."}, format="json"
    )

    body = signed_in(api, world.users["member"]).get(_url(world.future_session)).json()

    assert body["status"] == "cancelled"
    assert "Building closed." not in str(body)


def test_cancelling_twice_is_a_409(world, api):
    api = signed_in(api, world.users["facilitator"])
    api.post(_url(world.future_session, "cancel/"), {"reason": "Snow."}, format="json")

    response = api.post(_url(world.future_session, "cancel/"), {"reason": "Snow."}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "This session is already cancelled.",
        "code": "session_change_refused",
        "conflict_id": None,
    }


def test_cancelling_a_past_session_is_a_409(world, api):
    response = signed_in(api, world.users["admin"]).post(
        _url(world.past_session, "cancel/"), {"reason": "Too late."}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["detail"] == "This session is already over; it cannot be cancelled."


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "reason"), ({"reason": "   "}, "reason"), ({"reason": "x" * 301}, "reason")],
)
def test_cancelling_needs_a_reason(world, api, body, field):
    response = signed_in(api, world.users["facilitator"]).post(
        _url(world.future_session, "cancel/"), body, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()) == [field]
    world.future_session.refresh_from_db()
    assert world.future_session.status == SessionStatus.SCHEDULED


def test_a_status_in_the_cancel_body_changes_nothing_but_the_cancellation(world, api):
    response = signed_in(api, world.users["facilitator"]).post(
        _url(world.future_session, "cancel/"),
        {"reason": "Snow.", "status": "completed", "group": world.other_group.pk},
        format="json",
    )

    world.future_session.refresh_from_db()
    assert response.status_code == 200
    assert (world.future_session.status, world.future_session.group_id) == (
        SessionStatus.CANCELLED,
        world.group.pk,
    )


@pytest.mark.parametrize(("persona", "status"), [("member", 403), ("other_facilitator", 404)])
def test_only_the_groups_staff_cancel(world, api, persona, status):
    response = signed_in(api, world.users[persona]).post(
        _url(world.future_session, "cancel/"), {"reason": "Snow."}, format="json"
    )

    world.future_session.refresh_from_db()
    assert response.status_code == status
    assert world.future_session.status == SessionStatus.SCHEDULED
