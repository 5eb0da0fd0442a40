import socket

import pytest
from django.db import connection


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_healthz_reports_both_services_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_healthz_stays_up_without_the_broker(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "down"}


@pytest.mark.django_db(transaction=True)
def test_healthz_answers_503_when_the_database_is_down(client, monkeypatch):
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "HOST", "127.0.0.1")
    monkeypatch.setitem(connection.settings_dict, "PORT", closed_port())
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "connect_timeout", 1)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "down", "broker": "ok"}
    monkeypatch.undo()
    connection.close()
    # Once the database is back, so is the app, without a restart.
    assert client.get("/healthz").json()["database"] == "ok"
