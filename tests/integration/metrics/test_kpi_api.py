"""GET /api/v1/kpis/, its series and drill-downs: the same numbers as the command, and the
scope rules of roles.md."""

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from metrics.models import KpiSnapshot
from metrics.services import kpi_recompute_day

from .world import EXPECTED_ORG_MONTH, D, build

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(rep, teammate, other_team_rep):
    build(rep, teammate, other_team_rep)


def test_the_api_and_the_command_print_the_same_object(world, client_for, executive):
    for args, query in [
        ([], ""),
        (["--period", "quarter", "--calendar", "jalali"], "&period=quarter&calendar=jalali"),
    ]:
        out = StringIO()
        call_command("kpis", "--as-of", D.isoformat(), "--format", "json", *args, stdout=out)
        response = client_for(executive).get(f"/api/v1/kpis/?as_of={D.isoformat()}{query}")
        assert response.status_code == 200
        assert response.json() == json.loads(out.getvalue())
    assert response.json()["period"]["start"] == "2026-03-21"


def test_the_api_stores_what_it_computed(world, client_for, executive):
    client_for(executive).get(f"/api/v1/kpis/?as_of={D.isoformat()}")
    stored = KpiSnapshot.objects.get(kpi="bookings", as_of=D, scope_kind="org", grain="month")
    assert stored.value == Decimal(EXPECTED_ORG_MONTH["bookings"])


@pytest.mark.parametrize(
    "query",
    ["period=week", "calendar=hijri", "as_of=2026-02-30", "team=Nobody", "owner=x@y.z", "foo=1"],
)
def test_bad_parameters_are_a_400_naming_the_parameter(query, client_for, executive):
    response = client_for(executive).get(f"/api/v1/kpis/?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()


def test_scopes_follow_roles(client_for, rep, teammate, manager, other_team_rep, marketer):
    team, other_team = rep.team.name, other_team_rep.team.name
    allowed = {
        rep: [f"owner={rep.email}", f"team={team}"],
        manager: [f"team={team}", f"owner={teammate.email}", f"owner={manager.email}"],
        marketer: ["", f"team={other_team}", f"owner={rep.email}"],
    }
    forbidden = {
        rep: ["", f"owner={teammate.email}", f"team={other_team}"],
        manager: ["", f"team={other_team}", f"owner={other_team_rep.email}"],
    }
    for user, queries in allowed.items():
        for query in queries:
            assert client_for(user).get(f"/api/v1/kpis/?{query}").status_code == 200, query
    for user, queries in forbidden.items():
        for query in queries:
            assert client_for(user).get(f"/api/v1/kpis/?{query}").status_code == 404, query


def test_the_api_needs_a_login(client):
    assert client.get("/api/v1/kpis/").status_code in (401, 403)


def test_series_returns_the_latest_stored_value_per_period(world, client_for, executive):
    for day in ("2026-04-30", "2026-05-30", "2026-05-31", "2026-06-17"):
        kpi_recompute_day(D.fromisoformat(day))
    response = client_for(executive).get(
        "/api/v1/kpis/series/?kpi=bookings&period=month&from=2026-04-01&to=2026-06-30"
    )
    assert response.status_code == 200
    body = response.json()
    assert [(p["period_start"], p["as_of"], p["value"]) for p in body["points"]] == [
        ("2026-04-01", "2026-04-30", "0.00"),
        ("2026-05-01", "2026-05-31", "2000.00"),
        ("2026-06-01", "2026-06-17", "1650.00"),
    ]
    assert body["unit"] == "money" and "won" in body["formula"]
    daily = client_for(executive).get(
        "/api/v1/kpis/series/?kpi=bookings&from=2026-05-01&to=2026-05-31&step=day"
    )
    assert [p["as_of"] for p in daily.json()["points"]] == ["2026-05-30", "2026-05-31"]
    assert client_for(executive).get("/api/v1/kpis/series/?kpi=nope").status_code == 400


def _drill(client, kpi, extra=""):
    return client.get(f"/api/v1/kpis/drilldown/?kpi={kpi}&as_of={D.isoformat()}{extra}")


def test_drilldown_records_add_up_to_the_number(world, client_for, executive):
    client = client_for(executive)
    won = _drill(client, "bookings").json()["records"]
    assert sum(Decimal(r["amount_base"]) for r in won) == Decimal(EXPECTED_ORG_MONTH["bookings"])
    churned = _drill(client, "churned_mrr").json()["records"]
    assert [(Decimal(r["opening"]), Decimal(r["closing"])) for r in churned] == [
        (Decimal("220.00"), Decimal("0"))
    ]
    open_deals = _drill(client, "weighted_pipeline").json()["records"]
    weighted = sum(
        Decimal(r["amount_base"]) * Decimal(r["probability_at_date"]) for r in open_deals
    )
    assert weighted == Decimal(EXPECTED_ORG_MONTH["weighted_pipeline"])
    mqls = _drill(client, "mqls").json()["records"]
    assert len(mqls) == EXPECTED_ORG_MONTH["mqls"]


def test_drilldown_only_where_every_record_may_be_seen(world, client_for, rep):
    client = client_for(rep)
    mine = _drill(client, "bookings", f"&owner={rep.email}")
    assert mine.status_code == 200 and len(mine.json()["records"]) == 2
    # The team's total is theirs to read, but a teammate's deals are not: this month only
    # the rep's own deals were won, this quarter the teammate's too.
    team = f"&team={rep.team.name}"
    assert _drill(client, "bookings", team).status_code == 200
    assert _drill(client, "bookings", team + "&period=quarter").status_code == 404
    # Accounts are read by everyone: the team's MRR can be drilled into.
    assert _drill(client, "mrr", f"&team={rep.team.name}").status_code == 200
