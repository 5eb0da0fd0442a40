"""The KPI inputs, as set-based SQL aggregates grouped by owner.

`kpi_inputs()` answers, for one as-of date D and the periods that contain it, every
additive input of `metrics/kpis.py` per owner (a user id, or None for records without an
owner) in a handful of queries, whatever the number of records: one over the deals open
at D, two over the deals closed in the window, one over leads, one over quotas and one
over subscriptions per account. A team's or the organisation's inputs are sums of these.
Scope rules (kpis.md): deals by their owner, leads by theirs, subscriptions by their
account's owner; amounts, owners and categories as they are now, only the stage at D from
the history.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from fractions import Fraction

from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Least

from crm.models import Subscription
from pipeline.models import Lead, Opportunity, StageChange
from revops.models import Organisation
from revops.money import converted, converted_at, rates_on

from .kpis import empty_inputs
from .models import Quota

ZERO = Value(0, output_field=DecimalField(max_digits=40, decimal_places=14))


class DaysBetween(Func):
    """later − earlier, two dates, in whole days (Postgres date subtraction)."""

    template = "(%(expressions)s)"
    arg_joiner = " - "
    output_field = IntegerField()


def _stage_fact_at(day: date, field: str, output_field=None):
    """SQL: `field` ("id", "probability") of the stage an opportunity was in at the end of
    `day`: its latest history row on or before `day` (same day: the later stage by
    position), else its earliest row, else its current stage. The trigger-kept last row of
    the history (`StageHistoryEnd`) answers for every day since it, so the history itself is
    read only for deals that moved after `day`."""
    history = StageChange.objects.filter(opportunity=OuterRef("pk"))
    latest = history.filter(entered_on__lte=day).order_by(
        "-entered_on", "-to_stage__position", "-id"
    )
    earliest = history.order_by("entered_on", "to_stage__position", "id")
    return Case(
        When(history_end__isnull=True, then=F(f"stage__{field}")),
        When(history_end__entered_on__lte=day, then=F(f"history_end__stage__{field}")),
        default=Coalesce(
            Subquery(latest.values(f"to_stage__{field}")[:1]),
            Subquery(earliest.values(f"to_stage__{field}")[:1]),
        ),
        output_field=output_field,
    )


def probability_at(day: date):
    """SQL: the probability of the stage a deal was in at the end of `day`."""
    return _stage_fact_at(day, "probability")


def stage_at(day: date):
    """SQL: the id of the stage a deal was in at the end of `day`."""
    return _stage_fact_at(day, "id", IntegerField())


def _first_touch():
    """SQL: the earliest of the deal's creation and the creation of every lead converted
    into it, whoever owns the lead."""
    leads = (
        Lead.objects.filter(converted_opportunity=OuterRef("pk"))
        .order_by()
        .values("converted_opportunity")
        .annotate(first=Min("created_on"))
        .values("first")
    )
    return Least("created_on", Coalesce(Subquery(leads), F("created_on")))


def _owned(queryset, owners, field="owner_id"):
    """The records of `owners` (user ids; None among them means "no owner"), or all."""
    if owners is None:
        return queryset
    ids = [owner for owner in owners if owner is not None]
    condition = Q(**{f"{field}__in": ids})
    if None in owners:
        condition |= Q(**{f"{field}__isnull": True})
    return queryset.filter(condition)


def _open_at(as_of, periods, base, owners):
    deals = _owned(
        Opportunity.objects.filter(created_on__lte=as_of).filter(
            Q(closed_on__isnull=True) | Q(closed_on__gt=as_of)
        ),
        owners,
    )
    # Every open deal takes D's rates: constants of the query, no lookup per deal.
    amount = converted_at("amount", "currency", rates_on(as_of), base)
    weighted = amount * probability_at(as_of)
    aggregates = {
        "open_count": Count("id"),
        "open_amount": Sum(amount),
        "open_weighted": Sum(weighted),
    }
    for grain, (start, last) in periods.items():
        due = Q(expected_close_on__gte=start, expected_close_on__lte=last)
        counted = due & ~Q(forecast_category="omitted")
        aggregates |= {
            f"forecast_commit_amount:{grain}": Sum(
                amount, filter=due & Q(forecast_category="commit")
            ),
            f"forecast_best_case_amount:{grain}": Sum(
                amount, filter=due & Q(forecast_category="best_case")
            ),
            f"forecast_weighted_amount:{grain}": Sum(weighted, filter=counted),
            f"forecast_open_amount:{grain}": Sum(amount, filter=counted),
        }
    # Grouped by stage too: the dashboards' pipeline-by-stage comes from the same pass.
    return (
        deals.order_by()
        .annotate(stage_at=stage_at(as_of))
        .values("owner_id", "stage_at")
        .annotate(**aggregates)
    )


def _closed_in(as_of, periods, base, owners):
    year_back = as_of - timedelta(days=364)
    since = min([year_back, *(start for start, _last in periods.values())])
    deals = _owned(
        Opportunity.objects.filter(
            status__in=["won", "lost"], closed_on__gte=since, closed_on__lte=as_of
        ),
        owners,
    )
    amount = converted("amount", "currency", OuterRef("closed_on"), base)
    won_365d = Q(status="won", closed_on__gte=year_back)
    aggregates = {"won_365d_amount": Sum(amount, filter=won_365d)}
    for grain, (start, _last) in periods.items():
        won = Q(status="won", closed_on__gte=start)
        aggregates |= {
            f"won_count:{grain}": Count("id", filter=won),
            f"lost_count:{grain}": Count("id", filter=Q(status="lost", closed_on__gte=start)),
            f"won_amount:{grain}": Sum(amount, filter=won),
            f"won_created_in_period_amount:{grain}": Sum(
                amount, filter=won & Q(created_on__gte=start)
            ),
            f"won_expansion_amount:{grain}": Sum(amount, filter=won & Q(kind="expansion")),
            f"won_cycle_days:{grain}": Sum(DaysBetween("closed_on", "created_on"), filter=won),
            f"won_touch_days:{grain}": Sum(DaysBetween("closed_on", _first_touch()), filter=won),
        }
    totals = deals.order_by().values("owner_id").annotate(**aggregates)

    # ACV divides by each deal's contract length: summed per length, divided exactly later.
    recurring = amount - Coalesce(
        converted("one_time_amount", "currency", OuterRef("closed_on"), base), ZERO
    )
    by_length = {}
    for grain, (start, _last) in periods.items():
        won = Q(status="won", closed_on__gte=start)
        by_length |= {
            f"acv_count:{grain}": Count("id", filter=won),
            f"acv_sum:{grain}": Sum(recurring, filter=won),
        }
    lengths = (
        deals.filter(status="won", contract_months__gt=0)
        .order_by()
        .values("owner_id", "contract_months")
        .annotate(**by_length)
    )
    return totals, lengths


def _leads(as_of, periods, owners):
    since = min(start for start, _last in periods.values())
    window = Q()
    for field in ("created_on", "handed_off_on", "accepted_on", "converted_on"):
        window |= Q(**{f"{field}__gte": since, f"{field}__lte": as_of})
    aggregates = {}
    for grain, (start, _last) in periods.items():

        def within(field, start=start):
            return Q(**{f"{field}__gte": start, f"{field}__lte": as_of})

        answered = within("accepted_on") & Q(handed_off_on__isnull=False)
        aggregates |= {
            f"leads_created_count:{grain}": Count("id", filter=within("created_on")),
            f"leads_handed_off_count:{grain}": Count("id", filter=within("handed_off_on")),
            f"leads_accepted_count:{grain}": Count("id", filter=within("accepted_on")),
            f"leads_converted_count:{grain}": Count("id", filter=within("converted_on")),
            f"response_days:{grain}": Sum(
                DaysBetween("accepted_on", "handed_off_on"), filter=answered
            ),
            f"response_count:{grain}": Count("id", filter=answered),
        }
    leads = _owned(Lead.objects.filter(window), owners)
    return leads.order_by().values("owner_id").annotate(**aggregates)


def _quotas(periods, owners):
    aggregates = {
        f"quota_amount:{grain}": Sum(
            "amount", filter=Q(period_start__gte=start, period_end__lte=last)
        )
        for grain, (start, last) in periods.items()
    }
    quotas = _owned(Quota.objects.all(), owners, "user_id")
    return quotas.order_by().values(owner_id=F("user_id")).annotate(**aggregates)


def _active_on(day):
    return Q(start_on__lte=day) & (Q(end_on__isnull=True) | Q(end_on__gt=day))


def _subscriptions(as_of, periods, base, owners):
    """Per owner: MRR at D, the accounts paying then, and the movements of each period,
    from each account's MRR at opening O(a), at D C(a) and 365 days earlier."""
    # Each subscription's MRR in the base currency is converted once (an inner query that
    # is not flattened, OFFSET 0), then summed per account on the days that matter.
    # Accounts with a lead converted into one of their deals: marketing-sourced (a hashed
    # set, for the dashboards' revenue-by-source).
    sourced = Lead.objects.filter(converted_opportunity__isnull=False).values(
        "converted_opportunity__account_id"
    )
    if owners is None:  # every account: one hashed set
        marketing = Q(account_id__in=sourced)
    else:  # a few owners' accounts: a lookup each, not the set of every converted lead
        marketing = Q(
            Exists(Lead.objects.filter(converted_opportunity__account_id=OuterRef("account_id")))
        )
    subscriptions = (
        _owned(Subscription.objects.confirmed(), owners, "account__owner_id")
        .order_by()
        .annotate(
            m=converted("mrr", "currency", OuterRef("start_on"), base),
            mk=ExpressionWrapper(marketing, output_field=BooleanField()),
        )
        .values(
            "start_on",
            "end_on",
            "m",
            "mk",
            account_key=F("account_id"),
            owner_key=F("account__owner_id"),
        )
    )
    rows_sql, rows_params = subscriptions.query.sql_with_params()
    params: list = []  # the dates of the sums, which come first in the SQL text

    def active(day):
        params.extend([day, day])
        return "start_on <= %s AND (end_on IS NULL OR end_on > %s)"

    sums = [
        "bool_or(mk) AS mk",
        f"COALESCE(SUM(m) FILTER (WHERE {active(as_of)}), 0) AS c",
        f"COALESCE(SUM(m) FILTER (WHERE {active(as_of - timedelta(days=365))}), 0) AS y",
    ]
    grains = list(periods)
    for index, (start, _last) in enumerate(periods.values()):
        sums.append(
            f"COALESCE(SUM(m) FILTER (WHERE {active(start - timedelta(days=1))}), 0) AS o{index}"
        )
        params.append(start)
        sums.append(f"COUNT(*) FILTER (WHERE start_on < %s) AS e{index}")
    per_account = ", ".join(sums)
    inner_sql = (
        f"SELECT account_key, owner_key, {per_account} "  # noqa: S608 (constant columns)
        f"FROM ({rows_sql} OFFSET 0) AS s GROUP BY 1, 2"
    )
    params = [*params, *rows_params]

    columns = [
        "SUM(c) AS closing_mrr_total",
        "COUNT(*) FILTER (WHERE c > 0) AS paying_accounts",
        "SUM(y) FILTER (WHERE y > 0) AS year_ago_mrr_total",
        "SUM(c) FILTER (WHERE y > 0) AS retained_12m_total",
        "SUM(LEAST(y, c)) FILTER (WHERE y > 0) AS retained_floor_12m_total",
    ]
    for index, grain in enumerate(grains):
        o, e = f"o{index}", f"e{index}"
        columns += [
            f'SUM({o}) AS "opening_mrr_total:{grain}"',
            f'SUM(c) FILTER (WHERE {o} = 0 AND c > 0 AND {e} = 0) AS "new_mrr_total:{grain}"',
            f'SUM(c) FILTER (WHERE {o} = 0 AND c > 0 AND mk) AS "marketing_new_mrr_total:{grain}"',
            f"SUM(c) FILTER (WHERE {o} = 0 AND c > 0 AND {e} > 0) "
            f'AS "reactivation_mrr_total:{grain}"',
            f'SUM(c - {o}) FILTER (WHERE {o} > 0 AND c > {o}) AS "expansion_mrr_total:{grain}"',
            f'SUM({o} - c) FILTER (WHERE c > 0 AND c < {o}) AS "contraction_mrr_total:{grain}"',
            f'SUM({o}) FILTER (WHERE {o} > 0 AND c = 0) AS "churned_mrr_total:{grain}"',
            f'COUNT(*) FILTER (WHERE {o} > 0) AS "opening_accounts:{grain}"',
            f'COUNT(*) FILTER (WHERE {o} > 0 AND c = 0) AS "churned_accounts:{grain}"',
            f'SUM(c) FILTER (WHERE {o} > 0) AS "retained_mrr_total:{grain}"',
            f'SUM(LEAST({o}, c)) FILTER (WHERE {o} > 0) AS "retained_floor_total:{grain}"',
        ]
    # Only the column list (constants of this module) is formatted in; values are parameters.
    selected = ", ".join(columns)
    sql = f"SELECT owner_key AS owner_id, {selected} FROM ({inner_sql}) AS t GROUP BY 1"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def kpi_inputs(as_of: date, periods: dict, owners=None, stage_rows: list | None = None) -> dict:
    """{key: {owner id or None: inputs}} for the periods {key: (start, last day)} that
    contain `as_of` (a key names a grain and calendar, such as "quarter-jalali"); `owners`
    (user ids, None among them for "no owner") limits the records to theirs, None takes
    all. `stage_rows`, when given, receives the open deals per owner and stage at D
    (count, amount, weighted amount) for the dashboards' breakdowns."""
    base = Organisation.get().base_currency
    result: dict = {grain: defaultdict(empty_inputs) for grain in periods}

    def take(rows):
        for row in rows:
            owner = row.pop("owner_id")
            for name, value in row.items():
                if value is None:
                    continue
                key, _sep, grain = name.partition(":")
                for target in [grain] if grain else periods:
                    result[target][owner][key] += Fraction(value)

    open_rows = list(_open_at(as_of, periods, base, owners))
    if stage_rows is not None:
        stage_rows += [
            {
                "owner_id": row["owner_id"],
                "stage_at": row["stage_at"],
                "vector": [row["open_count"], row["open_amount"], row["open_weighted"]],
            }
            for row in open_rows
        ]
    for row in open_rows:
        del row["stage_at"]
    take(open_rows)
    totals, lengths = _closed_in(as_of, periods, base, owners)
    take(totals)
    for row in lengths:
        for grain in periods:
            inputs = result[grain][row["owner_id"]]
            count = row[f"acv_count:{grain}"]
            if count:
                inputs["acv_count"] += count
                months = row["contract_months"]
                inputs["acv_by_months"][months] = inputs["acv_by_months"].get(
                    months, Fraction(0)
                ) + Fraction(row[f"acv_sum:{grain}"])
    take(_leads(as_of, periods, owners))
    take(_quotas(periods, owners))
    take(_subscriptions(as_of, periods, base, owners))
    return {grain: dict(owners_inputs) for grain, owners_inputs in result.items()}
