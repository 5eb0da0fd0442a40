"""Marketing creates a lead, qualifies it and hands it to sales; a rep accepts it from the
queue; the account page shows the customer's timeline. In English and in Persian."""

import re

import pytest
from playwright.sync_api import expect

from crm.models import Account, Activity
from pipeline.models import Handoff, Lead
from revops.models import Team, User


@pytest.fixture
def people(transactional_db):
    sales = Team.objects.create(name="Sales Tehran", kind=Team.Kind.SALES)
    marketing = Team.objects.create(name="Marketing", kind=Team.Kind.MARKETING)
    marketer = User.objects.create_user(
        "marketer@daramad.example",
        "demo",
        full_name="Mina Jafari",
        role=User.Role.MARKETER,
        team=marketing,
    )
    rep = User.objects.create_user(
        "rep@daramad.example", "demo", full_name="Sara Rahimi", team=sales
    )
    account = Account.objects.create(name="شرکت کیان پرداز", domain="kian.ir", owner=rep)
    Activity.objects.create(kind="call", subject="Discovery call", account=account, owner=rep)
    return {"marketer": marketer, "rep": rep, "sales": sales, "account": account}


def log_in(page, email, language):
    page.goto("/login/")
    page.locator("input[name=username]").fill(email)
    page.locator("input[name=password]").fill("demo")
    page.locator("button[type=submit].primary").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl" if language == "fa" else "ltr")


def log_out(page):
    page.locator("form[action='/logout/'] button").click()


@pytest.mark.parametrize("language", ["en", "fa"])
def test_marketer_hands_a_lead_to_a_rep_who_accepts_it(new_page, people, screenshot, language):
    for user in (people["marketer"], people["rep"]):
        user.language = language
        user.save(update_fields=["language"])
    page = new_page("fa-IR" if language == "fa" else "en-US")

    # The marketer creates a lead for the account.
    log_in(page, "marketer@daramad.example", language)
    page.goto("/leads/new/")
    page.locator("#id_first_name").fill("نازنین" if language == "fa" else "Nazanin")
    page.locator("#id_last_name").fill("Ahmadi")
    page.locator("#id_email").fill("nazanin@kian.ir")
    page.locator("#id_company").fill("Kian")
    page.locator("#id_account").select_option(str(people["account"].pk))
    page.locator("#id_source").fill("webinar")
    page.locator("#id_utm_campaign").fill("nowruz-1405")
    page.locator("#id_score").fill("150")
    page.locator("#id_score").blur()
    # Inline validation complains about the score before anything is saved.
    expect(page.locator("#errors-score .field-error")).to_be_visible()
    assert not Lead.objects.exists()
    page.locator("#id_score").fill("80")
    page.locator("#record-form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/leads/\d+/$"))
    lead = Lead.objects.get()
    screenshot(page, f"lead-detail-{language}")

    # …and hands it to the Tehran sales team.
    page.locator(f"a[href='/leads/{lead.pk}/handoff/']").click()
    page.locator("#id_to_team").select_option(str(people["sales"].pk))
    page.locator("#id_note").fill("Asked for a demo after the webinar")
    page.locator("form button[type=submit].primary").click()
    expect(page.locator(".handoff-pending")).to_be_visible()
    lead.refresh_from_db()
    assert lead.status == Lead.Status.MQL
    log_out(page)

    # The rep finds it in the team's queue with its SLA clock, and accepts it.
    log_in(page, "rep@daramad.example", language)
    page.goto("/handoffs/")
    row = page.locator("#results tbody tr").first
    expect(row).to_contain_text("Ahmadi")
    expect(row.locator(".sla-on_time")).to_be_visible()
    screenshot(page, f"handoff-queue-{language}")
    row.locator(f"a[href='/leads/{lead.pk}/']").first.click()
    page.locator(f"form[action='/handoffs/{Handoff.objects.get().pk}/accept/'] button").click()
    expect(page.locator(".status-sql").first).to_be_visible()
    lead.refresh_from_db()
    assert (lead.status, lead.owner) == (Lead.Status.SQL, people["rep"])

    # One click converts the accepted lead into a deal, which is on the rep's board.
    page.locator("form input[name=quick]").locator("..").locator("button").click()
    page.wait_for_url(re.compile(r".*/deals/\d+/$"))
    deal = lead.__class__.objects.get(pk=lead.pk).converted_opportunity
    assert deal is not None and deal.account == people["account"]
    page.goto("/board/")
    expect(page.locator(f".deal-card[data-id='{deal.pk}']")).to_be_visible()

    # The account's timeline shows the call, the lead, the handoff and the deal.
    page.goto(people["account"].get_absolute_url())
    timeline = page.locator("#timeline")
    expect(timeline.locator(".timeline-event")).to_have_count(4)
    expect(timeline).to_contain_text("Discovery call")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280
    screenshot(page, f"account-timeline-{language}")
    # Filtering the timeline by kind updates it in place.
    page.locator("input[name=kind][value=lead]").check()
    expect(timeline.locator(".timeline-event")).to_have_count(1)
