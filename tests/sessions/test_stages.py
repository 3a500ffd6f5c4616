import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members.enums import Role
from members.models import AuditEntry
from sessions.enums import STAGE_GUIDANCE, SessionStatus, Stage
from sessions.errors import DoubleBookingError, ScheduleError, StageChangeError
from sessions.models import GroupSession, SessionFacilitator, StageTransition
from sessions.services.groups import stage_change
from sessions.services.scheduling import group_session_cancel, group_session_move, schedule_set
from tests.factories.members import ClinicRoleFactory
from tests.factories.sessions import GroupFactory, GroupSessionFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def _transitions(group):
    return list(
        StageTransition.objects.filter(group=group).values_list(
            "from_stage", "to_stage", "by_id", "note"
        )
    )


def test_forward_move_records_the_transition():
    group = GroupFactory()
    by = group.lead_facilitator

    transition = stage_change(group=group, to=Stage.STORMING, by=by, now=NOW)

    group.refresh_from_db()
    assert group.stage == Stage.STORMING
    assert (transition.from_stage, transition.to_stage, transition.by, transition.at) == (
        Stage.FORMING,
        Stage.STORMING,
        by,
        NOW,
    )


def test_moving_back_without_a_note_is_refused():
    group = GroupFactory(stage=Stage.NORMING)

    with pytest.raises(StageChangeError, match="Moving back from norming to storming needs a note"):
        stage_change(group=group, to=Stage.STORMING, by=group.lead_facilitator)

    group.refresh_from_db()
    assert group.stage == Stage.NORMING
    assert _transitions(group) == []


def test_moving_back_with_a_note_is_recorded():
    group = GroupFactory(stage=Stage.NORMING)
    by = group.lead_facilitator

    stage_change(group=group, to=Stage.STORMING, by=by, note="Three new members joined.")

    assert _transitions(group) == [
        (Stage.NORMING, Stage.STORMING, by.pk, "Three new members joined.")
    ]


def test_moving_to_the_current_stage_is_refused():
    group = GroupFactory(stage=Stage.PERFORMING)

    with pytest.raises(StageChangeError, match="already performing"):
        stage_change(group=group, to=Stage.PERFORMING, by=group.lead_facilitator)


def test_adjourning_needs_the_final_session_date():
    group = GroupFactory(stage=Stage.PERFORMING)

    with pytest.raises(StageChangeError, match="needs the date of the group's final session"):
        stage_change(group=group, to=Stage.ADJOURNING, by=group.lead_facilitator)


def test_a_final_date_outside_adjourning_is_refused():
    group = GroupFactory()

    with pytest.raises(StageChangeError, match="applies only when moving to adjourning"):
        stage_change(
            group=group,
            to=Stage.STORMING,
            by=group.lead_facilitator,
            final_session_date=dt.date(2026, 7, 1),
        )


def _weekly_sessions(group, first_start, weeks):
    return [
        GroupSessionFactory(
            group=group,
            start=first_start + dt.timedelta(weeks=week),
            series_date=(first_start + dt.timedelta(weeks=week)).date(),
        )
        for week in range(weeks)
    ]


def _schedule(group, count):
    """Tuesdays at 18:00 London time (17:00 UTC) from 2 June 2026."""
    return schedule_set(
        group=group,
        rrule=f"FREQ=WEEKLY;BYDAY=TU;COUNT={count}",
        first_date=dt.date(2026, 6, 2),
        start_time=dt.time(18, 0),
        duration_minutes=90,
        by=group.lead_facilitator,
        now=NOW,
    )


def _adjourn(group, final_date):
    stage_change(
        group=group,
        to=Stage.ADJOURNING,
        by=group.lead_facilitator,
        final_session_date=final_date,
        now=NOW,
    )


def _sessions(group):
    return list(
        GroupSession.objects.filter(group=group).values_list(
            "pk", "series_date", "status", "cancel_reason", "is_final", "stage"
        )
    )


def test_adjourning_marks_the_final_session_and_drops_later_ones():
    group = GroupFactory(stage=Stage.PERFORMING)  # Europe/London clinic
    sessions = _schedule(group, 6)

    stage_change(
        group=group,
        to=Stage.ADJOURNING,
        by=group.lead_facilitator,
        final_session_date=dt.date(2026, 6, 16),
        now=NOW,
    )

    group.refresh_from_db()
    assert group.final_session_date == dt.date(2026, 6, 16)
    assert list(
        GroupSession.objects.filter(group=group).values_list("pk", "is_final", "stage")
    ) == [
        (sessions[0].pk, False, Stage.ADJOURNING),
        (sessions[1].pk, False, Stage.ADJOURNING),
        (sessions[2].pk, True, Stage.ADJOURNING),
    ]


