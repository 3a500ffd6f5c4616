"""Sessions keep their wall-clock time across daylight-saving changes.

Each case is a weekly Sunday schedule of three sessions around a transition day (all of
them fall on a Sunday): the week before, the day itself, the week after. Expected values are
the exact UTC instants.

- America/New_York: spring 2026-03-08 and 2027-03-14 (02:00 EST → 03:00 EDT); autumn
  2026-11-01 and 2027-11-07 (02:00 EDT → 01:00 EST).
- Europe/London: spring 2026-03-29 and 2027-03-28 (01:00 GMT → 02:00 BST); autumn
  2026-10-25 and 2027-10-31 (02:00 BST → 01:00 GMT).
"""

import datetime as dt
import zoneinfo

import pytest

from sessions.services.scheduling import schedule_set
from tests.factories.members import ClinicFactory
from tests.factories.sessions import GroupFactory

pytestmark = pytest.mark.django_db

NEW_YORK = "America/New_York"
LONDON = "Europe/London"


def _utc(*args):
    return dt.datetime(*args, tzinfo=dt.UTC)


def _three_sundays(tz, transition_day, start_time, duration_minutes=90):
    first = transition_day - dt.timedelta(weeks=1)
    group = GroupFactory(clinic=ClinicFactory(timezone=tz), planned_end=None)
    return schedule_set(
        group=group,
        rrule="FREQ=WEEKLY;BYDAY=SU;COUNT=3",
        first_date=first,
        start_time=start_time,
        duration_minutes=duration_minutes,
        by=group.lead_facilitator,
        now=dt.datetime.combine(first, dt.time(0), tzinfo=dt.UTC) - dt.timedelta(days=1),
    )


#: (zone, transition day, local start time, the three starts in UTC as "MM-DD HH:MM")
CASES = [
    # America/New_York, spring 2026 (EST -5 → EDT -4)
    (NEW_YORK, "2026-03-08", "18:00", ("03-01 23:00", "03-08 22:00", "03-15 22:00")),
    (NEW_YORK, "2026-03-08", "01:30", ("03-01 06:30", "03-08 06:30", "03-15 05:30")),
    (NEW_YORK, "2026-03-08", "02:30", ("03-01 07:30", "03-08 07:30", "03-15 06:30")),
    # America/New_York, autumn 2026 (EDT -4 → EST -5)
    (NEW_YORK, "2026-11-01", "18:00", ("10-25 22:00", "11-01 23:00", "11-08 23:00")),
    (NEW_YORK, "2026-11-01", "01:30", ("10-25 05:30", "11-01 05:30", "11-08 06:30")),
    (NEW_YORK, "2026-11-01", "02:30", ("10-25 06:30", "11-01 07:30", "11-08 07:30")),
    # America/New_York, spring 2027
    (NEW_YORK, "2027-03-14", "18:00", ("03-07 23:00", "03-14 22:00", "03-21 22:00")),
    (NEW_YORK, "2027-03-14", "01:30", ("03-07 06:30", "03-14 06:30", "03-21 05:30")),
    (NEW_YORK, "2027-03-14", "02:30", ("03-07 07:30", "03-14 07:30", "03-21 06:30")),
    # America/New_York, autumn 2027
    (NEW_YORK, "2027-11-07", "18:00", ("10-31 22:00", "11-07 23:00", "11-14 23:00")),
    (NEW_YORK, "2027-11-07", "01:30", ("10-31 05:30", "11-07 05:30", "11-14 06:30")),
    (NEW_YORK, "2027-11-07", "02:30", ("10-31 06:30", "11-07 07:30", "11-14 07:30")),
    # Europe/London, spring 2026 (GMT +0 → BST +1)
    (LONDON, "2026-03-29", "18:00", ("03-22 18:00", "03-29 17:00", "04-05 17:00")),
    (LONDON, "2026-03-29", "01:30", ("03-22 01:30", "03-29 01:30", "04-05 00:30")),
    (LONDON, "2026-03-29", "02:30", ("03-22 02:30", "03-29 01:30", "04-05 01:30")),
    # Europe/London, autumn 2026 (BST +1 → GMT +0)
    (LONDON, "2026-10-25", "18:00", ("10-18 17:00", "10-25 18:00", "11-01 18:00")),
    (LONDON, "2026-10-25", "01:30", ("10-18 00:30", "10-25 00:30", "11-01 01:30")),
    (LONDON, "2026-10-25", "02:30", ("10-18 01:30", "10-25 02:30", "11-01 02:30")),
    # Europe/London, spring 2027
    (LONDON, "2027-03-28", "18:00", ("03-21 18:00", "03-28 17:00", "04-04 17:00")),
    (LONDON, "2027-03-28", "01:30", ("03-21 01:30", "03-28 01:30", "04-04 00:30")),
    (LONDON, "2027-03-28", "02:30", ("03-21 02:30", "03-28 01:30", "04-04 01:30")),
    # Europe/London, autumn 2027
    (LONDON, "2027-10-31", "18:00", ("10-24 17:00", "10-31 18:00", "11-07 18:00")),
    (LONDON, "2027-10-31", "01:30", ("10-24 00:30", "10-31 00:30", "11-07 01:30")),
    (LONDON, "2027-10-31", "02:30", ("10-24 01:30", "10-31 02:30", "11-07 02:30")),
]


