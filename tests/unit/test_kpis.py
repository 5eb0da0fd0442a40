"""The KPI functions of metrics/kpis.py on hand-computed values, without a database."""

from decimal import Decimal
from fractions import Fraction

import pytest

from metrics import kpis
from metrics.kpis import KPIS, ORDER, empty_inputs, evaluate, present, round_half_up


def _inputs(**values):
    inputs = empty_inputs()
    for name, value in values.items():
        inputs[name] = value if name == "acv_by_months" else Fraction(value)
    return inputs


def test_every_ratio_and_average_is_null_when_its_denominator_is_zero():
    values = {key: present(key, value) for key, value in evaluate(empty_inputs()).items()}
    nulls = {key for key, value in values.items() if value is None}
    assert nulls == {
        "arpa",
        "win_rate",
        "avg_deal_size",
        "acv",
        "sales_cycle_length_days",
        "avg_sales_cycle_days",
        "sales_velocity",
        "quota_attainment",
        "funnel_conversion_rate",
        "mql_to_sql_rate",
        "lead_response_days",
        "logo_churn_rate",
        "gross_mrr_churn_rate",
        "nrr",
        "grr",
        "nrr_12m",
        "grr_12m",
        "pipeline_coverage",
    }
    assert values["bookings"] == "0.00" and values["deals_won"] == 0


def test_output_units_follow_the_spec():
    values = evaluate(_inputs(won_count=3, lost_count=5, won_amount="1000.00", won_cycle_days=124))
    assert present("win_rate", values["win_rate"]) == "0.3750"
    assert present("avg_deal_size", values["avg_deal_size"]) == "333.33"
    assert present("sales_cycle_length_days", values["sales_cycle_length_days"]) == "41.3"
    assert present("deals_won", values["deals_won"]) == 3


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (Fraction(1, 200), 2, "0.01"),  # 0.005: half goes up
        (Fraction(-1, 200), 2, "-0.01"),  # and away from zero below it
        (Fraction(1, 3), 4, "0.3333"),
        (Fraction(2, 3), 4, "0.6667"),
        (Fraction(125, 10), 0, "13"),
        (Fraction(0), 2, "0.00"),
    ],
)
def test_rounding_is_half_up_away_from_zero(value, places, expected):
    assert str(round_half_up(value, places)) == expected


def test_rounding_happens_once_at_the_end_not_on_the_parts():
    # Three deals of 0.01 split across a probability of 0.5: 0.005 each, 0.015 in all.
    values = evaluate(_inputs(open_weighted=Fraction("0.015"), open_count=3))
    assert present("weighted_pipeline", values["weighted_pipeline"]) == "0.02"


def test_acv_excludes_one_time_fees_and_annualises_each_contract_exactly():
    # 900 over 12 months and 600 over 7 months: (900 + 600 × 12/7) / 2.
    values = evaluate(_inputs(acv_by_months={12: Fraction(900), 7: Fraction(600)}, acv_count=2))
    assert values["acv"] == (Fraction(900) + Fraction(600 * 12, 7)) / 2
    assert present("acv", values["acv"]) == "964.29"


def test_sales_velocity_uses_exact_parts():
    values = evaluate(
        _inputs(open_count=3, won_count=2, lost_count=1, won_amount=1600, won_cycle_days=41)
    )
    # 3 × 2/3 × 800 ÷ 20.5
    assert values["sales_velocity"] == Fraction(1600) / Fraction(41, 2)
    assert present("sales_velocity", values["sales_velocity"]) == "78.05"


def test_sales_velocity_is_null_when_every_deal_closed_the_day_it_opened():
    values = evaluate(_inputs(open_count=3, won_count=2, won_amount=10, won_cycle_days=0))
    assert values["sales_velocity"] is None


def test_mrr_movements_add_up_and_revenue_impact_is_twelve_times_net_new():
    values = evaluate(
        _inputs(
            new_mrr_total=50,
            reactivation_mrr_total=90,
            expansion_mrr_total=50,
            contraction_mrr_total=180,
            churned_mrr_total=220,
        )
    )
    assert values["net_new_mrr"] == -210
    assert present("revenue_impact", values["revenue_impact"]) == "-2520.00"


def test_pipeline_coverage_is_null_once_quota_is_met():
    met = evaluate(_inputs(quota_amount=1000, won_amount=1000, forecast_open_amount=500))
    short = evaluate(_inputs(quota_amount=5000, won_amount=1600, forecast_open_amount=1680))
    assert met["pipeline_coverage"] is None
    assert present("pipeline_coverage", short["pipeline_coverage"]) == "0.4941"


def test_forecast_accuracy():
    assert kpis.forecast_accuracy(Decimal("900"), Decimal("1000")) == Fraction(9, 10)
    assert kpis.forecast_accuracy(Decimal("1100"), Decimal("1000")) == Fraction(9, 10)
    assert kpis.forecast_accuracy(Decimal("1"), Decimal("0")) is None
    assert kpis.forecast_accuracy(None, Decimal("10")) is None


def test_every_kpi_has_a_formula_and_a_unit():
    assert sorted(ORDER) == sorted(KPIS)
    for kpi in KPIS.values():
        assert kpi.formula.endswith("."), kpi.key
        assert kpi.unit in kpis.PLACES


def test_the_translatable_formulas_are_the_docstrings():
    from metrics.formulas import FORMULAS

    assert {key: KPIS[key].formula_source for key in ORDER} == FORMULAS
