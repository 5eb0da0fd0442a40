"""Money in the base currency, as shared/spec/kpis.md converts it.

`amount × rate_to_base`, with the rate of the latest row of that currency whose
`valid_from` is on or before the date (the earliest row when the date precedes them all;
the base currency's rate is 1), rounded half-up to 2 places per record before anything is
summed. `converted()` is the same rule as a SQL expression, for sums in the database.
"""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Case,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Round

from .currencies import is_currency
from .models import FxRate, Organisation

CENT = Decimal("0.01")


def round_money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def rate_on(currency: str, day: date, base: str | None = None) -> Decimal:
    base = base or Organisation.get().base_currency
    if currency == base:
        return Decimal(1)
    rates = FxRate.objects.filter(currency=currency)
    row = rates.filter(valid_from__lte=day).order_by("-valid_from").first()
    row = row or rates.order_by("valid_from").first()
    if row is None:
        raise LookupError(f"No exchange rate for {currency}.")
    return row.rate_to_base


def to_base(amount: Decimal, currency: str, day: date, base: str | None = None) -> Decimal:
    return round_money(amount * rate_on(currency, day, base))


def converted(amount_field: str, currency_field: str, date_expression, base: str):
    """SQL: the record's amount in the base currency on `date_expression` (written with
    OuterRef for the record's own fields), rounded half-up
    (Postgres rounds numerics half away from zero) to 2 places; null when no rate exists."""
    latest = FxRate.objects.filter(
        currency=OuterRef(currency_field), valid_from__lte=date_expression
    ).order_by("-valid_from")
    earliest = FxRate.objects.filter(currency=OuterRef(currency_field)).order_by("valid_from")
    rate = Coalesce(
        Subquery(latest.values("rate_to_base")[:1]),
        Subquery(earliest.values("rate_to_base")[:1]),
    )
    # The base currency's rate is 1: its amounts pass through untouched (and cheaply).
    return Case(
        When(**{currency_field: base}, then=F(amount_field)),
        default=Round(
            ExpressionWrapper(
                F(amount_field) * rate,
                output_field=DecimalField(max_digits=40, decimal_places=14),
            ),
            2,
        ),
        output_field=DecimalField(max_digits=40, decimal_places=14),
    )


def rates_on(day: date) -> dict[str, Decimal]:
    """Every currency's rate to the base on `day`, by the rule of `rate_on`, in one query."""
    rates = {}
    for currency, valid_from, rate in FxRate.objects.order_by("currency", "valid_from").values_list(
        "currency", "valid_from", "rate_to_base"
    ):
        if valid_from <= day or currency not in rates:
            rates[currency] = rate
    return rates


def converted_at(amount_field: str, currency_field: str, rates: dict[str, Decimal], base: str):
    """SQL: `converted()` when every record takes the same day's `rates` (`rates_on`): the
    rates are constants of the query. A currency without a rate gives null, as there."""
    output = DecimalField(max_digits=40, decimal_places=14)
    return Case(
        When(**{currency_field: base}, then=F(amount_field)),
        *(
            When(
                **{currency_field: currency},
                then=Round(
                    ExpressionWrapper(F(amount_field) * Value(rate), output_field=output), 2
                ),
            )
            for currency, rate in sorted(rates.items())
            if currency != base
        ),
        default=Value(None),
        output_field=output,
    )


def currency_problem(code: str) -> str | None:
    """Why an amount cannot be in this currency, or None: it must be a known ISO 4217 code
    with a rate to the base currency, or every total that includes it would be unknown."""
    from django.utils.translation import gettext as _

    base = Organisation.get().base_currency
    if not is_currency(code):
        return _("Unknown currency code.")
    if code != base and not FxRate.objects.filter(currency=code).exists():
        return _(
            "There is no exchange rate from %(c)s to %(base)s yet; an administrator adds one "
            "in the organisation settings."
        ) % {"c": code, "base": base}
    return None


def currency_check(code: str) -> None:
    """`currency_problem` as a ValidationError on the `currency` field."""
    from django.core.exceptions import ValidationError

    if problem := currency_problem(code):
        raise ValidationError({"currency": problem})
