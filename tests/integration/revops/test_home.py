"""The home page per role: exactly its blocks, each with the right records and nothing the
user may not see; each block is its own htmx partial with a link to the full list."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from crm import services as crm_services
from metrics.models import Goal, Quota
from metrics.periods import current_period
from metrics.services import kpi_recompute_day, org_today
from pipeline.models import Handoff, StageChange
from pipeline.services import deal_won_handoff, handoff_reject, lead_handoff
from revops.home import BY_ROLE
from tests.factories import (
    AccountFactory,
    ActivityFactory,
    LeadFactory,
    OpportunityFactory,
    TeamFactory,
    UserFactory,
    default_stages,
)

pytestmark = pytest.mark.django_db


def page_blocks(client):
    page = client.get("/").content.decode()
    return re.findall(r'data-block="(\w+)"', page)


def block(client, name):
    response = client.get(f"/home/{name}/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200, name
    return response.content.decode()


@pytest.mark.parametrize("persona", ["rep", "manager", "marketer", "cs", "executive", "admin_user"])
def test_each_role_gets_exactly_its_blocks(request, client_for, persona):
    user = request.getfixturevalue(persona)
    client = client_for(user)
    assert page_blocks(client) == BY_ROLE[user.role]
    every = {name for names in BY_ROLE.values() for name in names}
    for name in every - set(BY_ROLE[user.role]):
        assert client.get(f"/home/{name}/", HTTP_HX_REQUEST="true").status_code == 404
    assert client.get("/home/nonsense/").status_code == 404


def test_a_reps_morning(client_for, rep, teammate, marketer, sales_team, other_sales_team):
    today = timezone.localdate()
    account = AccountFactory(owner=rep, name="Atlas")
    ActivityFactory(
        kind="task",
        owner=rep,
        account=account,
        subject="Mine late",
        due_on=today - timedelta(days=1),
    )
    ActivityFactory(
        kind="task",
        owner=rep,
        account=account,
        subject="Mine later",
        due_on=today + timedelta(days=9),
    )
    ActivityFactory(kind="task", owner=teammate, account=account, subject="Toms", due_on=today)
    stages = default_stages()
    start, last = current_period("month", today, "gregorian")
    bare = OpportunityFactory(
        owner=rep, name="Bare deal", expected_close_on=last, stage=stages["Proposal"]
    )
    planned = OpportunityFactory(owner=rep, name="Planned deal", expected_close_on=last)
    ActivityFactory(
        kind="task", owner=rep, opportunity=planned, account=planned.account, subject="Demo"
    )
    OpportunityFactory(
        owner=rep, name="Next year deal", expected_close_on=last + timedelta(days=400)
    )
    OpportunityFactory(owner=teammate, name="Toms deal", expected_close_on=last)
    mine = lead_handoff(
        lead=LeadFactory(owner=marketer, first_name="Waiting"), by=marketer, to_team=sales_team
    )
    lead_handoff(
        lead=LeadFactory(owner=marketer, first_name="Elsewhere"),
        by=marketer,
        to_team=other_sales_team,
    )
    client = client_for(rep)
    tasks = block(client, "tasks_due")
    assert "Mine late" in tasks and "1 day overdue" in tasks
    assert "Mine later" not in tasks and "Toms" not in tasks and 'href="/tasks/"' in tasks
    closing = block(client, "closing_without_next_step")
    assert "Bare deal" in closing and bare.account.name in closing
    assert "Planned deal" not in closing and "Next year deal" not in closing
    assert "Toms deal" not in closing
    assert f"expected_close_on_after={start.isoformat()}" in closing
    waiting = block(client, "leads_waiting")
    assert "Waiting" in waiting and "Elsewhere" not in waiting
    assert "On time" in waiting and "hours left" in waiting
    assert mine.get_absolute_url() in waiting


def test_a_managers_morning(
    client_for, rep, teammate, manager, marketer, sales_team, other_team_rep
):
    stages = default_stages()
    today = timezone.localdate()
    late = lead_handoff(
        lead=LeadFactory(owner=marketer, first_name="Late"), by=marketer, to_team=sales_team
    )
    Handoff.objects.filter(pk=late.pk).update(sla_due_at=timezone.now() - timedelta(hours=2))
    lead_handoff(
        lead=LeadFactory(owner=marketer, first_name="Fresh"), by=marketer, to_team=sales_team
    )
    breached = block(client_for(manager), "team_breached_handoffs")
    assert "Late" in breached and "Fresh" not in breached and "SLA breached" in breached
    # The team usually spends 2 days in Discovery (five finished stays).
    for n in range(5):
        old = OpportunityFactory(owner=teammate, stage=stages["Proposal"])
        day = today - timedelta(days=30 + n)
        StageChange.objects.create(opportunity=old, to_stage=stages["Discovery"], entered_on=day)
        StageChange.objects.create(
            opportunity=old, to_stage=stages["Proposal"], entered_on=day + timedelta(days=2)
        )
    OpportunityFactory(
        owner=rep,
        name="Stuck one",
        stage=stages["Discovery"],
        stage_entered_on=today - timedelta(days=10),
    )
    OpportunityFactory(
        owner=rep,
        name="Moving one",
        stage=stages["Discovery"],
        stage_entered_on=today - timedelta(days=1),
    )
    OpportunityFactory(
        owner=other_team_rep,
        name="Not ours",
        stage=stages["Discovery"],
        stage_entered_on=today - timedelta(days=40),
    )
    stuck = block(client_for(manager), "stuck_deals")
    assert "Stuck one" in stuck and "10 days in Discovery" in stuck and "usually 2 days" in stuck
    assert "Moving one" not in stuck and "Not ours" not in stuck
    # Quota pace from the snapshots: 300 booked of 1,000.
    start, last = current_period("quarter", org_today(), "gregorian")
    Quota.objects.create(user=rep, period_start=start, period_end=last, amount=1000)
    OpportunityFactory(
        owner=rep, stage=stages["Closed won"], status="won", amount=300, closed_on=org_today()
    )
    kpi_recompute_day()
    pace = block(client_for(manager), "quota_pace")
    assert "300.00" in pace and "1,000.00" in pace and "Rita Rep" in pace
    assert "Behind pace" in pace or "On pace" in pace


def test_a_marketers_morning(client_for, marketer, rep, sales_team):
    lead = LeadFactory(owner=marketer, first_name="Returned")
    handoff = lead_handoff(lead=lead, by=marketer, to_team=sales_team)
    handoff_reject(handoff=handoff, by=rep, reason="No budget this year")
    LeadFactory(owner=marketer, first_name="Fresh lead")
    client = client_for(marketer)
    rejected = block(client, "rejected_handoffs")
    assert "Returned" in rejected and "No budget this year" in rejected and "Rita Rep" in rejected
    funnel = block(client, "funnel_week")
    counts = dict(
        re.findall(
            r'data-step="(\w+)"><span class="funnel-label">[^<]*</span><strong>(\d+)', funnel
        )
    )
    assert counts == {"created": "2", "mql": "1", "sql": "0", "converted": "0"}


def test_a_cs_managers_morning(client_for, cs, rep):
    stages = default_stages()
    won = OpportunityFactory(
        owner=rep,
        name="Won deal",
        stage=stages["Closed won"],
        status="won",
        closed_on=timezone.localdate(),
        account=AccountFactory(name="Kian"),
    )
    deal_won_handoff(won, rep)
    AccountFactory(owner=cs, name="Shaky", health_score=30)
    AccountFactory(owner=cs, name="Healthy", health_score=90)
    AccountFactory(owner=rep, name="Someone elses", health_score=10)
    account = AccountFactory(owner=cs, name="Renewing")
    crm_services.subscription_create(
        account=account,
        by=cs,
        product="Seats",
        mrr=Decimal("100"),
        currency="USD",
        start_on=timezone.localdate() - timedelta(days=300),
        end_on=timezone.localdate() + timedelta(days=30),
    )
    crm_services.renewals_create()
    client = client_for(cs)
    assert "Won deal" in block(client, "cs_handoffs")
    risky = block(client, "at_risk_accounts")
    assert "Shaky" in risky and "health 30" in risky
    assert "Healthy" not in risky and "Someone elses" not in risky
    renewals = block(client, "renewals_due")
    assert "Seats renewal" in renewals and "Renewing" in renewals


def test_an_executives_morning(client_for, executive, rep):
    stages = default_stages()
    today = org_today()
    start, _last = current_period("month", today, executive.effective_calendar)
    Goal.objects.create(
        kpi="bookings",
        grain="month",
        calendar=executive.effective_calendar,
        period_start=start,
        scope_kind="org",
        scope_id=0,
        target=Decimal("1000000"),
        created_by=executive,
    )
    OpportunityFactory(
        owner=rep,
        stage=stages["Closed won"],
        status="won",
        amount=500,
        closed_on=start - timedelta(days=3),
        created_on=start - timedelta(days=20),
    )
    kpi_recompute_day(start - timedelta(days=1))
    OpportunityFactory(
        owner=rep,
        stage=stages["Closed won"],
        status="won",
        amount=2000,
        closed_on=today,
        created_on=start,
    )
    kpi_recompute_day()
    client = client_for(executive)
    goals = block(client, "goals")
    assert "Bookings" in goals and "Off track" in goals and "1,000,000.00" in goals
    movers = block(client, "kpi_movers")
    assert "Average deal size" in movers and "▲" in movers


def test_the_home_blocks_in_persian(client_for, rep):
    rep.language = "fa"
    rep.save()
    ActivityFactory(
        kind="task",
        owner=rep,
        account=AccountFactory(owner=rep),
        subject="تماس",
        due_on=timezone.localdate(),
    )
    client = client_for(rep)
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="fa").content.decode()
    assert 'dir="rtl"' in page and "My tasks due" not in page
    tasks = client.get("/home/tasks_due/", HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="fa")
    assert "تماس" in tasks.content.decode() and "Due today" not in tasks.content.decode()


def test_a_rep_without_a_team_still_has_a_home(client_for, db):
    loner = UserFactory(team=TeamFactory(name="Solo"))
    client = client_for(loner)
    for name in BY_ROLE[loner.role]:
        block(client, name)
