"""Gregorian and Jalali periods (metrics/periods.py), at the boundaries that matter."""

from datetime import date

import pytest

from metrics.periods import current_period, period_start


@pytest.mark.parametrize(
    ("day", "grain", "expected"),
    [
        (date(2026, 3, 21), "year", (date(2026, 3, 21), date(2027, 3, 20))),  # Nowruz 1405
        (date(2026, 3, 20), "year", (date(2025, 3, 21), date(2026, 3, 20))),  # Esfand 29, 1404
        (date(2026, 3, 20), "month", (date(2026, 2, 20), date(2026, 3, 20))),
        # 1403 is a leap year: Esfand has 30 days and ends on 2025-03-20.
        (date(2025, 3, 20), "month", (date(2025, 2, 19), date(2025, 3, 20))),
        (date(2025, 3, 20), "year", (date(2024, 3, 20), date(2025, 3, 20))),
        (date(2025, 3, 21), "quarter", (date(2025, 3, 21), date(2025, 6, 21))),
        (date(2026, 6, 21), "quarter", (date(2026, 3, 21), date(2026, 6, 21))),  # Khordad 31
        (date(2026, 6, 22), "quarter", (date(2026, 6, 22), date(2026, 9, 22))),  # Tir 1
        (date(2026, 9, 23), "quarter", (date(2026, 9, 23), date(2026, 12, 21))),  # Mehr 1
        (date(2026, 12, 22), "quarter", (date(2026, 12, 22), date(2027, 3, 20))),  # Dey 1
    ],
)
def test_jalali_periods(day, grain, expected):
    assert current_period(grain, day, "jalali") == expected


@pytest.mark.parametrize(
    ("day", "grain", "expected"),
    [
        (date(2026, 6, 17), "month", (date(2026, 6, 1), date(2026, 6, 30))),
        (date(2024, 2, 29), "month", (date(2024, 2, 1), date(2024, 2, 29))),
        (date(2026, 6, 30), "quarter", (date(2026, 4, 1), date(2026, 6, 30))),
        (date(2026, 12, 31), "year", (date(2026, 1, 1), date(2026, 12, 31))),
    ],
)
def test_gregorian_periods(day, grain, expected):
    assert current_period(grain, day, "gregorian") == expected


def test_unknown_grain_or_calendar_is_refused():
    with pytest.raises(ValueError):
        period_start("week", date(2026, 1, 1))
    with pytest.raises(ValueError):
        period_start("month", date(2026, 1, 1), "hijri")
