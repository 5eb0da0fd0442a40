"""Every KPI of shared/spec/kpis.md, one small pure function each.

A KPI function's parameters name what it is computed from: either an *input* (an
additive total over records, which `metrics/selectors.py` aggregates in SQL per owner, so
that a team's or the organisation's inputs are the sums of its owners') or another KPI.
`evaluate()` resolves them. Values are exact (`Fraction`) until `present()` rounds them
once, half-up, to the KPI's unit: money 2 places, ratios 4, days 1, counts whole.
Each docstring is the formula in words, as the dashboards show it.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

# Bump a KPI's version when its formula changes, so stored snapshots can be told apart.
FORMULA_VERSION = 1

MONEY, RATIO, DAYS, COUNT = "money", "ratio", "days", "count"
PLACES = {MONEY: 2, RATIO: 4, DAYS: 1, COUNT: 0}

# Additive inputs: money sums are exact sums of amounts each rounded to the cent, day sums
# are whole days. `acv_by_months` maps contract_months to Σ (amount − one_time_amount).
INPUTS = (
    "closing_mrr_total",
    "paying_accounts",
    "open_count",
    "open_amount",
    "open_weighted",
    "won_count",
    "won_amount",
    "lost_count",
    "won_365d_amount",
    "won_created_in_period_amount",
    "won_expansion_amount",
    "won_cycle_days",
    "won_touch_days",
    "acv_count",
    "acv_by_months",
    "quota_amount",
    "leads_created_count",
    "leads_handed_off_count",
    "leads_accepted_count",
    "leads_converted_count",
    "response_days",
    "response_count",
    "opening_mrr_total",
    "new_mrr_total",
    "reactivation_mrr_total",
    "expansion_mrr_total",
    "contraction_mrr_total",
    "churned_mrr_total",
    # New and reactivated MRR of accounts with a lead converted into one of their deals:
    # read by the dashboards' revenue by source, by no KPI.
    "marketing_new_mrr_total",
    "opening_accounts",
    "churned_accounts",
    "retained_mrr_total",
    "retained_floor_total",
    "year_ago_mrr_total",
    "retained_12m_total",
    "retained_floor_12m_total",
    "forecast_commit_amount",
    "forecast_best_case_amount",
    "forecast_weighted_amount",
    "forecast_open_amount",
)


def empty_inputs() -> dict:
    return {name: ({} if name == "acv_by_months" else Fraction(0)) for name in INPUTS}


def add_inputs(total: dict, part: dict) -> dict:
    """`total` += `part`, in place (inputs are additive over owners)."""
    for name, value in part.items():
        if name == "acv_by_months":
            for months, amount in value.items():
                total[name][months] = total[name].get(months, Fraction(0)) + Fraction(amount)
        else:
            total[name] += Fraction(value)
    return total


def ratio(numerator, denominator):
    """numerator / denominator, or None when the denominator is zero (kpis.md)."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return Fraction(numerator) / Fraction(denominator)


# --- Point in time, at D -------------------------------------------------------------------


def mrr(closing_mrr_total):
    """Σ MRR of the subscriptions active at D (started on or before D, not ended by D)."""
    return closing_mrr_total


def arr(mrr):
    """Annual recurring revenue: 12 × MRR."""
    return 12 * mrr


def customers(paying_accounts):
    """Number of accounts whose MRR at D is above 0."""
    return paying_accounts


def arpa(mrr, customers):
    """MRR ÷ customers (average revenue per account)."""
    return ratio(mrr, customers)


def open_pipeline(open_amount):
    """Σ amount of the opportunities open at D (created on or before D, not closed by D)."""
    return open_amount


def open_deals(open_count):
    """Number of opportunities open at D."""
    return open_count


def weighted_pipeline(open_weighted):
    """Σ amount × probability of the stage each open opportunity was in at D."""
    return open_weighted


# --- Over the period to date -----------------------------------------------------------------


def bookings(won_amount):
    """Σ amount of the opportunities won with a close date in the period."""
    return won_amount


