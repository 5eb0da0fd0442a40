"""shared/spec/kpis.md computed the slow, obvious way: a Python loop over every row, as a
spreadsheet built by hand would. The tests hold the SQL engine to it."""

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from crm.models import Subscription
from metrics.models import Quota
from metrics.periods import current_period
from pipeline.models import Lead, Opportunity, StageChange
from revops.models import FxRate, Organisation


def _rate(currency, day, base):
    if currency == base:
        return Decimal(1)
    rows = sorted(FxRate.objects.filter(currency=currency), key=lambda r: r.valid_from)
    before = [r for r in rows if r.valid_from <= day]
    return (before[-1] if before else rows[0]).rate_to_base


def _base(amount, currency, day, base):
    if amount is None:
        return Fraction(0)
    value = (amount * _rate(currency, day, base)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return Fraction(value)


def _div(a, b):
    return None if b == 0 else Fraction(a) / Fraction(b)


def oracle(as_of, grain="month", calendar="gregorian", owners=None):
    """Every KPI, exact, for the owners' records (None: the whole organisation)."""
    base = Organisation.get().base_currency
    start, last = current_period(grain, as_of, calendar)

    def mine(owner_id):
        return owners is None or owner_id in owners

    deals = [d for d in Opportunity.objects.select_related("stage") if mine(d.owner_id)]

    def probability(deal):
        rows = sorted(
            StageChange.objects.filter(opportunity=deal).select_related("to_stage"),
            key=lambda r: (r.entered_on, r.to_stage.position, r.pk),
        )
        upto = [r for r in rows if r.entered_on <= as_of]
        if upto:
            return Fraction(upto[-1].to_stage.probability)
        if rows:
            return Fraction(rows[0].to_stage.probability)
        return Fraction(deal.stage.probability)

    def is_open(d):
        return d.created_on <= as_of and (d.closed_on is None or d.closed_on > as_of)

    def at_close(d):
        return _base(d.amount, d.currency, d.closed_on, base)

    open_deals = [d for d in deals if is_open(d)]
    v = {}
    v["open_deals"] = len(open_deals)
    v["open_pipeline"] = sum((_base(d.amount, d.currency, as_of, base) for d in open_deals), 0)
    v["weighted_pipeline"] = sum(
        (_base(d.amount, d.currency, as_of, base) * probability(d) for d in open_deals), 0
    )
    won = [d for d in deals if d.status == "won" and start <= d.closed_on <= as_of]
    lost = [d for d in deals if d.status == "lost" and start <= d.closed_on <= as_of]
    v["bookings"] = sum((at_close(d) for d in won), Fraction(0))
    v["bookings_365d"] = sum(
        (
            at_close(d)
            for d in deals
            if d.status == "won" and as_of - timedelta(days=364) <= d.closed_on <= as_of
        ),
        Fraction(0),
    )
    v["deals_won"], v["deals_lost"] = len(won), len(lost)
    v["win_rate"] = _div(len(won), len(won) + len(lost))
    v["avg_deal_size"] = _div(v["bookings"], len(won))
    with_length = [d for d in won if d.contract_months]
    v["acv"] = _div(
        sum(
            (
                (at_close(d) - _base(d.one_time_amount, d.currency, d.closed_on, base))
                / Fraction(d.contract_months, 12)
                for d in with_length
            ),
            Fraction(0),
        ),
        len(with_length),
    )
    v["sales_cycle_length_days"] = _div(
        sum((d.closed_on - d.created_on).days for d in won), len(won)
    )

    def first_touch(d):
        leads = [lead.created_on for lead in Lead.objects.filter(converted_opportunity=d)]
        return min([d.created_on, *leads])

    v["avg_sales_cycle_days"] = _div(
        sum((d.closed_on - first_touch(d)).days for d in won), len(won)
    )
    v["in_period_bookings"] = sum((at_close(d) for d in won if d.created_on >= start), Fraction(0))
    v["expansion_bookings"] = sum((at_close(d) for d in won if d.kind == "expansion"), Fraction(0))
    if v["win_rate"] is None or v["sales_cycle_length_days"] in (None, 0):
        v["sales_velocity"] = None
    else:
        v["sales_velocity"] = (
            v["open_deals"] * v["win_rate"] * v["avg_deal_size"] / v["sales_cycle_length_days"]
        )
    v["quota"] = sum(
        (
            Fraction(q.amount)
            for q in Quota.objects.all()
            if mine(q.user_id) and q.period_start >= start and q.period_end <= last
        ),
        Fraction(0),
    )
    v["quota_attainment"] = _div(v["bookings"], v["quota"])

    leads = [lead for lead in Lead.objects.all() if mine(lead.owner_id)]

    def within(day):
        return day is not None and start <= day <= as_of

    v["leads_created"] = sum(1 for x in leads if within(x.created_on))
    v["mqls"] = sum(1 for x in leads if within(x.handed_off_on))
    v["sqls"] = sum(1 for x in leads if within(x.accepted_on))
    v["leads_converted"] = sum(1 for x in leads if within(x.converted_on))
    v["funnel_conversion_rate"] = _div(v["leads_converted"], v["leads_created"])
    v["mql_to_sql_rate"] = _div(v["sqls"], v["mqls"])
    answered = [x for x in leads if within(x.accepted_on) and x.handed_off_on]
    v["lead_response_days"] = _div(
        sum((x.accepted_on - x.handed_off_on).days for x in answered), len(answered)
    )

    subs = [
        s
        for s in Subscription.objects.filter(status="confirmed").select_related("account")
        if mine(s.account.owner_id)
    ]

    def mrr_at(account_id, day):
        return sum(
            (
                _base(s.mrr, s.currency, s.start_on, base)
                for s in subs
                if s.account_id == account_id
                and s.start_on <= day
                and (s.end_on is None or s.end_on > day)
            ),
            Fraction(0),
        )

    accounts = {s.account_id for s in subs}
    opening_day = start - timedelta(days=1)
    O = {a: mrr_at(a, opening_day) for a in accounts}  # noqa: E741
    C = {a: mrr_at(a, as_of) for a in accounts}
    Y = {a: mrr_at(a, as_of - timedelta(days=365)) for a in accounts}
    earlier = {a for a in accounts if any(s.account_id == a and s.start_on < start for s in subs)}
    v["mrr"] = sum(C.values(), Fraction(0))
    v["arr"] = 12 * v["mrr"]
    v["customers"] = sum(1 for a in accounts if C[a] > 0)
    v["arpa"] = _div(v["mrr"], v["customers"])
    v["opening_mrr"], v["closing_mrr"] = sum(O.values(), Fraction(0)), v["mrr"]
    v["new_mrr"] = sum((C[a] for a in accounts if O[a] == 0 < C[a] and a not in earlier), 0)
    v["reactivation_mrr"] = sum((C[a] for a in accounts if O[a] == 0 < C[a] and a in earlier), 0)
    v["expansion_mrr"] = sum((C[a] - O[a] for a in accounts if 0 < O[a] < C[a]), Fraction(0))
    v["contraction_mrr"] = sum((O[a] - C[a] for a in accounts if 0 < C[a] < O[a]), Fraction(0))
    v["churned_mrr"] = sum((O[a] for a in accounts if O[a] > 0 == C[a]), Fraction(0))
    v["net_new_mrr"] = (
        v["new_mrr"]
        + v["reactivation_mrr"]
        + v["expansion_mrr"]
        - v["contraction_mrr"]
        - v["churned_mrr"]
    )
    v["opening_customers"] = sum(1 for a in accounts if O[a] > 0)
    v["churned_customers"] = sum(1 for a in accounts if O[a] > 0 == C[a])
    v["logo_churn_rate"] = _div(v["churned_customers"], v["opening_customers"])
    v["gross_mrr_churn_rate"] = _div(v["churned_mrr"] + v["contraction_mrr"], v["opening_mrr"])
    v["nrr"] = _div(sum((C[a] for a in accounts if O[a] > 0), Fraction(0)), v["opening_mrr"])
    v["grr"] = _div(
        sum((min(O[a], C[a]) for a in accounts if O[a] > 0), Fraction(0)), v["opening_mrr"]
    )
    v["revenue_impact"] = 12 * v["net_new_mrr"]
    year_ago = sum((Y[a] for a in accounts if Y[a] > 0), Fraction(0))
    v["nrr_12m"] = _div(sum((C[a] for a in accounts if Y[a] > 0), Fraction(0)), year_ago)
    v["grr_12m"] = _div(sum((min(Y[a], C[a]) for a in accounts if Y[a] > 0), Fraction(0)), year_ago)

    due = [d for d in open_deals if d.expected_close_on and start <= d.expected_close_on <= last]

    def category(d):
        return d.forecast_category or "pipeline"

    def amount_at(d):
        return _base(d.amount, d.currency, as_of, base)

    v["forecast_commit"] = v["bookings"] + sum(
        (amount_at(d) for d in due if category(d) == "commit"), Fraction(0)
    )
    v["forecast_best_case"] = v["forecast_commit"] + sum(
        (amount_at(d) for d in due if category(d) == "best_case"), Fraction(0)
    )
    counted = [d for d in due if category(d) != "omitted"]
    v["forecast_weighted"] = v["bookings"] + sum(
        (amount_at(d) * probability(d) for d in counted), Fraction(0)
    )
    gap = v["quota"] - v["bookings"]
    v["pipeline_coverage"] = (
        _div(sum((amount_at(d) for d in counted), Fraction(0)), gap) if gap > 0 else None
    )
    return v
