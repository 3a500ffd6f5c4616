"""The Celery application: configured from Django settings (``CELERY_*``)."""

from __future__ import annotations

import logging
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "groupcare.settings")

app = Celery("groupcare")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


@app.task(name="groupcare.heartbeat", ignore_result=False)
def heartbeat() -> str:
    """Prove the wiring: beat schedules it, a worker runs it and logs one line."""
    logger.info("heartbeat: the worker is alive")
    return "pong"