def bookings_365d(won_365d_amount):
    """Σ amount of the opportunities won in the 365 days up to D (annual bookings)."""
    return won_365d_amount


def deals_won(won_count):
    """Number of opportunities won with a close date in the period."""
    return won_count


def deals_lost(lost_count):
    """Number of opportunities lost with a close date in the period."""
    return lost_count


def win_rate(deals_won, deals_lost):
    """Deals won ÷ (deals won + deals lost) in the period."""
    return ratio(deals_won, deals_won + deals_lost)


def avg_deal_size(bookings, deals_won):
    """Bookings ÷ deals won."""
    return ratio(bookings, deals_won)


def acv(acv_by_months, acv_count):
    """Mean annual contract value of the deals won in the period with a contract length:
    (amount − one-time fees) ÷ (contract months ÷ 12)."""
    total = sum(
        (Fraction(amount) * 12 / int(months) for months, amount in acv_by_months.items()),
        Fraction(0),
    )
    return ratio(total, acv_count)


def sales_cycle_length_days(won_cycle_days, deals_won):
    """Mean days from creation to close of the deals won in the period."""
    return ratio(won_cycle_days, deals_won)


def avg_sales_cycle_days(won_touch_days, deals_won):
    """Mean days from first touch (the deal's or its earliest converted lead's creation) to
    close of the deals won in the period."""
    return ratio(won_touch_days, deals_won)


def in_period_bookings(won_created_in_period_amount):
    """Σ amount of the deals won in the period that were created in the period."""
    return won_created_in_period_amount


def expansion_bookings(won_expansion_amount):
    """Σ amount of the expansion deals won in the period (cross-selling)."""
    return won_expansion_amount


def sales_velocity(open_deals, win_rate, avg_deal_size, sales_cycle_length_days):
    """Open deals × win rate × average deal size ÷ sales cycle length (money per day)."""
    if None in (win_rate, avg_deal_size):
        return None
    return ratio(open_deals * win_rate * avg_deal_size, sales_cycle_length_days)


def quota(quota_amount):
    """Σ quotas of the scope's sellers set for periods inside this one (the whole period)."""
    return quota_amount


def quota_attainment(bookings, quota):
    """Bookings ÷ quota."""
    return ratio(bookings, quota)


def leads_created(leads_created_count):
    """Number of leads created in the period."""
    return leads_created_count


def mqls(leads_handed_off_count):
    """Number of leads handed from marketing to sales in the period (MQLs)."""
    return leads_handed_off_count


def sqls(leads_accepted_count):
    """Number of leads accepted by sales in the period (SQLs)."""
    return leads_accepted_count


def leads_converted(leads_converted_count):
    """Number of leads converted into deals in the period."""
    return leads_converted_count


def funnel_conversion_rate(leads_converted, leads_created):
    """Leads converted ÷ leads created in the period."""
    return ratio(leads_converted, leads_created)


def mql_to_sql_rate(sqls, mqls):
    """SQLs ÷ MQLs in the period."""
    return ratio(sqls, mqls)


def lead_response_days(response_days, response_count):
    """Mean days from hand-off to acceptance of the leads accepted in the period."""
    return ratio(response_days, response_count)


# --- Recurring revenue movements: O(a) at opening, C(a) at D, per account ------------------


def opening_mrr(opening_mrr_total):
    """Σ MRR at the day before the period began."""
    return opening_mrr_total


def closing_mrr(mrr):
    """Σ MRR at D."""
    return mrr


def new_mrr(new_mrr_total):
    """Σ MRR at D of accounts that had none at opening and never had a subscription before."""
    return new_mrr_total


def reactivation_mrr(reactivation_mrr_total):
    """Σ MRR at D of accounts that had none at opening but had a subscription before."""
    return reactivation_mrr_total


def expansion_mrr(expansion_mrr_total):
    """Σ growth of accounts whose MRR rose from above zero at opening."""
    return expansion_mrr_total


def contraction_mrr(contraction_mrr_total):
    """Σ decrease of accounts whose MRR fell but stayed above zero."""
    return contraction_mrr_total


