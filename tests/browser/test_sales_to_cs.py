"""A rep wins a deal on the board; the CS manager finds it in the queue, ticks the
checklist, accepts it, confirms the subscription, and the account shows its MRR, health
and timeline. In English and in Persian."""

import pytest
from playwright.sync_api import expect

from crm.models import Account, Subscription
from pipeline import services
from pipeline.models import Handoff, Opportunity
from revops.models import Team, User
from tests.factories import default_stages

from .conftest import shown


@pytest.fixture
def world(transactional_db):
    sales = Team.objects.create(name="Sales Tehran", kind=Team.Kind.SALES)
    cs_team = Team.objects.create(name="Customer Success", kind=Team.Kind.CS)
    rep = User.objects.create_user(
        "rep@daramad.example", "demo", full_name="Sara Rahimi", team=sales
    )
    cs = User.objects.create_user(
        "cs@daramad.example", "demo", full_name="Kaveh Moradi", role=User.Role.CS, team=cs_team
    )
    stages = default_stages()
    account = Account.objects.create(name="شرکت کیان", domain="kian.ir", owner=rep)
    deal = Opportunity(
        account=account,
        name="Kian CRM",
        owner=rep,
        stage=stages["Negotiation"],
        amount=12000,
        one_time_amount=1200,
        contract_months=12,
        currency="USD",
    )
    services.opportunity_create(opportunity=deal, by=rep)
    return {"rep": rep, "cs": cs, "stages": stages, "deal": deal, "account": account}


def log_in(page, email):
    page.goto("/login/")
    page.locator("input[name=username]").fill(email)
    page.locator("input[name=password]").fill("demo")
    page.locator("button[type=submit].primary").click()


@pytest.mark.celery_worker
@pytest.mark.parametrize("language", ["en", "fa"])
def test_a_won_deal_crosses_to_customer_success(
    new_page, world, screenshot, language, celery_worker_process
):
    for user in (world["rep"], world["cs"]):
        user.language = language
        user.save(update_fields=["language"])
    page = new_page("fa-IR" if language == "fa" else "en-US")
    deal, stages = world["deal"], world["stages"]

    log_in(page, "rep@daramad.example")
    page.goto("/board/")
    card = page.locator(f".deal-card[data-id='{deal.pk}']")
    card.locator("select[name=stage]").select_option(str(stages["Closed won"].pk))
    card.locator("button[type=submit]").click()
    dialog = page.locator("#close-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("button[type=submit]").click()  # today's date is proposed
    expect(
        page.locator(f".cards[data-stage='{stages['Closed won'].pk}'] .deal-card")
    ).to_have_count(1)
    page.locator("form[action='/logout/'] button").click()

    log_in(page, "cs@daramad.example")
    page.goto("/handoffs/")
    row = page.locator("#results tbody tr").first
    expect(row).to_contain_text("Kian CRM")
    expect(row.locator(".sla-on_time")).to_be_visible()
    row.locator("a").first.click()
    handoff = Handoff.objects.get(opportunity=deal)
    for item in handoff.checklist.all():
        page.locator(f"#checklist-{item.pk} button").click()
        expect(page.locator(f"#checklist-{item.pk} button.done")).to_be_visible()
    mrr = page.locator("#id_mrr")
    expect(mrr).to_have_value("900.00")
    mrr.fill("950")
    screenshot(page, f"cs-handoff-{language}")
    page.locator(".decide-card button.primary").click()
    handoff.refresh_from_db()
    assert handoff.status == "accepted"
    assert all(item.done for item in handoff.checklist.all())
    sub = Subscription.objects.get(source_opportunity=deal)
    assert (sub.status, str(sub.mrr)) == ("confirmed", "950.00")

    # The health, recomputed by the worker after the acceptance, shows on the account.
    for _ in range(30):
        page.goto(world["account"].get_absolute_url())
        if page.locator("#health-heading .health").count():
            break
        page.wait_for_timeout(500)
    expect(page.locator("#health-heading .health")).to_be_visible()
    expect(page.locator(".big-number")).to_contain_text(shown("950", language))
    timeline = page.locator("#timeline")
    expect(timeline.locator(".kind-subscription")).to_have_count(1)
    expect(timeline.locator(".kind-handoff")).to_have_count(1)
    assert Account.objects.get(pk=world["account"].pk).owner == world["cs"]
    page.goto("/cs/")
    expect(page.locator(".my-accounts tbody tr")).to_have_count(1)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1281
    screenshot(page, f"cs-workspace-{language}")
