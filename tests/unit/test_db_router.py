"""Reads go to the replica only for safe requests of users who did not just write."""

import time

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from revops import db_router
from revops.db_router import PIN_COOKIE, PrimaryReplicaRouter, ReplicaReadsMiddleware


@pytest.fixture
def with_replica(settings, monkeypatch):
    # The router only asks whether a "replica" alias is configured; no connection is opened.
    databases = {**settings.DATABASES, "replica": dict(settings.DATABASES["default"])}
    monkeypatch.setattr(db_router.settings, "DATABASES", databases, raising=False)
    settings.DATABASE_REPLICA_PIN_SECONDS = 10


def _run(request):
    """The alias a read would use inside the view, and the response."""
    seen = {}

    def view(request):
        seen["alias"] = PrimaryReplicaRouter().db_for_read(None)
        return HttpResponse("ok")

    response = ReplicaReadsMiddleware(view)(request)
    return seen["alias"], response


def test_without_a_replica_everything_reads_the_primary():
    alias, _response = _run(RequestFactory().get("/deals/"))
    assert alias == "default"


def test_safe_requests_read_the_replica_and_writes_pin_the_writer(with_replica):
    factory = RequestFactory()
    assert _run(factory.get("/deals/"))[0] == "replica"
    alias, response = _run(factory.post("/deals/1/edit/"))
    assert alias == "default"
    cookie = response.cookies[PIN_COOKIE]
    # The writer's next pages read the primary until the pin expires.
    after = factory.get("/deals/1/")
    after.COOKIES[PIN_COOKIE] = cookie.value
    assert _run(after)[0] == "default"
    later = factory.get("/deals/1/")
    later.COOKIES[PIN_COOKIE] = response.cookies[PIN_COOKIE].value.replace(
        str(int(time.time() + 10)), str(int(time.time() - 1))
    )
    assert _run(later)[0] == "replica"  # a tampered cookie is ignored, like an expired one


def test_outside_requests_and_writes_use_the_primary(with_replica):
    router = PrimaryReplicaRouter()
    assert router.db_for_read(None) == "default"  # a task or a command
    assert router.db_for_write(None) == "default"
    assert router.allow_migrate("replica", "crm") is False
    token = db_router._replica_reads.set(True)
    try:
        assert router.db_for_read(None) == "replica"
        assert router.db_for_write(None) == "default"
    finally:
        db_router._replica_reads.reset(token)
