"""Settings come from environment variables only; bad combinations stop the start."""

import runpy
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

SETTINGS = Path(__file__).resolve().parents[2] / "revops" / "settings.py"
VARS = [
    "DJANGO_DEBUG",
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "TIME_ZONE",
    "DJANGO_SECURE",
    "EMAIL_URL",
    "CELERY_KEY_PREFIX",
    "DATABASE_REPLICA_URL",
]


def load(monkeypatch, **env):
    for name in VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


def test_production_without_secret_key_refuses_to_start(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="DJANGO_SECRET_KEY"):
        load(monkeypatch, DJANGO_DEBUG="false")


def test_debug_without_secret_key_uses_a_development_key(monkeypatch):
    settings = load(monkeypatch, DJANGO_DEBUG="true")
    assert settings["DEBUG"] is True
    assert settings["SECRET_KEY"].startswith("insecure-")
    assert settings["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost", "[::1]"]


def test_production_values_come_from_the_environment(monkeypatch):
    settings = load(
        monkeypatch,
        DJANGO_SECRET_KEY="s3cret",
        DJANGO_ALLOWED_HOSTS="crm.example.com,api.example.com",
        DATABASE_URL="postgres://app:pw@db.internal:6543/revenue",
        REDIS_URL="redis://cache.internal:6380/2",
        TIME_ZONE="Europe/Berlin",
    )
    assert settings["DEBUG"] is False
    assert settings["SECRET_KEY"] == "s3cret"
    assert settings["ALLOWED_HOSTS"] == ["crm.example.com", "api.example.com"]
    database = settings["DATABASES"]["default"]
    assert (database["ENGINE"], database["NAME"], database["USER"], database["HOST"]) == (
        "django.db.backends.postgresql",
        "revenue",
        "app",
        "db.internal",
    )
    assert database["PORT"] == 6543
    assert settings["CELERY_BROKER_URL"] == "redis://cache.internal:6380/2"
    assert settings["CELERY_RESULT_BACKEND"] == "redis://cache.internal:6380/2"
    assert settings["TIME_ZONE"] == "Europe/Berlin"
    assert settings["MAILERS"]["default"]["BACKEND"].endswith("console.EmailBackend")
    # Behind TLS by default in production.
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["SECURE_HSTS_SECONDS"] > 0


def test_defaults_are_the_local_services_and_tehran_time(monkeypatch):
    settings = load(monkeypatch, DJANGO_DEBUG="true")
    database = settings["DATABASES"]["default"]
    assert (database["HOST"], database["PORT"], database["USER"]) == ("127.0.0.1", 5432, "postgres")
    assert settings["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert settings["TIME_ZONE"] == "Asia/Tehran"


def test_a_unix_socket_database_url_is_decoded(monkeypatch):
    settings = load(
        monkeypatch,
        DJANGO_DEBUG="true",
        DATABASE_URL="postgres://postgres@%2Fwork%2F.data%2Fpostgres/daramad",
    )
    assert settings["DATABASES"]["default"]["HOST"] == "/work/.data/postgres"


def test_smtp_comes_from_one_url(monkeypatch):
    settings = load(
        monkeypatch, DJANGO_DEBUG="true", EMAIL_URL="smtp+tls://bot:pw@smtp.example.com:587"
    )
    mailer = settings["MAILERS"]["default"]
    assert mailer["BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert mailer["OPTIONS"] == {
        "host": "smtp.example.com",
        "port": 587,
        "username": "bot",
        "password": "pw",
        "use_tls": True,
    }


def test_sqlite_is_refused(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="PostgreSQL"):
        load(monkeypatch, DJANGO_DEBUG="true", DATABASE_URL="sqlite:///db.sqlite3")


def test_celery_survives_a_dying_worker(monkeypatch):
    settings = load(monkeypatch, DJANGO_DEBUG="true")
    assert settings["CELERY_TASK_ACKS_LATE"] is True
    assert settings["CELERY_TASK_REJECT_ON_WORKER_LOST"] is True
    options = settings["CELERY_BROKER_TRANSPORT_OPTIONS"]
    # A dead worker's unacked task comes back within two minutes.
    sweep = options["unacked_restore_interval"] * options["unacked_restore_throttle"]
    assert options["visibility_timeout"] + sweep <= 120
    assert settings["CELERY_TASK_SERIALIZER"] == "json"
    assert settings["CELERY_ACCEPT_CONTENT"] == ["json"]


def test_content_security_policy_has_no_unsafe_inline(monkeypatch):
    settings = load(monkeypatch, DJANGO_DEBUG="true")
    policy = settings["SECURE_CSP"]
    for directive in ("script-src", "style-src", "default-src"):
        assert "'unsafe-inline'" not in policy[directive]
        assert "'unsafe-eval'" not in policy[directive]


def test_a_management_command_runs_without_a_secret_key(monkeypatch):
    monkeypatch.setenv("DARAMAD_COMMAND_LINE", "1")
    settings = load(monkeypatch, DJANGO_DEBUG="false")
    assert len(settings["SECRET_KEY"]) >= 50
    assert not settings["SECRET_KEY"].startswith("insecure-")
    assert settings["DEBUG"] is False


def test_a_replica_url_adds_the_replica_database(monkeypatch):
    settings = load(
        monkeypatch,
        DJANGO_DEBUG="true",
        DATABASE_URL="postgres://app:pw@primary.internal:5432/revenue",
        DATABASE_REPLICA_URL="postgres://app:pw@replica.internal:5432/revenue",
    )
    assert settings["DATABASES"]["replica"]["HOST"] == "replica.internal"
    assert settings["DATABASES"]["default"]["HOST"] == "primary.internal"
    assert settings["DATABASES"]["replica"]["TEST"] == {"MIRROR": "default"}
    assert "revops.db_router.ReplicaReadsMiddleware" in settings["MIDDLEWARE"]
    assert "replica" not in load(monkeypatch, DJANGO_DEBUG="true")["DATABASES"]
