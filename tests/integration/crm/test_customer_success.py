"""Won deal → CS handoff → subscription; plan changes and churn; renewals; health."""

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from crm import services as crm_services
from crm.models import Account, ChurnReason, HealthScore, Subscription
from pipeline import services
from pipeline.models import Handoff, Opportunity
from tests.factories import AccountFactory, ActivityFactory, default_stages

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate


@pytest.fixture
def stages(db):
    return default_stages()


def won_deal(rep, stages, *, amount="12000", one_time="1200", months=12, cs=None):
    deal = Opportunity(
        account=AccountFactory(owner=rep),
        name="Kian CRM",
        owner=rep,
        stage=stages["Negotiation"],
        amount=Decimal(amount),
        one_time_amount=Decimal(one_time) if one_time else None,
        contract_months=months,
        currency="USD",
        created_on=TODAY() - timedelta(days=30),
    )
    services.opportunity_create(opportunity=deal, by=rep)
    return services.opportunity_move(
        opportunity_id=deal.pk,
        stage=stages["Closed won"],
        by=rep,
        expected_version=deal.version,
        closed_on=TODAY() - timedelta(days=1),
    )


def test_winning_a_deal_hands_it_to_cs_with_a_draft_subscription(rep, cs, stages):
    deal = won_deal(rep, stages)
    handoff = Handoff.objects.get(opportunity=deal)
    assert (handoff.kind, handoff.status, handoff.to_team) == ("deal_to_cs", "pending", cs.team)
    assert [item.label for item in handoff.checklist.all()] == [
        "Kickoff call booked",
        "Success criteria agreed",
        "Billing contact and invoice details received",
    ]
    draft = Subscription.objects.get(source_opportunity=deal)
    assert (draft.status, draft.mrr, draft.start_on) == (
        "draft",
        Decimal("900.00"),
        TODAY() - timedelta(days=1),
    )
    assert draft.end_on == date(draft.start_on.year + 1, draft.start_on.month, draft.start_on.day)
    # A draft counts in no number until CS confirms it.
    assert crm_services.account_mrr(deal.account) == 0


def test_the_handoff_happens_once_however_often_the_deal_is_saved(client_for, rep, cs, stages):
    deal = won_deal(rep, stages)
    client = client_for(rep)
    form = {
        "name": deal.name,
        "account": deal.account_id,
        "owner": rep.pk,
        "stage": stages["Closed won"].pk,
        "kind": "new_business",
        "amount": "12000",
        "one_time_amount": "1200",
        "contract_months": 12,
        "currency": "USD",
        "closed_on": deal.closed_on.isoformat(),
        "version": deal.version,
    }
    assert (
        client.post(reverse("pipeline:opportunity-edit", args=[deal.pk]), form).status_code == 302
    )
    deal = services.opportunity_move(
        opportunity_id=deal.pk,
        stage=stages["Negotiation"],
        by=rep,
        expected_version=deal.version + 1,
    )
    services.opportunity_move(
        opportunity_id=deal.pk, stage=stages["Closed won"], by=rep, expected_version=deal.version
    )
    assert Handoff.objects.filter(opportunity=deal).count() == 1
    assert Subscription.objects.filter(source_opportunity=deal).count() == 1


def test_winning_is_all_or_nothing(rep, cs, stages, monkeypatch):
    deal = Opportunity(
        account=AccountFactory(owner=rep),
        name="X",
        owner=rep,
        stage=stages["Negotiation"],
        amount=Decimal("100"),
        currency="USD",
        contract_months=12,
    )
    services.opportunity_create(opportunity=deal, by=rep)

    def broken(opportunity):
        raise RuntimeError("disk full")

    monkeypatch.setattr(crm_services, "draft_subscription_from_deal", broken)
    with pytest.raises(RuntimeError):
        services.opportunity_move(
            opportunity_id=deal.pk, stage=stages["Closed won"], by=rep, expected_version=1
        )
    deal.refresh_from_db()
    assert (deal.status, deal.version, deal.closed_on) == ("open", 1, None)
    assert not Handoff.objects.exists() and not Subscription.objects.exists()
    assert deal.stage_changes.count() == 1


