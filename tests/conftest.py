"""Shared fixtures: the personas of shared/spec/roles.md, a real Celery worker."""

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.utils import translation

from revops.models import Team, User
from tests.factories import TeamFactory, UserFactory

PASSWORD = "secret-pass-123"
BASE_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _english_until_asked():
    """Each test starts in the default language: a request in Persian (LocaleMiddleware)
    leaves it active in the thread for whatever runs next in the same worker."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _install_data(request):
    """What the data migrations install (the organisation row, the "Sales" pipeline), back
    in place for every database test: a transactional test's flush removes it."""
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if (
        "transactional_db" in names
        or "live_server" in names
        or (marker and marker.kwargs.get("transaction"))
    ):
        request.getfixturevalue("transactional_db")
    elif marker or "db" in names:
        request.getfixturevalue("db")
    else:
        return
    from pipeline.defaults import ensure_default_checklist, ensure_default_pipeline
    from pipeline.models import ChecklistTemplateItem, Pipeline, Stage
    from revops.models import Organisation

    Organisation.forget()  # a flushed database must not be read through an old cached copy
    Organisation.get()
    ensure_default_pipeline(Pipeline, Stage)
    ensure_default_checklist(ChecklistTemplateItem)


@pytest.fixture
def sales_team(db):
    return TeamFactory(name="Sales North", kind=Team.Kind.SALES)


@pytest.fixture
def other_sales_team(db):
    return TeamFactory(name="Sales South", kind=Team.Kind.SALES)


@pytest.fixture
def rep(sales_team):
    return UserFactory(email="rep@example.com", full_name="Rita Rep", team=sales_team)


@pytest.fixture
def teammate(sales_team):
    return UserFactory(email="mate@example.com", full_name="Tom Mate", team=sales_team)


@pytest.fixture
def other_team_rep(other_sales_team):
    return UserFactory(email="other@example.com", full_name="Otto Other", team=other_sales_team)


@pytest.fixture
def manager(sales_team):
    return UserFactory(
        email="manager@example.com",
        full_name="Mona Manager",
        role=User.Role.MANAGER,
        team=sales_team,
    )


@pytest.fixture
def marketer(db):
    team = TeamFactory(name="Marketing", kind=Team.Kind.MARKETING)
    return UserFactory(
        email="marketer@example.com", full_name="Mark Eter", role=User.Role.MARKETER, team=team
    )


@pytest.fixture
def cs(db):
    team = TeamFactory(name="Customer Success", kind=Team.Kind.CS)
    return UserFactory(email="cs@example.com", full_name="Cleo CS", role=User.Role.CS, team=team)


@pytest.fixture
def executive(db):
    team = TeamFactory(name="Leadership", kind=Team.Kind.REVOPS)
    return UserFactory(
        email="exec@example.com", full_name="Eva Exec", role=User.Role.EXECUTIVE, team=team
    )


@pytest.fixture
def admin_user(db):
    team = TeamFactory(name="RevOps", kind=Team.Kind.REVOPS)
    return UserFactory(
        email="admin@example.com",
        full_name="Ada Admin",
        role=User.Role.ADMIN,
        team=team,
        is_staff=True,
        is_superuser=True,
    )


@pytest.fixture
def client_for(client):
    """Log a persona in: `client_for(rep).get(...)`."""

    def login(user):
        client.force_login(user)
        return client

    return login


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)


def subprocess_env() -> dict:
    """The environment of a child process (worker, management command) that works on this
    test process's database and broker keys."""
    db = connection.settings_dict
    host = quote(db["HOST"], safe="") if db["HOST"].startswith("/") else db["HOST"]
    auth = db["USER"] + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "revops.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "worker-under-test",
        "DATABASE_URL": f"postgres://{auth}@{host}{port}/{db['NAME']}",
        "REDIS_URL": settings.CELERY_BROKER_URL,
        "CELERY_KEY_PREFIX": settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"],
    }


@pytest.fixture
def celery_worker_process(transactional_db):
    """A worker on the test database; its broker keys are this pytest process's own."""
    env = subprocess_env()
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
