"""Playwright drives Debian's Chromium (`playwright install` cannot download here)."""

import os
import shutil
from pathlib import Path

import pytest

# live_server runs Django in a thread beside Playwright's event loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = (
    os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def pytest_collection_modifyitems(config, items):
    if CHROMIUM:
        return
    # A conftest hook sees the whole session's items: skip only the browser tests.
    skip = pytest.mark.skip(reason="no Chromium: apt-get install -y chromium")
    for item in items:
        if "tests/browser/" in str(item.path).replace("\\", "/"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ARGS}


@pytest.fixture
def screenshot():
    """Save a full-page screenshot under test-artifacts/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name):
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def new_page(browser, live_server):
    """A page in a fresh browser context with the given locale, pointed at live_server."""
    contexts = []

    def open_page(locale="en-US"):
        context = browser.new_context(
            locale=locale, base_url=live_server.url, viewport={"width": 1280, "height": 800}
        )
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def shown(text: str, language: str) -> str:
    """`text` as a page in `language` shows it: Persian digits and separators in Persian."""
    if language != "fa":
        return text
    table = str.maketrans({**{str(d): chr(0x06F0 + d) for d in range(10)}, ",": "٬", ".": "٫"})
    return text.translate(table)


def sign_in(new_page, user, language):
    """A browser in the user's language (profile and locale), signed in through the login
    page, its page right to left in Persian."""
    from playwright.sync_api import expect

    from tests.conftest import PASSWORD

    user.language = language
    user.save(update_fields=["language"])
    page = new_page("fa-IR" if language == "fa" else "en-US")
    page.goto("/login/")
    page.locator("input[name=username]").fill(user.email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("button[type=submit].primary").click()
    expect(page.locator(".user-chip")).to_be_visible()
    html = page.locator("html")
    expect(html).to_have_attribute("dir", "rtl" if language == "fa" else "ltr")
    expect(html).to_have_attribute("lang", language)
    return page


def nav(page, path, lands_on=None):
    """Follow the top menu's link to `path`."""
    page.locator(f".mainnav a[href='{path}']").click()
    page.wait_for_url(f"**{lands_on or path}")


def fits(page):
    """Nothing wider than the 1280 px window: no sideways scrolling, in either direction."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280 + 1, f"the page is {width}px wide"


def words(language, en, fa):
    return fa if language == "fa" else en


def won_deal(rep):
    """Kian CRM (12,000 USD, 12 months, 1,200 one-time) for Kian Pardaz, taken to won by
    the rep through the services: the won deal's handoff to CS and draft subscription
    wait for a CS manager."""
    from django.utils import timezone

    from crm.models import Account
    from pipeline import services
    from pipeline.models import Opportunity
    from tests.factories import default_stages

    stages = default_stages()
    account = Account.objects.create(name="Kian Pardaz", domain="kian.ir", owner=rep)
    deal = services.opportunity_create(
        opportunity=Opportunity(
            account=account,
            name="Kian CRM",
            owner=rep,
            stage=stages["Negotiation"],
            amount=12000,
            one_time_amount=1200,
            contract_months=12,
            currency="USD",
        ),
        by=rep,
    )
    return services.opportunity_move(
        opportunity_id=deal.pk,
        stage=stages["Closed won"],
        by=rep,
        expected_version=deal.version,
        closed_on=timezone.localdate(),
    )
