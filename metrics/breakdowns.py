"""The dashboards' breakdowns, computed with the KPI passes and stored like snapshots.

Each breakdown maps a key (a stage, a persona, a lead source…) to a vector of additive
numbers, aggregated per owner in SQL (like metrics/selectors.py), so a team's or the
organisation's breakdown is the sum of its owners' and a change to one owner's records
recomputes only that owner. The dashboards read the stored `KpiBreakdown` rows and never
aggregate the records on page load. The same scope rules as the KPIs: deals by their owner,
leads by theirs, accounts and subscriptions by the account's owner, handoffs by the user
they are addressed to.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from functools import reduce

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Now

from crm.models import AT_RISK_BELOW, Account, Activity, Subscription
from pipeline.models import MEDDIC_FIELDS, Handoff, Lead, Opportunity
from revops.money import converted, converted_at, rates_on

from .kpis import round_half_up
from .selectors import DaysBetween, _owned, kpi_inputs

NONE_KEY = "—"

# name: what each position of a key's vector holds (labels live with the templates).
BREAKDOWNS = {
    # Open deals at D by the stage they were in then.
    "pipeline_stage": ("deals", "amount", "weighted"),
    # Deals closed in the period, by deal kind, by the primary contact's persona and by
    # the source of the lead converted into the deal ("direct" when none).
    "deal_kind": ("won", "lost", "bookings", "cycle_days"),
    "persona": ("won", "lost", "bookings", "cycle_days"),
    "deal_source": ("won", "lost", "bookings", "cycle_days"),
    # Open deals at D with a converted lead, by the lead's source (marketing-sourced
    # pipeline; the others, "direct", are not listed).
    "pipeline_source": ("deals", "amount"),
    # Leads by source and by campaign: created, handed off (MQL), accepted (SQL), converted.
    "lead_source": ("created", "mqls", "sqls", "converted"),
    "lead_campaign": ("created", "mqls", "sqls", "converted"),
    # Accounts by health band today.
    "health": ("accounts",),
    # Handoffs by kind: decided in the period on time / late, waiting now within / past SLA.
    "handoff_sla": ("on_time", "late", "waiting", "breached"),
    # Subscriptions ended in the period on accounts paying nothing at D, by churn reason.
    "churn_reason": ("subscriptions", "mrr"),
    # New and reactivated MRR by where the customer came from: "marketing" when a lead was
    # converted into one of the account's deals, else "sales".
    "revenue_source": ("new_mrr",),
    # The coaching view, per owner: deals open at D or won in the period, activities logged
    # on them, and how many of their MEDDIC fields are filled.
    "coaching": ("deals", "activities", "meddic_filled"),
}
DIRECT = "direct"


def _lead_source():
    """SQL: the source of the earliest lead converted into the deal, or "direct"."""
    leads = Lead.objects.filter(converted_opportunity=OuterRef("pk")).order_by("created_on", "id")
    return Coalesce(Subquery(leads.values("source")[:1]), Value(DIRECT), output_field=CharField())


def _open(as_of, base, owners):
    return _owned(
        Opportunity.objects.filter(created_on__lte=as_of).filter(
            Q(closed_on__isnull=True) | Q(closed_on__gt=as_of)
        ),
        owners,
    ).order_by()


def _closed(as_of, periods, owners):
    since = min(start for start, _last in periods.values())
    return _owned(
        Opportunity.objects.filter(
            status__in=["won", "lost"], closed_on__gte=since, closed_on__lte=as_of
        ),
        owners,
    ).order_by()


def _plus(left: list, right: list) -> list:
    return [a + b for a, b in zip(left, right, strict=True)]


def _add(result, period, owner, name, key, vector):
    target = result[period][owner].setdefault(name, {})
    current = target.get(str(key))
    values = [Decimal(v or 0) for v in vector]
    target[str(key)] = values if current is None else _plus(current, values)


def breakdown_inputs(
    as_of, periods: dict, base: str, owners=None, stage_rows=None, inputs=None
) -> dict:
    """{period: {owner id or None: {breakdown: {key: [Decimal, ...]}}}} (see BREAKDOWNS)."""
    result: dict = {period: defaultdict(dict) for period in periods}

    def every_period(rows, name, key_field, fields):
        for row in rows:
            for period in periods:
                vector = [row[field] for field in fields]
                _add(result, period, row["owner_id"], name, row[key_field], vector)

    # Open deals at D by stage (from the KPI pass's own query when it hands them over).
    # Open deals by stage and new MRR by source come from the KPI pass's own queries (run
    # here when the caller has not).
    if stage_rows is None or inputs is None:
        stage_rows = []
        inputs = kpi_inputs(as_of, periods, owners, stage_rows)
    for row in stage_rows:
        for period in periods:
            _add(result, period, row["owner_id"], "pipeline_stage", row["stage_at"], row["vector"])

    # Open deals at D by source: the few with a converted lead, read from the leads' side;
    # the rest are direct.
    for row in _open_by_source(as_of, base, owners):
        for period in periods:
            _add(
                result,
                period,
                row["owner_id"],
                "pipeline_source",
                row["source"],
                [row["deals"], row["amount"]],
            )

    # Deals closed in the period: by kind, persona and source.
    closed = _closed(as_of, periods, owners)
    won_amount = converted("amount", "currency", OuterRef("closed_on"), base)
    for name, key in (
        ("deal_kind", F("kind")),
        ("persona", Coalesce(F("primary_contact__persona__name"), Value(NONE_KEY))),
        ("deal_source", _lead_source()),
    ):
        aggregates = {}
        for period, (start, _last) in periods.items():
            won = Q(status="won", closed_on__gte=start)
            aggregates |= {
                f"won:{period}": Count("id", filter=won),
                f"lost:{period}": Count("id", filter=Q(status="lost", closed_on__gte=start)),
                f"bookings:{period}": Sum(won_amount, filter=won),
                f"cycle:{period}": Sum(DaysBetween("closed_on", "created_on"), filter=won),
            }
        for row in closed.annotate(key=key).values("owner_id", "key").annotate(**aggregates):
            for period in periods:
                vector = [row[f"{f}:{period}"] for f in ("won", "lost", "bookings", "cycle")]
                if any(vector):
                    _add(result, period, row["owner_id"], name, row["key"], vector)

    # Leads in the period: by source and campaign.
    since = min(start for start, _last in periods.values())
    window = Q()
    for field in ("created_on", "handed_off_on", "accepted_on", "converted_on"):
        window |= Q(**{f"{field}__gte": since, f"{field}__lte": as_of})
    leads = _owned(Lead.objects.filter(window), owners).order_by()
    for name, key in (
        ("lead_source", F("source")),
        (
            "lead_campaign",
            Case(When(utm_campaign="", then=Value(NONE_KEY)), default=F("utm_campaign")),
        ),
    ):
        aggregates = {}
        for period, (start, _last) in periods.items():
            for field, alias in (
                ("created_on", "created"),
                ("handed_off_on", "mqls"),
                ("accepted_on", "sqls"),
                ("converted_on", "converted"),
            ):
                aggregates[f"{alias}:{period}"] = Count(
                    "id", filter=Q(**{f"{field}__gte": start, f"{field}__lte": as_of})
                )
        for row in leads.annotate(key=key).values("owner_id", "key").annotate(**aggregates):
            for period in periods:
                vector = [row[f"{f}:{period}"] for f in ("created", "mqls", "sqls", "converted")]
                if any(vector):
                    _add(result, period, row["owner_id"], name, row["key"], vector)

    # Accounts by health band (today's scores).
    band = Case(
        When(health_score__isnull=True, then=Value("unknown")),
        When(health_score__lt=AT_RISK_BELOW, then=Value("risk")),
        When(health_score__lt=70, then=Value("watch")),
        default=Value("good"),
        output_field=CharField(),
    )
    accounts = _owned(Account.objects.filter(is_deleted=False), owners).order_by()
    every_period(
        accounts.annotate(band=band).values("owner_id", "band").annotate(accounts=Count("id")),
        "health",
        "band",
        ("accounts",),
    )

    # Handoffs: decided in the period on time or late; waiting now, within or past the SLA.
    aggregates = {}
    for period, (start, _last) in periods.items():
        decided = Q(decided_at__date__gte=start, decided_at__date__lte=as_of)
        aggregates |= {
            f"on_time:{period}": Count("id", filter=decided & Q(decided_at__lte=F("sla_due_at"))),
            f"late:{period}": Count("id", filter=decided & Q(decided_at__gt=F("sla_due_at"))),
        }
    aggregates |= {
        "waiting": Count("id", filter=Q(status="pending", sla_due_at__gte=Now())),
        "breached": Count("id", filter=Q(status="pending", sla_due_at__lt=Now())),
    }
    handoffs = _owned(
        Handoff.objects.filter(Q(decided_at__date__gte=since) | Q(status="pending")),
        owners,
        "to_user_id",
    ).order_by()
    for row in handoffs.values(owner_id=F("to_user_id"), key=F("kind")).annotate(**aggregates):
        for period in periods:
            vector = [
                row[f"on_time:{period}"],
                row[f"late:{period}"],
                row["waiting"],
                row["breached"],
            ]
            if any(vector):
                _add(result, period, row["owner_id"], "handoff_sla", row["key"], vector)

    # Churn: subscriptions that ended in the period on accounts left with none active at D
    # (a plan change or a renewal is not churn), by their reason.
    mrr = converted("mrr", "currency", OuterRef("start_on"), base)
    still_paying = (
        Subscription.objects.confirmed().active_on(as_of).filter(account=OuterRef("account_id"))
    )
    ended = (
        _owned(
            Subscription.objects.confirmed().filter(end_on__gte=since, end_on__lte=as_of),
            owners,
            "account__owner_id",
        )
        .filter(~Exists(still_paying))
        .order_by()
    )
    aggregates = {}
    for period, (start, _last) in periods.items():
        # Ended in the period: active on its opening day… and not at D.
        in_period = Q(end_on__gt=start - timedelta(days=1))
        aggregates |= {
            f"n:{period}": Count("id", filter=in_period),
            f"mrr:{period}": Sum(mrr, filter=in_period),
        }
    rows = ended.values(
        owner_id=F("account__owner_id"),
        key=Coalesce(F("churn_reason__name"), Value(NONE_KEY)),
    ).annotate(**aggregates)
    for row in rows:
        for period in periods:
            vector = [row[f"n:{period}"], row[f"mrr:{period}"]]
            if any(vector):
                _add(result, period, row["owner_id"], "churn_reason", row["key"], vector)

    for period, by_owner in inputs.items():
        for owner, values in by_owner.items():
            new = values["new_mrr_total"] + values["reactivation_mrr_total"]
            marketing = values["marketing_new_mrr_total"]
            for key, amount in (("marketing", marketing), ("sales", new - marketing)):
                if amount:
                    cents = round_half_up(amount, 2)  # sums of amounts in cents: exact
                    _add(result, period, owner, "revenue_source", key, [cents])

    # Coaching: per owner, the deals open at D or won in the period, the activities logged
    # on them by D and their filled MEDDIC fields.
    meddic = sum(
        (Case(When(~Q(**{field: ""}), then=1), default=0) for field in MEDDIC_FIELDS),
        Value(0),
    )
    open_at = Q(created_on__lte=as_of) & (Q(closed_on__isnull=True) | Q(closed_on__gt=as_of))
    worked = {
        period: open_at | Q(status="won", closed_on__gte=start, closed_on__lte=as_of)
        for period, (start, _last) in periods.items()
    }
    deals = _owned(
        Opportunity.objects.filter(reduce(operator.or_, worked.values())), owners
    ).order_by()
    aggregates = {}
    for period, condition in worked.items():
        aggregates |= {
            f"deals:{period}": Count("id", filter=condition),
            f"meddic:{period}": Sum(meddic, filter=condition, output_field=IntegerField()),
        }
    coaching = {row["owner_id"]: row for row in deals.values("owner_id").annotate(**aggregates)}
    activity_aggregates = {
        f"activities:{period}": Count("id", filter=_prefixed(condition, "opportunity__"))
        for period, condition in worked.items()
    }
    activities = _owned(
        Activity.objects.filter(
            _prefixed(reduce(operator.or_, worked.values()), "opportunity__"),
            occurred_on__lte=as_of,
        ),
        owners,
        "opportunity__owner_id",
    ).order_by()
    for row in activities.values(deal_owner=F("opportunity__owner_id")).annotate(
        **activity_aggregates
    ):
        coaching.setdefault(row["deal_owner"], {}).update(row)
    for owner, row in coaching.items():
        for period in periods:
            vector = [
                row.get(f"deals:{period}") or 0,
                row.get(f"activities:{period}") or 0,
                row.get(f"meddic:{period}") or 0,
            ]
            if any(vector):
                _add(result, period, owner, "coaching", "all", vector)
    return {period: dict(by_owner) for period, by_owner in result.items()}


def _prefixed(condition: Q, prefix: str) -> Q:
    """The same condition on a related model's fields (`prefix` = "opportunity__")."""
    result = Q(_connector=condition.connector, _negated=condition.negated)
    for child in condition.children:
        if isinstance(child, Q):
            result.children.append(_prefixed(child, prefix))
        else:
            name, value = child
            result.children.append((prefix + name, value))
    return result


