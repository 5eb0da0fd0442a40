"""An executive reads the dashboards, in English and in Persian: picks last June, reads a
card, opens the records behind it; the other dashboards load with their charts."""

from datetime import date

import pytest
from playwright.sync_api import expect

from metrics.services import kpi_recompute_day
from revops.models import Team, User
from tests.integration.metrics.world import build

from .conftest import shown
from .test_smoke import log_in


@pytest.fixture
def world(transactional_db):
    sales = Team.objects.create(name="Sales Tehran", kind=Team.Kind.SALES)
    other = Team.objects.create(name="Sales Europe", kind=Team.Kind.SALES)
    revops = Team.objects.create(name="Revenue Operations", kind=Team.Kind.REVOPS)
    rep = User.objects.create_user(
        "rep@daramad.example", "demo", full_name="Sara Rahimi", team=sales
    )
    teammate = User.objects.create_user(
        "rep2@daramad.example", "demo", full_name="Omid Nazari", team=sales
    )
    other_rep = User.objects.create_user(
        "rep.eu@daramad.example", "demo", full_name="Lukas Weber", team=other
    )
    for email, name, language in (
        ("exec@daramad.example", "Shirin Karimi", "en"),
        ("exec.fa@daramad.example", "شیرین کریمی", "fa"),
    ):
        User.objects.create_user(
            email, "demo", full_name=name, team=revops, role=User.Role.EXECUTIVE, language=language
        )
    build(rep, teammate, other_rep)
    for day in (date(2026, 5, 31), date(2026, 6, 1), date(2026, 6, 30)):
        kpi_recompute_day(day)
    kpi_recompute_day()


def _read_june_and_drill(page, screenshot, name):
    page.goto("/dashboards/executive/")
    expect(page.locator("#block-cards .kpi-card").first).to_be_visible()
    page.locator("select[name=start]").select_option("2026-06-01")
    page.locator(".dashboard-pickers button[type=submit]").click()
    bookings = page.locator('.kpi-card[data-kpi="bookings"]').first
    expect(bookings.locator(".kpi-value")).to_contain_text(shown("1,850.00", name))
    expect(page.locator("#block-waterfall svg")).to_be_visible()
    expect(page.locator("#block-trend svg")).to_be_visible()
    screenshot(page, f"dashboard-executive-{name}")
    bookings.locator(".kpi-foot a").click()
    expect(page.locator("[data-total]")).to_have_attribute("data-total", "1850.00")
    expect(page.locator("table tbody tr")).to_have_count(4)
    screenshot(page, f"dashboard-records-{name}")
    # Every other dashboard: pick June from the period picker, open a card's records.
    for kind, card in (("sales", "bookings"), ("marketing", "mqls"), ("cs", "churned_mrr")):
        page.goto(f"/dashboards/{kind}/")
        expect(page.locator("#block-cards .kpi-card").first).to_be_visible()
        page.locator("select[name=start]").select_option("2026-06-01")
        page.locator(".dashboard-pickers button[type=submit]").click()
        expect(page.locator(".dashboard-block .loading")).to_have_count(0)
        expect(page.locator('select[name=start] option[value="2026-06-01"]')).to_have_attribute(
            "selected", ""
        )
        screenshot(page, f"dashboard-{kind}-{name}")
        page.locator(f'#block-cards .kpi-card[data-kpi="{card}"] .kpi-foot a').click()
        expect(page.locator("h1")).to_be_visible()
        expect(page.locator("table tbody tr").first).to_be_visible()
        assert "/dashboards/records/" in page.url


def test_executive_reads_the_dashboards_in_english(new_page, world, screenshot):
    page = new_page("en-US")
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    log_in(page, "exec@daramad.example", "demo")
    _read_june_and_drill(page, screenshot, "en")
    assert not errors, errors


def test_executive_reads_the_dashboards_in_persian(new_page, world, screenshot):
    page = new_page("fa-IR")
    log_in(page, "exec.fa@daramad.example", "demo")
    page.goto("/dashboards/executive/")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    # Right to left: the title starts on the right, and the first card too.
    expect(page.locator("#block-cards .kpi-card").first).to_be_visible()
    title = page.locator("h1").bounding_box()
    first_card = page.locator("#block-cards .kpi-card").first.bounding_box()
    assert title["x"] + title["width"] > 1000
    assert first_card["x"] > 640
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, "nothing overflows the viewport"
    _read_june_and_drill(page, screenshot, "fa")
