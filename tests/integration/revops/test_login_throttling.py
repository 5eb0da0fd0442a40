"""Sign-in throttling (django-axes): wrong passwords lock one e-mail on one address out for a
while, with a page that says so; nobody else is locked out with them."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client, email, password, address="203.0.113.7"):
    return client.post(
        reverse("login"), {"username": email, "password": password}, REMOTE_ADDR=address
    )


def test_five_wrong_passwords_lock_that_email_on_that_address(client, rep, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    for attempt in range(4):
        refused = sign_in(client, rep.email, f"wrong-{attempt}")
        assert refused.status_code == 200
        assert "correct e-mail and password" in refused.content.decode()
    # The fifth failure locks, whatever the case of the address typed.
    locked = sign_in(client, rep.email.upper(), "wrong-4")
    assert locked.status_code == 429
    # From now on even the right password is refused, with the reason and the wait.
    refused = sign_in(client, rep.email, PASSWORD)
    page = refused.content.decode()
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in page and "15 minutes" in page
    assert 'name="username"' in page and rep.email in page
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("home")).status_code == 302


def test_a_lockout_leaves_everyone_else_alone(rep, teammate):
    attacker = Client()
    for attempt in range(5):
        sign_in(attacker, rep.email, f"wrong-{attempt}")
    assert sign_in(attacker, rep.email, PASSWORD).status_code == 429
    # Another user at the same address, and the same user from another address, sign in.
    assert sign_in(Client(), teammate.email, PASSWORD).status_code == 302
    assert sign_in(Client(), rep.email, PASSWORD, address="198.51.100.20").status_code == 302


def test_the_lock_lifts_after_the_cool_off(client, rep):
    for attempt in range(5):
        sign_in(client, rep.email, f"wrong-{attempt}")
    assert sign_in(client, rep.email, PASSWORD).status_code == 429
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )
    assert sign_in(client, rep.email, PASSWORD).status_code == 302


def test_a_success_before_the_limit_clears_the_count(rep):
    for attempt in range(4):
        sign_in(Client(), rep.email, f"wrong-{attempt}")
    assert sign_in(Client(), rep.email, PASSWORD).status_code == 302
    for attempt in range(4):
        assert sign_in(Client(), rep.email, f"again-{attempt}").status_code == 200
    assert sign_in(Client(), rep.email, PASSWORD).status_code == 302


def test_the_lockout_page_speaks_the_visitors_language(client, rep):
    for attempt in range(5):
        sign_in(client, rep.email, f"wrong-{attempt}")
    page = client.post(
        reverse("login"),
        {"username": rep.email, "password": PASSWORD},
        REMOTE_ADDR="203.0.113.7",
        HTTP_ACCEPT_LANGUAGE="fa",
    )
    assert page.status_code == 429
    html = page.content.decode()
    assert 'dir="rtl"' in html
    assert "Too many failed sign-ins" not in html
    assert "ورود ناموفق" in html


def test_behind_tls_cookies_are_secure_and_hsts_is_sent(client, rep, settings):
    """Production settings (DJANGO_SECURE): HTTPS only, cookies never sent over HTTP."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    plain = client.get(reverse("login"))
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    assert client.get(reverse("healthz")).status_code == 200  # the probe stays on HTTP
    tls = {"HTTP_X_FORWARDED_PROTO": "https"}
    page = client.get(reverse("login"), **tls)
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert page.cookies["csrftoken"]["secure"]
    signed_in = client.post(reverse("login"), {"username": rep.email, "password": PASSWORD}, **tls)
    assert signed_in.status_code == 302
    session = signed_in.cookies[settings.SESSION_COOKIE_NAME]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"