def test_adjourning_on_a_date_without_a_session_is_refused():
    group = GroupFactory(stage=Stage.PERFORMING)
    _weekly_sessions(group, dt.datetime(2026, 6, 2, 17, 0, tzinfo=dt.UTC), 3)

    with pytest.raises(ScheduleError, match="2026-06-10"):
        stage_change(
            group=group,
            to=Stage.ADJOURNING,
            by=group.lead_facilitator,
            final_session_date=dt.date(2026, 6, 10),
            now=NOW,
        )

    group.refresh_from_db()
    assert (group.stage, group.final_session_date) == (Stage.PERFORMING, None)


def test_adjourning_a_group_without_a_schedule_cancels_later_sessions():
    group = GroupFactory(stage=Stage.PERFORMING)
    sessions = _weekly_sessions(group, dt.datetime(2026, 6, 2, 17, 0, tzinfo=dt.UTC), 3)

    _adjourn(group, dt.date(2026, 6, 2))

    reason = "The group ended with its final session on 2026-06-02."
    assert _sessions(group) == [
        (sessions[0].pk, dt.date(2026, 6, 2), SessionStatus.SCHEDULED, "", True, Stage.ADJOURNING),
        (
            sessions[1].pk,
            dt.date(2026, 6, 9),
            SessionStatus.CANCELLED,
            reason,
            False,
            Stage.PERFORMING,
        ),
        (
            sessions[2].pk,
            dt.date(2026, 6, 16),
            SessionStatus.CANCELLED,
            reason,
            False,
            Stage.PERFORMING,
        ),
    ]


def test_leaving_adjourning_lifts_the_final_date():
    group = GroupFactory(stage=Stage.PERFORMING)
    _schedule(group, 3)
    by = group.lead_facilitator
    _adjourn(group, dt.date(2026, 6, 9))

    stage_change(group=group, to=Stage.PERFORMING, by=by, note="Funding extended.", now=NOW)

    group.refresh_from_db()
    assert (group.stage, group.final_session_date) == (Stage.PERFORMING, None)
    assert not GroupSession.objects.filter(group=group, is_final=True).exists()


def test_leaving_adjourning_brings_the_dropped_sessions_back():
    group = GroupFactory(stage=Stage.PERFORMING)
    sessions = _schedule(group, 4)
    _adjourn(group, dt.date(2026, 6, 9))

    stage_change(
        group=group, to=Stage.PERFORMING, by=group.lead_facilitator, note="Extended.", now=NOW
    )

    assert [row[1:] for row in _sessions(group)] == [
        (s.series_date, SessionStatus.SCHEDULED, "", False, Stage.PERFORMING) for s in sessions
    ]
    assert list(
        SessionFacilitator.objects.order_by("start").values_list("facilitator_id", "start")
    ) == [(group.lead_facilitator.pk, s.start) for s in sessions]


def test_leaving_adjourning_restores_the_sessions_adjourning_cancelled():
    group = GroupFactory(stage=Stage.PERFORMING)
    sessions = _schedule(group, 3)
    moved = group_session_move(
        session=sessions[2],
        by=group.lead_facilitator,
        start=dt.datetime(2026, 6, 17, 17, 0, tzinfo=dt.UTC),
        now=NOW,
    )
    extra = GroupSessionFactory(group=group, start=dt.datetime(2026, 6, 12, 9, 0, tzinfo=dt.UTC))
    _adjourn(group, dt.date(2026, 6, 2))

    stage_change(
        group=group, to=Stage.PERFORMING, by=group.lead_facilitator, note="Extended.", now=NOW
    )

    assert [
        (pk, status, reason, stage) for pk, _, status, reason, _, stage in _sessions(group)
    ] == [
        (sessions[0].pk, SessionStatus.SCHEDULED, "", Stage.PERFORMING),
        (
            GroupSession.objects.get(series_date=dt.date(2026, 6, 9)).pk,
            SessionStatus.SCHEDULED,
            "",
            Stage.PERFORMING,
        ),
        (extra.pk, SessionStatus.SCHEDULED, "", Stage.PERFORMING),
        (moved.pk, SessionStatus.SCHEDULED, "", Stage.PERFORMING),
    ]
    assert list(
        SessionFacilitator.objects.filter(session__in=[extra, moved])
        .values_list("session_id", "is_cancelled")
        .order_by("session_id")
    ) == sorted([(extra.pk, False), (moved.pk, False)])


