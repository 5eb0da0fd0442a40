"""Calendar periods: Gregorian and Jalali months, quarters and years.

A Jalali quarter is three Jalali months starting at Farvardin 1, Tir 1, Mehr 1 and Dey 1;
a Jalali year starts at Farvardin 1 (Nowruz). Every boundary is returned as a Gregorian
`date`, which is what the database stores.
"""

from datetime import date, timedelta

import jdatetime

GRAINS = ("month", "quarter", "year")
CALENDARS = ("gregorian", "jalali")


def _gregorian_start(grain: str, day: date) -> date:
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def _jalali_start(grain: str, day: date) -> date:
    j = jdatetime.date.fromgregorian(date=day)
    if grain == "month":
        start = jdatetime.date(j.year, j.month, 1)
    elif grain == "quarter":
        start = jdatetime.date(j.year, 3 * ((j.month - 1) // 3) + 1, 1)
    else:
        start = jdatetime.date(j.year, 1, 1)
    return start.togregorian()


def period_start(grain: str, day: date, calendar: str = "gregorian") -> date:
    if grain not in GRAINS or calendar not in CALENDARS:
        raise ValueError(f"unknown period {grain!r} / calendar {calendar!r}")
    return (_jalali_start if calendar == "jalali" else _gregorian_start)(grain, day)


def next_period_start(grain: str, day: date, calendar: str = "gregorian") -> date:
    """The first day of the period after the one containing `day`."""
    start = period_start(grain, day, calendar)
    # Jump past the longest possible period, then come back to its start.
    jump = {"month": 32, "quarter": 93, "year": 367}[grain]
    return period_start(grain, start + timedelta(days=jump), calendar)


def current_period(grain: str, day: date, calendar: str = "gregorian") -> tuple[date, date]:
    """(first day, last day) of the period containing `day`."""
    return period_start(grain, day, calendar), next_period_start(grain, day, calendar) - timedelta(
        days=1
    )


def periods_of_year(grain: str, day: date, calendar: str = "gregorian") -> list[tuple[date, date]]:
    """The months or quarters of the year containing `day`, as (first, last) pairs."""
    start = period_start("year", day, calendar)
    end = next_period_start("year", day, calendar)
    periods = []
    while start < end:
        first, last = current_period(grain, start, calendar)
        periods.append((first, last))
        start = last + timedelta(days=1)
    return periods


def period_label(grain: str, first: date, calendar: str = "gregorian") -> str:
    """The period's name in the active language: "Khordad 1405" / "خرداد ۱۴۰۵", "Q1 1405",
    "Jun 2026", "2026"."""
    from django.utils.translation import gettext as _

    from revops.l10n import digits, month_label

    if calendar == "jalali":
        j = jdatetime.date.fromgregorian(date=first)
        year, quarter = j.year, (j.month - 1) // 3 + 1
    else:
        year, quarter = first.year, (first.month - 1) // 3 + 1
    if grain == "month":
        return month_label(first, calendar)
    if grain == "quarter":
        return digits(_("Q%(quarter)s %(year)s") % {"quarter": quarter, "year": year})
    return digits(str(year))
