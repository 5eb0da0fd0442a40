"""A task goes through Redis to a real `celery worker` process and back."""

import time
import uuid

import pytest
from django.db import connection

from revops.tasks import ping


@pytest.mark.celery_worker
def test_a_task_runs_on_a_real_worker_against_our_database(celery_worker_process):
    token = uuid.uuid4().hex
    started = time.monotonic()
    result = ping.delay(token).get(timeout=60)
    assert result == {"token": token, "database": connection.settings_dict["NAME"]}
    assert time.monotonic() - started < 60
    assert celery_worker_process.poll() is None
