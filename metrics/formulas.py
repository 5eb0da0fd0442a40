# ruff: noqa: E501 (one message per line, as translators read them)
"""The KPI formulas (the functions' docstrings in metrics/kpis.py) as translatable
messages; a test keeps them identical to the docstrings."""

from django.utils.translation import gettext_noop

FORMULAS = {
    "mrr": gettext_noop(
        "Σ MRR of the subscriptions active at D (started on or before D, not ended by D)."
    ),
    "arr": gettext_noop("Annual recurring revenue: 12 × MRR."),
    "customers": gettext_noop("Number of accounts whose MRR at D is above 0."),
    "arpa": gettext_noop("MRR ÷ customers (average revenue per account)."),
    "open_pipeline": gettext_noop(
        "Σ amount of the opportunities open at D (created on or before D, not closed by D)."
    ),
    "open_deals": gettext_noop("Number of opportunities open at D."),
    "weighted_pipeline": gettext_noop(
        "Σ amount × probability of the stage each open opportunity was in at D."
    ),
    "bookings": gettext_noop("Σ amount of the opportunities won with a close date in the period."),
    "bookings_365d": gettext_noop(
        "Σ amount of the opportunities won in the 365 days up to D (annual bookings)."
    ),
    "deals_won": gettext_noop("Number of opportunities won with a close date in the period."),
    "deals_lost": gettext_noop("Number of opportunities lost with a close date in the period."),
    "win_rate": gettext_noop("Deals won ÷ (deals won + deals lost) in the period."),
    "avg_deal_size": gettext_noop("Bookings ÷ deals won."),
    "acv": gettext_noop(
        "Mean annual contract value of the deals won in the period with a contract length: (amount − one-time fees) ÷ (contract months ÷ 12)."
    ),
    "sales_cycle_length_days": gettext_noop(
        "Mean days from creation to close of the deals won in the period."
    ),
    "avg_sales_cycle_days": gettext_noop(
        "Mean days from first touch (the deal's or its earliest converted lead's creation) to close of the deals won in the period."
    ),
    "in_period_bookings": gettext_noop(
        "Σ amount of the deals won in the period that were created in the period."
    ),
    "expansion_bookings": gettext_noop(
        "Σ amount of the expansion deals won in the period (cross-selling)."
    ),
    "sales_velocity": gettext_noop(
        "Open deals × win rate × average deal size ÷ sales cycle length (money per day)."
    ),
    "quota": gettext_noop(
        "Σ quotas of the scope's sellers set for periods inside this one (the whole period)."
    ),
    "quota_attainment": gettext_noop("Bookings ÷ quota."),
    "leads_created": gettext_noop("Number of leads created in the period."),
    "mqls": gettext_noop("Number of leads handed from marketing to sales in the period (MQLs)."),
    "sqls": gettext_noop("Number of leads accepted by sales in the period (SQLs)."),
    "leads_converted": gettext_noop("Number of leads converted into deals in the period."),
    "funnel_conversion_rate": gettext_noop("Leads converted ÷ leads created in the period."),
    "mql_to_sql_rate": gettext_noop("SQLs ÷ MQLs in the period."),
    "lead_response_days": gettext_noop(
        "Mean days from hand-off to acceptance of the leads accepted in the period."
    ),
    "opening_mrr": gettext_noop("Σ MRR at the day before the period began."),
    "closing_mrr": gettext_noop("Σ MRR at D."),
    "new_mrr": gettext_noop(
        "Σ MRR at D of accounts that had none at opening and never had a subscription before."
    ),
    "reactivation_mrr": gettext_noop(
        "Σ MRR at D of accounts that had none at opening but had a subscription before."
    ),
    "expansion_mrr": gettext_noop(
        "Σ growth of accounts whose MRR rose from above zero at opening."
    ),
    "contraction_mrr": gettext_noop("Σ decrease of accounts whose MRR fell but stayed above zero."),
    "churned_mrr": gettext_noop("Σ opening MRR of accounts whose MRR fell to zero."),
    "net_new_mrr": gettext_noop(
        "New + reactivation + expansion − contraction − churned (= closing − opening MRR)."
    ),
    "opening_customers": gettext_noop("Number of accounts with MRR above zero at opening."),
    "churned_customers": gettext_noop(
        "Number of accounts whose MRR fell from above zero at opening to zero at D."
    ),
    "logo_churn_rate": gettext_noop("Churned customers ÷ opening customers."),
    "gross_mrr_churn_rate": gettext_noop("(Churned MRR + contraction MRR) ÷ opening MRR."),
    "nrr": gettext_noop(
        "Net revenue retention: MRR at D of the accounts paying at opening ÷ opening MRR."
    ),
    "grr": gettext_noop(
        "Gross revenue retention: Σ min(opening, closing) MRR of the accounts paying at opening ÷ opening MRR."
    ),
    "revenue_impact": gettext_noop("12 × net new MRR: the net new ARR."),
    "nrr_12m": gettext_noop(
        "NRR over the trailing year: MRR at D of the accounts paying 365 days earlier ÷ their MRR then."
    ),
    "grr_12m": gettext_noop(
        "GRR over the trailing year: Σ min(then, now) MRR of the accounts paying 365 days earlier ÷ their MRR then."
    ),
    "forecast_commit": gettext_noop(
        "Bookings + Σ amount of open deals in the commit category expected to close in the period."
    ),
    "forecast_best_case": gettext_noop(
        "Commit forecast + Σ amount of open deals in the best-case category expected to close in the period."
    ),
    "forecast_weighted": gettext_noop(
        "Bookings + Σ amount × stage probability of open deals expected to close in the period (all but omitted)."
    ),
    "pipeline_coverage": gettext_noop(
        "Σ amount of open deals expected to close in the period (all but omitted) ÷ (quota − bookings); none when nothing is left to book."
    ),
}