def test_leaving_adjourning_leaves_a_session_cancelled_by_a_person_cancelled():
    group = GroupFactory(stage=Stage.PERFORMING)
    sessions = _schedule(group, 3)
    group_session_cancel(session=sessions[2], by=group.lead_facilitator, reason="Holiday", now=NOW)
    _adjourn(group, dt.date(2026, 6, 2))

    stage_change(
        group=group, to=Stage.PERFORMING, by=group.lead_facilitator, note="Extended.", now=NOW
    )

    assert [(row[1], row[2], row[3]) for row in _sessions(group)] == [
        (dt.date(2026, 6, 2), SessionStatus.SCHEDULED, ""),
        (dt.date(2026, 6, 9), SessionStatus.SCHEDULED, ""),
        (dt.date(2026, 6, 16), SessionStatus.CANCELLED, "Holiday"),
    ]


def test_leaving_adjourning_is_refused_when_a_restored_session_would_clash():
    group = GroupFactory(stage=Stage.PERFORMING)
    sessions = _schedule(group, 2)
    substitute = ClinicRoleFactory(clinic=group.clinic, role=Role.FACILITATOR).user
    group_session_move(
        session=sessions[1], by=group.lead_facilitator, facilitators=[substitute], now=NOW
    )
    _adjourn(group, dt.date(2026, 6, 2))
    other = GroupFactory(clinic=group.clinic, name="Other group", lead_facilitator=substitute)
    [_clash] = schedule_set(
        group=other,
        rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=1",
        first_date=dt.date(2026, 6, 9),
        start_time=dt.time(18, 0),
        duration_minutes=60,
        by=substitute,
        now=NOW,
    )

    with pytest.raises(DoubleBookingError) as refused:
        stage_change(
            group=group, to=Stage.PERFORMING, by=group.lead_facilitator, note="Back.", now=NOW
        )

    # Whoever books here does not run the group that stands in the way: neither it nor
    # its session is named.
    assert (str(refused.value), refused.value.conflict_id) == (
        f"Facilitator {substitute} is not available at that time.",
        None,
    )
    group.refresh_from_db()
    assert (group.stage, group.final_session_date) == (Stage.ADJOURNING, dt.date(2026, 6, 2))
    assert GroupSession.objects.get(pk=sessions[1].pk).status == SessionStatus.CANCELLED


def test_stage_change_updates_future_sessions_only():
    group = GroupFactory()
    past = GroupSessionFactory(group=group, start=NOW - dt.timedelta(days=7))
    future = GroupSessionFactory(group=group, start=NOW + dt.timedelta(days=7))
    cancelled = GroupSessionFactory(
        group=group, start=NOW + dt.timedelta(days=14), status=SessionStatus.CANCELLED
    )

    stage_change(group=group, to=Stage.STORMING, by=group.lead_facilitator, now=NOW)

    assert dict(GroupSession.objects.values_list("pk", "stage")) == {
        past.pk: Stage.FORMING,
        future.pk: Stage.STORMING,
        cancelled.pk: Stage.FORMING,
    }


@pytest.mark.postgres
def test_stage_change_locks_the_group_row_only():
    group = GroupFactory(stage=Stage.PERFORMING)
    _schedule(group, 3)

    with CaptureQueriesContext(connection) as queries:
        _adjourn(group, dt.date(2026, 6, 9))

    # Besides the audit log's chain head, which every audited write locks last.
    assert {
        re.search(r"FOR UPDATE.*$", query["sql"]).group()
        for query in queries.captured_queries
        if "FOR UPDATE" in query["sql"] and "members_auditchainhead" not in query["sql"]
    } == {'FOR UPDATE OF "group_sessions_group"'}


def test_stage_change_is_audited_without_the_note():
    group = GroupFactory(stage=Stage.NORMING)
    by = group.lead_facilitator

    transition = stage_change(group=group, to=Stage.STORMING, by=by, note="private reasons")

    entry = AuditEntry.objects.get(action="sessions.group.stage_changed")
    assert (entry.actor, entry.clinic, entry.object_type, entry.object_id, entry.data) == (
        by,
        group.clinic,
        "group_sessions.group",
        str(group.pk),
        {"from": "norming", "to": "storming", "transition_id": transition.pk},
    )


def test_every_stage_carries_facilitator_guidance():
    assert {stage: stage.guidance for stage in Stage} == STAGE_GUIDANCE
    assert all(STAGE_GUIDANCE[stage] for stage in Stage)
    assert GroupFactory(stage=Stage.STORMING).stage_guidance == (
        "Surface and work through conflict; keep the space safe."
    )