def _open_by_source(as_of, base, owners):
    """Open deals at D with a converted lead, per owner and the source of their earliest
    lead: read from the (few) converted leads, not per deal."""
    leads = _owned(
        Lead.objects.filter(
            Q(converted_opportunity__closed_on__isnull=True)
            | Q(converted_opportunity__closed_on__gt=as_of),
            converted_opportunity__isnull=False,
            converted_opportunity__created_on__lte=as_of,
        ),
        owners,
        "converted_opportunity__owner_id",
    )
    earliest = (
        leads.order_by("converted_opportunity_id", "created_on", "id")
        .distinct("converted_opportunity_id")
        .values("converted_opportunity_id", "source")
    )
    inner_sql, inner_params = earliest.query.sql_with_params()
    # Every deal takes the rates of D: constants of the query, not a lookup per deal.
    amount = converted_at("amount", "currency", rates_on(as_of), base)
    deals = (
        _owned(
            Opportunity.objects.filter(Q(closed_on__isnull=True) | Q(closed_on__gt=as_of)),
            owners,
        )
        .annotate(amount_base=amount)
        .values("id", "owner_id", "amount_base")
    )
    deals_sql, deals_params = deals.query.sql_with_params()
    sql = (
        "SELECT d.owner_id, l.source, COUNT(*) AS deals, SUM(d.amount_base) AS amount "  # noqa: S608
        f"FROM ({inner_sql}) AS l JOIN ({deals_sql}) AS d ON d.id = l.converted_opportunity_id "
        "GROUP BY 1, 2"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, (*inner_params, *deals_params))
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def add_breakdowns(total: dict, part: dict) -> dict:
    """`total` += `part`, in place."""
    for name, keys in part.items():
        target = total.setdefault(name, {})
        for key, vector in keys.items():
            values = [Decimal(v) for v in vector]
            current = target.get(key)
            target[key] = values if current is None else _plus(current, values)
    return total


def serialise(breakdowns: dict) -> dict:
    return {
        name: {key: [str(v) for v in vector] for key, vector in keys.items()}
        for name, keys in breakdowns.items()
    }
