"""Log in as a demo user and see the home page, in English and in Persian."""

import pytest
from playwright.sync_api import expect

from revops.models import Team, User


@pytest.fixture
def demo_rep(transactional_db):
    team = Team.objects.create(name="Sales Tehran", kind=Team.Kind.SALES)
    User.objects.create_user(
        "manager@daramad.example",
        "demo",
        full_name="Reza Tehrani",
        role=User.Role.MANAGER,
        team=team,
    )
    User.objects.create_user(
        "rep.fa@daramad.example", "demo", full_name="نگار محمدی", team=team, language="fa"
    )
    return User.objects.create_user(
        "rep@daramad.example", "demo", full_name="Sara Rahimi", team=team
    )


def log_in(page, email, password):
    page.goto("/login/")
    page.locator("input[name=username]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("button[type=submit].primary").click()


def test_log_in_and_see_home_in_english(new_page, demo_rep, screenshot):
    page = new_page("en-US")
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto("/login/")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    screenshot(page, "login-en")
    log_in(page, "rep@daramad.example", "demo")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Good to see you, Sara")
    expect(page.locator("table")).to_contain_text("Reza Tehrani")
    # Navigation sits on the left in a left-to-right page.
    brand = page.locator(".brand").bounding_box()
    assert brand["x"] < 640
    screenshot(page, "home-en")
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_log_in_and_see_home_in_persian(new_page, demo_rep, screenshot):
    page = new_page("fa-IR")
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto("/login/")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "fa")
    screenshot(page, "login-fa")
    log_in(page, "rep.fa@daramad.example", "demo")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.get_by_role("heading", level=1)).to_contain_text("نگار")
    # Right to left: the brand starts at the right edge, and nothing overflows the viewport.
    brand = page.locator(".brand").bounding_box()
    assert brand["x"] > 640
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280
    # The Persian font is served from our own static files.
    page.wait_for_function("document.fonts.check('16px Vazirmatn')", timeout=10_000)
    screenshot(page, "home-fa")
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_switch_language_from_the_top_bar(new_page, demo_rep, screenshot):
    page = new_page("en-US")
    log_in(page, "rep@daramad.example", "demo")
    page.get_by_role("button", name="فارسی").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    assert User.objects.get(pk=demo_rep.pk).language == "fa"
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
