"""Weekly attendance summaries: the rates and the at-risk flag, when a week's summary is made,
making it once, the facilitators' e-mail rows, and what the e-mail does not say."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.template.loader import render_to_string

from members.models import AuditEntry
from sessions.enums import (
    AttendanceStatus,
    EnrolmentStatus,
    GroupStatus,
    NotificationKind,
    NotificationStatus,
    SessionStatus,
)
from sessions.messages import notification_message
from sessions.models import (
    Attendance,
    AttendanceSummary,
    AttendanceSummaryMember,
    Notification,
    Schedule,
)
from sessions.selectors.summaries import group_summaries, summary_email_context
from sessions.services import summaries as summaries_module
from sessions.services.summaries import (
    attendance_summary_build,
    summaries_weekly,
    summary_rate,
    summary_week_due,
)
from tests.factories.members import ClinicFactory, UserFactory
from tests.factories.sessions import EnrolmentFactory, GroupFactory, GroupSessionFactory

pytestmark = pytest.mark.django_db

# The week of Monday 23 November 2026. London is on GMT then (UTC+0), New York on EST
# (UTC-5), so 18:00 in London is 18:00 UTC and Monday 07:00 in New York is 12:00 UTC.
WEEK = dt.date(2026, 11, 23)
PREVIOUS_TUESDAY = dt.datetime(2026, 11, 17, 18, 0, tzinfo=dt.UTC)
TUESDAY = dt.datetime(2026, 11, 24, 18, 0, tzinfo=dt.UTC)
THURSDAY = dt.datetime(2026, 11, 26, 18, 0, tzinfo=dt.UTC)
FRIDAY = dt.datetime(2026, 11, 27, 18, 0, tzinfo=dt.UTC)
LONDON_MONDAY_7 = dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC)
NEW_YORK_MONDAY_7 = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
JOINED = dt.date(2026, 11, 2)

GROUP_NAME = "Trauma recovery circle"
MODALITY_NAME = "Trauma-focused"


@pytest.fixture
def group():
    return GroupFactory(name=GROUP_NAME, modality__name=MODALITY_NAME, room__name="Room 2")


def _session(group, start, **kwargs):
    return GroupSessionFactory(group=group, start=start, **kwargs)


def _enrol(group, name, *, joined_on=JOINED, left_on=None):
    return EnrolmentFactory(
        group=group,
        status=EnrolmentStatus.ACTIVE if left_on is None else EnrolmentStatus.WITHDRAWN,
        joined_on=joined_on,
        left_on=left_on,
        member__preferred_name=name,
        member__legal_name=f"{name} Quillfeather",
    ).member


def _mark(session, member, status):
    Attendance.objects.create(
        session=session, member=member, status=status, recorded_by=session.group.lead_facilitator
    )


def _summaries():
    return list(
        AttendanceSummary.objects.order_by("group_id", "week_start").values_list(
            "group_id", "week_start", "sessions_held", "attendance_rate"
        )
    )


def _lines(summary):
    return list(
        AttendanceSummaryMember.objects.filter(summary=summary)
        .order_by("member_id")
        .values_list(
            "member_id",
            "sessions_expected",
            "sessions_attended",
            "rate",
            "consecutive_unexcused",
            "at_risk",
        )
    )


def _notifications():
    return list(
        Notification.objects.order_by("pk").values_list(
            "kind", "clinic_id", "user_id", "member_id", "summary_id", "due_at", "key", "status"
        )
    )


@pytest.fixture
def example(group):
    """The hand-computed week: three members, two held sessions (Tuesday and Thursday),
    one cancelled on Friday, and the Tuesday of the week before.

                  Tue 17 (before)  Tue 24     Thu 26        Fri 27 (cancelled)
        Ana       late-cancelled   absent     excused       -
        Ben       present          present    late          absent (ignored)
        Cleo      absent           left early (nothing)     -
    """
    before = _session(group, PREVIOUS_TUESDAY)
    tuesday = _session(group, TUESDAY)
    thursday = _session(group, THURSDAY)
    cancelled = _session(group, FRIDAY, status=SessionStatus.CANCELLED)
    ana, ben, cleo = _enrol(group, "Ana"), _enrol(group, "Ben"), _enrol(group, "Cleo")
    _mark(before, ana, AttendanceStatus.LATE_CANCELLED)
    _mark(before, ben, AttendanceStatus.PRESENT)
    _mark(before, cleo, AttendanceStatus.ABSENT)
    _mark(tuesday, ana, AttendanceStatus.ABSENT)
    _mark(tuesday, ben, AttendanceStatus.PRESENT)
    _mark(tuesday, cleo, AttendanceStatus.LEFT_EARLY)
    _mark(thursday, ana, AttendanceStatus.EXCUSED)
    _mark(thursday, ben, AttendanceStatus.LATE)
    _mark(cancelled, ben, AttendanceStatus.ABSENT)
    return ana, ben, cleo


# --- the rates and the at-risk flag --------------------------------------------------------


def test_hand_computed_week_gives_these_rates_and_flags(group, example):
    ana, ben, cleo = example

    summary = attendance_summary_build(group=group, week_start=WEEK, now=LONDON_MONDAY_7)

    # Held: Tuesday and Thursday (Friday was cancelled). Expected, less excused and
    # unrecorded: Ana 2 - 1 excused = 1, Ben 2, Cleo 2 - 1 unrecorded = 1; attended: Ana 0,
    # Ben 2 (present, late), Cleo 1 (left early). Group: 3 / 4 = 0.750.
    # Runs: Ana absent Tue 24 and late-cancelled Tue 17 (the excused Thursday is stepped
    # over) = 2, at risk; Ben attended last = 0 (the cancelled Friday's "absent" is not a
    # session held); Cleo left early on Tuesday, Thursday unrecorded = 0.
    assert _summaries() == [(group.pk, WEEK, 2, Decimal("0.750"))]
    assert _lines(summary) == sorted(
        [
            (ana.pk, 1, 0, Decimal("0.000"), 2, True),
            (ben.pk, 2, 2, Decimal("1.000"), 0, False),
            (cleo.pk, 1, 1, Decimal("1.000"), 0, False),
        ]
    )


def test_each_facilitator_gets_one_pending_email_row_with_the_summary(group, example):
    co = UserFactory()
    group.co_facilitators.add(co, group.lead_facilitator)  # the lead listed twice: one row

    summary = attendance_summary_build(group=group, week_start=WEEK, now=LONDON_MONDAY_7)

    expected = [
        (
            NotificationKind.WEEKLY_SUMMARY,
            group.clinic_id,
            user.pk,
            None,
            summary.pk,
            LONDON_MONDAY_7,
            f"weekly_summary:{summary.pk}:u{user.pk}",
            NotificationStatus.PENDING,
        )
        for user in sorted([group.lead_facilitator, co], key=lambda user: user.pk)
    ]
    assert _notifications() == expected


def test_making_a_summary_is_audited_with_ids_and_counts_only(group, example):
    summary = attendance_summary_build(group=group, week_start=WEEK, now=LONDON_MONDAY_7)

    entries = list(
        AuditEntry.objects.filter(action="sessions.summary.created").values_list(
            "actor_id", "clinic_id", "object_type", "object_id", "data"
        )
    )
    assert entries == [
        (
            None,
            group.clinic_id,
            "group_sessions.attendancesummary",
            str(summary.pk),
            {
                "group_id": group.pk,
                "week_start": "2026-11-23",
                "unrecorded": 1,
                "recipient_ids": [group.lead_facilitator_id],
            },
        )
    ]


def test_an_absence_run_goes_on_across_weeks_until_the_member_attends(group):
    sessions = [_session(group, TUESDAY - dt.timedelta(weeks=n)) for n in (3, 2, 1, 0)]
    dee = _enrol(group, "Dee", joined_on=dt.date(2026, 10, 1))
    for session, status in zip(
        sessions,
        [
            AttendanceStatus.ABSENT,  # before the member last attended: not in the run
            AttendanceStatus.PRESENT,
            AttendanceStatus.ABSENT,
            AttendanceStatus.LATE_CANCELLED,
        ],
        strict=True,
    ):
        _mark(session, dee, status)

    summary = attendance_summary_build(group=group, week_start=WEEK, now=LONDON_MONDAY_7)

    assert _lines(summary) == [(dee.pk, 1, 0, Decimal("0.000"), 2, True)]


def test_one_unexcused_absence_is_not_a_risk(group):
    _mark(_session(group, PREVIOUS_TUESDAY), eve := _enrol(group, "Eve"), AttendanceStatus.LATE)
    _mark(_session(group, TUESDAY), eve, AttendanceStatus.ABSENT)

    summary = attendance_summary_build(group=group, week_start=WEEK, now=LONDON_MONDAY_7)

    assert _lines(summary) == [(eve.pk, 1, 0, Decimal("0.000"), 1, False)]


def test_a_week_of_only_excused_or_unrecorded_sessions_has_no_rate_but_keeps_the_run(group):
    _mark(
        _session(group, PREVIOUS_TUESDAY - dt.timedelta(weeks=1)),
        fay := _enrol(group, "Fay"),
        AttendanceStatus.ABSENT,
    )
    _mark(_session(group, PREVIOUS_TUESDAY), fay, AttendanceStatus.ABSENT)
    _mark(_session(group, TUESDAY), fay, AttendanceStatus.EXCUSED)
    _session(group, THURSDAY)  # nothing recorded

    summary = attendance_summary_build(group=group, week_start=WEEK, now=LONDON_MONDAY_7)

    assert _summaries() == [(group.pk, WEEK, 2, None)]
    assert _lines(summary) == [(fay.pk, 0, 0, None, 2, True)]


def test_members_count_only_for_sessions_while_they_were_in_the_group(group):
    tuesday, thursday = _session(group, TUESDAY), _session(group, THURSDAY)
    stays = _enrol(group, "Gus")
    joined = _enrol(group, "Hana", joined_on=dt.date(2026, 11, 25))  # Wednesday
    left = _enrol(group, "Ivo", left_on=dt.date(2026, 11, 26))  # left_on is exclusive
    gone = _enrol(group, "Jo", left_on=dt.date(2026, 11, 20))  # before the week
    _enrol(group, "Kai", joined_on=dt.date(2026, 11, 30))  # after the week
    for member in (stays, joined, left):
        for session in (tuesday, thursday):
            _mark(session, member, AttendanceStatus.PRESENT)
    _mark(thursday, gone, AttendanceStatus.ABSENT)  # recorded, but Jo was not expected

    summary = attendance_summary_build(group=group, week_start=WEEK, now=LONDON_MONDAY_7)

    # Hana is expected on Thursday only, Ivo on Tuesday only; Jo and Kai not at all.
    assert _summaries() == [(group.pk, WEEK, 2, Decimal("1.000"))]
    assert _lines(summary) == sorted(
        [
            (stays.pk, 2, 2, Decimal("1.000"), 0, False),
            (joined.pk, 1, 1, Decimal("1.000"), 0, False),
            (left.pk, 1, 1, Decimal("1.000"), 0, False),
        ]
    )


def test_a_session_running_past_sunday_midnight_is_in_the_week_but_not_held(group):
    _session(group, TUESDAY)
    late = dt.datetime(2026, 11, 29, 23, 30, tzinfo=dt.UTC)
    _session(group, late, end=late + dt.timedelta(hours=1))

    attendance_summary_build(group=group, week_start=WEEK, now=LONDON_MONDAY_7)

    assert _summaries() == [(group.pk, WEEK, 1, None)]


@pytest.mark.parametrize(
    ("attended", "expected", "rate"),
    [
        (2, 3, Decimal("0.667")),
        (1, 3, Decimal("0.333")),
        (1, 16, Decimal("0.063")),  # 0.0625: half up, not to even
        (0, 4, Decimal("0.000")),
        (4, 4, Decimal("1.000")),
        (0, 0, None),
    ],
)
def test_rates_are_rounded_half_up_to_three_places(attended, expected, rate):
    assert summary_rate(attended=attended, expected=expected) == rate


# --- when a summary is made ----------------------------------------------------------------


@pytest.fixture
def two_zones():
    london = GroupFactory(clinic=ClinicFactory(timezone="Europe/London"))
    new_york = GroupFactory(clinic=ClinicFactory(timezone="America/New_York"))
    _session(london, TUESDAY)
    _session(new_york, TUESDAY + dt.timedelta(hours=5))  # Tuesday 18:00 in New York
    return london, new_york


def _made():
    return list(AttendanceSummary.objects.order_by("pk").values_list("group_id", "week_start"))


def test_last_weeks_summary_is_made_from_monday_7_clinic_time(two_zones):
    london, new_york = two_zones

    with time_machine.travel(LONDON_MONDAY_7 - dt.timedelta(minutes=1), tick=False):
        assert summaries_weekly() == 0
    assert _made() == []

    with time_machine.travel(LONDON_MONDAY_7, tick=False):
        assert summaries_weekly() == 1
    assert _made() == [(london.pk, WEEK)]  # 02:00 in New York: not yet

    with time_machine.travel(NEW_YORK_MONDAY_7 - dt.timedelta(minutes=1), tick=False):
        assert summaries_weekly() == 0
    with time_machine.travel(NEW_YORK_MONDAY_7, tick=False):
        assert summaries_weekly() == 1
    assert _made() == [(london.pk, WEEK), (new_york.pk, WEEK)]


def test_monday_7_follows_summer_time(group):
    # Monday 8 June 2026, 07:00 in London is 06:00 UTC (BST).
    _session(group, dt.datetime(2026, 6, 2, 17, 0, tzinfo=dt.UTC))
    at_seven = dt.datetime(2026, 6, 8, 6, 0, tzinfo=dt.UTC)

    assert summaries_weekly(now=at_seven - dt.timedelta(minutes=1)) == 0
    assert summaries_weekly(now=at_seven) == 1
    assert _made() == [(group.pk, dt.date(2026, 6, 1))]


def test_a_run_later_in_the_week_makes_a_summary_monday_missed(two_zones):
    london, new_york = two_zones

    assert summaries_weekly(now=dt.datetime(2026, 12, 2, 15, 0, tzinfo=dt.UTC)) == 2

    assert _made() == [(london.pk, WEEK), (new_york.pk, WEEK)]


def test_a_week_that_has_not_ended_gets_no_summary(two_zones):
    london, _ = two_zones
    sunday_night = dt.datetime(2026, 11, 29, 23, 59, tzinfo=dt.UTC)

    assert summaries_weekly(now=sunday_night) == 0
    assert attendance_summary_build(group=london, week_start=WEEK, now=sunday_night) is None
    assert _made() == []


def test_no_summary_for_a_week_with_only_cancelled_sessions_or_an_archived_group(clinic):
    cancelled_only = GroupFactory(clinic=clinic)
    _session(cancelled_only, TUESDAY, status=SessionStatus.CANCELLED)
    archived = GroupFactory(clinic=clinic, status=GroupStatus.ARCHIVED)
    _session(archived, THURSDAY)

    assert summaries_weekly(now=LONDON_MONDAY_7) == 0
    assert (
        attendance_summary_build(group=cancelled_only, week_start=WEEK, now=LONDON_MONDAY_7) is None
    )
    assert _made() == []


def test_a_week_must_start_on_a_monday(group):
    with pytest.raises(ValueError, match="2026-11-24 is not one"):
        attendance_summary_build(group=group, week_start=dt.date(2026, 11, 24))


@pytest.mark.parametrize(
    ("now", "week"),
    [
        (dt.datetime(2026, 11, 30, 6, 59, tzinfo=dt.UTC), None),
        (dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC), dt.date(2026, 11, 23)),
        (dt.datetime(2026, 12, 6, 23, 59, tzinfo=dt.UTC), dt.date(2026, 11, 23)),
        (dt.datetime(2026, 12, 7, 0, 0, tzinfo=dt.UTC), None),
    ],
)
def test_the_week_due_is_last_week_from_monday_7(now, week):
    assert summary_week_due(tz_name="Europe/London", now=now) == week


# --- once ----------------------------------------------------------------------------------


def test_a_second_run_makes_nothing_and_sends_nothing_more(group, example):
    assert summaries_weekly(now=LONDON_MONDAY_7) == 1
    summaries = _summaries()
    lines = list(AttendanceSummaryMember.objects.values_list("pk", flat=True))
    notifications = _notifications()

    later = LONDON_MONDAY_7 + dt.timedelta(hours=1)
    assert summaries_weekly(now=later) == 0
    assert attendance_summary_build(group=group, week_start=WEEK, now=later) is None

    assert _summaries() == summaries
    assert list(AttendanceSummaryMember.objects.values_list("pk", flat=True)) == lines
    assert _notifications() == notifications


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_make_the_summary_once():
    group = GroupFactory()
    _session(group, TUESDAY)
    _enrol(group, "Lu")
    barrier = threading.Barrier(2)
    results: list[int] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            # Straight to the build, past the weekly run's check for existing summaries,
            # so both reach the group lock.
            made = attendance_summary_build(group=group, week_start=WEEK, now=LONDON_MONDAY_7)
            results.append(int(made is not None))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == [0, 1]
    assert _made() == [(group.pk, WEEK)]
    assert Notification.objects.count() == 1


def test_a_group_that_fails_does_not_stop_the_others(two_zones, monkeypatch, caplog):
    london, new_york = two_zones
    build = summaries_module.attendance_summary_build

    def failing_for_london(*, group, week_start, now=None):
        if group.pk == london.pk:
            raise RuntimeError("broken")
        return build(group=group, week_start=week_start, now=now)

    monkeypatch.setattr(summaries_module, "attendance_summary_build", failing_for_london)

    assert summaries_weekly(now=NEW_YORK_MONDAY_7) == 1

    assert _made() == [(new_york.pk, WEEK)]
    assert [record.getMessage() for record in caplog.records] == [
        f"weekly summary of group {london.pk}, week of 2026-11-23 failed"
    ]


# --- queries -------------------------------------------------------------------------------


def _sized_group(size):
    """A group with ``size`` members, ``size`` weeks of Tuesday sessions up to the summary's
    week (each member's attendance recorded) and ``size - 1`` co-facilitators."""
    group = GroupFactory(max_size=max(8, size))
    group.co_facilitators.add(*[UserFactory() for _ in range(size - 1)])
    members = [_enrol(group, f"M{n}", joined_on=dt.date(2026, 9, 1)) for n in range(size)]
    for week in range(size):
        session = _session(group, TUESDAY - dt.timedelta(weeks=week))
        for member in members:
            _mark(session, member, AttendanceStatus.ABSENT)
    return group


@pytest.mark.parametrize("size", [1, 5])
def test_building_takes_the_same_queries_whatever_the_size(size, django_assert_num_queries):
    group = _sized_group(size)

    # Lock, exists, sessions, enrolments, attendance, co-facilitators, summary, lines,
    # notifications, audit (chain head lock, insert, head update); and the transaction's
    # savepoint and release.
    with django_assert_num_queries(14):
        summary = attendance_summary_build(group=group, week_start=WEEK, now=LONDON_MONDAY_7)

    assert summary.lines.filter(consecutive_unexcused=size, at_risk=size >= 2).count() == size


@pytest.mark.parametrize("groups", [1, 3])
def test_the_weekly_run_takes_a_fixed_number_of_queries_per_group(
    groups, django_assert_num_queries
):
    for _ in range(groups):
        _sized_group(3)
    GroupFactory()  # no session in the week: costs no query of its own

    with django_assert_num_queries(3 + 14 * groups):
        assert summaries_weekly(now=LONDON_MONDAY_7) == groups


@pytest.mark.parametrize("weeks", [1, 5])
def test_group_summaries_are_newest_first_in_two_queries(group, weeks, django_assert_num_queries):
    members = [_enrol(group, name) for name in ("Zed", "Amy")]
    for week in range(weeks):
        summary = AttendanceSummary.objects.create(
            group=group, week_start=WEEK - dt.timedelta(weeks=week), sessions_held=1
        )
        for member in members:
            AttendanceSummaryMember.objects.create(
                summary=summary,
                member=member,
                sessions_expected=1,
                sessions_attended=1,
                rate=Decimal("1.000"),
                consecutive_unexcused=0,
                at_risk=False,
            )

    with django_assert_num_queries(2):
        summaries = group_summaries(group=group, limit=4)
        shown = [
            (s.week_start, [line.member.preferred_name for line in s.lines.all()])
            for s in summaries
        ]

    assert shown == [
        (WEEK - dt.timedelta(weeks=week), ["Amy", "Zed"]) for week in range(min(weeks, 4))
    ]


# --- the e-mail ----------------------------------------------------------------------------


def test_the_email_context_gives_numbers_and_the_meeting_pattern(group, example, settings):
    settings.GROUPCARE_BASE_URL = "https://care.example.org"
    summary = attendance_summary_build(group=group, week_start=WEEK, now=LONDON_MONDAY_7)
    lead = group.lead_facilitator

    context = summary_email_context(summary=summary, user=lead)

    assert context == {
        "base_url": "https://care.example.org",
        "recipient_name": lead.get_short_name(),
        "group_id": group.pk,
        "week_of": "23 Nov",
        "week_label": "Monday 23 to Sunday 29 November 2026",
        "meeting": "Tuesdays and Thursdays 18:00, Room 2",
        "sessions_held": 2,
        "attendance_rate": Decimal("0.750"),
        "attendance_percent": "75%",
        "at_risk_count": 1,
    }


def test_the_meeting_pattern_comes_from_the_schedule_when_there_is_one(group):
    _session(group, TUESDAY)
    Schedule.objects.create(
        group=group,
        rrule="FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE;COUNT=12",
        first_date=dt.date(2026, 11, 2),
        start_time=dt.time(10, 30),
        duration_minutes=90,
    )
    online = GroupFactory(room=None, video_link="https://video.example.org/abc")
    _session(online, THURSDAY, room=None)
    _session(online, FRIDAY + dt.timedelta(hours=1), room=None)

    made = [
        attendance_summary_build(group=g, week_start=WEEK, now=LONDON_MONDAY_7)
        for g in (group, online)
    ]

    assert [
        summary_email_context(summary=summary, user=summary.group.lead_facilitator)["meeting"]
        for summary in made
    ] == ["Mondays and Wednesdays 10:30, Room 2", "Thursdays 18:00 and Fridays 19:00, Online"]


def _rendered(context):
    return [
        render_to_string("emails/weekly_summary_subject.txt", context),
        render_to_string("emails/weekly_summary.txt", context),
        render_to_string("emails/weekly_summary.html", context),
    ]


def test_the_email_names_no_group_modality_or_member(group, example, settings):
    settings.GROUPCARE_BASE_URL = "https://care.example.org"
    summary = attendance_summary_build(group=group, week_start=WEEK, now=LONDON_MONDAY_7)
    lead = group.lead_facilitator
    lead.full_name = "Robin Facilitator"
    subject, text, html = _rendered(summary_email_context(summary=summary, user=lead))

    assert subject.strip() == "Weekly attendance summary, week of 23 Nov"
    assert text == (
        "Weekly attendance summary, week of 23 Nov.\n"
        "\n"
        "Hello Robin,\n"
        "\n"
        "Here is last week's attendance (Monday 23 to Sunday 29 November 2026) for your group "
        "meeting Tuesdays and Thursdays 18:00, Room 2.\n"
        "\n"
        "Sessions held:      2\n"
        "Attendance rate:    75%\n"
        "Members to follow up: 1 (two or more unexcused absences in a row)\n"
        "\n"
        "Excused absences and sessions without recorded attendance are left out of the rate.\n"
        "See who to follow up, and each member's attendance, in GroupCare: "
        f"https://care.example.org/groups/{group.pk}/\n"
        "\n"
        "--\n"
        "Sent by GroupCare for your clinic, to the facilitators of this group.\n\n"
    )
    assert f'<a href="https://care.example.org/groups/{group.pk}/">' in html
    assert '<td style="padding:4px 0;">75%</td>' in html
    names = [GROUP_NAME, MODALITY_NAME, "Ana", "Ben", "Cleo", "Quillfeather", "Trauma"]
    found = [(name, part) for name in names for part in (subject, text, html) if name in part]
    assert found == []


def test_the_email_says_when_the_rate_is_not_known(group):
    _session(group, TUESDAY)
    summary = attendance_summary_build(group=group, week_start=WEEK, now=LONDON_MONDAY_7)

    _, text, html = _rendered(summary_email_context(summary=summary, user=group.lead_facilitator))

    assert "Attendance rate:    not known (no attendance recorded)\n" in text
    assert "Members to follow up: 0\n" in text
    assert "not known (no attendance recorded)</td>" in html


def test_the_outbox_row_renders_as_the_summary_email(group, example):
    group.lead_facilitator.full_name = "Robin Facilitator"
    group.lead_facilitator.save(update_fields=["full_name"])
    summary = attendance_summary_build(group=group, week_start=WEEK, now=LONDON_MONDAY_7)
    row = Notification.objects.get(summary=summary)

    message = notification_message(row, now=LONDON_MONDAY_7)

    assert message.subject == "Weekly attendance summary, week of 23 Nov"
    assert message.to == [f"Robin Facilitator <{group.lead_facilitator.email}>"]
    assert GROUP_NAME not in message.body
    assert message.attachments == []
