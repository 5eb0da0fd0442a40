"""Every day's rates at once (`rates_on`, for sums in SQL) follow the rule of `rate_on`."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum

from pipeline.models import Opportunity
from revops.models import FxRate
from revops.money import converted_at, rate_on, rates_on, to_base
from tests.factories import AccountFactory, OpportunityFactory, UserFactory


@pytest.mark.django_db
def test_every_currencys_rate_of_a_day_is_the_one_rate_on_gives():
    start = date(2025, 1, 1)
    FxRate.objects.create(currency="EUR", valid_from=start, rate_to_base=Decimal("1.05"))
    FxRate.objects.create(currency="EUR", valid_from=date(2025, 6, 1), rate_to_base=Decimal("1.1"))
    FxRate.objects.create(currency="GBP", valid_from=date(2025, 3, 1), rate_to_base=Decimal("1.3"))
    # Before any rate, on the first day of one, between, after the last.
    for day in (
        start - timedelta(days=9),
        start,
        date(2025, 5, 31),
        date(2025, 6, 1),
        date(2026, 1, 1),
    ):
        rates = rates_on(day)
        assert rates == {currency: rate_on(currency, day, "USD") for currency in ("EUR", "GBP")}


@pytest.mark.django_db
def test_a_sum_at_constant_rates_rounds_each_record_as_to_base_does():
    FxRate.objects.create(
        currency="EUR", valid_from=date(2020, 1, 1), rate_to_base=Decimal("1.105")
    )
    owner = UserFactory()
    amounts = [Decimal("100.05"), Decimal("0.05"), Decimal("33.33")]
    for amount in amounts:
        OpportunityFactory(
            owner=owner, account=AccountFactory(owner=owner), amount=amount, currency="EUR"
        )
    OpportunityFactory(
        owner=owner, account=AccountFactory(owner=owner), amount=Decimal("7"), currency="USD"
    )
    day = date(2026, 1, 1)
    total = Opportunity.objects.aggregate(
        total=Sum(converted_at("amount", "currency", rates_on(day), "USD"))
    )["total"]
    expected = sum(to_base(a, "EUR", day, "USD") for a in amounts) + Decimal("7")
    assert total == expected
