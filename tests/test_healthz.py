import pytest
from celery import Celery
from django.db import OperationalError

from groupcare import health

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_broker_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_healthz_names_the_broker_when_it_is_down(client, monkeypatch):
    # Nothing listens on port 1: the connection is refused at once.
    monkeypatch.setattr(health, "celery_app", Celery(broker="redis://127.0.0.1:1/0"))

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "broker": "unavailable"},
    }


def test_healthz_names_the_database_when_it_is_down(client, monkeypatch):
    class DeadConnection:
        def cursor(self):
            raise OperationalError("could not connect to server: secret-host:5432")

    monkeypatch.setattr(health, "connection", DeadConnection())

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "unavailable", "broker": "ok"},
    }
    # The reason goes to the log, never to an anonymous caller.
    assert b"secret-host" not in response.content


def test_healthz_only_answers_get(client):
    assert client.post("/healthz").status_code == 405
