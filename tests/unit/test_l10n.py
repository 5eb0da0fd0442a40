"""Dates, numbers and money both ways: shown the reader's way, typed any way."""

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import pytest
from django.utils import translation

from revops import l10n


@pytest.fixture
def persian():
    with translation.override("fa"):
        token = l10n.use_display(l10n.Display(calendar="jalali", persian_digits=True))
        yield
        l10n.reset_display(token)


@pytest.fixture
def english():
    with translation.override("en"):
        token = l10n.use_display(l10n.Display(calendar="gregorian"))
        yield
        l10n.reset_display(token)


def test_dates_in_jalali_with_persian_digits(persian):
    assert l10n.format_day(date(2026, 6, 30)) == "۱۴۰۵/۰۴/۰۹"
    assert l10n.format_day(date(2025, 3, 20)) == "۱۴۰۳/۱۲/۳۰"  # Esfand 30 of a leap year
    assert l10n.format_day(date(2026, 3, 21)) == "۱۴۰۵/۰۱/۰۱"  # Nowruz
    assert l10n.format_day(None) == ""


def test_dates_in_gregorian(english):
    assert l10n.format_day(date(2026, 6, 30)) == "2026-06-30"
    assert l10n.format_moment(datetime(2026, 6, 30, 14, 5)) == "2026-06-30 14:05"


def test_numbers_and_money_the_readers_way(persian):
    assert l10n.format_number(Decimal("1250000.5"), 2) == "۱٬۲۵۰٬۰۰۰٫۵۰"
    assert l10n.format_number(-1234, 0) == "−۱٬۲۳۴"
    assert l10n.format_money(Decimal("12500000"), "IRR") == "۱۲٬۵۰۰٬۰۰۰ ریال"
    assert l10n.format_money(Decimal("19.999"), "USD") == "۲۰٫۰۰ USD"
    token = l10n.use_display(l10n.Display(calendar="jalali", persian_digits=True, toman=True))
    try:
        assert l10n.format_money(Decimal("12500000"), "IRR") == "۱٬۲۵۰٬۰۰۰ تومان"
        assert l10n.format_money(Decimal("10"), "EUR") == "۱۰٫۰۰ EUR"  # only Rial turns Toman
    finally:
        l10n.reset_display(token)


def test_money_in_english(english):
    assert l10n.format_money(Decimal("12500000"), "IRR") == "12,500,000 rial"
    assert l10n.format_money(Decimal("1250.5"), "USD") == "1,250.50 USD"
    assert l10n.format_number(Decimal("0.005"), 2) == "0.01"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1,250.50", Decimal("1250.50")),
        ("۱٬۲۵۰٫۵۰", Decimal("1250.50")),
        ("١٢٥٠", Decimal("1250")),  # Arabic-Indic digits
        ("1 250 000", Decimal("1250000")),
        ("  42 ", Decimal("42")),
        ("-3.5", Decimal("-3.5")),
    ],
)
def test_amounts_typed_any_way(typed, expected):
    assert l10n.parse_amount(typed) == expected


@pytest.mark.parametrize("typed", ["1,25", "1.2.3", "12,34,567", "abc", "1e5x", "NaN", ""])
def test_ambiguous_amounts_are_refused(typed):
    with pytest.raises((InvalidOperation, ValueError)):
        l10n.parse_amount(typed)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2026-06-30", date(2026, 6, 30)),
        ("1405/04/09", date(2026, 6, 30)),
        ("۱۴۰۵/۰۴/۰۹", date(2026, 6, 30)),
        ("1403/12/30", date(2025, 3, 20)),
        ("1405-1-1", date(2026, 3, 21)),
    ],
)
def test_dates_typed_in_either_calendar(typed, expected):
    assert l10n.parse_day(typed) == expected


@pytest.mark.parametrize(
    "typed", ["1404/12/30", "2026-02-30", "30/06/2026", "tomorrow", "1405/13/01"]
)
def test_impossible_dates_are_refused(typed):
    # 1404 is a common year: Esfand has 29 days.
    with pytest.raises(ValueError):
        l10n.parse_day(typed)


def test_the_date_input_shows_the_readers_calendar(persian):
    assert l10n.input_day(date(2026, 6, 30)) == "1405/04/09"


def test_pages_get_persian_digits_in_their_text_only():
    html = (
        '<p title="3 items">Page 2 of 1,250 — rep2@example.com, opp-3f2a</p>'
        "<script>let n = 12;</script><code class=\"verbatim\">'2025-02-30'</code>"
    )
    assert l10n.persian_digits_html(html) == (
        '<p title="3 items">Page ۲ of ۱٬۲۵۰ — rep2@example.com, opp-3f2a</p>'
        "<script>let n = 12;</script><code class=\"verbatim\">'2025-02-30'</code>"
    )
