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