def test_cs_accepts_owns_the_account_and_confirms_the_subscription(client_for, rep, cs, stages):
    deal = won_deal(rep, stages)
    handoff = Handoff.objects.get(opportunity=deal)
    client = client_for(cs)
    queue = client.get(reverse("pipeline:handoff-queue"))
    assert handoff in queue.context["rows"]
    page = client.get(handoff.get_absolute_url())
    assert page.status_code == 200 and page.context["can_decide"]
    item = handoff.checklist.first()
    ticked = client.post(
        reverse("pipeline:handoff-checklist-item", args=[handoff.pk, item.pk]),
        {"done": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert ticked.status_code == 200 and "✓" in ticked.content.decode()
    response = client.post(
        reverse("pipeline:handoff-accept", args=[handoff.pk]),
        {
            "mrr": "950.00",
            "product": "Kian CRM Pro",
            "start_on": (TODAY() - timedelta(days=1)).isoformat(),
        },
    )
    assert response.status_code == 302
    handoff.refresh_from_db()
    deal.account.refresh_from_db()
    sub = Subscription.objects.get(source_opportunity=deal)
    assert handoff.status == "accepted" and deal.account.owner == cs
    assert (sub.status, sub.mrr, sub.product) == ("confirmed", Decimal("950.00"), "Kian CRM Pro")
    assert crm_services.account_mrr(deal.account) == Decimal("950.00")
    workspace = client.get(reverse("crm:cs-workspace"))
    assert [a.mrr for a in workspace.context["accounts"]] == [Decimal("950.00")]
    kinds = {e.kind for e in client.get(deal.account.get_absolute_url()).context["events"]}
    assert {"handoff", "subscription", "deal"} <= kinds


def test_only_cs_decides_sales_to_cs_handoffs(
    client_for, rep, manager, marketer, executive, cs, stages
):
    deal = won_deal(rep, stages)
    handoff = Handoff.objects.get(opportunity=deal)
    for user in (rep, manager, marketer, executive):
        response = client_for(user).post(
            f"/api/v1/handoffs/{handoff.pk}/accept/", content_type="application/json"
        )
        assert response.status_code in (403, 404), user
    handoff.refresh_from_db()
    assert handoff.status == "pending"
    ok = client_for(cs).post(
        f"/api/v1/handoffs/{handoff.pk}/accept/", {"mrr": "800"}, content_type="application/json"
    )
    assert ok.status_code == 200
    bad = client_for(cs).post(
        f"/api/v1/handoffs/{handoff.pk}/reject/",
        {"reason": "late"},
        content_type="application/json",
    )
    assert bad.status_code == 400


def test_plan_changes_end_one_subscription_and_start_another(client_for, cs, rep):
    account = AccountFactory(owner=cs)
    start = TODAY() - timedelta(days=200)
    sub = crm_services.subscription_create(
        account=account, by=cs, product="Seats", mrr=Decimal("500"), currency="USD", start_on=start
    )
    client = client_for(cs)
    on = TODAY() - timedelta(days=100)
    client.post(
        reverse("crm:subscription-change", args=[sub.pk]), {"mrr": "800", "on": on.isoformat()}
    )
    subs = list(Subscription.objects.filter(account=account).order_by("start_on"))
    assert [(s.mrr, s.start_on, s.end_on) for s in subs] == [
        (Decimal("500.00"), start, on),
        (Decimal("800.00"), on, None),
    ]
    reason = ChurnReason.objects.create(name="Budget cut")
    client.post(
        reverse("crm:subscription-cancel", args=[subs[1].pk]),
        {"on": TODAY().isoformat(), "reason": reason.pk, "note": "Frozen budget"},
    )
    subs[1].refresh_from_db()
    assert (subs[1].end_on, subs[1].churn_reason, subs[1].churn_note) == (
        TODAY(),
        reason,
        "Frozen budget",
    )
    assert crm_services.account_mrr(account) == 0
    events = client.get(account.get_absolute_url()).context["events"]
    assert [e.kind for e in events][:3] == ["subscription_end", "subscription", "subscription"]
    # A rep reads the subscriptions but may not change them.
    denied = client_for(rep).post(
        reverse("crm:subscription-change", args=[subs[1].pk]),
        {"mrr": "1", "on": TODAY().isoformat()},
    )
    assert denied.status_code == 403


def test_bad_subscription_input(client_for, cs, rep):
    account = AccountFactory(owner=cs)
    client = client_for(cs)
    page = client.post(
        reverse("crm:subscription-create", args=[account.pk]),
        {
            "product": "X",
            "mrr": "-1",
            "currency": "USD",
            "start_on": "2026-01-10",
            "end_on": "2026-01-01",
        },
    )
    assert page.status_code == 200 and {"mrr", "end_on"} <= set(page.context["form"].errors)
    api = client.post(
        "/api/v1/subscriptions/",
        {
            "account": account.pk,
            "product": "X",
            "mrr": "10",
            "currency": "USD",
            "start_on": "2026-01-10",
            "end_on": "2026-01-10",
        },
        content_type="application/json",
    )
    assert api.status_code == 400 and "end_on" in api.json()
    other = client.post(
        "/api/v1/subscriptions/",
        {
            "account": AccountFactory(owner=rep).pk,
            "product": "X",
            "mrr": "10",
            "currency": "USD",
            "start_on": "2026-01-10",
        },
        content_type="application/json",
    )
    assert other.status_code == 400 and "account" in other.json()
    assert not Subscription.objects.exists()


def test_renewals_are_created_once_however_often_the_scheduler_runs(cs, stages):
    account = AccountFactory(owner=cs)
    crm_services.subscription_create(
        account=account,
        by=cs,
        product="Seats",
        mrr=Decimal("500"),
        currency="USD",
        start_on=TODAY() - timedelta(days=300),
        end_on=TODAY() + timedelta(days=60),
    )
    crm_services.subscription_create(
        account=account,
        by=cs,
        product="Far",
        mrr=Decimal("5"),
        currency="USD",
        start_on=TODAY() - timedelta(days=10),
        end_on=TODAY() + timedelta(days=200),
    )
    assert crm_services.renewals_create() == 1
    assert crm_services.renewals_create() == 0
    renewal = Opportunity.objects.get(kind="renewal")
    assert (renewal.owner, renewal.amount, renewal.expected_close_on) == (
        cs,
        Decimal("6000.00"),
        TODAY() + timedelta(days=60),
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_scheduler_runs_create_one_renewal(cs):
    account = AccountFactory(owner=cs)
    crm_services.subscription_create(
        account=account,
        by=cs,
        product="Seats",
        mrr=Decimal("500"),
        currency="USD",
        start_on=TODAY() - timedelta(days=300),
        end_on=TODAY() + timedelta(days=30),
    )
    results = []

    def run():
        results.append(crm_services.renewals_create())
        connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 1
    assert Opportunity.objects.filter(kind="renewal").count() == 1


def test_health_components_on_known_inputs(cs, rep, stages):
    today = TODAY()
    account = AccountFactory(owner=cs)
    ActivityFactory(account=account, owner=cs, occurred_on=today - timedelta(days=37))
    for days in (3, 5):
        ActivityFactory(
            account=account,
            owner=cs,
            kind="task",
            due_on=today - timedelta(days=days),
            occurred_on=today - timedelta(days=40),
        )
    crm_services.subscription_create(
        account=account,
        by=cs,
        product="A",
        mrr=Decimal("1000"),
        currency="USD",
        start_on=today - timedelta(days=400),
        end_on=today - timedelta(days=30),
    )
    crm_services.subscription_create(
        account=account,
        by=cs,
        product="B",
        mrr=Decimal("750"),
        currency="USD",
        start_on=today - timedelta(days=30),
        end_on=today + timedelta(days=45),
    )
    health = crm_services.account_health_compute(account)
    points = {c["key"]: c["points"] for c in health.components}
    # 37 idle days: (37-14)/46 of 30 = 15; MRR -25%: 50% of 25 = 12.5 → 12 (banker's? no:
    # round() of 12.5 is 12); 2 overdue tasks: 2/3 of 15 = 10; no handoff; renewal in 45
    # days without a renewal deal: 20.
    assert points == {
        "inactivity": 15,
        "mrr_drop": 12,
        "overdue_tasks": 10,
        "open_handoff": 0,
        "renewal_uncovered": 20,
    }
    assert health.score == 100 - 57
    account.refresh_from_db()
    assert account.health_score == 43
    # The same day recomputes in place; a renewal deal covers the renewal.
    Opportunity.objects.create(
        account=account,
        name="Renewal",
        owner=cs,
        kind="renewal",
        pipeline=stages["Proposal"].pipeline,
        stage=stages["Proposal"],
        amount=1,
        currency="USD",
    )
    again = crm_services.account_health_compute(account)
    assert again.pk == health.pk and again.score == 63
    assert HealthScore.objects.filter(account=account).count() == 1


def test_a_health_drop_shows_on_the_timeline_and_in_the_at_risk_list(client_for, cs):
    account = AccountFactory(owner=cs)
    HealthScore.objects.create(
        account=account, computed_on=TODAY() - timedelta(days=2), score=80, components=[]
    )
    HealthScore.objects.create(
        account=account, computed_on=TODAY() - timedelta(days=1), score=78, components=[]
    )
    HealthScore.objects.create(account=account, computed_on=TODAY(), score=40, components=[])
    Account.objects.filter(pk=account.pk).update(health_score=40)
    client = client_for(cs)
    events = client.get(account.get_absolute_url()).context["events"]
    drops = [e.obj for e in events if e.kind == "health_drop"]
    assert [(d.previous, d.score) for d in drops] == [(78, 40)]
    workspace = client.get(reverse("crm:cs-workspace"))
    assert [a.pk for a in workspace.context["at_risk"]] == [account.pk]


def test_the_cs_workspace_runs_a_bounded_number_of_queries(
    client_for, cs, django_assert_max_num_queries
):
    for n in range(30):
        account = AccountFactory(owner=cs)
        crm_services.subscription_create(
            account=account,
            by=cs,
            product="P",
            mrr=Decimal(n),
            currency="USD",
            start_on=TODAY() - timedelta(days=5),
        )
        ActivityFactory(account=account, owner=cs)
    client = client_for(cs)
    with django_assert_max_num_queries(7):
        response = client.get(reverse("crm:cs-workspace"))
    assert len(response.context["accounts"]) == 30


def test_subscriptions_are_read_by_all_and_edited_by_their_cs(client_for, cs, rep, marketer):
    account = AccountFactory(owner=cs)
    sub = crm_services.subscription_create(
        account=account, by=cs, product="P", mrr=Decimal(1), currency="USD", start_on=TODAY()
    )
    change = {"mrr": "5", "on": (TODAY() + timedelta(days=1)).isoformat()}
    for user in (rep, marketer):
        assert client_for(user).get(f"/api/v1/subscriptions/{sub.pk}/").status_code == 200
        denied = client_for(user).post(
            f"/api/v1/subscriptions/{sub.pk}/change_plan/",
            change,
            content_type="application/json",
        )
        assert denied.status_code == 403
    # History is never rewritten: no update, no delete, even for its CS manager.
    client = client_for(cs)
    assert (
        client.patch(
            f"/api/v1/subscriptions/{sub.pk}/", {"mrr": "5"}, content_type="application/json"
        ).status_code
        == 405
    )
    assert client.delete(f"/api/v1/subscriptions/{sub.pk}/").status_code == 405
    made = client.post(
        f"/api/v1/subscriptions/{sub.pk}/change_plan/", change, content_type="application/json"
    )
    assert made.status_code == 201 and made.json()["replaces"] == sub.pk
    ChurnReason.objects.create(name="Budget cut")
    ended = client.post(
        f"/api/v1/subscriptions/{made.json()['id']}/cancel/",
        {"on": (TODAY() + timedelta(days=5)).isoformat(), "reason": "Budget cut"},
        content_type="application/json",
    )
    assert ended.status_code == 200 and ended.json()["churn_reason"] == "Budget cut"
    health = client_for(rep).get("/api/v1/health/", {"account": account.pk})
    assert health.status_code == 200


def test_only_the_receiving_team_ticks_the_checklist(client_for, rep, cs, stages):
    deal = won_deal(rep, stages)
    handoff = Handoff.objects.get(opportunity=deal)
    item = handoff.checklist.first()
    denied = client_for(rep).post(
        f"/api/v1/handoffs/{handoff.pk}/checklist/",
        {"item": item.pk, "done": True},
        content_type="application/json",
    )
    assert denied.status_code == 403
    unknown = client_for(cs).post(
        f"/api/v1/handoffs/{handoff.pk}/checklist/",
        {"item": 999999, "done": True},
        content_type="application/json",
    )
    assert unknown.status_code == 400
    ok = client_for(cs).post(
        f"/api/v1/handoffs/{handoff.pk}/checklist/",
        {"item": item.pk, "done": True},
        content_type="application/json",
    )
    assert ok.status_code == 200
    assert ok.json()["checklist"][0]["done"] is True


def test_a_health_input_changing_schedules_a_recompute(
    client_for, cs, monkeypatch, django_capture_on_commit_callbacks
):
    from crm import tasks

    queued = []
    monkeypatch.setattr(tasks.account_health_refresh, "delay", queued.append)
    account = AccountFactory(owner=cs)
    with django_capture_on_commit_callbacks(execute=True):
        client_for(cs).post(
            reverse("crm:activity-create"),
            {
                "kind": "call",
                "subject": "Check-in",
                "occurred_on": TODAY().isoformat(),
                "account": account.pk,
            },
        )
    assert queued == [account.pk]
    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        crm_services.subscription_create(
            account=account, by=cs, product="P", mrr=Decimal(1), currency="USD", start_on=TODAY()
        )
    assert queued == [account.pk]


def test_a_customer_cs_already_looks_after_goes_back_to_that_manager(rep, cs, stages):
    account = AccountFactory(owner=cs)
    deal = Opportunity(
        account=account,
        name="More seats",
        owner=rep,
        kind="expansion",
        stage=stages["Negotiation"],
        amount=Decimal(100),
        currency="USD",
    )
    services.opportunity_create(opportunity=deal, by=rep)
    services.opportunity_move(
        opportunity_id=deal.pk, stage=stages["Closed won"], by=rep, expected_version=1
    )
    assert Handoff.objects.get(opportunity=deal).to_user == cs


def test_account_mrr_converts_each_subscription_in_one_query(cs, django_assert_num_queries):
    from revops.models import FxRate

    FxRate.objects.create(
        currency="EUR", rate_to_base=Decimal("1.105"), valid_from=TODAY() - timedelta(days=500)
    )
    account = AccountFactory(owner=cs)
    for mrr, currency in (("100", "USD"), ("10.01", "EUR"), ("5", "EUR")):
        crm_services.subscription_create(
            account=account,
            by=cs,
            product="P",
            mrr=Decimal(mrr),
            currency=currency,
            start_on=TODAY() - timedelta(days=3),
        )
    with django_assert_num_queries(1):  # the sum (the organisation's settings are cached)
        total = crm_services.account_mrr(account)
    # 10.01 × 1.105 = 11.06105 → 11.06 and 5 × 1.105 = 5.525 → 5.53, rounded per record
    assert total == Decimal("116.59")