@pytest.mark.parametrize(
    ("tz", "transition_day", "start_time", "expected"),
    CASES,
    ids=[f"{tz}-{day}-{time}" for tz, day, time, _ in CASES],
)
def test_sessions_around_a_transition_start_at_the_exact_utc_instant(
    tz, transition_day, start_time, expected
):
    day = dt.date.fromisoformat(transition_day)

    sessions = _three_sundays(tz, day, dt.time.fromisoformat(start_time))

    assert [s.start for s in sessions] == [
        dt.datetime.strptime(f"{day.year}-{utc}", "%Y-%m-%d %H:%M").replace(tzinfo=dt.UTC)
        for utc in expected
    ]


@pytest.mark.parametrize(
    ("tz", "transition_day"),
    [
        (NEW_YORK, dt.date(2026, 3, 8)),
        (NEW_YORK, dt.date(2026, 11, 1)),
        (NEW_YORK, dt.date(2027, 3, 14)),
        (NEW_YORK, dt.date(2027, 11, 7)),
        (LONDON, dt.date(2026, 3, 29)),
        (LONDON, dt.date(2026, 10, 25)),
        (LONDON, dt.date(2027, 3, 28)),
        (LONDON, dt.date(2027, 10, 31)),
    ],
)
def test_six_pm_stays_six_pm_local_across_the_change(tz, transition_day):
    sessions = _three_sundays(tz, transition_day, dt.time(18, 0))

    zone = zoneinfo.ZoneInfo(tz)
    assert [s.start.astimezone(zone).replace(tzinfo=None) for s in sessions] == [
        dt.datetime.combine(transition_day + dt.timedelta(weeks=week), dt.time(18, 0))
        for week in (-1, 0, 1)
    ]


@pytest.mark.parametrize(
    ("tz", "transition_day", "start_time", "local_starts"),
    [
        (NEW_YORK, dt.date(2026, 3, 8), dt.time(2, 30), ["02:30 EST", "03:30 EDT", "02:30 EDT"]),
        (NEW_YORK, dt.date(2027, 3, 14), dt.time(2, 30), ["02:30 EST", "03:30 EDT", "02:30 EDT"]),
        # In London the gap is 01:00-02:00.
        (LONDON, dt.date(2026, 3, 29), dt.time(1, 30), ["01:30 GMT", "02:30 BST", "01:30 BST"]),
        (LONDON, dt.date(2027, 3, 28), dt.time(1, 30), ["01:30 GMT", "02:30 BST", "01:30 BST"]),
    ],
)
def test_a_time_in_the_spring_forward_gap_moves_past_the_gap(
    tz, transition_day, start_time, local_starts
):
    sessions = _three_sundays(tz, transition_day, start_time)

    zone = zoneinfo.ZoneInfo(tz)
    assert [f"{s.start.astimezone(zone):%H:%M %Z}" for s in sessions] == local_starts


@pytest.mark.parametrize(
    ("tz", "transition_day", "first_instant"),
    [
        (NEW_YORK, dt.date(2026, 11, 1), _utc(2026, 11, 1, 5, 30)),
        (NEW_YORK, dt.date(2027, 11, 7), _utc(2027, 11, 7, 5, 30)),
        (LONDON, dt.date(2026, 10, 25), _utc(2026, 10, 25, 0, 30)),
        (LONDON, dt.date(2027, 10, 31), _utc(2027, 10, 31, 0, 30)),
    ],
)
def test_half_past_one_on_the_fall_back_day_takes_the_first_occurrence(
    tz, transition_day, first_instant
):
    sessions = _three_sundays(tz, transition_day, dt.time(1, 30))

    later_instant = dt.datetime.combine(
        transition_day, dt.time(1, 30, fold=1), tzinfo=zoneinfo.ZoneInfo(tz)
    ).astimezone(dt.UTC)
    assert (sessions[1].start, later_instant - sessions[1].start) == (
        first_instant,
        dt.timedelta(hours=1),
    )


def test_the_end_is_the_duration_later_in_absolute_time():
    # 01:30 EDT + 90 minutes is 02:00 EST on the wall clock: the meeting still lasts 90 minutes.
    sessions = _three_sundays(NEW_YORK, dt.date(2026, 11, 1), dt.time(1, 30), 90)

    zone = zoneinfo.ZoneInfo(NEW_YORK)
    on_the_day = sessions[1]
    assert (
        on_the_day.end,
        f"{on_the_day.start.astimezone(zone):%H:%M %Z}",
        f"{on_the_day.end.astimezone(zone):%H:%M %Z}",
    ) == (_utc(2026, 11, 1, 7, 0), "01:30 EDT", "02:00 EST")


def test_the_series_date_is_the_local_date_of_the_occurrence():
    # 18:00 in New York is 22:00 or 23:00 UTC, still the same local Sunday.
    sessions = _three_sundays(NEW_YORK, dt.date(2026, 3, 8), dt.time(18, 0))

    assert [s.series_date for s in sessions] == [
        dt.date(2026, 3, 1),
        dt.date(2026, 3, 8),
        dt.date(2026, 3, 15),
    ]
