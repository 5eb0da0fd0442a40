"""A task goes through Redis to a real `celery worker` process and back."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from revops.tasks import ping

BASE_DIR = Path(__file__).resolve().parents[3]


@pytest.fixture
def celery_worker_process(transactional_db):
    """A worker on the test database; its broker keys are this pytest process's own."""
    db = connection.settings_dict
    host = quote(db["HOST"], safe="") if db["HOST"].startswith("/") else db["HOST"]
    auth = db["USER"] + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    port = f":{db['PORT']}" if db["PORT"] else ""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "revops.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "worker-under-test",
        "DATABASE_URL": f"postgres://{auth}@{host}{port}/{db['NAME']}",
        "REDIS_URL": settings.CELERY_BROKER_URL,
        "CELERY_KEY_PREFIX": settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"],
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "revops",
            "worker",
            "-Q",
            "default,kpi,import",
            "-c",
            "1",
            "-P",
            "prefork",
            "-l",
            "WARNING",
            "-n",
            f"test-{uuid.uuid4().hex[:8]}@%h",
        ],
        cwd=BASE_DIR,
        env=env,
    )
    yield worker
    worker.terminate()
    try:
        worker.wait(15)
    except subprocess.TimeoutExpired:
        worker.kill()


@pytest.mark.celery_worker
def test_a_task_runs_on_a_real_worker_against_our_database(celery_worker_process):
    token = uuid.uuid4().hex
    started = time.monotonic()
    result = ping.delay(token).get(timeout=60)
    assert result == {"token": token, "database": connection.settings_dict["NAME"]}
    assert time.monotonic() - started < 60
    assert celery_worker_process.poll() is None
