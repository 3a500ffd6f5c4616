"""Whatever the scheduling services accept, no facilitator and no room is ever double-booked.

Random schedules (weekdays, times, durations, some across a daylight-saving change) for two
or three groups sharing facilitators and rooms, then random moves, substitutions, cancels
and series edits. Refusals are fine; an overlap left in the database is not.
"""

import datetime as dt
import itertools
from collections import defaultdict

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from members.enums import Role
from sessions.enums import SessionStatus
from sessions.errors import DoubleBookingError, SessionChangeError
from sessions.models import GroupSession, SessionFacilitator
from sessions.services.scheduling import (
    WEEKDAYS,
    group_session_cancel,
    group_session_move,
    schedule_set,
)
from tests.factories.members import ClinicFactory, ClinicRoleFactory
from tests.factories.sessions import GroupFactory, RoomFactory

# London falls back on 2026-10-25 and New York on 2026-11-01: series starting here cross one.
FIRST_MONDAY = dt.date(2026, 10, 19)
NOW = dt.datetime(2026, 10, 18, 12, 0, tzinfo=dt.UTC)
REFUSALS = (DoubleBookingError, SessionChangeError)

schedules = st.fixed_dictionaries(
    {
        # Few weekdays and hours, so that groups often collide; 01:xx and 02:xx cross the
        # fall-back hour of one zone or the other.
        "weekdays": st.lists(
            st.sampled_from(WEEKDAYS[:3] + WEEKDAYS[-1:]), min_size=1, max_size=2, unique=True
        ),
        "first_day": st.integers(min_value=0, max_value=6),
        "start_time": st.builds(
            dt.time, st.sampled_from([1, 2, 17, 18, 19]), st.sampled_from([0, 15, 30, 45])
        ),
        "duration_minutes": st.sampled_from([15, 30, 60, 90, 120, 240]),
        "count": st.integers(min_value=1, max_value=4),
    }
)


def _schedule(group, spec):
    return schedule_set(
        group=group,
        rrule=f"FREQ=WEEKLY;BYDAY={','.join(spec['weekdays'])};COUNT={spec['count']}",
        first_date=FIRST_MONDAY + dt.timedelta(days=spec["first_day"]),
        start_time=spec["start_time"],
        duration_minutes=spec["duration_minutes"],
        by=group.lead_facilitator,
        now=NOW,
    )


def _overlapping_pairs(rows):
    """Pairs of (resource, session id, start, end) rows on one resource that overlap."""
    by_resource = defaultdict(list)
    for resource, pk, start, end in rows:
        by_resource[resource].append((pk, start, end))
    return [
        (resource, first[0], second[0])
        for resource, bookings in by_resource.items()
        for first, second in itertools.combinations(bookings, 2)
        if first[1] < second[2] and second[1] < first[2]
    ]


def _assert_no_double_booking():
    live = GroupSession.objects.exclude(status=SessionStatus.CANCELLED)
    rooms = live.filter(room__isnull=False).values_list("room_id", "pk", "start", "end")
    facilitations = SessionFacilitator.objects.filter(is_cancelled=False).values_list(
        "facilitator_id", "session_id", "start", "end"
    )
    assert (_overlapping_pairs(rooms), _overlapping_pairs(facilitations)) == ([], [])
    # The denormalised copies the PostgreSQL constraint relies on follow their session.
    copies = SessionFacilitator.objects.values_list(
        "start", "end", "is_cancelled", "session__start", "session__end", "session__status"
    )
    assert [
        row for row in copies if row[:3] != (row[3], row[4], row[5] == SessionStatus.CANCELLED)
    ] == []


def _attempt(name, write, *args, **kwargs):
    try:
        write(*args, **kwargs)
    except REFUSALS as refusal:
        event(f"{name} refused: {type(refusal).__name__}")
    else:
        event(f"{name} accepted")


def _act(data, facilitators, rooms, groups):
    action = data.draw(st.sampled_from(["move", "room", "substitute", "cancel", "reschedule"]))
    if action == "reschedule":
        _attempt(action, _schedule, data.draw(st.sampled_from(groups)), data.draw(schedules))
        return
    ids = list(GroupSession.objects.order_by("pk").values_list("pk", flat=True))
    if not ids:
        return
    session = GroupSession.objects.get(pk=data.draw(st.sampled_from(ids)))
    by = session.group.lead_facilitator
    if action == "move":
        shift = dt.timedelta(minutes=data.draw(st.sampled_from([-180, -60, -30, 30, 45, 120])))
        length = dt.timedelta(minutes=data.draw(st.sampled_from([30, 60, 90, 150])))
        _attempt(
            action,
            group_session_move,
            session=session,
            by=by,
            start=session.start + shift,
            end=session.start + shift + length,
            now=NOW,
        )
    elif action == "room":
        room = data.draw(st.sampled_from([*rooms, None]))
        _attempt(action, group_session_move, session=session, by=by, room=room, now=NOW)
    elif action == "substitute":
        chosen = data.draw(
            st.lists(st.sampled_from(facilitators), min_size=1, max_size=2, unique=True)
        )
        _attempt(action, group_session_move, session=session, by=by, facilitators=chosen, now=NOW)
    else:
        _attempt(action, group_session_cancel, session=session, by=by, reason="Ill", now=NOW)


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_accepted_writes_never_leave_a_facilitator_or_room_double_booked(data):
    # Every example runs in its own savepoint, rolled back at the end, so examples share
    # nothing although the test database is set up once for the test function.
    with transaction.atomic():
        clinic = ClinicFactory(
            timezone=data.draw(st.sampled_from(["Europe/London", "America/New_York"]))
        )
        facilitators = [
            ClinicRoleFactory(clinic=clinic, role=Role.FACILITATOR).user for _ in range(3)
        ]
        rooms = [RoomFactory(clinic=clinic) for _ in range(2)]
        groups = []
        for _ in range(data.draw(st.integers(min_value=2, max_value=3))):
            lead = data.draw(st.sampled_from(facilitators))
            group = GroupFactory(
                clinic=clinic,
                lead_facilitator=lead,
                room=data.draw(st.sampled_from([*rooms, None])),
                planned_end=None,
            )
            others = [user for user in facilitators if user != lead]
            group.co_facilitators.set(data.draw(st.lists(st.sampled_from(others), max_size=1)))
            groups.append(group)

        # The first schedule of an empty clinic cannot collide with anything: it must be
        # accepted, so that a checker refusing everything cannot pass this test.
        first = data.draw(schedules)
        assert len(_schedule(groups[0], first)) == first["count"]
        for group in groups[1:]:
            _attempt("schedule", _schedule, group, data.draw(schedules))
        for _ in range(data.draw(st.integers(min_value=0, max_value=5))):
            _act(data, facilitators, rooms, groups)

        _assert_no_double_booking()
        transaction.set_rollback(True)