def churned_mrr(churned_mrr_total):
    """Σ opening MRR of accounts whose MRR fell to zero."""
    return churned_mrr_total


def net_new_mrr(new_mrr, reactivation_mrr, expansion_mrr, contraction_mrr, churned_mrr):
    """New + reactivation + expansion − contraction − churned (= closing − opening MRR)."""
    return new_mrr + reactivation_mrr + expansion_mrr - contraction_mrr - churned_mrr


def opening_customers(opening_accounts):
    """Number of accounts with MRR above zero at opening."""
    return opening_accounts


def churned_customers(churned_accounts):
    """Number of accounts whose MRR fell from above zero at opening to zero at D."""
    return churned_accounts


def logo_churn_rate(churned_customers, opening_customers):
    """Churned customers ÷ opening customers."""
    return ratio(churned_customers, opening_customers)


def gross_mrr_churn_rate(churned_mrr, contraction_mrr, opening_mrr):
    """(Churned MRR + contraction MRR) ÷ opening MRR."""
    return ratio(churned_mrr + contraction_mrr, opening_mrr)


def nrr(retained_mrr_total, opening_mrr):
    """Net revenue retention: MRR at D of the accounts paying at opening ÷ opening MRR."""
    return ratio(retained_mrr_total, opening_mrr)


def grr(retained_floor_total, opening_mrr):
    """Gross revenue retention: Σ min(opening, closing) MRR of the accounts paying at
    opening ÷ opening MRR."""
    return ratio(retained_floor_total, opening_mrr)


def revenue_impact(net_new_mrr):
    """12 × net new MRR: the net new ARR."""
    return 12 * net_new_mrr


def nrr_12m(retained_12m_total, year_ago_mrr_total):
    """NRR over the trailing year: MRR at D of the accounts paying 365 days earlier ÷ their
    MRR then."""
    return ratio(retained_12m_total, year_ago_mrr_total)


def grr_12m(retained_floor_12m_total, year_ago_mrr_total):
    """GRR over the trailing year: Σ min(then, now) MRR of the accounts paying 365 days
    earlier ÷ their MRR then."""
    return ratio(retained_floor_12m_total, year_ago_mrr_total)


# --- Forecast: open deals at D expected to close in the (whole) period ------------------------


def forecast_commit(bookings, forecast_commit_amount):
    """Bookings + Σ amount of open deals in the commit category expected to close in the
    period."""
    return bookings + forecast_commit_amount


def forecast_best_case(forecast_commit, forecast_best_case_amount):
    """Commit forecast + Σ amount of open deals in the best-case category expected to close
    in the period."""
    return forecast_commit + forecast_best_case_amount


def forecast_weighted(bookings, forecast_weighted_amount):
    """Bookings + Σ amount × stage probability of open deals expected to close in the
    period (all but omitted)."""
    return bookings + forecast_weighted_amount


def pipeline_coverage(forecast_open_amount, quota, bookings):
    """Σ amount of open deals expected to close in the period (all but omitted) ÷ (quota −
    bookings); none when nothing is left to book."""
    gap = quota - bookings
    return ratio(forecast_open_amount, gap) if gap > 0 else None


def forecast_accuracy(forecast_at_start, bookings_at_end):
    """1 − |weighted forecast at the period's first day − bookings at its last day| ÷
    bookings at its last day."""
    if forecast_at_start is None:
        return None
    error = ratio(abs(Fraction(forecast_at_start) - Fraction(bookings_at_end)), bookings_at_end)
    return None if error is None else 1 - error


# --- Registry ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kpi:
    key: str
    unit: str
    function: object
    parameters: tuple[str, ...] = ()

    @property
    def formula_source(self) -> str:
        """The docstring, on one line: the formula in English."""
        return " ".join(inspect.getdoc(self.function).split())

    @property
    def formula(self) -> str:
        """The formula in the active language (metrics/formulas.py holds the messages)."""
        from django.utils.translation import gettext

        return gettext(self.formula_source)


