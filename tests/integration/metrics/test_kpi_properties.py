"""Random data (hypothesis): the SQL engine equals the row-by-row reading of the spec
(tests/kpi_oracle.py), and the MRR movements add up to the cent."""

from datetime import date, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.kpis import present
from metrics.services import Scope, kpi_compute
from pipeline.models import Lead
from revops.models import FxRate
from tests.factories import AccountFactory
from tests.kpi_oracle import oracle

from .world import deal, subscription

pytestmark = pytest.mark.django_db

DAY0 = date(2025, 1, 1)
days = st.integers(min_value=0, max_value=700).map(lambda n: DAY0 + timedelta(days=n))
money = st.decimals(min_value=0, max_value=5000, places=2)
currencies = st.sampled_from(["USD", "USD", "EUR"])

subscriptions = st.lists(
    st.tuples(
        st.integers(0, 4), money, days, st.one_of(st.none(), st.integers(1, 400)), currencies
    ),
    max_size=12,
)
deals = st.lists(
    st.tuples(
        st.sampled_from(["Qualification", "Proposal", "Negotiation", "Closed won", "Closed lost"]),
        money,
        currencies,
        days,
        st.integers(0, 200),
        st.sampled_from(["", "pipeline", "best_case", "commit", "omitted"]),
        st.sampled_from(["new_business", "expansion"]),
        st.one_of(st.none(), st.integers(1, 36)),
        st.lists(
            st.tuples(
                st.sampled_from(["Discovery", "Proposal", "Negotiation"]), st.integers(0, 90)
            ),
            max_size=3,
        ),
        st.booleans(),
    ),
    max_size=10,
)
asks = st.tuples(
    days, st.sampled_from(["month", "quarter", "year"]), st.sampled_from(["gregorian", "jalali"])
)


def _rates():
    FxRate.objects.create(currency="EUR", rate_to_base="1.0837", valid_from=date(2025, 3, 1))
    FxRate.objects.create(currency="EUR", rate_to_base="1.1213", valid_from=date(2025, 9, 15))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=subscriptions, ask=asks)
def test_mrr_movements_add_up_and_match_the_spec(rep, rows, ask):
    with transaction.atomic():
        _rates()
        accounts = [AccountFactory(owner=rep) for _ in range(5)]
        for index, mrr, start, length, currency in rows:
            end = start + timedelta(days=length) if length else None
            subscription(accounts[index], mrr, start.isoformat(), end and end.isoformat(), currency)
        as_of, grain, calendar = ask
        got = kpi_compute(as_of, grain, calendar, Scope.org())
        assert got["closing_mrr"] == (
            got["opening_mrr"]
            + got["new_mrr"]
            + got["reactivation_mrr"]
            + got["expansion_mrr"]
            - got["contraction_mrr"]
            - got["churned_mrr"]
        )
        assert got["arr"] == 12 * got["mrr"]
        expected = oracle(as_of, grain, calendar)
        for key, value in got.items():
            assert present(key, value) == present(key, expected[key]), key
        transaction.set_rollback(True)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=deals, ask=asks)
def test_deal_kpis_match_the_spec(rep, teammate, rows, ask):
    with transaction.atomic():
        _rates()
        for stage, amount, currency, created, length, category, kind, months, history, lead in rows:
            closed = created + timedelta(days=length) if stage.startswith("Closed") else None
            opportunity = deal(
                rep if length % 2 else teammate,
                stage,
                amount=amount,
                one_time_amount=amount / 4 if months else None,
                currency=currency,
                created_on=created,
                closed_on=closed,
                expected_close_on=created + timedelta(days=length),
                forecast_category=category,
                kind=kind,
                contract_months=months,
                history=[(name, (created + timedelta(days=n)).isoformat()) for name, n in history],
            )
            if lead:
                Lead.objects.create(
                    source="web",
                    status="converted",
                    created_on=created - timedelta(days=length % 17),
                    converted_on=created,
                    converted_opportunity=opportunity,
                )
        as_of, grain, calendar = ask
        for scope, owners in ((Scope.org(), None), (Scope.of_owner(rep), {rep.pk})):
            got = kpi_compute(as_of, grain, calendar, scope)
            expected = oracle(as_of, grain, calendar, owners)
            for key, value in got.items():
                assert present(key, value) == present(key, expected[key]), key
        transaction.set_rollback(True)
