"""The Celery application: configured from Django settings (``CELERY_*``)."""

from __future__ import annotations

import logging
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "groupcare.settings")

app = Celery("groupcare")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _filter_phi_in_worker_logs(**kwargs: object) -> None:
    """The worker's own handlers log through the PHI filter too (see groupcare.logging)."""
    from groupcare.logging import phi_filter_every_handler

    phi_filter_every_handler()


@app.task(name="groupcare.heartbeat", ignore_result=False)
def heartbeat() -> str:
    """Prove the wiring: beat schedules it, a worker runs it and logs one line."""
    logger.info("heartbeat: the worker is alive")
    return "pong"
