"""The SQL generator of the medium and large scales, at a tiny size: every row satisfies the
model's rules and the KPI engine agrees with the row-by-row reading of the spec."""

from io import StringIO

import pytest
from django.core.management import call_command

from crm.models import Account, Activity, Contact, Subscription
from metrics.kpis import present
from metrics.services import Scope, kpi_compute, org_today
from pipeline.models import Lead, Opportunity, StageChange
from revops import demo_bulk
from tests.kpi_oracle import oracle


@pytest.mark.django_db
def test_the_generated_organisation_is_consistent(monkeypatch):
    tiny = {
        "users": 12,
        "accounts": 30,
        "contacts": 40,
        "leads": 80,
        "opportunities": 60,
        "subscriptions": 25,
        "activities": 50,
    }
    monkeypatch.setitem(demo_bulk.SCALES, "medium", tiny)
    call_command("seed_demo", "--scale", "medium", "--no-history", stderr=StringIO())
    assert Account.objects.filter(external_id__startswith="big-acc-").count() == 30
    assert Contact.objects.filter(external_id__startswith="big-con-").count() == 40
    assert Opportunity.objects.filter(external_id__startswith="big-opp-").count() == 60
    assert Lead.objects.filter(external_id__startswith="big-lead-").count() == 80
    assert Subscription.objects.filter(external_id__startswith="big-sub-").count() == 25
    assert Activity.objects.filter(external_id__startswith="big-act-").count() == 50
    deals = Opportunity.objects.filter(external_id__startswith="big-opp-")
    assert {d.status for d in deals} <= {"open", "won", "lost"}
    for deal in deals:
        assert deal.stage.outcome == deal.status
        assert (deal.closed_on is None) == (deal.status == "open")
        history = StageChange.objects.filter(opportunity=deal)
        assert history.exists()
        assert all(deal.created_on <= h.entered_on for h in history)
    # Several accounts share the deals: a few big accounts, not one.
    assert deals.values("account").distinct().count() > 5
    today = org_today()
    for grain in ("month", "year"):
        got = kpi_compute(today, grain, "gregorian", Scope.org())
        expected = oracle(today, grain, "gregorian")
        for key, value in got.items():
            assert present(key, value) == present(key, expected[key]), key
