"""The group programme's jobs on a clock: thin, named tasks that call one service each.

Each service is idempotent (a second run, or a redelivery after a lost worker, changes
nothing more), so the tasks need no state of their own.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import DatabaseError

from sessions.services.notifications import (
    notifications_dispatch,
    notifications_send,
    reminders_plan_upcoming,
)
from sessions.services.scheduling import group_sessions_complete_ended, group_sessions_extend_all
from sessions.services.summaries import summaries_weekly
from sessions.services.waitlist import waitlist_offers_expire

logger = logging.getLogger(__name__)


@shared_task(name="groupcare.sessions.horizon_extend")
def horizon_extend_task() -> dict[str, int]:
    """Nightly: every active group's sessions up to its horizon."""
    result = group_sessions_extend_all()
    for group_id in result.refused:
        # Ids only: the refusal's message names a person (the facilitator already booked).
        logger.warning("group %s: next sessions not booked (double booking)", group_id)
    created = sum(len(ids) for ids in result.created.values())
    return {"groups": len(result.created), "sessions": created, "refused": len(result.refused)}


@shared_task(name="groupcare.sessions.waitlist_offers_expire")
def waitlist_offers_expire_task() -> int:
    """Every few minutes: expire offers past their time and offer each seat to the next."""
    return waitlist_offers_expire()


@shared_task(name="groupcare.sessions.sessions_complete")
def sessions_complete_task() -> int:
    """Every few minutes: sessions that have ended are completed."""
    return group_sessions_complete_ended()


@shared_task(name="groupcare.sessions.notifications_dispatch")
def notifications_dispatch_task() -> dict[str, int]:
    """Every minute: queue the due outbox rows, one send task per batch.

    The batches are enqueued after the dispatch transaction has committed (the service
    returns them), so a worker never looks for rows not yet marked queued. Safe to run twice
    at once: the send claims each row, whoever queued it.
    """
    result = notifications_dispatch()
    for batch in result.batches:
        notifications_send_task.delay(batch)
    if result.recovered or result.gave_up:
        logger.warning(
            "notifications left by a stopped worker: %s handed back, %s failed",
            result.recovered,
            result.gave_up,
        )
    return {
        "queued": result.queued,
        "batches": len(result.batches),
        "recovered": result.recovered,
        "gave_up": result.gave_up,
    }


@shared_task(
    name="groupcare.sessions.notifications_send",
    # Only for the database going away: mail errors are handled per row by the service, and
    # the short, capped backoff stays far below the broker's visibility timeout.
    autoretry_for=(DatabaseError,),
    retry_backoff=5,
    retry_backoff_max=60,
    max_retries=3,
)
def notifications_send_task(notification_ids: list[int]) -> dict[str, int]:
    """Send one batch of outbox rows; each is sent only by the worker that claims it."""
    result = notifications_send(notification_ids=notification_ids)
    return {
        "sent": result.sent,
        "skipped": result.skipped,
        "retrying": result.retrying,
        "failed": result.failed,
        "not_claimed": result.not_claimed,
    }


@shared_task(name="groupcare.sessions.reminders_plan_upcoming")
def reminders_plan_upcoming_task() -> dict[str, int]:
    """Every ten minutes: plan the coming week's reminders again (a safety net)."""
    result = reminders_plan_upcoming()
    return {
        "pending": result.pending,
        "skipped_late": result.skipped_late,
        "withdrawn": result.withdrawn,
        "retimed": result.retimed,
    }


@shared_task(name="groupcare.sessions.summaries_weekly")
def summaries_weekly_task() -> int:
    """Hourly: last week's attendance summary of each group whose clinic has reached Monday
    07:00, each with an e-mail to its facilitators; a week is never summarised twice."""
    return summaries_weekly()
