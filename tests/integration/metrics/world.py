"""A small organisation whose KPIs are computed by hand in the tests (as of 2026-06-17)."""

from datetime import date
from decimal import Decimal

from crm.models import Subscription
from metrics.kpis import stored
from metrics.models import KpiSnapshot, Quota
from metrics.services import kpi_compute
from pipeline.models import Lead, StageChange
from revops.models import FxRate
from tests.factories import AccountFactory, OpportunityFactory, default_stages

D = date(2026, 6, 17)


def deal(owner, stage, *, history=(), **fields):
    stages = default_stages()
    status = stages[stage].outcome
    opportunity = OpportunityFactory(owner=owner, stage=stages[stage], status=status, **fields)
    for name, day in history:
        StageChange.objects.create(
            opportunity=opportunity, to_stage=stages[name], entered_on=date.fromisoformat(day)
        )
    return opportunity


def subscription(account, mrr, start, end=None, currency="USD", status="confirmed"):
    return Subscription.objects.create(
        account=account,
        product="Plan",
        mrr=Decimal(mrr),
        currency=currency,
        start_on=date.fromisoformat(start),
        end_on=date.fromisoformat(end) if end else None,
        status=status,
    )


def build(rep, teammate, other):
    FxRate.objects.create(currency="EUR", rate_to_base="1.10", valid_from=date(2026, 1, 1))
    FxRate.objects.create(currency="EUR", rate_to_base="1.20", valid_from=date(2026, 6, 10))
    d = date.fromisoformat
    # Won on the month's first day (in), 12 months, one-time fees 100; a lead converted
    # into it was created 10 days before the deal.
    first = deal(
        rep,
        "Closed won",
        amount=1000,
        one_time_amount=100,
        contract_months=12,
        created_on=d("2026-05-01"),
        closed_on=d("2026-06-01"),
    )
    Lead.objects.create(
        source="web",
        owner=rep,
        status="converted",
        created_on=d("2026-04-21"),
        handed_off_on=d("2026-04-22"),
        accepted_on=d("2026-04-25"),
        converted_on=d("2026-05-01"),
        converted_opportunity=first,
    )
    # Won in EUR at the rate of its close date (1.20): 600.00; an expansion over 6 months.
    deal(
        rep,
        "Closed won",
        amount=500,
        currency="EUR",
        kind="expansion",
        contract_months=6,
        created_on=d("2026-06-05"),
        closed_on=d("2026-06-15"),
    )
    # Won on the previous month's last day: in the quarter, not in the month.
    deal(
        teammate,
        "Closed won",
        amount=2000,
        created_on=d("2026-04-01"),
        closed_on=d("2026-05-31"),
    )
    # Lost on D itself.
    deal(rep, "Closed lost", amount=300, created_on=d("2026-06-02"), closed_on=D)
    # Open; in Proposal now but only since after D: at D it was in Qualification (0.1).
    deal(
        rep,
        "Proposal",
        amount=1000,
        created_on=d("2026-06-01"),
        expected_close_on=d("2026-06-25"),
        forecast_category="commit",
        history=[("Qualification", "2026-06-01"), ("Proposal", "2026-06-20")],
    )
    # Open, no stage history: its current stage (Negotiation, 0.8); EUR at D's rate.
    deal(
        teammate,
        "Negotiation",
        amount=400,
        currency="EUR",
        created_on=d("2026-05-01"),
        expected_close_on=d("2026-06-30"),
        forecast_category="best_case",
    )
    # Won after D, so open at D; two rows the same day: the later stage counts (0.8).
    deal(
        rep,
        "Closed won",
        amount=200,
        created_on=d("2026-06-10"),
        closed_on=d("2026-06-20"),
        expected_close_on=d("2026-06-20"),
        history=[("Negotiation", "2026-06-10"), ("Discovery", "2026-06-10")],
    )
    # Created after D: nowhere.
    deal(rep, "Qualification", amount=7777, created_on=d("2026-06-18"))
    # Another team's deal: in the organisation only.
    deal(other, "Closed won", amount=50, created_on=d("2026-06-01"), closed_on=d("2026-06-02"))

    Quota.objects.create(
        user=rep, period_start=d("2026-06-01"), period_end=d("2026-06-30"), amount=5000
    )
    Quota.objects.create(
        user=teammate, period_start=d("2026-04-01"), period_end=d("2026-06-30"), amount=9000
    )
    # Straddles the month's end: counts in no month.
    Quota.objects.create(
        user=rep, period_start=d("2026-06-15"), period_end=d("2026-07-14"), amount=1
    )

    Lead.objects.create(
        source="web",
        owner=rep,
        status="converted",
        created_on=d("2026-06-02"),
        handed_off_on=d("2026-06-03"),
        accepted_on=d("2026-06-05"),
        converted_on=d("2026-06-10"),
    )
    Lead.objects.create(
        source="event", status="mql", created_on=d("2026-05-20"), handed_off_on=d("2026-06-01")
    )

    accounts = [AccountFactory(owner=rep) for _ in range(7)]
    subscription(accounts[0], 100, "2026-01-01")  # steady
    subscription(accounts[1], 200, "2026-02-01", "2026-06-17", "EUR")  # 220.00, ends on D
    subscription(accounts[2], 50, "2026-06-10")  # new
    subscription(accounts[3], 80, "2025-01-01", "2025-12-31")  # had one before…
    subscription(accounts[3], 90, "2026-06-05")  # …so this is a reactivation
    subscription(accounts[4], 100, "2026-03-01", "2026-06-10")  # expansion 100 → 150
    subscription(accounts[4], 150, "2026-06-10")
    subscription(accounts[5], 300, "2025-06-01", "2026-06-12")  # contraction 300 → 120
    subscription(accounts[5], 120, "2026-06-12")
    subscription(accounts[6], 999, "2026-01-01", status="draft")  # counts nowhere


