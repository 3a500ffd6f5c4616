"""Liveness checks of the parts GroupCare cannot work without."""

from __future__ import annotations

import logging

from django.db import connection

from groupcare.celery import app as celery_app

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2.0


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.exception("health check: the database does not answer")
        return False
    return True


def broker_ok() -> bool:
    try:
        with celery_app.connection_for_write(connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)
            # Opening a channel is what a producer does first; for the file-system broker it
            # is the step that touches its folders.
            conn.default_channel  # noqa: B018
    except Exception:
        logger.exception("health check: the Celery broker does not answer")
        return False
    return True


def health_report() -> dict[str, str]:
    """Each part's state, ``"ok"`` or ``"unavailable"``; never the error's text."""
    checks = {"database": database_ok, "broker": broker_ok}
    return {name: "ok" if check() else "unavailable" for name, check in checks.items()}
