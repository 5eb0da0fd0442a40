"""How dates, numbers and money read for the person looking: Jalali or Gregorian dates,
Persian or Latin digits, Rial without decimals and, on request, in Toman.

`UserPreferencesMiddleware` sets the viewer's `Display` for the request; outside a request
the active language decides the digits and the organisation's calendar the dates. Parsing
goes the other way: inputs accept Persian and Arabic digits, Persian and Latin separators,
and Jalali or Gregorian dates (a year before 1700 is Jalali: there is no ambiguity).
"""

from __future__ import annotations

import contextvars
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import jdatetime
from django.utils import timezone, translation

from .text import digits_to_latin

PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
# Decimal places of currencies that have none in practice (ISO 4217 minor units).
NO_MINOR_UNITS = {"IRR", "JPY", "KRW", "VND", "CLP", "ISK", "UGX", "IQD"}
JALALI_MONTHS_FA = [
    "فروردین",
    "اردیبهشت",
    "خرداد",
    "تیر",
    "مرداد",
    "شهریور",
    "مهر",
    "آبان",
    "آذر",
    "دی",
    "بهمن",
    "اسفند",
]
JALALI_MONTHS_EN = [
    "Farvardin",
    "Ordibehesht",
    "Khordad",
    "Tir",
    "Mordad",
    "Shahrivar",
    "Mehr",
    "Aban",
    "Azar",
    "Dey",
    "Bahman",
    "Esfand",
]


@dataclass(frozen=True)
class Display:
    calendar: str = "gregorian"
    persian_digits: bool = False
    toman: bool = False

    @property
    def persian(self) -> bool:
        return translation.get_language() == "fa"


_display: contextvars.ContextVar[Display | None] = contextvars.ContextVar("display", default=None)


def display() -> Display:
    current = _display.get()
    if current is not None:
        return current
    from .models import Organisation

    return Display(
        calendar=Organisation.get().calendar,
        persian_digits=translation.get_language() == "fa",
    )


def display_for(user) -> Display:
    persian = translation.get_language() == "fa"
    return Display(
        calendar=user.effective_calendar,
        persian_digits=persian and not user.latin_digits,
        toman=user.toman,
    )


def use_display(value: Display):
    """Set the display for this context (a request); returns the token to reset it."""
    return _display.set(value)


def reset_display(token) -> None:
    _display.reset(token)


def digits(text) -> str:
    """The text with Persian digits when the viewer reads them."""
    text = str(text)
    return text.translate(PERSIAN_DIGITS) if display().persian_digits else text


# --- Dates ------------------------------------------------------------------------------------


def format_day(value: date | datetime | None) -> str:
    """1405/04/09 (Jalali) or 2026-06-30 (Gregorian), in the viewer's digits."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    if display().calendar == "jalali":
        j = jdatetime.date.fromgregorian(date=value)
        text = f"{j.year:04d}/{j.month:02d}/{j.day:02d}"
    else:
        text = value.isoformat()
    return digits(text)


def format_moment(value: datetime | None) -> str:
    """The day and the local time, HH:MM."""
    if value is None or value == "":
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return f"{format_day(local.date())} {digits(local.strftime('%H:%M'))}"


def month_label(first: date, calendar: str) -> str:
    """The name of the month starting (or containing) `first`, in the active language."""
    persian = translation.get_language() == "fa"
    if calendar == "jalali":
        j = jdatetime.date.fromgregorian(date=first)
        names = JALALI_MONTHS_FA if persian else JALALI_MONTHS_EN
        return digits(f"{names[j.month - 1]} {j.year}")
    from django.utils.dates import MONTHS

    return digits(f"{MONTHS[first.month]} {first.year}")


_DATE = re.compile(r"^\s*(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})\s*$")


def parse_day(text: str) -> date:
    """A date typed as YYYY-MM-DD or YYYY/MM/DD, in any digits; a year before 1700 is read
    as Jalali. ValueError when it is no date."""
    match = _DATE.match(digits_to_latin(str(text)))
    if not match:
        raise ValueError(text)
    year, month, day = (int(part) for part in match.groups())
    if year < 1700:
        try:
            return jdatetime.date(year, month, day).togregorian()
        except (ValueError, TypeError) as error:
            raise ValueError(text) from error
    return date(year, month, day)


def input_day(value: date | None) -> str:
    """How a date input shows `value`: in the viewer's calendar, Latin digits (what the
    keyboard types either way), YYYY/MM/DD for Jalali and YYYY-MM-DD for Gregorian."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value
    if display().calendar == "jalali":
        j = jdatetime.date.fromgregorian(date=value)
        return f"{j.year:04d}/{j.month:02d}/{j.day:02d}"
    return value.isoformat()