# Hand-computed: organisation, Gregorian month, as of D.
EXPECTED_ORG_MONTH = {
    "open_deals": 3,
    "open_pipeline": "1680.00",  # 1000 + 400 × 1.20 + 200
    "weighted_pipeline": "644.00",  # 1000 × 0.1 + 480 × 0.8 + 200 × 0.8
    "bookings": "1650.00",  # 1000 + 600 + 50
    "bookings_365d": "3650.00",  # + 2000 on May 31
    "deals_won": 3,
    "deals_lost": 1,
    "win_rate": "0.7500",
    "avg_deal_size": "550.00",
    "acv": "1050.00",  # (900 / 1 + 600 / 0.5) / 2 (the 50 has no contract length)
    "sales_cycle_length_days": "14.0",  # (31 + 10 + 1) / 3
    "avg_sales_cycle_days": "17.3",  # (41 + 10 + 1) / 3
    "in_period_bookings": "650.00",  # 600 + 50
    "expansion_bookings": "600.00",
    "sales_velocity": "88.39",  # 3 × 0.75 × 550 / 14
    "quota": "5000.00",
    "quota_attainment": "0.3300",
    "leads_created": 1,
    "mqls": 2,
    "sqls": 1,
    "leads_converted": 1,
    "funnel_conversion_rate": "1.0000",
    "mql_to_sql_rate": "0.5000",
    "lead_response_days": "2.0",
    "mrr": "510.00",
    "arr": "6120.00",
    "customers": 5,
    "arpa": "102.00",
    "opening_mrr": "720.00",  # 100 + 220 + 100 + 300
    "closing_mrr": "510.00",
    "new_mrr": "50.00",
    "reactivation_mrr": "90.00",
    "expansion_mrr": "50.00",
    "contraction_mrr": "180.00",
    "churned_mrr": "220.00",  # the EUR plan at its start's rate, 1.10
    "net_new_mrr": "-210.00",
    "opening_customers": 4,
    "churned_customers": 1,
    "logo_churn_rate": "0.2500",
    "gross_mrr_churn_rate": "0.5556",  # 400 / 720
    "nrr": "0.5139",  # 370 / 720
    "grr": "0.4444",  # 320 / 720
    "revenue_impact": "-2520.00",
    "nrr_12m": "0.5526",  # 210 / 380
    "grr_12m": "0.5263",  # 200 / 380
    "forecast_commit": "2650.00",  # 1650 + 1000
    "forecast_best_case": "3130.00",  # + 480
    "forecast_weighted": "2294.00",  # 1650 + 644
    "pipeline_coverage": "0.5015",  # 1680 / (5000 − 1650)
}


def assert_snapshots_fresh(day, scopes) -> dict:
    """Each scope's stored monthly snapshots of `day` equal a computation from the
    records; returns the last scope's {kpi: stored value}."""
    for scope in scopes:
        expected = kpi_compute(day, "month", "gregorian", scope)
        rows = dict(
            KpiSnapshot.objects.filter(
                as_of=day,
                grain="month",
                calendar="gregorian",
                scope_kind=scope.kind,
                scope_id=scope.id,
            ).values_list("kpi", "value")
        )
        assert rows == {key: stored(key, value) for key, value in expected.items()}, scope
    return rows
