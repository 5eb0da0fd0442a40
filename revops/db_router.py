"""Reads from a replica, writes to the primary, and read-your-writes for whoever wrote.

With `DATABASE_REPLICA_URL` set, the pages, partials and API answers of safe requests
(GET, HEAD) read from the replica; everything else uses the primary: writes, reads inside
a transaction, Celery tasks and commands (which run outside any request), and every request
of a user who wrote in the last `DATABASE_REPLICA_PIN_SECONDS` (a signed cookie remembers
it across the web processes), so nobody saves a deal and then reads the replica's older copy.
"""

from __future__ import annotations

import contextvars
import time

from django.conf import settings
from django.db import connections

REPLICA = "replica"
PIN_COOKIE = "daramad_primary_until"

# True while the current request may read from the replica.
_replica_reads: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "replica_reads", default=False
)


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints):
        if (
            REPLICA in settings.DATABASES
            and _replica_reads.get()
            and not connections["default"].in_atomic_block
        ):
            return REPLICA
        return "default"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database, two copies of it

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"


class ReplicaReadsMiddleware:
    """Lets safe requests read from the replica, unless the user wrote very recently."""

    SAFE = ("GET", "HEAD", "OPTIONS")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if REPLICA not in settings.DATABASES:
            return self.get_response(request)
        pinned = _pinned_until(request) > time.time()
        token = _replica_reads.set(request.method in self.SAFE and not pinned)
        try:
            response = self.get_response(request)
        finally:
            _replica_reads.reset(token)
        if request.method not in self.SAFE:
            until = int(time.time() + settings.DATABASE_REPLICA_PIN_SECONDS)
            response.set_signed_cookie(
                PIN_COOKIE,
                str(until),
                salt=PIN_COOKIE,
                max_age=settings.DATABASE_REPLICA_PIN_SECONDS,
                httponly=True,
                secure=request.is_secure(),
                samesite="Lax",
            )
        return response


def _pinned_until(request) -> float:
    try:
        return float(request.get_signed_cookie(PIN_COOKIE, salt=PIN_COOKIE, default="0"))
    except ValueError:
        return 0.0
