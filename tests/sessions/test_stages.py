import datetime as dt

import pytest

from members.models import AuditEntry
from sessions.enums import STAGE_GUIDANCE, SessionStatus, Stage
from sessions.errors import ScheduleError, StageChangeError
from sessions.models import GroupSession, StageTransition
from sessions.services.groups import stage_change
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


def test_adjourning_marks_the_final_session_and_drops_later_ones():
    group = GroupFactory(stage=Stage.PERFORMING)  # Europe/London clinic
    sessions = _weekly_sessions(group, dt.datetime(2026, 6, 2, 17, 0, tzinfo=dt.UTC), 6)

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


def test_leaving_adjourning_lifts_the_final_date():
    group = GroupFactory(stage=Stage.PERFORMING)
    _weekly_sessions(group, dt.datetime(2026, 6, 2, 17, 0, tzinfo=dt.UTC), 3)
    by = group.lead_facilitator
    stage_change(
        group=group, to=Stage.ADJOURNING, by=by, final_session_date=dt.date(2026, 6, 9), now=NOW
    )

    stage_change(group=group, to=Stage.PERFORMING, by=by, note="Funding extended.", now=NOW)

    group.refresh_from_db()
    assert (group.stage, group.final_session_date) == (Stage.PERFORMING, None)
    assert not GroupSession.objects.filter(group=group, is_final=True).exists()


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
