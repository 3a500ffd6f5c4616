"""The members app's job on a clock: the nightly check of the audit log's hash chain."""

from __future__ import annotations

import logging

from celery import shared_task

from members.selectors import audit_chain_verify

logger = logging.getLogger(__name__)


@shared_task(name="groupcare.members.audit_chain_check")
def audit_chain_check_task() -> dict[str, object]:
    """Nightly: walk the audit log's hash chain, as ``manage.py audit_verify`` does.

    A break is logged at ERROR (the operator's alerting picks it up without anyone running
    the command). An intact chain logs its head's hash at INFO: logs kept away from the
    database then hold a dated record of the head, which shows a chain rewritten from some
    entry onwards, something the database alone cannot. Read-only, so safe to repeat.
    """
    check = audit_chain_verify()
    if check.intact:
        logger.info(
            "audit chain intact: %s entries, head seq %s hash %s",
            check.entries,
            check.head_seq,
            check.head_hash,
        )
    else:
        logger.error(
            "audit chain broken at entry %s: %s (%s); %s entries before it are intact",
            check.broken_at,
            check.reason,
            check.detail,
            check.entries,
        )
    return {
        "intact": check.intact,
        "entries": check.entries,
        "head_seq": check.head_seq,
        "head_hash": check.head_hash,
        "broken_at": check.broken_at,
    }
