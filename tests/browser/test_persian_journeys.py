"""A Persian rep's and a Persian executive's working day on the Persian demo organisation
(Rial, Jalali): every main page right to left, nothing wider than the screen, navigation
on the right, Persian digits and Jalali dates."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from crm.models import Account
from metrics.services import kpi_recompute_day
from pipeline.models import Opportunity
from revops.models import User

from .test_smoke import log_in

WIDTH = 1280


@pytest.fixture
def persian_demo(transactional_db):
    call_command(
        "seed_demo", "--locale", "fa", "--no-history", stdout=StringIO(), stderr=StringIO()
    )
    kpi_recompute_day()
    rep = User.objects.get(email="rep@daramad.example")
    return {
        "rep": rep,
        "deal": Opportunity.objects.filter(owner=rep).order_by("-amount").first(),
        "account": Account.objects.filter(subscriptions__isnull=False).first(),
    }


def _check_rtl_page(page, screenshot, name, numbers=True):
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "fa")
    brand = page.locator(".brand").bounding_box()
    assert brand["x"] > WIDTH / 2, f"{name}: the brand sits on the right"
    overflow = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(
        """() => {
            const scrolls = e => { for (let p = e.parentElement; p; p = p.parentElement) {
                if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX))
                    return true; } return false; };
            return [...document.querySelectorAll('main *')]
                .filter(e => { const r = e.getBoundingClientRect();
                    return r.width && (r.left < -1 || r.right > innerWidth + 1) && !scrolls(e); })
                .slice(0, 5).map(e => `${e.tagName}.${e.className}`); }"""
    )
    assert overflow <= WIDTH and not wide, f"{name}: {overflow}px wide: {wide}"
    if numbers:
        text = page.locator("main").inner_text()
        assert any("\u06f0" <= ch <= "\u06f9" for ch in text), f"{name}: Persian digits"
    screenshot(page, f"fa-{name}")


def test_a_persian_rep_works_through_the_day(new_page, persian_demo, screenshot):
    page = new_page("fa-IR")
    log_in(page, "rep@daramad.example", "demo")
    for name, path in (
        ("home", "/"),
        ("board", "/board/"),
        ("deals", "/deals/"),
        ("deal", persian_demo["deal"].get_absolute_url()),
        ("accounts", "/accounts/"),
        ("account", persian_demo["account"].get_absolute_url()),
        ("leads", "/leads/"),
        ("dashboard-sales", "/dashboards/sales/"),
    ):
        page.goto(path)
        expect(page.locator(".loading")).to_have_count(0)
        _check_rtl_page(page, screenshot, f"rep-{name}", numbers=name != "home")
    # The deal reads in Rial and Jalali, and its form takes a Jalali date.
    page.goto(persian_demo["deal"].get_absolute_url())
    expect(page.locator("main")).to_contain_text("ریال")
    page.goto(f"{persian_demo['deal'].get_absolute_url()}edit/")
    field = page.locator("input[name=expected_close_on]")
    expect(field).to_have_attribute("placeholder", "1405/04/09")
    field.fill("۱۴۰۵/۰۶/۱۵")
    page.locator("#record-form button.primary").click()
    expect(page).to_have_url(re.compile(r"/deals/\d+/$"))
    expect(page.locator("main")).to_contain_text("۱۴۰۵/۰۶/۱۵")
    persian_demo["deal"].refresh_from_db()
    assert persian_demo["deal"].expected_close_on.isoformat() == "2026-09-06"


def test_a_persian_executive_reads_the_dashboards(new_page, persian_demo, screenshot):
    page = new_page("fa-IR")
    log_in(page, "exec@daramad.example", "demo")
    for kind in ("executive", "sales", "marketing", "cs"):
        page.goto(f"/dashboards/{kind}/")
        expect(page.locator("#block-cards .kpi-card").first).to_be_visible()
        expect(page.locator(".loading")).to_have_count(0)
        # Jalali periods in the picker, named in Persian.
        options = page.locator("select[name=start] option").all_inner_texts()
        assert any(name in " ".join(options) for name in ("آذر", "آبان", "مهر")), options
        _check_rtl_page(page, screenshot, f"executive-{kind}")
