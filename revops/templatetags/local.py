"""Template filters for dates, numbers and money the viewer's way (revops/l10n.py); loaded
as builtins, so every template has them."""

from django import template

from revops import l10n

register = template.Library()


@register.filter
def day(value) -> str:
    """{{ deal.closed_on|day }} → 1405/04/09 or 2026-06-30."""
    return l10n.format_day(value)


@register.filter
def moment(value) -> str:
    """{{ handoff.created_at|moment }} → the local day and HH:MM."""
    return l10n.format_moment(value)


@register.filter
def isolate(value) -> str:
    """{% blocktranslate with day=deal.closed_on|day|isolate %}: the value in a <bdi>, so a
    date such as ۲۰۲۶-۱۱-۲۸ inside a Persian sentence is not drawn backwards (after Arabic
    letters, the bidi algorithm would reorder its hyphen-separated parts)."""
    from django.utils.html import format_html

    return format_html("<bdi>{}</bdi>", value)


@register.filter
def num(value, places=0) -> str:
    """{{ count|num }} · {{ score|num:1 }}: grouped, in the viewer's digits."""
    if value is None or value == "":
        return ""
    return l10n.format_number(value, int(places))


@register.filter
def money(value, currency) -> str:
    """{{ deal.amount|money:deal.currency }} → 1,250.00 USD · ۱۲٬۵۰۰٬۰۰۰ ریال."""
    return l10n.format_money(value, currency)


@register.filter
def money0(value, currency) -> str:
    """The same without decimals (board cards, column totals)."""
    return l10n.format_money(value, currency, places=0)


@register.filter
def digits(value) -> str:
    """Any text with the viewer's digits."""
    if value is None:
        return ""
    return l10n.digits(value)


@register.simple_tag
def date_input_attributes():
    """The attributes of a hand-written date <input>: the browser's picker for Gregorian
    readers, a text box taking YYYY/MM/DD for Jalali ones (revops.forms_utils does the same
    for form fields)."""
    from django.utils.safestring import mark_safe

    if l10n.display().calendar == "jalali":
        return mark_safe('type="text" placeholder="1405/04/09" inputmode="numeric" dir="ltr"')
    return mark_safe('type="date"')
