"""Schedules, session generation, moving, cancelling and the final session."""

import datetime as dt
import threading
import time
import zoneinfo

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from members.enums import Role
from members.models import AuditEntry
from sessions.enums import AttendanceStatus, EnrolmentStatus, SessionStatus, Stage
from sessions.errors import ScheduleError, SessionChangeError
from sessions.models import Attendance, GroupSession, Schedule, SessionFacilitator
from sessions.services import attendance as attendance_services
from sessions.services import scheduling
from sessions.services.attendance import AttendanceEntry, attendance_cant_attend, attendance_record
from sessions.services.scheduling import (
    group_session_cancel,
    group_session_move,
    group_sessions_finalise,
    group_sessions_generate,
    rrule_build,
    rrule_validate,
    schedule_set,
)
from tests.factories.members import ClinicFactory, ClinicRoleFactory, MemberFactory, UserFactory
from tests.factories.sessions import (
    EnrolmentFactory,
    GroupFactory,
    GroupSessionFactory,
    RoomFactory,
)

pytestmark = pytest.mark.django_db

LONDON = zoneinfo.ZoneInfo("Europe/London")
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)  # a Monday; London is on BST (UTC+1)
TUESDAY = dt.date(2026, 6, 2)
SIX_PM = dt.time(18, 0)


def _utc(*args):
    return dt.datetime(*args, tzinfo=dt.UTC)


def _weeks(first, count, step=1):
    return [first + dt.timedelta(weeks=week * step) for week in range(count)]


