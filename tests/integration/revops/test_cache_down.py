"""Redis as the cache is an optimisation: with it down, people still sign in, read their
pages (sessions, home blocks) and sign out. The processes' view of the same outage, with
writes and the KPI sweep, is in tests/faults/test_services_down.py."""

import socket

import pytest

from tests.conftest import PASSWORD


@pytest.fixture
def cache_down(settings):
    """The production cache settings, pointed at a port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


@pytest.mark.django_db
def test_people_sign_in_read_and_sign_out_while_the_cache_is_down(cache_down, client, manager):
    response = client.post("/login/", {"username": manager.email, "password": PASSWORD})
    assert response.status_code == 302
    for page in ("/", "/home/stuck_deals/", "/accounts/", "/deals/"):
        assert client.get(page).status_code == 200, page
    assert client.post("/logout/").status_code == 302
    assert client.get("/accounts/").status_code == 302  # signed out for real


@pytest.mark.django_db
def test_the_organisations_settings_are_saved_while_the_cache_is_down(cache_down):
    from revops.models import Organisation

    organisation = Organisation.get()
    organisation.name = "Saved during the outage"
    organisation.save()
    Organisation.forget()
    assert Organisation.get().name == "Saved during the outage"
