import pytest
from celery.contrib.testing.worker import start_worker

from groupcare.celery import app as celery_app
from groupcare.celery import heartbeat


def test_celery_is_configured_for_reliable_work():
    conf = celery_app.conf

    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_time_limit > conf.task_soft_time_limit > 0


def test_beat_schedules_the_heartbeat_and_a_worker_knows_it():
    assert celery_app.conf.beat_schedule["heartbeat"]["task"] == "groupcare.heartbeat"
    assert "groupcare.heartbeat" in celery_app.tasks


@pytest.mark.redis
def test_a_real_worker_runs_the_heartbeat_over_redis():
    with start_worker(celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
        result = heartbeat.delay()

        assert result.get(timeout=30) == "pong"
