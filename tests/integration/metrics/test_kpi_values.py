"""The KPIs of shared/spec/kpis.md on a world computed by hand, through the `kpis` command."""

import json
from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command

from revops.models import FxRate
from tests.factories import AccountFactory

from .world import EXPECTED_ORG_MONTH, D, build, subscription

pytestmark = pytest.mark.django_db


def kpis(*args):
    out = StringIO()
    call_command("kpis", "--format", "json", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def world(rep, teammate, other_team_rep):
    build(rep, teammate, other_team_rep)


def test_every_kpi_of_the_organisation_matches_the_hand_computation(world):
    report = kpis("--as-of", D.isoformat())
    assert report["period"] == {
        "grain": "month",
        "calendar": "gregorian",
        "start": "2026-06-01",
        "end": "2026-06-17",
        "last_day": "2026-06-30",
    }
    assert report["scope"] == {"kind": "org"}
    assert report["currency"] == "USD"
    assert report["kpis"] == EXPECTED_ORG_MONTH


def test_owner_scope_takes_the_owners_deals_leads_and_accounts(world, rep):
    got = kpis("--as-of", D.isoformat(), "--owner", rep.email)["kpis"]
    assert got["bookings"] == "1600.00"
    assert (got["deals_won"], got["deals_lost"]) == (2, 1)
    assert got["mqls"] == 1  # the unowned lead counts for the organisation only
    assert got["mrr"] == "510.00"
    assert got["quota"] == "5000.00"


def test_team_scope_and_quarter(world, rep):
    team = rep.team.name
    month = kpis("--as-of", D.isoformat(), "--team", team)
    quarter = kpis("--as-of", D.isoformat(), "--team", team, "--period", "quarter")
    assert month["scope"] == {"kind": "team", "name": team}
    assert month["kpis"]["bookings"] == "1600.00"
    # The teammate's deal won on May 31 is in the quarter; so is their quarterly quota, and
    # the quota straddling June's end is in neither.
    assert quarter["kpis"]["bookings"] == "3600.00"
    assert quarter["kpis"]["quota"] == "14000.00"
    assert quarter["period"]["start"] == "2026-04-01"


def test_a_subscription_ending_on_the_as_of_day_is_not_active_that_day(world):
    day_before = kpis("--as-of", "2026-06-16")["kpis"]
    assert day_before["mrr"] == "730.00"  # 510 + the EUR plan's 220 still running
    assert kpis("--as-of", D.isoformat())["kpis"]["mrr"] == "510.00"


def test_a_deal_closed_the_day_before_the_period_is_not_in_it(world):
    assert kpis("--as-of", "2026-05-31")["kpis"]["bookings"] == "2000.00"
    assert kpis("--as-of", "2026-06-01")["kpis"]["bookings"] == "1000.00"


def test_fx_moves_never_show_as_churn_or_expansion(world, rep):
    before = kpis("--as-of", D.isoformat())["kpis"]
    FxRate.objects.create(currency="EUR", rate_to_base="3", valid_from=date(2026, 6, 16))
    subscription(AccountFactory(owner=rep), 10, "2026-06-16", currency="EUR")
    after = kpis("--as-of", D.isoformat())["kpis"]
    # The new EUR plan takes its start's rate (3 from June 16): 30.00. The EUR plan that
    # started in February keeps its 1.10: opening and churned MRR do not move.
    assert after["mrr"] == "540.00"
    assert after["new_mrr"] == "80.00"
    for key in ("opening_mrr", "churned_mrr", "expansion_mrr", "contraction_mrr"):
        assert after[key] == before[key], key


def test_reactivation_is_not_new(world):
    got = kpis("--as-of", D.isoformat())["kpis"]
    assert (got["new_mrr"], got["reactivation_mrr"]) == ("50.00", "90.00")


def test_jalali_periods_start_at_nowruz(world):
    # Khordad 1405 runs 2026-05-22 … 2026-06-21; the Jalali quarter from Farvardin 1.
    month = kpis("--as-of", D.isoformat(), "--calendar", "jalali")
    quarter = kpis("--as-of", D.isoformat(), "--calendar", "jalali", "--period", "quarter")
    year = kpis("--as-of", D.isoformat(), "--calendar", "jalali", "--period", "year")
    assert (month["period"]["start"], month["period"]["last_day"]) == ("2026-05-22", "2026-06-21")
    assert quarter["period"]["start"] == year["period"]["start"] == "2026-03-21"
    assert month["kpis"]["bookings"] == "3650.00"  # + the 2000 won on May 31
    assert month["period"]["calendar"] == "jalali"


def test_nowruz_and_esfand_29_split_the_jalali_year(rep):
    from .world import deal

    deal(rep, "Closed won", amount=10, created_on=date(2026, 3, 1), closed_on=date(2026, 3, 20))
    deal(rep, "Closed won", amount=20, created_on=date(2026, 3, 1), closed_on=date(2026, 3, 21))
    esfand = kpis("--as-of", "2026-03-20", "--calendar", "jalali", "--period", "year")
    nowruz = kpis("--as-of", "2026-03-21", "--calendar", "jalali", "--period", "year")
    assert (esfand["period"]["start"], esfand["kpis"]["bookings"]) == ("2025-03-21", "10.00")
    assert (nowruz["period"]["start"], nowruz["kpis"]["bookings"]) == ("2026-03-21", "20.00")


@pytest.mark.parametrize(
    "args",
    [
        ["--as-of", "2026-13-01"],
        ["--as-of", "yesterday"],
        ["--team", "Nobody"],
        ["--owner", "ghost@example.com"],
        ["--as-of", ""],
        ["--team", ""],
    ],
)
def test_bad_arguments_exit_with_status_2_and_a_message(args, rep):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError) as error:
        kpis(*args)
    assert error.value.returncode == 2


def test_team_and_owner_together_is_refused(rep):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError) as error:
        kpis("--team", rep.team.name, "--owner", rep.email)
    assert error.value.returncode == 2
    assert "not both" in str(error.value)


def test_table_format_lists_every_kpi(world):
    out = StringIO()
    call_command("kpis", "--as-of", D.isoformat(), stdout=out)
    text = out.getvalue()
    assert "2026-06-01 … 2026-06-17" in text
    for key, value in EXPECTED_ORG_MONTH.items():
        line = next(line for line in text.splitlines() if line.split()[:1] == [key])
        assert str(value) in line
