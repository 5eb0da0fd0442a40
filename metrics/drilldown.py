"""The records behind a KPI value: one selector per KPI family, each a queryset whose
base-currency amounts add up to the value (kpis.md rules: the same filters, rates and
rounding as metrics/selectors.py)."""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import (
    Exists,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce

from crm.models import Account, Subscription
from pipeline.models import Lead, Opportunity
from revops.models import Organisation
from revops.money import converted, converted_at, rates_on

from .models import Quota
from .periods import current_period
from .selectors import ZERO, _owned, probability_at

FAMILIES = {
    "won": """bookings deals_won avg_deal_size acv sales_cycle_length_days
        avg_sales_cycle_days in_period_bookings expansion_bookings bookings_365d""",
    "closed": "win_rate",
    "lost": "deals_lost",
    "open": "open_pipeline open_deals weighted_pipeline",
    "forecast": "forecast_commit forecast_best_case forecast_weighted pipeline_coverage",
    "leads": """leads_created mqls sqls leads_converted funnel_conversion_rate mql_to_sql_rate
        lead_response_days""",
    "accounts": """mrr arr customers arpa opening_mrr closing_mrr new_mrr reactivation_mrr
        expansion_mrr contraction_mrr churned_mrr net_new_mrr revenue_impact opening_customers
        churned_customers logo_churn_rate gross_mrr_churn_rate nrr grr nrr_12m grr_12m""",
    "quota": "quota quota_attainment",
}
FAMILY_OF = {kpi: family for family, kpis in FAMILIES.items() for kpi in kpis.split()}


def _deals_closed(kpi, as_of, start, last, owners, base):
    since = as_of - timedelta(days=364) if kpi == "bookings_365d" else start
    status = {"deals_lost": ["lost"], "win_rate": ["won", "lost"]}.get(kpi, ["won"])
    deals = _owned(
        Opportunity.objects.filter(status__in=status, closed_on__gte=since, closed_on__lte=as_of),
        owners,
    )
    if kpi == "in_period_bookings":
        deals = deals.filter(created_on__gte=start)
    elif kpi == "expansion_bookings":
        deals = deals.filter(kind="expansion")
    elif kpi == "acv":
        deals = deals.filter(contract_months__gt=0)
    return deals.annotate(
        amount_base=converted("amount", "currency", OuterRef("closed_on"), base),
        one_time_base=Coalesce(
            converted("one_time_amount", "currency", OuterRef("closed_on"), base), ZERO
        ),
    ).values(
        "id",
        "external_id",
        "name",
        "status",
        "kind",
        "amount",
        "one_time_amount",
        "currency",
        "contract_months",
        "created_on",
        "closed_on",
        "amount_base",
        "one_time_base",
        owner_email=F("owner__email"),
        account_name=F("account__name"),
    )


def _deals_open(kpi, as_of, start, last, owners, base):
    deals = _owned(
        Opportunity.objects.filter(created_on__lte=as_of).filter(
            Q(closed_on__isnull=True) | Q(closed_on__gt=as_of)
        ),
        owners,
    )
    if FAMILY_OF[kpi] == "forecast":
        deals = deals.filter(expected_close_on__gte=start, expected_close_on__lte=last)
        if kpi != "forecast_commit" and kpi != "forecast_best_case":
            deals = deals.exclude(forecast_category="omitted")
        elif kpi == "forecast_commit":
            deals = deals.filter(forecast_category="commit")
        else:
            deals = deals.filter(forecast_category__in=["commit", "best_case"])
    # Every open deal takes D's rates: constants of the query, no lookup per deal.
    amount = converted_at("amount", "currency", rates_on(as_of), base)
    return deals.annotate(amount_base=amount, probability_at_date=probability_at(as_of)).values(
        "id",
        "external_id",
        "name",
        "amount",
        "currency",
        "expected_close_on",
        "forecast_category",
        "created_on",
        "amount_base",
        "probability_at_date",
        owner_email=F("owner__email"),
        account_name=F("account__name"),
    )


LEAD_DATE = {
    "leads_created": "created_on",
    "funnel_conversion_rate": "created_on",
    "mqls": "handed_off_on",
    "mql_to_sql_rate": "handed_off_on",
    "sqls": "accepted_on",
    "lead_response_days": "accepted_on",
    "leads_converted": "converted_on",
}


def _leads(kpi, as_of, start, last, owners, base):
    field = LEAD_DATE[kpi]
    leads = _owned(Lead.objects.filter(**{f"{field}__gte": start, f"{field}__lte": as_of}), owners)
    if kpi == "lead_response_days":
        leads = leads.filter(handed_off_on__isnull=False)
    return leads.values(
        "id",
        "external_id",
        "first_name",
        "last_name",
        "company",
        "source",
        "status",
        "created_on",
        "handed_off_on",
        "accepted_on",
        "converted_on",
        owner_email=F("owner__email"),
    )


def _mrr_at(day: date, base: str):
    active = Subscription.objects.confirmed().active_on(day).filter(account=OuterRef("pk"))
    total = (
        active.annotate(mrr_base=converted("mrr", "currency", OuterRef("start_on"), base))
        .order_by()
        .values("account")
        .annotate(total=Sum("mrr_base"))
        .values("total")
    )
    return Coalesce(Subquery(total), ZERO)


def _accounts(kpi, as_of, start, last, owners, base):
    twelve = kpi in ("nrr_12m", "grr_12m")
    opening_day = as_of - timedelta(days=365) if twelve else start - timedelta(days=1)
    earlier = Subscription.objects.confirmed().filter(account=OuterRef("pk"), start_on__lt=start)
    last_reason = (
        Subscription.objects.confirmed()
        .filter(account=OuterRef("pk"), end_on__lte=as_of, churn_reason__isnull=False)
        .order_by("-end_on", "-id")
        .values("churn_reason__name")[:1]
    )
    accounts = _owned(Account.objects.all(), owners).annotate(
        opening=_mrr_at(opening_day, base),
        closing=_mrr_at(as_of, base),
        earlier=Exists(earlier),
        churn_reason=Subquery(last_reason),
    )
    o, c = F("opening"), F("closing")
    condition = {
        "mrr": Q(closing__gt=0),
        "arr": Q(closing__gt=0),
        "customers": Q(closing__gt=0),
        "arpa": Q(closing__gt=0),
        "closing_mrr": Q(closing__gt=0),
        "opening_mrr": Q(opening__gt=0),
        "opening_customers": Q(opening__gt=0),
        "logo_churn_rate": Q(opening__gt=0),
        "nrr": Q(opening__gt=0),
        "grr": Q(opening__gt=0),
        "nrr_12m": Q(opening__gt=0),
        "grr_12m": Q(opening__gt=0),
        "new_mrr": Q(opening=0, closing__gt=0, earlier=False),
        "reactivation_mrr": Q(opening=0, closing__gt=0, earlier=True),
        "expansion_mrr": Q(opening__gt=0, closing__gt=o),
        "contraction_mrr": Q(closing__gt=0, closing__lt=o),
        "churned_mrr": Q(opening__gt=0, closing=0),
        "churned_customers": Q(opening__gt=0, closing=0),
        "gross_mrr_churn_rate": Q(opening__gt=0) & (Q(closing=0) | Q(closing__lt=o)),
    }.get(kpi, ~Q(opening=c))  # net new MRR and revenue impact: every account that moved
    return accounts.filter(condition).values(
        "id",
        "external_id",
        "name",
        "opening",
        "closing",
        "earlier",
        "churn_reason",
        owner_email=F("owner__email"),
    )


def _quotas(kpi, as_of, start, last, owners, base):
    return _owned(
        Quota.objects.filter(period_start__gte=start, period_end__lte=last), owners, "user_id"
    ).values("id", "period_start", "period_end", "amount", owner_email=F("user__email"))


SELECTORS = {
    "won": _deals_closed,
    "closed": _deals_closed,
    "lost": _deals_closed,
    "open": _deals_open,
    "forecast": _deals_open,
    "leads": _leads,
    "accounts": _accounts,
    "quota": _quotas,
}
# The model whose visibility rule decides whether the drill-down may be offered.
MODELS = {
    "won": Opportunity,
    "closed": Opportunity,
    "lost": Opportunity,
    "open": Opportunity,
    "forecast": Opportunity,
    "leads": Lead,
    "accounts": Account,
    "quota": Quota,
}


def kpi_records(kpi: str, as_of: date, grain: str, calendar: str, owners):
    """The records behind `kpi` for the scope of `owners` (None: everyone), as dicts."""
    start, last = current_period(grain, as_of, calendar)
    family = FAMILY_OF[kpi]
    base = Organisation.get().base_currency
    return SELECTORS[family](kpi, as_of, start, last, owners, base)


def records_all_visible(kpi: str, records, user) -> bool:
    """True when `user` may see every record behind the number (roles.md)."""
    model = MODELS[FAMILY_OF[kpi]]
    visible = model.objects.visible_to(user).values("pk")
    return not records.exclude(id__in=visible).exists()


def _sum(expression):
    from django.db.models import Sum

    return Sum(expression)


# KPIs that are a plain sum over their records: what the listed records add up to.
TOTALS = {
    **{
        key: lambda: _sum("amount_base")
        for key in ("bookings", "bookings_365d", "in_period_bookings", "expansion_bookings")
    },
    "open_pipeline": lambda: _sum("amount_base"),
    "weighted_pipeline": lambda: _sum(F("amount_base") * F("probability_at_date")),
    **{
        key: lambda: _sum("closing")
        for key in ("mrr", "closing_mrr", "new_mrr", "reactivation_mrr")
    },
    "opening_mrr": lambda: _sum("opening"),
    "churned_mrr": lambda: _sum("opening"),
    "expansion_mrr": lambda: _sum(F("closing") - F("opening")),
    "contraction_mrr": lambda: _sum(F("opening") - F("closing")),
    "net_new_mrr": lambda: _sum(F("closing") - F("opening")),
    "quota": lambda: _sum("amount"),
}
# KPIs that count their records.
COUNTS = {
    "deals_won",
    "deals_lost",
    "open_deals",
    "customers",
    "opening_customers",
    "churned_customers",
    "leads_created",
    "mqls",
    "sqls",
    "leads_converted",
}