def _kpi(key: str, unit: str) -> Kpi:
    function = globals()[key]
    return Kpi(key, unit, function, tuple(inspect.signature(function).parameters))


_UNITS = {
    MONEY: """mrr arr arpa open_pipeline weighted_pipeline bookings bookings_365d avg_deal_size
        acv in_period_bookings expansion_bookings sales_velocity quota opening_mrr
        closing_mrr new_mrr reactivation_mrr expansion_mrr contraction_mrr churned_mrr
        net_new_mrr revenue_impact forecast_commit forecast_best_case forecast_weighted""",
    RATIO: """win_rate quota_attainment funnel_conversion_rate mql_to_sql_rate logo_churn_rate
        gross_mrr_churn_rate nrr grr nrr_12m grr_12m pipeline_coverage""",
    DAYS: "sales_cycle_length_days avg_sales_cycle_days lead_response_days",
    COUNT: """customers open_deals deals_won deals_lost leads_created mqls sqls leads_converted
        opening_customers churned_customers""",
}

KPIS: dict[str, Kpi] = {
    key: _kpi(key, unit) for unit, keys in _UNITS.items() for key in keys.split()
}
# The order of the spec's tables, for tables and JSON output.
ORDER = (
    "mrr",
    "arr",
    "customers",
    "arpa",
    "open_pipeline",
    "open_deals",
    "weighted_pipeline",
    "bookings",
    "bookings_365d",
    "deals_won",
    "deals_lost",
    "win_rate",
    "avg_deal_size",
    "acv",
    "sales_cycle_length_days",
    "avg_sales_cycle_days",
    "in_period_bookings",
    "expansion_bookings",
    "sales_velocity",
    "quota",
    "quota_attainment",
    "leads_created",
    "mqls",
    "sqls",
    "leads_converted",
    "funnel_conversion_rate",
    "mql_to_sql_rate",
    "lead_response_days",
    "opening_mrr",
    "closing_mrr",
    "new_mrr",
    "reactivation_mrr",
    "expansion_mrr",
    "contraction_mrr",
    "churned_mrr",
    "net_new_mrr",
    "opening_customers",
    "churned_customers",
    "logo_churn_rate",
    "gross_mrr_churn_rate",
    "nrr",
    "grr",
    "revenue_impact",
    "nrr_12m",
    "grr_12m",
    "forecast_commit",
    "forecast_best_case",
    "forecast_weighted",
    "pipeline_coverage",
)
assert sorted(ORDER) == sorted(KPIS), "every KPI has a place in ORDER"


def evaluate(inputs: dict) -> dict:
    """Every KPI from one scope's inputs, exact (Fraction, int-like Fraction or None)."""
    values: dict = {}

    def value_of(name):
        if name in values:
            return values[name]
        if name in KPIS:
            kpi = KPIS[name]
            values[name] = kpi.function(*(value_of(p) for p in kpi.parameters))
            return values[name]
        return inputs[name]

    for key in ORDER:
        value_of(key)
    return {key: values[key] for key in ORDER}


def round_half_up(value, places: int) -> Decimal:
    """An exact value rounded once, half away from zero, to `places` decimals (decided on
    the exact fraction, never on a rounded quotient)."""
    value = Fraction(value)
    numerator, denominator = abs(value.numerator), value.denominator
    # floor(|value| × 10^places + 1/2) in integers.
    units = (2 * numerator * 10**places + denominator) // (2 * denominator)
    return Decimal(-units if value < 0 else units).scaleb(-places)


def present(key: str, value):
    """The KPI as the spec's output writes it: a decimal string with the unit's places, an
    integer for counts, or None."""
    if value is None:
        return None
    unit = KPIS[key].unit
    if unit == COUNT:
        return int(value)
    return str(round_half_up(value, PLACES[unit]))


def stored(key: str, value) -> Decimal | None:
    """The rounded value a snapshot keeps."""
    if value is None:
        return None
    return round_half_up(value, PLACES[KPIS[key].unit])
