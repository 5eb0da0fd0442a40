"""Showing KPI values the way their unit asks."""

from decimal import Decimal

from django import template
from django.utils.translation import pgettext

from metrics.labels import KPI_LABELS, key_label
from revops import l10n

register = template.Library()


def _number(value, places: int) -> str:
    return l10n.format_number(value, places)


@register.filter
def kpi_value(value, unit: str) -> str:
    """1,250,000.00 · 31.25% · 41.5 · 15; "—" when there is no value."""
    if value is None or value == "":
        return "—"
    if unit == "ratio":
        return _number(Decimal(value) * 100, 2) + ("٪" if l10n.display().persian_digits else "%")
    if unit == "days":
        return _number(value, 1)
    if unit == "count":
        return _number(value, 0)
    # Money in the base currency, its own way (Rial without decimals, or Toman).
    from revops.models import Organisation

    return l10n.money_number(value, Organisation.get().base_currency)


@register.filter
def kpi_change(value, unit: str) -> str:
    """A signed change: +1,200.00 · −3.10 pts (ratios move in percentage points)."""
    if value is None:
        return ""
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    magnitude = abs(Decimal(value))
    if unit == "ratio":
        # Translators: percentage points, the change of a ratio.
        points = pgettext("percentage points", "pp")
        return f"{sign}{_number(magnitude * 100, 2)} {points}"
    return sign + kpi_value(magnitude, unit)


@register.filter
def percent(value) -> str:
    if value is None:
        return ""
    return _number(Decimal(value) * 100, 1) + ("٪" if l10n.display().persian_digits else "%")


@register.simple_tag
def money_unit() -> str:
    """The unit the dashboard's amounts are in."""
    from revops.models import Organisation

    return l10n.money_unit(Organisation.get().base_currency)


@register.filter
def kpi_label(key: str) -> str:
    return KPI_LABELS.get(key, key)


@register.filter
def breakdown_label(key: str) -> str:
    return key_label(key)


@register.filter
def at(sequence, index):
    try:
        return sequence[int(index)]
    except (IndexError, KeyError, TypeError, ValueError):
        return None
