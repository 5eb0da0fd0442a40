"""Production settings pass Django's deployment checks; the API limits each user's rate."""

import secrets
import subprocess
import sys

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token

from revops.settings import BASE_DIR
from tests.conftest import subprocess_env


@pytest.mark.django_db
def test_check_deploy_is_clean_with_production_settings():
    env = {
        **subprocess_env(),
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "DJANGO_ALLOWED_HOSTS": "crm.example.com",
        "EMAIL_URL": "smtp://mail.example.com:587",
    }
    # What the test run sets for itself (the browser tests allow sync calls from async).
    for name in ("DJANGO_SECURE", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout + result.stderr


@pytest.mark.django_db
def test_each_user_has_their_own_api_rate(client, rep, marketer, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "3/minute"},
    }
    cache.clear()
    token = Token.objects.create(user=rep)
    answers = [
        client.get("/api/v1/leads/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code
        for _ in range(4)
    ]
    assert answers == [200, 200, 200, 429]
    refused = client.get("/api/v1/leads/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "throttled" in refused.json()["detail"].lower()
    # Someone else's token is counted apart.
    other = Token.objects.create(user=marketer)
    assert client.get("/api/v1/leads/", HTTP_AUTHORIZATION=f"Token {other.key}").status_code == 200
    cache.clear()


class _DownCache:
    def get(self, *args, **kwargs):
        raise ConnectionError("Redis is down")

    set = get


@pytest.mark.django_db
def test_the_api_answers_when_the_cache_behind_its_rate_limit_is_down(client, rep, monkeypatch):
    from revops.throttling import TokenRateThrottle

    monkeypatch.setattr(TokenRateThrottle, "cache", _DownCache())
    token = Token.objects.create(user=rep)
    response = client.get("/api/v1/leads/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
