"""The group programme's jobs on a clock: thin, named tasks that call one service each.

Each service is idempotent (a second run, or a redelivery after a lost worker, changes
nothing more), so the tasks need no state of their own.
"""

from __future__ import annotations

import logging

from celery import shared_task

from sessions.services.scheduling import group_sessions_complete_ended, group_sessions_extend_all
from sessions.services.waitlist import waitlist_offers_expire

logger = logging.getLogger(__name__)


@shared_task(name="groupcare.sessions.horizon_extend")
def horizon_extend_task() -> dict[str, int]:
    """Nightly: every active group's sessions up to its horizon."""
    result = group_sessions_extend_all()
    for group_id, reason in result.refused.items():
        # The reason names a facilitator or room and a time: no member data.
        logger.warning("group %s: next sessions not booked: %s", group_id, reason)
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
