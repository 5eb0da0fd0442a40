"""The project's own files: migrations, compose file, demo data, launcher."""

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from revops.models import Team, User

BASE_DIR = Path(__file__).resolve().parents[3]


@pytest.mark.django_db
def test_models_and_migrations_agree():
    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exit_:
        pytest.fail(f"models changed without a migration:\n{out.getvalue()}{exit_}")


def test_the_compose_file_is_valid_compose():
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [checker, "--builtin-schema", "vendor.compose-spec", BASE_DIR / "docker-compose.yml"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_file_runs_the_production_shape():
    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= {"web", "worker", "beat", "postgres", "redis"}
    app = [services[name] for name in ("web", "worker", "beat")]
    # One image and one environment for the three processes of the app.
    assert len({repr(service.get("image")) for service in app}) == 1
    assert all(service.get("build") == app[0].get("build") for service in app)
    assert len({repr(service.get("environment")) for service in app}) == 1
    assert "gunicorn" in " ".join(services["web"]["command"])
    assert "worker" in services["worker"]["command"]
    assert "beat" in services["beat"]["command"]
    for name in ("web", "postgres", "redis"):
        assert "test" in services[name]["healthcheck"], name
    volumes = " ".join(services["postgres"]["volumes"])
    assert "/var/lib/postgresql" in volumes
    assert set(compose["volumes"]) >= {volumes.split(":")[0]}
    environment = app[0]["environment"]
    assert environment["DATABASE_URL"].startswith("postgres://")
    assert environment["REDIS_URL"].startswith("redis://")
    assert "DJANGO_SECRET_KEY" in environment
    for service in app:
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    # The worker imports the files that web received: one shared uploads volume.
    media = [v for v in services["web"]["volumes"] if v.startswith("media:")]
    assert media and media == [v for v in services["worker"]["volumes"] if v.startswith("media:")]
    assert environment["MEDIA_ROOT"] == media[0].split(":")[1]


@pytest.mark.django_db
def test_seed_demo_creates_every_role_and_is_repeatable():
    call_command("seed_demo", "--seed", "7", stdout=StringIO())
    roles = set(User.objects.values_list("role", flat=True))
    assert roles == {choice for choice, _ in User.Role.choices}
    kinds = set(Team.objects.values_list("kind", flat=True))
    assert kinds == {"marketing", "sales", "cs", "revops"}
    first = sorted(User.objects.values_list("email", "full_name", "role", "team__name"))
    rep = User.objects.get(email="rep@daramad.example")
    assert rep.check_password("demo")
    call_command("seed_demo", "--seed", "7", stdout=StringIO())
    assert sorted(User.objects.values_list("email", "full_name", "role", "team__name")) == first
    assert any("\u0600" <= ch <= "\u06ff" for _, name, _, _ in first for ch in name)


@pytest.mark.django_db
def test_seed_demo_prints_the_logins_and_skips_when_asked(capsys):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "rep@daramad.example" in out.getvalue() and "password: demo" in out.getvalue()
    count = User.objects.count()
    User.objects.filter(email="rep@daramad.example").update(full_name="Changed")
    call_command("seed_demo", "--if-empty", stdout=StringIO(), stderr=StringIO())
    assert User.objects.count() == count
    assert User.objects.get(email="rep@daramad.example").full_name == "Changed"


def test_the_launcher_prefers_the_urls_it_is_given(monkeypatch):
    from revops import launcher

    monkeypatch.setenv("DATABASE_URL", "postgres://u@db.example:5432/x")
    monkeypatch.setenv("REDIS_URL", "redis://cache.example:6379/0")
    with launcher.services() as env:
        assert env["DATABASE_URL"] == "postgres://u@db.example:5432/x"
        assert env["REDIS_URL"] == "redis://cache.example:6379/0"


def test_the_launcher_starts_embedded_services_when_the_machine_has_none(tmp_path, monkeypatch):
    import psycopg
    import redis

    from revops import launcher

    monkeypatch.setattr(launcher, "DATA_DIR", tmp_path / ".data")
    monkeypatch.setattr(launcher, "DATABASE_NAME", "daramad_embedded_check")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setattr(launcher, "_machine_postgres", lambda: None)
    monkeypatch.setattr(launcher, "_redis_answers", _only_embedded_redis(launcher._redis_answers))
    with launcher.services() as env:
        assert "%2F" in env["DATABASE_URL"]  # a unix socket under .data/
        settings = launcher_settings(env)
        with psycopg.connect(
            host=settings["HOST"], user="postgres", dbname="daramad_embedded_check"
        ) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert redis.Redis.from_url(env["REDIS_URL"]).ping()
        assert env["REDIS_URL"] != "redis://127.0.0.1:6379/0"
    assert not redis_answers(env["REDIS_URL"])


def _only_embedded_redis(real):
    return lambda host, port: False if port == 6379 else real(host, port)


def launcher_settings(env):
    from urllib.parse import unquote

    import environ

    config = environ.Env.db_url_config(env["DATABASE_URL"])
    return {**config, "HOST": unquote(config["HOST"])}


def redis_answers(url):
    import redis

    try:
        return redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False
