import re

import pytest
from django.core import mail
from django.urls import reverse

from revops.models import User
from tests.conftest import PASSWORD


def test_pages_need_a_login(client, db):
    for name in ("home", "profile"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_login_takes_the_user_home(client, rep):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b'name="username"' in page.content
    response = client.post(reverse("login"), {"username": "REP@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    home = client.get(reverse("home"))
    assert "Rita Rep" in home.content.decode()
    assert "Sales North" in home.content.decode()


def test_a_wrong_password_is_refused_with_a_message(client, rep):
    response = client.post(reverse("login"), {"username": rep.email, "password": "nope"})
    assert response.status_code == 200
    assert "correct e-mail and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout_ends_the_session(client_for, rep):
    client = client_for(rep)
    assert client.get(reverse("home")).status_code == 200
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302


def test_a_password_change_ends_every_other_session_of_the_user(rep):
    from django.test import Client

    here, elsewhere = Client(), Client()
    for client in (here, elsewhere):
        assert (
            client.post(
                reverse("login"), {"username": rep.email, "password": "secret-pass-123"}
            ).status_code
            == 302
        )
    assert elsewhere.get(reverse("home")).status_code == 200
    changed = here.post(
        reverse("password_change"),
        {
            "old_password": "secret-pass-123",
            "new_password1": "a-new-long-passphrase-77",
            "new_password2": "a-new-long-passphrase-77",
        },
    )
    assert changed.status_code == 302
    assert here.get(reverse("home")).status_code == 200  # the one who changed it stays in
    assert elsewhere.get(reverse("home")).status_code == 302  # the other is signed out


def test_password_reset_by_email(client, rep):
    response = client.post(reverse("password_reset"), {"email": "rep@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/password/reset/\S+/)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200
    set_url = form.redirect_chain[-1][0]
    new = "A-new-passw0rd!"
    done = client.post(set_url, {"new_password1": new, "new_password2": new})
    assert done.status_code == 302
    rep.refresh_from_db()
    assert rep.check_password("A-new-passw0rd!")


def test_password_reset_for_an_unknown_address_reveals_nothing(client, db):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_the_team_shows_on_the_home_page_in_few_queries(
    client_for, rep, teammate, django_assert_max_num_queries
):
    client = client_for(rep)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("home"))
    body = response.content.decode()
    assert "Tom Mate" in body and "Rita Rep" in body


def test_home_lists_teammates_only(client_for, rep, teammate, other_team_rep):
    body = client_for(rep).get(reverse("home")).content.decode()
    assert "Tom Mate" in body
    assert "Otto Other" not in body


def test_profile_changes_language_and_calendar(client_for, rep):
    client = client_for(rep)
    response = client.post(
        reverse("profile"), {"full_name": "Rita R.", "language": "fa", "calendar": "jalali"}
    )
    assert response.status_code == 302
    rep.refresh_from_db()
    assert (rep.full_name, rep.language, rep.calendar) == ("Rita R.", "fa", "jalali")
    page = client.get(reverse("home")).content.decode()
    assert '<html lang="fa" dir="rtl">' in page


def test_a_bad_profile_is_shown_again_with_errors_and_nothing_saved(client_for, rep):
    client = client_for(rep)
    response = client.post(
        reverse("profile"), {"full_name": "   ", "language": "xx", "calendar": "mayan"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('class="field-error"') == 3
    rep.refresh_from_db()
    assert (rep.full_name, rep.language, rep.calendar) == ("Rita Rep", "en", "")


def test_the_language_switch_remembers_the_choice(client_for, rep):
    client = client_for(rep)
    response = client.post(reverse("language-set"), {"language": "fa", "next": "/profile/"})
    assert response.status_code == 302
    assert response["Location"] == "/profile/"
    assert User.objects.get(pk=rep.pk).language == "fa"
    assert '<html lang="fa" dir="rtl">' in client.get(reverse("home")).content.decode()


def test_the_language_switch_refuses_other_sites_and_unknown_languages(client, db):
    away = client.post(reverse("language-set"), {"language": "fa", "next": "https://evil.test/"})
    assert away["Location"] == "/"
    assert client.post(reverse("language-set"), {"language": "klingon"}).status_code == 400


def test_anonymous_visitors_get_their_browsers_language(client, db):
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="fa-IR,fa;q=0.9")
    assert '<html lang="fa" dir="rtl">' in page.content.decode()
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-US")
    assert '<html lang="en" dir="ltr">' in page.content.decode()


def test_navigation_follows_the_role(client_for, rep, admin_user):
    assert "/admin/" not in client_for(rep).get(reverse("home")).content.decode()
    assert "/admin/" in client_for(admin_user).get(reverse("home")).content.decode()


@pytest.mark.parametrize("path", ["/", "/login/", "/profile/"])
def test_every_page_carries_a_strict_content_security_policy(client_for, rep, path):
    response = client_for(rep).get(path, follow=True)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy
    assert "unsafe-inline" not in policy
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    body = response.content.decode()
    # Every script is either a file of ours or carries this response's nonce.
    for tag in re.findall(r"<script\b[^>]*>", body):
        assert "src=" in tag or f'nonce="{nonce}"' in tag, tag
    assert " onclick=" not in body and "hx-on" not in body


def test_the_api_says_who_you_are(client_for, rep):
    data = client_for(rep).get("/api/v1/me/").json()
    assert data["email"] == "rep@example.com"
    assert data["role"] == "rep"
    assert data["team_name"] == "Sales North"


def test_the_api_needs_authentication(client, db):
    assert client.get("/api/v1/me/").status_code in (401, 403)


def test_the_api_docs_are_served_from_our_own_static_files(client, db):
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    scripts = re.findall(r'<script src="([^"]+)"', page.content.decode())
    assert scripts and all(src.startswith("/") for src in scripts)
    assert client.get("/api/v1/schema/").status_code == 200
