"""The group programme's jobs on a clock: horizons, ended sessions, expired offers. Each is
safe to run twice, and each is a named task on the beat schedule."""

import datetime as dt

import pytest
import time_machine
from django.conf import settings

from groupcare.celery import app as celery_app
from sessions.enums import GroupStatus, SessionStatus
from sessions.models import GroupSession
from sessions.services.scheduling import (
    group_sessions_complete_ended,
    group_sessions_extend_all,
    schedule_set,
)
from sessions.tasks import horizon_extend_task, sessions_complete_task, waitlist_offers_expire_task
from tests.factories.sessions import GroupFactory, GroupSessionFactory, RoomFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)  # a Monday
TUESDAY = dt.date(2026, 6, 2)


def _open_ended(group, **fields):
    return schedule_set(
        group=group,
        rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=40",
        first_date=TUESDAY,
        start_time=dt.time(18, 0),
        duration_minutes=90,
        by=group.lead_facilitator,
        now=NOW,
        **fields,
    )


def test_the_nightly_run_extends_every_active_group_to_its_horizon_once():
    group = GroupFactory(planned_end=None)
    _open_ended(group)
    before = GroupSession.objects.filter(group=group).count()
    later = NOW + dt.timedelta(weeks=3)

    first = group_sessions_extend_all(now=later)
    second = group_sessions_extend_all(now=later)

    assert len(first.created[group.pk]) == 3
    assert GroupSession.objects.filter(group=group).count() == before + 3
    assert second.created == {}
    assert second.refused == {}


def test_an_archived_group_or_one_without_a_schedule_is_not_extended():
    archived = GroupFactory(planned_end=None)
    _open_ended(archived)
    archived.status = GroupStatus.ARCHIVED
    archived.save(update_fields=["status"])
    GroupFactory(planned_end=None)  # no schedule at all

    result = group_sessions_extend_all(now=NOW + dt.timedelta(weeks=3))

    assert result.created == {}


def test_a_group_whose_next_session_clashes_is_reported_and_the_others_still_extend():
    room = RoomFactory()
    clashing = GroupFactory(clinic=room.clinic, planned_end=None, room=room)
    other = GroupFactory(planned_end=None)
    _open_ended(clashing)
    _open_ended(other)
    later = NOW + dt.timedelta(weeks=3)
    first_new_start = dt.datetime(2026, 8, 25, 17, 0, tzinfo=dt.UTC)  # 18:00 London (BST)
    GroupSessionFactory(
        group=GroupFactory(clinic=room.clinic, room=room),
        room=room,
        start=first_new_start,
        end=first_new_start + dt.timedelta(minutes=90),
    )

    result = group_sessions_extend_all(now=later)

    assert "Room" in result.refused[clashing.pk]
    assert len(result.created[other.pk]) == 3


def test_ended_sessions_are_completed_once_and_others_are_left_alone():
    group = GroupFactory()
    ended = GroupSessionFactory(
        group=group, start=NOW - dt.timedelta(hours=3), end=NOW - dt.timedelta(hours=1)
    )
    running = GroupSessionFactory(
        group=group, start=NOW - dt.timedelta(minutes=30), end=NOW + dt.timedelta(hours=1)
    )
    cancelled = GroupSessionFactory(
        group=group,
        start=NOW - dt.timedelta(days=2),
        end=NOW - dt.timedelta(days=2) + dt.timedelta(hours=1),
        status=SessionStatus.CANCELLED,
    )

    assert group_sessions_complete_ended(now=NOW) == 1
    assert group_sessions_complete_ended(now=NOW) == 0

    statuses = dict(GroupSession.objects.values_list("pk", "status"))
    assert statuses == {
        ended.pk: SessionStatus.COMPLETED,
        running.pk: SessionStatus.SCHEDULED,
        cancelled.pk: SessionStatus.CANCELLED,
    }


def test_the_tasks_call_their_services_and_report_what_they_did():
    group = GroupFactory(planned_end=None)
    _open_ended(group)
    GroupSessionFactory(
        group=GroupFactory(), start=NOW - dt.timedelta(hours=2), end=NOW - dt.timedelta(hours=1)
    )

    later = NOW + dt.timedelta(weeks=3)
    ended = GroupSession.objects.filter(status=SessionStatus.SCHEDULED, end__lte=later).count()

    with time_machine.travel(later, tick=False):
        extended = horizon_extend_task.apply().get()
        completed = sessions_complete_task.apply().get()
        expired = waitlist_offers_expire_task.apply().get()

    assert extended == {"groups": 1, "sessions": 3, "refused": 0}
    assert completed == ended > 1
    assert expired == 0


@pytest.mark.parametrize(
    ("entry", "task"),
    [
        ("sessions-horizon-extend", "groupcare.sessions.horizon_extend"),
        ("sessions-waitlist-offers-expire", "groupcare.sessions.waitlist_offers_expire"),
        ("sessions-complete", "groupcare.sessions.sessions_complete"),
    ],
)
def test_beat_schedules_each_job_and_the_worker_knows_it(entry, task):
    assert settings.CELERY_BEAT_SCHEDULE[entry]["task"] == task
    celery_app.loader.import_default_modules()
    assert task in celery_app.tasks