def _set(group, rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=12", *, now=NOW, **overrides):
    fields = {
        "group": group,
        "rrule": rrule,
        "first_date": TUESDAY,
        "start_time": SIX_PM,
        "duration_minutes": 90,
        "by": group.lead_facilitator,
        "now": now,
    }
    fields.update(overrides)
    return schedule_set(**fields)


def _starts(group):
    return list(GroupSession.objects.filter(group=group).values_list("start", flat=True))


def _facilitator(clinic):
    return ClinicRoleFactory(clinic=clinic, role=Role.FACILITATOR).user


def _record_attendance(session):
    return Attendance.objects.create(
        session=session,
        member=MemberFactory(clinic=session.group.clinic),
        status=AttendanceStatus.PRESENT,
        recorded_by=session.group.lead_facilitator,
    )


# --- RRULE ---------------------------------------------------------------------------------


def test_rrule_build_writes_a_normalised_weekly_rule():
    assert (
        rrule_build(weekdays=["TH", "tu"], count=12)
        == "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU,TH;COUNT=12"
    )


def test_rrule_build_with_until_includes_the_whole_last_day():
    assert (
        rrule_build(weekdays=["MO"], interval=2, until=dt.date(2026, 12, 31))
        == "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;UNTIL=20261231T235959"
    )


def test_rrule_build_without_a_weekday_is_refused():
    with pytest.raises(ScheduleError) as refused:
        rrule_build(weekdays=[], count=4)

    assert str(refused.value) == "Choose at least one weekday for the schedule."


@pytest.mark.parametrize(
    ("rrule", "normalised"),
    [
        ("FREQ=WEEKLY;BYDAY=TU;COUNT=12", "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=12"),
        (
            "RRULE:freq=weekly;byday=th,tu;interval=2;count=6;",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;COUNT=6",
        ),
        (
            "FREQ=WEEKLY;BYDAY=WE;UNTIL=20261230",
            "FREQ=WEEKLY;INTERVAL=1;BYDAY=WE;UNTIL=20261230T235959",
        ),
        (
            "FREQ=WEEKLY;BYDAY=WE;UNTIL=20261230T170000Z",
            "FREQ=WEEKLY;INTERVAL=1;BYDAY=WE;UNTIL=20261230T235959",
        ),
        ("FREQ=WEEKLY;COUNT=3", "FREQ=WEEKLY;INTERVAL=1;COUNT=3"),
        (
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;WKST=SU;COUNT=4",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;WKST=SU;COUNT=4",
        ),
    ],
)
def test_rrule_validate_accepts_and_normalises_a_weekly_rule(rrule, normalised):
    assert rrule_validate(rrule) == normalised


@pytest.mark.parametrize(
    ("rrule", "message"),
    [
        (
            "every tuesday",
            "This RRULE could not be read: 'every tuesday'. Write KEY=VALUE pairs separated by "
            "';', e.g. FREQ=WEEKLY;BYDAY=TU;COUNT=12.",
        ),
        (
            "FREQ=WEEKLY;COUNT=2;COUNT=3",
            "This RRULE could not be read: 'FREQ=WEEKLY;COUNT=2;COUNT=3'. Write KEY=VALUE pairs "
            "separated by ';', e.g. FREQ=WEEKLY;BYDAY=TU;COUNT=12.",
        ),
        ("BYDAY=TU;COUNT=3", "The RRULE needs FREQ=WEEKLY."),
        (
            "FREQ=DAILY;COUNT=10",
            "Only weekly schedules are supported (FREQ=WEEKLY), not FREQ=DAILY.",
        ),
        (
            "FREQ=WEEKLY;BYDAY=TU",
            "RRULE without an end: add COUNT (the number of sessions) or UNTIL (the last date).",
        ),
        ("FREQ=WEEKLY;BYDAY=TU;COUNT=0", "COUNT must be a whole number of at least 1 (got 0)."),
        ("FREQ=WEEKLY;BYDAY=TU;COUNT=-2", "COUNT must be a whole number of at least 1 (got -2)."),
        (
            "FREQ=WEEKLY;INTERVAL=0;BYDAY=TU;COUNT=4",
            "INTERVAL must be a whole number of at least 1 (got 0).",
        ),
        (
            "FREQ=WEEKLY;BYDAY=TU,XY;COUNT=4",
            "Unknown weekday 'XY' in the RRULE; use MO, TU, WE, TH, FR, SA or SU.",
        ),
        (
            "FREQ=WEEKLY;BYDAY=1TU;COUNT=4",
            "Unknown weekday '1TU' in the RRULE; use MO, TU, WE, TH, FR, SA or SU.",
        ),
        (
            "FREQ=WEEKLY;BYDAY=TU;BYHOUR=9;COUNT=4",
            "RRULE part BYHOUR is not supported; a schedule uses FREQ, INTERVAL, BYDAY, WKST "
            "and COUNT or UNTIL.",
        ),
        (
            "FREQ=WEEKLY;BYDAY=TU;COUNT=4;UNTIL=20261231",
            "An RRULE ends with COUNT or with UNTIL, not both.",
        ),
        (
            "FREQ=WEEKLY;BYDAY=TU;UNTIL=2026-12-31",
            "UNTIL must be a date like 20261231 (got 2026-12-31).",
        ),
        ("FREQ=WEEKLY;BYDAY=TU;UNTIL=20260231", "UNTIL is not a real date: 20260231."),
    ],
)
def test_rrule_validate_refuses_a_bad_rule_saying_why(rrule, message):
    with pytest.raises(ScheduleError) as refused:
        rrule_validate(rrule)

    assert str(refused.value) == message


# --- generation ----------------------------------------------------------------------------


def test_weekly_tuesday_for_twelve_weeks_makes_twelve_sessions_at_six_pm_local():
    group = GroupFactory()  # Europe/London

    sessions = _set(group)

    assert [s.start.astimezone(LONDON) for s in sessions] == [
        dt.datetime.combine(day, SIX_PM, tzinfo=LONDON) for day in _weeks(TUESDAY, 12)
    ]
    assert [(s.series_date, s.end - s.start) for s in sessions] == [
        (day, dt.timedelta(minutes=90)) for day in _weeks(TUESDAY, 12)
    ]
    assert _starts(group) == [s.start for s in sessions]


def test_generated_sessions_take_the_groups_room_stage_and_every_facilitator():
    group = GroupFactory(stage=Stage.NORMING)
    co = _facilitator(group.clinic)
    group.co_facilitators.add(co)

    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=2")

    assert [(s.room, s.video_link, s.stage, s.status) for s in sessions] == [
        (group.room, "", Stage.NORMING, SessionStatus.SCHEDULED)
    ] * 2
    assert sorted(
        SessionFacilitator.objects.values_list("session_id", "facilitator_id", "start", "end")
    ) == sorted(
        (s.pk, user.pk, s.start, s.end) for s in sessions for user in (group.lead_facilitator, co)
    )


def test_a_video_group_gets_its_link_and_no_room():
    group = GroupFactory(room=None, video_link="https://video.example.org/room-7")

    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=1")

    assert [(s.room, s.video_link) for s in sessions] == [
        (None, "https://video.example.org/room-7")
    ]


def test_every_second_week_skips_the_weeks_between():
    group = GroupFactory()

    sessions = _set(group, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;COUNT=4")

    assert [s.series_date for s in sessions] == _weeks(TUESDAY, 4, step=2)


def test_two_weekdays_make_two_sessions_a_week():
    group = GroupFactory()

    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU,TH;COUNT=4")

    assert [s.series_date for s in sessions] == [
        dt.date(2026, 6, 2),
        dt.date(2026, 6, 4),
        dt.date(2026, 6, 9),
        dt.date(2026, 6, 11),
    ]


def test_until_includes_a_session_on_its_last_day():
    group = GroupFactory()

    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;UNTIL=20260623")

    assert [s.series_date for s in sessions] == _weeks(TUESDAY, 4)


def test_without_planned_end_generation_stops_twelve_weeks_ahead():
    group = GroupFactory(planned_end=None)

    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=30")

    assert [s.series_date for s in sessions] == _weeks(TUESDAY, 12)


def test_the_periodic_run_extends_an_open_ended_series_as_time_passes():
    group = GroupFactory(planned_end=None)
    _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=30")

    created = group_sessions_generate(group=group, now=NOW + dt.timedelta(weeks=3))

    assert [s.series_date for s in created] == _weeks(dt.date(2026, 8, 25), 3)
    assert AuditEntry.objects.filter(action="sessions.schedule.generated").count() == 1


def test_generation_is_capped_at_the_planned_end():
    group = GroupFactory(planned_end=dt.date(2026, 6, 16))

    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=12")

    assert [s.series_date for s in sessions] == _weeks(TUESDAY, 3)


def test_generation_never_passes_the_final_session_date():
    group = GroupFactory(planned_end=dt.date(2026, 12, 31), final_session_date=dt.date(2026, 6, 9))

    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=12")

    assert [s.series_date for s in sessions] == _weeks(TUESDAY, 2)


def test_generation_creates_no_session_in_the_past():
    group = GroupFactory()

    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=6", now=_utc(2026, 6, 16, 17, 30))

    assert [s.series_date for s in sessions] == _weeks(dt.date(2026, 6, 23), 3)


def test_generating_again_creates_nothing():
    group = GroupFactory()
    _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=4")

    created = group_sessions_generate(group=group, now=NOW)

    assert (created, len(_starts(group))) == ([], 4)


def test_a_group_without_a_schedule_generates_nothing():
    group = GroupFactory()

    assert group_sessions_generate(group=group, now=NOW) == []


def test_a_cancelled_occurrence_is_not_generated_again():
    group = GroupFactory()
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=3")
    group_session_cancel(session=sessions[1], by=group.lead_facilitator, reason="Holiday", now=NOW)

    created = group_sessions_generate(group=group, now=NOW)

    assert created == []
    assert list(GroupSession.objects.filter(group=group).values_list("series_date", "status")) == [
        (TUESDAY, SessionStatus.SCHEDULED),
        (dt.date(2026, 6, 9), SessionStatus.CANCELLED),
        (dt.date(2026, 6, 16), SessionStatus.SCHEDULED),
    ]


def test_a_moved_occurrence_is_not_generated_again():
    group = GroupFactory()
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=3")
    group_session_move(
        session=sessions[1],
        by=group.lead_facilitator,
        start=_utc(2026, 6, 10, 17, 0),
        now=NOW,
    )

    created = group_sessions_generate(group=group, now=NOW)

    assert created == []
    assert list(
        GroupSession.objects.filter(group=group).values_list("series_date", "start", "is_moved")
    ) == [
        (TUESDAY, _utc(2026, 6, 2, 17, 0), False),
        (dt.date(2026, 6, 9), _utc(2026, 6, 10, 17, 0), True),
        (dt.date(2026, 6, 16), _utc(2026, 6, 16, 17, 0), False),
    ]


def test_an_archived_group_gets_no_new_sessions():
    group = GroupFactory(status="archived")

    with pytest.raises(ScheduleError) as refused:
        _set(group)

    assert str(refused.value) == "This group is archived; its schedule can no longer change."


@pytest.mark.parametrize("minutes", [10, 481])
def test_a_duration_outside_fifteen_minutes_to_eight_hours_is_refused(minutes):
    group = GroupFactory()

    with pytest.raises(ScheduleError) as refused:
        _set(group, duration_minutes=minutes)

    assert str(refused.value) == (
        f"A session lasts between 15 minutes and 8 hours (got {minutes} minutes)."
    )
    assert (Schedule.objects.filter(group=group).exists(), _starts(group)) == (False, [])


def test_schedule_set_is_audited_with_ids_and_codes_only():
    group = GroupFactory()

    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=2")

    entry = AuditEntry.objects.get(action="sessions.schedule.set")
    assert (entry.actor, entry.clinic, entry.object_type, entry.data) == (
        group.lead_facilitator,
        group.clinic,
        "group_sessions.schedule",
        {
            "group_id": group.pk,
            "created": True,
            "rrule": "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=2",
            "first_date": "2026-06-02",
            "start_time": "18:00",
            "duration_minutes": 90,
            "removed_session_ids": [],
            "updated_session_ids": [],
            "created_session_ids": [s.pk for s in sessions],
        },
    )


def test_a_schedule_ending_before_its_first_date_is_refused():
    group = GroupFactory()

    with pytest.raises(ScheduleError) as refused:
        _set(group, "FREQ=WEEKLY;BYDAY=TU;UNTIL=20260526")

    assert str(refused.value) == (
        "This schedule would have no sessions: it ends on 2026-05-26 (UNTIL), before its "
        "first meeting day on or after 2026-06-02."
    )
    assert (Schedule.objects.filter(group=group).exists(), _starts(group)) == (False, [])


def test_a_schedule_starting_after_the_planned_end_is_refused():
    group = GroupFactory(planned_end=dt.date(2026, 5, 31))

    with pytest.raises(ScheduleError) as refused:
        _set(group)

    assert str(refused.value) == (
        "This schedule would have no sessions: its first session (2026-06-02) is after the "
        "group's planned end (2026-05-31)."
    )
    assert (Schedule.objects.filter(group=group).exists(), _starts(group)) == (False, [])


def test_a_schedule_starting_after_the_final_session_is_refused():
    group = GroupFactory(final_session_date=dt.date(2026, 6, 1))

    with pytest.raises(ScheduleError) as refused:
        _set(group)

    assert str(refused.value) == (
        "This schedule would have no sessions: its first session (2026-06-02) is after the "
        "group's final session (2026-06-01)."
    )


# --- editing the series --------------------------------------------------------------------

LATER = _utc(2026, 6, 10, 12, 0)  # after the first two Tuesdays


def test_editing_the_series_regenerates_future_sessions_from_the_new_rule():
    group = GroupFactory()
    _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=5")

    future = _set(group, "FREQ=WEEKLY;BYDAY=TH;COUNT=5", start_time=dt.time(19, 0), now=LATER)

    assert [s.start.astimezone(LONDON) for s in future] == [
        dt.datetime(2026, 6, 11, 19, 0, tzinfo=LONDON),
        dt.datetime(2026, 6, 18, 19, 0, tzinfo=LONDON),
        dt.datetime(2026, 6, 25, 19, 0, tzinfo=LONDON),
        dt.datetime(2026, 7, 2, 19, 0, tzinfo=LONDON),
    ]
    assert Schedule.objects.get(group=group).rrule == "FREQ=WEEKLY;INTERVAL=1;BYDAY=TH;COUNT=5"


def test_editing_the_series_leaves_past_sessions_untouched():
    group = GroupFactory()
    before = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=5")

    _set(group, start_time=dt.time(19, 0), rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=5", now=LATER)

    assert list(GroupSession.objects.filter(group=group).values_list("pk", "start")[:2]) == [
        (before[0].pk, _utc(2026, 6, 2, 17, 0)),
        (before[1].pk, _utc(2026, 6, 9, 17, 0)),
    ]


def test_editing_the_series_keeps_a_future_session_with_attendance():
    group = GroupFactory()
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=3")
    _record_attendance(sessions[1])

    _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=3", start_time=dt.time(19, 0))

    assert list(GroupSession.objects.filter(group=group).values_list("pk", "start")) == [
        (sessions[0].pk, _utc(2026, 6, 2, 18, 0)),
        (sessions[1].pk, _utc(2026, 6, 9, 17, 0)),
        (sessions[2].pk, _utc(2026, 6, 16, 18, 0)),
    ]


def test_editing_the_series_keeps_moved_and_cancelled_sessions():
    group = GroupFactory()
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=3")
    moved = group_session_move(
        session=sessions[0], by=group.lead_facilitator, start=_utc(2026, 6, 3, 17, 0), now=NOW
    )
    cancelled = group_session_cancel(
        session=sessions[1], by=group.lead_facilitator, reason="Holiday", now=NOW
    )

    _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=3", start_time=dt.time(19, 0))

    assert list(GroupSession.objects.filter(group=group).values_list("pk", "start", "status")) == [
        (moved.pk, _utc(2026, 6, 3, 17, 0), SessionStatus.SCHEDULED),
        (cancelled.pk, _utc(2026, 6, 9, 17, 0), SessionStatus.CANCELLED),
        (
            GroupSession.objects.get(group=group, series_date=dt.date(2026, 6, 16)).pk,
            _utc(2026, 6, 16, 18, 0),
            SessionStatus.SCHEDULED,
        ),
    ]


def test_editing_the_series_keeps_an_extra_session():
    group = GroupFactory()
    _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=2")
    extra = GroupSession.objects.create(
        group=group, start=_utc(2026, 6, 5, 9), end=_utc(2026, 6, 5, 10), stage=group.stage
    )

    future = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=2", start_time=dt.time(19, 0))

    assert [(s.pk == extra.pk, s.start) for s in future] == [
        (False, _utc(2026, 6, 2, 18, 0)),
        (True, _utc(2026, 6, 5, 9, 0)),
        (False, _utc(2026, 6, 9, 18, 0)),
    ]


def _series_rows(group):
    return list(
        GroupSession.objects.filter(group=group).values_list(
            "pk", "series_date", "start", "end", "is_moved"
        )
    )


def test_editing_the_time_updates_the_same_sessions_in_place():
    group = GroupFactory()
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=3")

    _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=3", start_time=dt.time(19, 0), duration_minutes=60)

    assert _series_rows(group) == [
        (
            s.pk,
            s.series_date,
            s.start + dt.timedelta(hours=1),
            s.start + dt.timedelta(hours=2),
            False,
        )
        for s in sessions
    ]


def test_editing_the_time_keeps_the_facilitation_rows_in_step():
    group = GroupFactory()
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=2")

    _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=2", start_time=dt.time(19, 0))

    assert list(
        SessionFacilitator.objects.order_by("session_id").values_list(
            "session_id", "facilitator_id", "start", "end", "is_cancelled"
        )
    ) == [
        (
            s.pk,
            group.lead_facilitator.pk,
            s.start + dt.timedelta(hours=1),
            s.end + dt.timedelta(hours=1),
            False,
        )
        for s in sessions
    ]


def test_editing_the_series_keeps_a_room_change_of_one_session():
    group = GroupFactory()
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=2")
    room = RoomFactory(clinic=group.clinic)
    group_session_move(session=sessions[1], by=group.lead_facilitator, room=room, now=NOW)

    _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=2", start_time=dt.time(19, 0))

    assert list(
        GroupSession.objects.filter(group=group).values_list("pk", "room_id", "start", "is_moved")
    ) == [
        (sessions[0].pk, group.room_id, _utc(2026, 6, 2, 18, 0), False),
        (sessions[1].pk, room.pk, _utc(2026, 6, 9, 18, 0), False),
    ]


def test_editing_the_series_keeps_a_substitute_and_moves_their_times():
    group = GroupFactory()
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=2")
    substitute = _facilitator(group.clinic)
    group_session_move(
        session=sessions[1], by=group.lead_facilitator, facilitators=[substitute], now=NOW
    )

    _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=2", start_time=dt.time(19, 0))

    assert list(
        SessionFacilitator.objects.order_by("session_id").values_list(
            "session_id", "facilitator_id", "start"
        )
    ) == [
        (sessions[0].pk, group.lead_facilitator.pk, _utc(2026, 6, 2, 18, 0)),
        (sessions[1].pk, substitute.pk, _utc(2026, 6, 9, 18, 0)),
    ]


def test_editing_the_series_keeps_a_sessions_topic():
    group = GroupFactory()
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=2")
    GroupSession.objects.filter(pk=sessions[0].pk).update(topic="Values and goals")

    _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=2", start_time=dt.time(19, 0))

    assert list(GroupSession.objects.filter(group=group).values_list("pk", "topic", "start")) == [
        (sessions[0].pk, "Values and goals", _utc(2026, 6, 2, 18, 0)),
        (sessions[1].pk, "", _utc(2026, 6, 9, 18, 0)),
    ]


def test_shortening_the_series_deletes_only_the_dates_it_drops():
    group = GroupFactory()
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=5")

    _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=3")

    assert _series_rows(group) == [
        (s.pk, s.series_date, s.start, s.end, False) for s in sessions[:3]
    ]


def test_lengthening_the_series_creates_only_the_missing_dates():
    group = GroupFactory()
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=3")

    future = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=5")

    assert [s.pk for s in future[:3]] == [s.pk for s in sessions]
    assert [s.series_date for s in future] == _weeks(TUESDAY, 5)


def test_editing_the_series_audits_which_sessions_changed():
    group = GroupFactory()
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=3")

    future = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=4", start_time=dt.time(19, 0), now=LATER)

    entry = AuditEntry.objects.filter(action="sessions.schedule.set").latest("pk")
    assert {
        key: entry.data[key]
        for key in ("removed_session_ids", "updated_session_ids", "created_session_ids")
    } == {
        "removed_session_ids": [],
        "updated_session_ids": [sessions[2].pk],
        "created_session_ids": [future[-1].pk],
    }


# --- query count ---------------------------------------------------------------------------


def _queries_to_generate(weeks):
    group = GroupFactory(planned_end=dt.date(2027, 12, 31))
    group.co_facilitators.add(_facilitator(group.clinic), _facilitator(group.clinic))
    Schedule.objects.create(
        group=group,
        rrule=f"FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT={weeks}",
        first_date=TUESDAY,
        start_time=SIX_PM,
        duration_minutes=90,
    )
    with CaptureQueriesContext(connection) as queries:
        created = group_sessions_generate(group=group, now=NOW)
    return (
        len(created),
        SessionFacilitator.objects.filter(session__group=group).count(),
        len(queries),
    )


def test_generating_a_year_takes_as_many_queries_as_a_month():
    four_sessions, four_rows, four_queries = _queries_to_generate(4)
    year_sessions, year_rows, year_queries = _queries_to_generate(52)

    assert (four_sessions, four_rows, year_sessions, year_rows) == (4, 12, 52, 156)
    assert year_queries == four_queries


def _queries_to_edit(weeks):
    group = GroupFactory(planned_end=dt.date(2027, 12, 31))
    group.co_facilitators.add(_facilitator(group.clinic), _facilitator(group.clinic))
    rrule = f"FREQ=WEEKLY;BYDAY=TU;COUNT={weeks}"
    sessions = _set(group, rrule)
    with CaptureQueriesContext(connection) as queries:
        _set(group, rrule, start_time=dt.time(19, 0))
    starts = set(
        SessionFacilitator.objects.filter(session__group=group).values_list("session_id", "start")
    )
    return (
        starts == {(s.pk, s.start + dt.timedelta(hours=1)) for s in sessions},
        len(starts),
        len(queries),
    )


def test_editing_a_year_in_place_takes_as_many_queries_as_a_month():
    four_moved, four_rows, four_queries = _queries_to_edit(4)
    year_moved, year_rows, year_queries = _queries_to_edit(52)

    assert (four_moved, four_rows, year_moved, year_rows) == (True, 4, True, 52)
    assert year_queries == four_queries


# --- moving one session --------------------------------------------------------------------


@pytest.fixture
def series():
    group = GroupFactory()
    return group, _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=3")


def test_moving_a_session_keeps_its_length_and_marks_it_moved(series):
    group, sessions = series

    moved = group_session_move(
        session=sessions[0], by=group.lead_facilitator, start=_utc(2026, 6, 4, 9, 0), now=NOW
    )

    moved.refresh_from_db()
    assert (moved.start, moved.end, moved.is_moved, moved.series_date) == (
        _utc(2026, 6, 4, 9, 0),
        _utc(2026, 6, 4, 10, 30),
        True,
        TUESDAY,
    )
    assert list(
        SessionFacilitator.objects.filter(session=moved).values_list(
            "facilitator_id", "start", "end"
        )
    ) == [(group.lead_facilitator.pk, _utc(2026, 6, 4, 9, 0), _utc(2026, 6, 4, 10, 30))]


def test_moving_a_session_to_another_room_of_the_clinic(series):
    group, sessions = series
    room = RoomFactory(clinic=group.clinic)

    moved = group_session_move(session=sessions[0], by=group.lead_facilitator, room=room, now=NOW)

    moved.refresh_from_db()
    assert (moved.room, moved.start, moved.is_moved) == (room, sessions[0].start, False)


def test_a_substitute_replaces_the_facilitators_of_one_session(series):
    group, sessions = series
    substitute = _facilitator(group.clinic)

    group_session_move(
        session=sessions[1], by=group.lead_facilitator, facilitators=[substitute], now=NOW
    )

    assert sorted(
        SessionFacilitator.objects.values_list("session_id", "facilitator_id", "start")
    ) == sorted(
        [
            (sessions[0].pk, group.lead_facilitator.pk, sessions[0].start),
            (sessions[1].pk, substitute.pk, sessions[1].start),
            (sessions[2].pk, group.lead_facilitator.pk, sessions[2].start),
        ]
    )


def test_a_substitute_does_not_mark_the_session_moved(series):
    group, sessions = series

    group_session_move(
        session=sessions[1],
        by=group.lead_facilitator,
        facilitators=[_facilitator(group.clinic)],
        now=NOW,
    )

    assert GroupSession.objects.get(pk=sessions[1].pk).is_moved is False


def test_a_substitute_for_a_session_under_way_is_allowed(series):
    group, sessions = series
    substitute = _facilitator(group.clinic)

    group_session_move(
        session=sessions[0],
        by=group.lead_facilitator,
        facilitators=[substitute],
        now=sessions[0].start + dt.timedelta(minutes=10),
    )

    assert list(
        SessionFacilitator.objects.filter(session=sessions[0]).values_list("facilitator_id")
    ) == [(substitute.pk,)]


def test_a_clinic_admin_may_stand_in(series):
    group, sessions = series
    admin = ClinicRoleFactory(clinic=group.clinic, role=Role.ADMIN).user

    group_session_move(session=sessions[1], by=admin, facilitators=[admin], now=NOW)

    assert list(
        SessionFacilitator.objects.filter(session=sessions[1]).values_list("facilitator_id")
    ) == [(admin.pk,)]


def test_moving_is_audited(series):
    group, sessions = series

    group_session_move(
        session=sessions[0], by=group.lead_facilitator, start=_utc(2026, 6, 4, 9, 0), now=NOW
    )

    entry = AuditEntry.objects.get(action="sessions.session.moved")
    assert (entry.actor, entry.object_id, entry.data) == (
        group.lead_facilitator,
        str(sessions[0].pk),
        {
            "group_id": group.pk,
            "from": {
                "start": "2026-06-02T17:00:00+00:00",
                "end": "2026-06-02T18:30:00+00:00",
                "room_id": group.room_id,
                "facilitator_ids": [group.lead_facilitator.pk],
            },
            "to": {
                "start": "2026-06-04T09:00:00+00:00",
                "end": "2026-06-04T10:30:00+00:00",
                "room_id": group.room_id,
                "facilitator_ids": [group.lead_facilitator.pk],
            },
        },
    )


def test_asking_for_no_change_changes_nothing(series):
    group, sessions = series

    same = group_session_move(session=sessions[0], by=group.lead_facilitator, now=NOW)

    assert (same.is_moved, AuditEntry.objects.filter(action="sessions.session.moved").count()) == (
        False,
        0,
    )


def _refused_move(session, **changes):
    changes.setdefault("now", NOW)
    with pytest.raises(SessionChangeError) as refused:
        group_session_move(session=session, by=session.group.lead_facilitator, **changes)
    return str(refused.value)


def test_moving_a_cancelled_session_is_refused(series):
    group, sessions = series
    group_session_cancel(session=sessions[0], by=group.lead_facilitator, reason="Ill", now=NOW)

    assert _refused_move(sessions[0], start=_utc(2026, 6, 4, 9)) == (
        "This session is cancelled; it cannot be moved."
    )


def test_moving_a_past_session_is_refused(series):
    _, sessions = series

    assert _refused_move(sessions[0], start=_utc(2026, 6, 4, 9), now=_utc(2026, 6, 3)) == (
        "This session is already over; it cannot be moved."
    )


def test_moving_a_session_into_the_past_is_refused(series):
    _, sessions = series

    assert _refused_move(sessions[1], start=_utc(2026, 5, 30, 9)) == (
        "A session cannot be moved to a time in the past."
    )


def test_moving_the_time_of_a_session_under_way_is_refused(series):
    _, sessions = series

    message = _refused_move(
        sessions[0], end=_utc(2026, 6, 2, 19, 0), now=sessions[0].start + dt.timedelta(minutes=10)
    )

    assert message == "This session has already started; its time can no longer change."
    assert GroupSession.objects.get(pk=sessions[0].pk).end == _utc(2026, 6, 2, 18, 30)


def test_moving_the_time_of_a_session_with_attendance_is_refused(series):
    _, sessions = series
    _record_attendance(sessions[1])

    assert _refused_move(sessions[1], start=_utc(2026, 6, 10, 17)) == (
        "This session already has attendance recorded; its time can no longer change."
    )


def test_moving_a_session_past_the_final_session_date_is_refused():
    group = GroupFactory(final_session_date=dt.date(2026, 6, 9))
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=3")

    assert _refused_move(sessions[0], start=_utc(2026, 6, 10, 17)) == (
        "The group's final session is on 2026-06-09; a session cannot be moved past it."
    )


def test_moving_the_final_session_to_another_day_is_refused():
    group = GroupFactory(stage=Stage.PERFORMING)
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=3")
    group_sessions_finalise(
        group=group, final_date=dt.date(2026, 6, 9), by=group.lead_facilitator, now=NOW
    )

    assert _refused_move(sessions[1], start=_utc(2026, 6, 8, 17)) == (
        "This is the group's final session; change the final date through the group's stage."
    )


def test_moving_a_session_past_the_planned_end_is_refused():
    group = GroupFactory(planned_end=dt.date(2026, 6, 16))
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=3")

    assert _refused_move(sessions[2], start=_utc(2026, 6, 17, 17)) == (
        "The group is planned to end on 2026-06-16; a session cannot be moved past it."
    )


def test_moving_a_session_of_an_archived_group_is_refused(series):
    group, sessions = series
    group.status = "archived"
    group.save()

    assert _refused_move(sessions[0], start=_utc(2026, 6, 4, 9)) == (
        "This group is archived; its sessions can no longer change."
    )


def test_an_end_not_after_the_start_is_refused(series):
    _, sessions = series

    assert _refused_move(sessions[0], start=_utc(2026, 6, 4, 9), end=_utc(2026, 6, 4, 9)) == (
        "A session must end after it starts."
    )


def test_a_room_of_another_clinic_is_refused(series):
    _, sessions = series

    assert _refused_move(sessions[0], room=RoomFactory(clinic=ClinicFactory())) == (
        "This room belongs to another clinic."
    )


def test_a_facilitator_without_a_staff_role_in_the_clinic_is_refused(series):
    group, sessions = series
    outsider = _facilitator(ClinicFactory())
    member = ClinicRoleFactory(clinic=group.clinic, role=Role.MEMBER).user

    message = _refused_move(sessions[0], facilitators=[outsider, member])

    assert message == (
        "Every facilitator of a session must be a facilitator or admin of its clinic "
        f"(user ids without that role: {outsider.pk}, {member.pk})."
    )
    assert list(
        SessionFacilitator.objects.filter(session=sessions[0]).values_list("facilitator_id")
    ) == [(group.lead_facilitator.pk,)]


def test_a_session_without_facilitators_is_refused(series):
    _, sessions = series

    assert (
        _refused_move(sessions[0], facilitators=[]) == "A session needs at least one facilitator."
    )


# --- cancelling one session ----------------------------------------------------------------


def test_cancelling_records_the_reason_and_frees_the_facilitators(series):
    group, sessions = series

    cancelled = group_session_cancel(
        session=sessions[1], by=group.lead_facilitator, reason="  Facilitator ill ", now=NOW
    )

    cancelled.refresh_from_db()
    assert (cancelled.status, cancelled.cancelled_at, cancelled.cancel_reason) == (
        SessionStatus.CANCELLED,
        NOW,
        "Facilitator ill",
    )
    assert list(
        SessionFacilitator.objects.order_by("session_id").values_list("session_id", "is_cancelled")
    ) == [
        (sessions[0].pk, False),
        (sessions[1].pk, True),
        (sessions[2].pk, False),
    ]


def test_cancelling_is_audited_without_the_reason(series):
    group, sessions = series

    group_session_cancel(session=sessions[1], by=group.lead_facilitator, reason="Ill", now=NOW)

    entry = AuditEntry.objects.get(action="sessions.session.cancelled")
    assert (entry.actor, entry.object_id, entry.data) == (
        group.lead_facilitator,
        str(sessions[1].pk),
        {"group_id": group.pk, "start": "2026-06-09T17:00:00+00:00"},
    )


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("   ", "Give a reason for cancelling the session."),
        ("x" * 301, "Keep the reason for cancelling within 300 characters."),
    ],
)
def test_cancelling_needs_a_short_reason(series, reason, message):
    group, sessions = series

    with pytest.raises(SessionChangeError) as refused:
        group_session_cancel(session=sessions[0], by=group.lead_facilitator, reason=reason, now=NOW)

    assert str(refused.value) == message


def test_cancelling_twice_is_refused(series):
    group, sessions = series
    group_session_cancel(session=sessions[0], by=group.lead_facilitator, reason="Ill", now=NOW)

    with pytest.raises(SessionChangeError) as refused:
        group_session_cancel(session=sessions[0], by=group.lead_facilitator, reason="Ill", now=NOW)

    assert str(refused.value) == "This session is already cancelled."


def test_cancelling_a_session_of_an_archived_group_is_refused(series):
    group, sessions = series
    group.status = "archived"
    group.save()

    with pytest.raises(SessionChangeError) as refused:
        group_session_cancel(session=sessions[0], by=group.lead_facilitator, reason="Ill", now=NOW)

    assert str(refused.value) == "This group is archived; its sessions can no longer change."
    assert GroupSession.objects.get(pk=sessions[0].pk).status == SessionStatus.SCHEDULED


def test_cancelling_a_session_that_is_over_is_refused(series):
    group, sessions = series

    with pytest.raises(SessionChangeError) as refused:
        group_session_cancel(
            session=sessions[0],
            by=group.lead_facilitator,
            reason="Ill",
            now=_utc(2026, 6, 2, 18, 30),
        )

    assert str(refused.value) == "This session is already over; it cannot be cancelled."


# --- the final session ---------------------------------------------------------------------


def test_finalising_marks_the_session_and_removes_later_ones():
    group = GroupFactory(stage=Stage.PERFORMING)
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=5")

    final = group_sessions_finalise(
        group=group, final_date=dt.date(2026, 6, 16), by=group.lead_facilitator, now=NOW
    )

    group.refresh_from_db()
    assert (final.pk, group.final_session_date) == (sessions[2].pk, dt.date(2026, 6, 16))
    assert list(GroupSession.objects.filter(group=group).values_list("pk", "is_final")) == [
        (sessions[0].pk, False),
        (sessions[1].pk, False),
        (sessions[2].pk, True),
    ]


def test_finalising_cancels_later_sessions_that_must_be_kept():
    group = GroupFactory(stage=Stage.PERFORMING)
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=4")
    _record_attendance(sessions[2])  # e.g. an "I can't come" recorded ahead
    group_session_move(
        session=sessions[3], by=group.lead_facilitator, start=_utc(2026, 6, 24, 17), now=NOW
    )

    group_sessions_finalise(
        group=group, final_date=dt.date(2026, 6, 9), by=group.lead_facilitator, now=NOW
    )

    assert list(
        GroupSession.objects.filter(group=group).values_list("pk", "status", "cancel_reason")
    ) == [
        (sessions[0].pk, SessionStatus.SCHEDULED, ""),
        (sessions[1].pk, SessionStatus.SCHEDULED, ""),
        (
            sessions[2].pk,
            SessionStatus.CANCELLED,
            "The group ended with its final session on 2026-06-09.",
        ),
        (
            sessions[3].pk,
            SessionStatus.CANCELLED,
            "The group ended with its final session on 2026-06-09.",
        ),
    ]
    assert list(
        SessionFacilitator.objects.filter(is_cancelled=True).values_list("session_id", flat=True)
    ) == [sessions[2].pk, sessions[3].pk]


def test_finalising_on_a_date_without_a_session_is_refused_naming_the_date():
    group = GroupFactory(stage=Stage.PERFORMING)
    _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=3")

    with pytest.raises(ScheduleError) as refused:
        group_sessions_finalise(
            group=group, final_date=dt.date(2026, 6, 10), by=group.lead_facilitator, now=NOW
        )

    assert str(refused.value) == (
        "There is no scheduled or held session of this group on 2026-06-10 to be its final session."
    )
    assert (group.final_session_date, len(_starts(group))) == (None, 3)


def test_finalising_on_a_session_already_held_is_accepted():
    group = GroupFactory(stage=Stage.PERFORMING)
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=4")
    member = EnrolmentFactory(
        group=group, status=EnrolmentStatus.ACTIVE, joined_on=dt.date(2026, 5, 5)
    ).member
    after = sessions[1].end + dt.timedelta(hours=1)
    attendance_record(
        session=sessions[1],
        by=group.lead_facilitator,
        entries=[AttendanceEntry(member_id=member.pk, status=AttendanceStatus.PRESENT)],
        now=after,
    )

    final = group_sessions_finalise(
        group=group, final_date=dt.date(2026, 6, 9), by=group.lead_facilitator, now=after
    )

    assert (final.pk, final.status, final.is_final) == (
        sessions[1].pk,
        SessionStatus.COMPLETED,
        True,
    )
    assert [s.pk for s in GroupSession.objects.filter(group=group)] == [
        sessions[0].pk,
        sessions[1].pk,
    ]


def test_finalising_on_a_cancelled_session_is_refused():
    group = GroupFactory(stage=Stage.PERFORMING)
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=3")
    group_session_cancel(session=sessions[1], by=group.lead_facilitator, reason="Ill", now=NOW)

    with pytest.raises(ScheduleError) as refused:
        group_sessions_finalise(
            group=group, final_date=dt.date(2026, 6, 9), by=group.lead_facilitator, now=NOW
        )

    assert str(refused.value) == (
        "There is no scheduled or held session of this group on 2026-06-09 to be its final session."
    )


def test_finalising_cancels_an_extra_session_after_the_final_date():
    group = GroupFactory(stage=Stage.PERFORMING)
    _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=2")
    extra = GroupSessionFactory(group=group, start=_utc(2026, 6, 12, 9))

    group_sessions_finalise(group=group, final_date=TUESDAY, by=group.lead_facilitator, now=NOW)

    assert list(
        GroupSession.objects.filter(group=group, start__gt=_utc(2026, 6, 3)).values_list(
            "pk", "series_date", "status", "cancel_reason"
        )
    ) == [
        (
            extra.pk,
            None,
            SessionStatus.CANCELLED,
            "The group ended with its final session on 2026-06-02.",
        )
    ]


def test_finalising_cancels_a_later_session_with_a_substitute():
    group = GroupFactory(stage=Stage.PERFORMING)
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=3")
    substitute = _facilitator(group.clinic)
    group_session_move(
        session=sessions[2], by=group.lead_facilitator, facilitators=[substitute], now=NOW
    )

    group_sessions_finalise(group=group, final_date=TUESDAY, by=group.lead_facilitator, now=NOW)

    assert list(GroupSession.objects.filter(group=group).values_list("pk", "status")) == [
        (sessions[0].pk, SessionStatus.SCHEDULED),
        (sessions[2].pk, SessionStatus.CANCELLED),
    ]


def test_finalising_uses_the_clinics_local_date():
    # 21:00 in New York is 01:00 UTC the next day.
    group = GroupFactory(clinic=ClinicFactory(timezone="America/New_York"))
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=2", start_time=dt.time(21, 0))

    final = group_sessions_finalise(
        group=group, final_date=TUESDAY, by=group.lead_facilitator, now=NOW
    )

    assert (final.pk, final.start, _starts(group)) == (
        sessions[0].pk,
        _utc(2026, 6, 3, 1, 0),
        [_utc(2026, 6, 3, 1, 0)],
    )


def test_after_finalising_generation_stops_at_the_final_date():
    group = GroupFactory(stage=Stage.PERFORMING, planned_end=None)
    _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=12")
    group_sessions_finalise(
        group=group, final_date=dt.date(2026, 6, 9), by=group.lead_facilitator, now=NOW
    )

    created = group_sessions_generate(group=group, now=NOW)

    assert (created, len(_starts(group))) == ([], 2)


# --- concurrency (PostgreSQL) --------------------------------------------------------------


def _hold_until_another_connection_waits(timeout=10.0):
    """Poll until some other connection waits for a lock this connection holds."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)


def _race_with_a_series_edit(module, monkeypatch, action, first_write, group):
    """Run ``first_write`` until its audit entry (its last statement, locks held), start a
    series edit of ``group`` to 19:00, and let ``first_write`` commit only once the edit
    waits for one of its locks. Returns the errors of both threads."""
    real_audit = module.audit_log
    holding = threading.Event()

    def audit_then_hold(**kwargs):
        entry = real_audit(**kwargs)
        if kwargs["action"] == action:
            holding.set()
            _hold_until_another_connection_waits()
        return entry

    monkeypatch.setattr(module, "audit_log", audit_then_hold)
    errors = []

    def run(write):
        try:
            write()
        except Exception as exc:  # any failure in the thread is reported by the assertion
            errors.append(exc)
        finally:
            connections.close_all()

    def edit():
        _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=3", start_time=dt.time(19, 0))

    first = threading.Thread(target=run, args=(first_write,))
    first.start()
    assert holding.wait(timeout=10)
    second = threading.Thread(target=run, args=(edit,))
    second.start()
    first.join(timeout=30)
    second.join(timeout=30)
    return errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_cancel_during_a_series_edit_is_never_undone(monkeypatch):
    group = GroupFactory()
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=3")

    def cancel():
        group_session_cancel(
            session=GroupSession.objects.get(pk=sessions[1].pk),
            by=group.lead_facilitator,
            reason="Holiday",
            now=NOW,
        )

    errors = _race_with_a_series_edit(
        scheduling, monkeypatch, "sessions.session.cancelled", cancel, group
    )

    assert errors == []
    assert list(GroupSession.objects.filter(group=group).values_list("pk", "start", "status")) == [
        (sessions[0].pk, _utc(2026, 6, 2, 18, 0), SessionStatus.SCHEDULED),
        (sessions[1].pk, _utc(2026, 6, 9, 17, 0), SessionStatus.CANCELLED),
        (sessions[2].pk, _utc(2026, 6, 16, 18, 0), SessionStatus.SCHEDULED),
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_i_cant_come_during_a_series_edit_keeps_the_session(monkeypatch):
    group = GroupFactory()
    sessions = _set(group, "FREQ=WEEKLY;BYDAY=TU;COUNT=3")
    member = EnrolmentFactory(
        group=group,
        status=EnrolmentStatus.ACTIVE,
        joined_on=dt.date(2026, 5, 5),
        member__user=UserFactory(),
    ).member

    def cant_come():
        attendance_cant_attend(
            session=GroupSession.objects.get(pk=sessions[1].pk),
            member=member,
            by=member.user,
            now=NOW,
        )

    errors = _race_with_a_series_edit(
        attendance_services, monkeypatch, "sessions.attendance.cant_attend", cant_come, group
    )

    assert errors == []
    assert list(GroupSession.objects.filter(group=group).values_list("pk", "start")) == [
        (sessions[0].pk, _utc(2026, 6, 2, 18, 0)),
        (sessions[1].pk, _utc(2026, 6, 9, 17, 0)),
        (sessions[2].pk, _utc(2026, 6, 16, 18, 0)),
    ]
    assert list(Attendance.objects.values_list("session_id", "member_id", "status")) == [
        (sessions[1].pk, member.pk, AttendanceStatus.EXCUSED)
    ]
