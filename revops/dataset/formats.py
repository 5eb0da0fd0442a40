"""Reading and writing the cells of the dataset format (shared/spec/dataset.md).

Each parser takes the raw text of a cell and returns a Python value or raises
`CellError` with the reason shown to the user as `file:line: column: reason`.
"""

import codecs
import csv
import io
import re
from datetime import date
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from revops.currencies import is_currency
from revops.text import digits_to_latin


class CellError(ValueError):
    pass


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date(text: str) -> date:
    value = digits_to_latin(text.strip())
    if not _DATE.fullmatch(value):
        raise CellError(_("not a date in the form YYYY-MM-DD: %(text)s") % {"text": repr(text)})
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CellError(_("no such day: %(text)s") % {"text": repr(text)}) from None


def parse_decimal(text: str, *, places: int = 2, digits: int = 18, minimum=0) -> Decimal:
    """A decimal number with `.` (or `٫`) as its point; `,` or `٬` may group thousands only
    when the number also has a point, since `1,500` alone is ambiguous."""
    value = digits_to_latin(text.strip()).replace("٫", ".").replace("٬", ",")
    if "," in value:
        if "." not in value or value.rfind(",") > value.find("."):
            raise CellError(
                _("ambiguous number (use . for the decimal point): %(text)s") % {"text": repr(text)}
            )
        if not re.fullmatch(r"-?\d{1,3}(,\d{3})*\.\d*", value):
            raise CellError(_("not a number: %(text)s") % {"text": repr(text)})
        value = value.replace(",", "")
    if not re.fullmatch(r"-?\d+(\.\d+)?", value):
        raise CellError(_("not a number: %(text)s") % {"text": repr(text)})
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise CellError(_("not a number: %(text)s") % {"text": repr(text)}) from None
    whole, _point, fraction = value.lstrip("-").partition(".")
    if len(fraction) > places:
        raise CellError(
            _("more than %(places)s decimal places: %(text)s")
            % {"places": places, "text": repr(text)}
        )
    if len(whole.lstrip("0")) > digits:
        raise CellError(
            _("more than %(digits)s digits before the point: %(text)s")
            % {"digits": digits, "text": repr(text)}
        )
    if minimum is not None and number < minimum:
        raise CellError(_("negative: %(text)s") % {"text": repr(text)})
    return number


def parse_amount(text: str) -> Decimal:
    return parse_decimal(text, places=2)


def parse_rate(text: str) -> Decimal:
    return parse_decimal(text, places=12)


def parse_probability(text: str) -> Decimal:
    value = parse_decimal(text, places=12)
    if value > 1:
        raise CellError(_("a probability is between 0 and 1: %(text)s") % {"text": repr(text)})
    return value


def parse_int(text: str) -> int:
    value = digits_to_latin(text.strip())
    if not re.fullmatch(r"-?\d{1,9}", value):
        raise CellError(_("not a whole number: %(text)s") % {"text": repr(text)})
    return int(value)


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise CellError(_("not true or false: %(text)s") % {"text": repr(text)})
    return value == "true"


def parse_currency(text: str) -> str:
    value = text.strip()
    if not is_currency(value):
        raise CellError(_("unknown currency code: %(text)s") % {"text": repr(text)})
    return value


def parse_email(text: str) -> str:
    value = text.strip()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise CellError(_("not an e-mail address: %(text)s") % {"text": repr(text)})
    return value.lower()


def enum(*choices):
    def parse(text: str) -> str:
        value = text.strip()
        if value not in choices:
            raise CellError(
                _("unknown value %(text)s (expected one of %(choices)s)")
                % {"text": repr(text), "choices": ", ".join(choices)}
            )
        return value

    return parse


def text(limit: int):
    def parse(value: str) -> str:
        if len(value) > limit:
            raise CellError(_("longer than %(limit)s characters") % {"limit": limit})
        return value

    return parse


def open_csv(path):
    """A streaming DictReader over a CSV as spreadsheets write them: UTF-8 with or without
    a BOM, UTF-16 with a BOM, `,` or `;` separated, any line endings."""
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller through the returned handle
    head = raw.read(4)
    raw.seek(0)
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    stream = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")
    first = stream.readline()
    stream.seek(0)
    delimiter = ";" if first.count(";") > first.count(",") else ","
    return stream, csv.DictReader(stream, delimiter=delimiter)


def format_cell(value) -> str:
    """The canonical text of a value, as export_dataset writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        number = format(value, "f")
        return number.rstrip("0").rstrip(".") if "." in number else number
    return str(value)