# --- Numbers and money -----------------------------------------------------------------------


def format_number(value, places: int = 0) -> str:
    """Grouped by thousands, `places` decimals (half up), in the viewer's digits and
    separators (Persian: ٬ and ٫)."""
    if value is None or value == "":
        return ""
    number = Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "-" if number < 0 else ""
    whole, _dot, fraction = f"{abs(number):f}".partition(".")
    grouped = f"{int(whole):,}"
    if display().persian_digits:
        text = grouped.replace(",", "٬") + (f"٫{fraction}" if fraction else "")
        return ("−" if sign else "") + text.translate(PERSIAN_DIGITS)
    return sign + grouped + (f".{fraction}" if fraction else "")


def currency_places(currency: str) -> int:
    return 0 if currency in NO_MINOR_UNITS else 2


def format_money(amount, currency: str, *, places: int | None = None) -> str:
    """An amount in its currency's own way: IRR without decimals (or in Toman, ÷10, when
    the viewer asked for it, labelled so), others with their decimals and ISO code."""
    if amount is None or amount == "":
        return "—"
    return f"{money_number(amount, currency, places=places)} {money_unit(currency)}"


def money_number(amount, currency: str, *, places: int | None = None) -> str:
    """The amount's number alone, as `format_money` shows it (Toman when asked)."""
    if amount is None or amount == "":
        return "—"
    amount = Decimal(amount)
    if currency == "IRR" and display().toman:
        return format_number(amount / 10, 0 if places is None else places)
    return format_number(amount, currency_places(currency) if places is None else places)


def money_unit(currency: str) -> str:
    """What the numbers of `money_number` count: toman, rial or the ISO code."""
    from django.utils.translation import gettext as _

    if currency == "IRR" and display().toman:
        return _("toman")
    return currency_name(currency)


def currency_name(currency: str) -> str:
    from django.utils.translation import gettext as _

    if currency == "IRR":
        return _("rial")
    return currency


_SEPARATORS = {"٬": ",", "٫": ".", "،": ","}


def parse_amount(text: str) -> Decimal:
    """An amount typed with any digits and thousands separators: 1,250.50 · ۱٬۲۵۰٫۵۰ ·
    1 250. InvalidOperation when it is not a number."""
    cleaned = digits_to_latin(str(text)).strip()
    for persian, latin in _SEPARATORS.items():
        cleaned = cleaned.replace(persian, latin)
    cleaned = cleaned.replace("\u00a0", "").replace(" ", "").replace("\u066c", "")
    if cleaned.count(".") > 1:
        raise InvalidOperation(text)
    whole, _dot, fraction = cleaned.partition(".")
    if "," in whole:
        groups = whole.lstrip("-").split(",")
        if not groups[0] or any(len(g) != 3 for g in groups[1:]) or len(groups[0]) > 3:
            raise InvalidOperation(text)
        whole = whole.replace(",", "")
    if "," in fraction:
        raise InvalidOperation(text)
    value = Decimal(f"{whole}.{fraction}" if fraction else whole)
    if not value.is_finite():
        raise InvalidOperation(text)
    return value


# Text that must keep its digits: code, scripts, styles and what a user edits.
_VERBATIM = re.compile(r"(<(script|style|textarea|pre|code)\b.*?</\2\s*>)", re.S | re.IGNORECASE)
_TAG = re.compile(r"(<[^>]*>)")
# A run of digits that is a number on its own, not part of a word, an e-mail or an id
# (rep2@…, opp-3f2a…): those keep their Latin digits.
_NUMBER = re.compile(r"(?<![A-Za-z0-9@_\-.'\"])\d+(?:[,.]\d+)*(?![A-Za-z@_\d'\"])")
_NUMBER_TABLE = str.maketrans({**{str(d): chr(0x06F0 + d) for d in range(10)}, ",": "٬", ".": "٫"})


def persian_digits_html(html: str) -> str:
    """An HTML page with Persian digits in its text (never in tags, attributes, scripts,
    styles, editable text or code), for readers of the Persian interface."""
    out = []
    for index, part in enumerate(_VERBATIM.split(html)):
        if index % 3 == 2:
            continue  # the tag name captured by the group
        if index % 3 == 1:
            out.append(part)
            continue
        for piece in _TAG.split(part):
            if piece.startswith("<"):
                out.append(piece)
            else:
                out.append(_NUMBER.sub(lambda m: m.group(0).translate(_NUMBER_TABLE), piece))
    return "".join(out)
