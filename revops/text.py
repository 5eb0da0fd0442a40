"""One normalisation for every comparison of text: search, import, duplicate detection.

Persian text reaches us in several spellings of the same word: Arabic ي/ى and ك where
Persian has ی and ک, Persian (۰–۹) or Arabic (٠–٩) digits, a zero-width non-joiner
(می‌خواهم) or none (میخواهم), Arabic diacritics and the tatweel stretch. Latin text differs
by case. `normalize()` maps them all to one form; `Normalized()` is the same mapping as a
SQL expression, built from the same table, for indexes and generated columns.
"""

from django.db.models import Func, TextField, Value
from django.db.models.functions import Lower

# Characters replaced one for one.
_MAP = {
    "ي": "ی",  # Arabic yeh
    "ى": "ی",  # alef maksura
    "ك": "ک",  # Arabic kaf
    "ة": "ه",  # teh marbuta
    "ۀ": "ه",  # heh with yeh above
    **{chr(0x06F0 + d): str(d) for d in range(10)},  # Persian digits
    **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
}
# Characters removed: ZWNJ, ZWJ, tatweel, Arabic diacritics (fathatan … sukun, superscript alef).
_REMOVE = "\u200c\u200d\u0640" + "".join(chr(c) for c in range(0x064B, 0x0653)) + "\u0670"

_TABLE = str.maketrans({**_MAP, **dict.fromkeys(_REMOVE)})
SQL_FROM = "".join(_MAP) + _REMOVE
SQL_TO = "".join(_MAP.values())


def normalize(text: str | None) -> str:
    """Lower-case, map Arabic letters and all digits to one form, drop joiners and marks,
    collapse whitespace."""
    if not text:
        return ""
    return " ".join(text.translate(_TABLE).lower().split())


_DIGITS = str.maketrans({k: v for k, v in _MAP.items() if v.isdigit()})


def digits_to_latin(text: str) -> str:
    """Persian and Arabic digits to 0–9, nothing else touched (for numbers and dates)."""
    return text.translate(_DIGITS)


class Normalized(Func):
    """SQL twin of `normalize()` (without the whitespace collapse, which tokenising makes
    irrelevant): translate(lower(expr), FROM, TO). Immutable, so usable in indexes."""

    function = "translate"

    def __init__(self, expression, **extra):
        super().__init__(
            Lower(expression), Value(SQL_FROM), Value(SQL_TO), output_field=TextField(), **extra
        )
