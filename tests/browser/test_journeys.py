"""Four users' journeys through the browser, each in English and in Persian: a rep wins a
deal, a marketer imports leads and hands one to sales, a CS manager accepts a customer and
sees who is at risk, an executive reads the dashboard and the records behind a number.

The world is set up beforehand through the ORM and the services; each journey itself is
one continuous flow through the pages, asserting what the user sees."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm.models import Account, Activity, Subscription
from crm.services import account_health_compute
from metrics.services import kpi_recompute_day
from tests.factories import default_stages

from .conftest import fits, nav, shown, sign_in, won_deal, words

LANGUAGES = ["en", "fa"]


# --- 1. A rep logs a deal and wins it ---------------------------------------------------


@pytest.fixture
def rep_world(rep, cs):
    """A customer the rep sells to; a CS team (the `cs` persona's) to hand won deals to."""
    return Account.objects.create(name="Kian Pardaz", domain="kian.ir", owner=rep)


def drag(page, source, target):
    """Press, move in steps and release, as a hand does (Sortable follows pointer moves)."""
    target.scroll_into_view_if_needed()
    source.scroll_into_view_if_needed()
    start, end = source.bounding_box(), target.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + 12)
    page.mouse.down()
    page.mouse.move(start["x"] + start["width"] / 2 + 5, start["y"] + 20, steps=5)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 30, steps=20)
    page.mouse.up()


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_rep_logs_a_deal_and_wins_it(new_page, rep, rep_world, screenshot, language):
    stages = default_stages()
    page = sign_in(new_page, rep, language)
    step = f"journey-rep-{language}"

    # A new deal through the form, from the board's "New deal" button.
    nav(page, "/board/")
    page.locator(".page-header a[href='/deals/new/']").click()
    page.locator("#id_name").fill("Kian CRM")
    page.locator("#id_account").select_option(label="Kian Pardaz")
    # A Persian user types Persian digits and separators.
    page.locator("#id_amount").fill(shown("12,000", language))
    page.locator("#id_one_time_amount").fill(shown("1,200", language))
    page.locator("#id_contract_months").fill(shown("12", language))
    expect(page.locator("#id_primary_contact option[value='']")).to_have_text(
        words(language, "- Select an option -", "- یک گزینه را انتخاب کنید -")
    )
    screenshot(page, f"{step}-deal-form")
    page.locator("#record-form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/deals/\d+/$"))
    deal_url = page.url
    expect(page.locator("h1")).to_contain_text("Kian CRM")
    expect(page.locator("h1 .status-open")).to_have_text("Qualification")
    expect(page.locator(".messages")).to_contain_text(
        words(language, "Deal created.", "معامله ایجاد شد.")
    )
    facts = page.locator(".side-column dl.facts").first
    expect(facts).to_contain_text(shown("12,000", language))
    expect(facts).to_contain_text(words(language, "12 months", "۱۲ ماه"))
    screenshot(page, f"{step}-deal-created")

    # On the board, in the first column; dragged to Discovery.
    nav(page, "/board/")
    deal_id = deal_url.rstrip("/").rsplit("/", 1)[1]
    card = page.locator(f".deal-card[data-id='{deal_id}']")

    def column(name):
        return page.locator(f".cards[data-stage='{stages[name].pk}']")

    expect(column("Qualification").locator(card)).to_have_count(1)
    expect(card).to_contain_text("Kian Pardaz")
    drag(page, card, column("Discovery"))
    expect(column("Discovery").locator(card)).to_have_count(1)
    expect(
        page.locator(f"#stage-{stages['Discovery'].pk} ~ .column-stats .column-count")
    ).to_have_text(shown("1", language))
    screenshot(page, f"{step}-board-dragged")

    # With the keyboard: the card's stage menu, then its Move button.
    menu = card.locator("select[name=stage]")
    menu.focus()
    menu.select_option(str(stages["Negotiation"].pk))
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(column("Negotiation").locator(card)).to_have_count(1)

    # Won: the dialog asks for the close date and proposes today.
    drag(page, card, column("Closed won"))
    dialog = page.locator("#close-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("input[name=closed_on]")).not_to_have_value("")
    screenshot(page, f"{step}-won-dialog")
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_be_hidden()
    expect(column("Closed won").locator(card)).to_have_count(1)
    expect(column("Negotiation").locator(".deal-card")).to_have_count(0)
    closed = timezone.localdate().isoformat()
    expect(card.locator(".deal-facts")).to_have_text(
        f"{shown('12,000', language)} USD · {shown(closed, language)}"
    )
    fits(page)
    screenshot(page, f"{step}-board-won")

    # The deal's page: won, closed today, and handed to customer success.
    card.locator("a.deal-name").click()
    page.wait_for_url(deal_url)
    expect(page.locator("h1 .status-won")).to_have_text("Closed won")
    handoff = page.locator(".timeline .kind-handoff")
    expect(handoff).to_have_count(1)
    expect(handoff).to_contain_text("Customer Success")
    expect(handoff).to_contain_text(words(language, "Waiting", "در انتظار"))
    # The last move reads from Negotiation to Closed won in either direction of writing:
    # in Persian the new stage sits to the left of the old one.
    move = page.locator(".timeline .kind-stage_change", has_text="Closed won")
    history = page.locator(".history li").filter(has=page.locator("del", has_text="Negotiation"))
    for old, new in (
        (move.locator("bdi", has_text="Negotiation"), move.locator("bdi", has_text="Closed won")),
        (history.locator("del"), history.locator("ins", has_text="Closed won")),
    ):
        left_to_right = new.bounding_box()["x"] > old.bounding_box()["x"]
        assert left_to_right == (language == "en")
    screenshot(page, f"{step}-deal-won")


# --- 2. A marketer imports leads and hands one to sales ---------------------------------

LEADS = {
    "en": [("Nazanin", "Ahmadi"), ("Omid", "Karimi"), ("Leila", "Moradi"), ("Babak", "Rad")],
    "fa": [("نازنین", "احمدی"), ("امید", "کریمی"), ("لیلا", "مرادی"), ("بابک", "راد")],
}


def _leads_csv(language):
    rows = [
        f"L-{i},{first},{last},lead{i}@kian.ir,Kian,webinar,nowruz-1405,{50 + i},new,2026-03-0{i}"
        for i, (first, last) in enumerate(LEADS[language], start=1)
    ]
    header = "external_id,first_name,last_name,email,company,source,utm_campaign,score,status,"
    return header + "created_on\n" + "\n".join(rows) + "\n"


@pytest.mark.celery_worker
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_marketer_imports_leads_and_hands_one_to_sales(
    new_page, marketer, sales_team, rep, screenshot, language, celery_worker_process, tmp_path
):
    source = tmp_path / "leads.csv"
    source.write_text(_leads_csv(language), encoding="utf-8")
    page = sign_in(new_page, marketer, language)
    step = f"journey-marketer-{language}"

    # Upload; our own headers map themselves; the preview shows the file's rows.
    nav(page, "/imports/")
    page.locator("input[type=file]").set_input_files(str(source))
    page.locator("form button[type=submit].primary").click()
    expect(page.locator("select[name='map-first_name']")).to_have_value("first_name")
    expect(page.locator("table.preview tbody tr")).to_have_count(4)
    expect(page.locator("table.preview")).to_contain_text(LEADS[language][0][0])
    screenshot(page, f"{step}-import-preview")
    page.locator("button[name=start]").click()

    # A worker imports it; the page follows its progress to the result.
    result = page.locator(".import-result")
    expect(result).to_be_visible(timeout=20_000)
    expect(result.locator("h2")).to_have_text(words(language, "Imported", "واردشده"))
    counts = result.locator("tbody tr").first.locator("td")
    expect(counts.nth(1)).to_have_text(shown("4", language))  # read
    expect(counts.nth(2)).to_have_text(shown("4", language))  # written
    expect(counts.nth(3)).to_have_text(shown("0", language))  # rejected
    screenshot(page, f"{step}-import-done")

    # The leads are in the list.
    nav(page, "/leads/")
    rows = page.locator("#results tbody tr")
    for first, last in LEADS[language]:
        expect(rows.filter(has_text=f"{first} {last}")).to_have_count(1)
    screenshot(page, f"{step}-leads")

    # One of them, handed to the Sales North team.
    first, last = LEADS[language][0]
    rows.filter(has_text=f"{first} {last}").locator("a").first.click()
    page.wait_for_url(re.compile(r".*/leads/\d+/$"))
    expect(page.locator("h1")).to_contain_text(f"{first} {last}")
    expect(page.locator("h1 .status-new")).to_be_visible()
    page.locator(".page-header a[href$='/handoff/']").click()
    page.locator("#id_to_team").select_option(label="Sales North")
    page.locator("#id_note").fill(words(language, "Asked for a demo", "درخواست دمو داشت"))
    screenshot(page, f"{step}-handoff-form")
    page.locator("form button[type=submit].primary").click()
    page.wait_for_url(re.compile(r".*/leads/\d+/$"))
    pending = page.locator(".handoff-pending")
    expect(pending).to_be_visible()
    expect(pending).to_contain_text("Sales North")
    expect(pending.locator(".sla-on_time")).to_be_visible()
    expect(page.locator("h1 .status-mql")).to_be_visible()
    expect(page.locator(".page-header a[href$='/handoff/']")).to_have_count(0)  # once only
    screenshot(page, f"{step}-handed-off")

    # Back in the list: that lead is an MQL now, the others still new.
    nav(page, "/leads/")
    expect(rows.filter(has_text=f"{first} {last}").locator(".status-mql")).to_be_visible()
    expect(page.locator("#results .status-new")).to_have_count(3)
    fits(page)


# --- 3. A CS manager accepts a customer and sees churn risk -----------------------------


@pytest.fixture
def cs_world(rep, cs):
    """A deal the rep has just won (so a handoff to CS waits), and a customer the CS
    manager already owns that is slipping: no touch for three months, MRR cut from 1,000
    to 400, three overdue tasks (health 100 − 30 − 25 − 15 = 30)."""
    today = timezone.localdate()
    won_account = won_deal(rep).account
    slipping = Account.objects.create(name="Parsian Steel", domain="parsian.ir", owner=cs)
    old = Subscription.objects.create(
        account=slipping,
        product="Platform",
        mrr=Decimal(1000),
        currency="USD",
        start_on=today - timedelta(days=300),
        end_on=today - timedelta(days=30),
    )
    Subscription.objects.create(
        account=slipping,
        product="Platform",
        mrr=Decimal(400),
        currency="USD",
        start_on=today - timedelta(days=30),
        replaces=old,
    )
    Activity.objects.create(
        kind="call",
        subject="Quarterly review",
        account=slipping,
        owner=cs,
        occurred_on=today - timedelta(days=90),
    )
    for n in range(3):
        Activity.objects.create(
            kind="task",
            subject=f"Follow up {n}",
            account=slipping,
            owner=cs,
            occurred_on=today - timedelta(days=90),
            due_on=today - timedelta(days=20),
        )
    assert account_health_compute(slipping).score == 30
    return {"won": won_account, "slipping": slipping}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_cs_manager_accepts_a_customer_and_sees_churn_risk(
    new_page, cs, cs_world, screenshot, language
):
    page = sign_in(new_page, cs, language)
    step = f"journey-cs-{language}"

    # The workspace: a handoff waits, and one of my accounts is at risk.
    nav(page, "/cs/")
    queue = page.locator("section[aria-labelledby=queue-heading]")
    expect(queue.locator("li")).to_have_count(1)
    expect(queue).to_contain_text("Kian Pardaz · Kian CRM")
    expect(queue.locator(".sla-on_time")).to_be_visible()
    risk = page.locator("section[aria-labelledby=risk-heading]")
    expect(risk.locator("li")).to_have_count(1)
    expect(risk).to_contain_text("Parsian Steel")
    expect(risk.locator(".health-risk")).to_have_text(shown("30", language))
    fits(page)
    screenshot(page, f"{step}-workspace")

    # The handoff: tick the checklist, read the draft subscription, accept.
    queue.locator("a").first.click()
    page.wait_for_url(re.compile(r".*/handoffs/\d+/$"))
    expect(page.locator("h1")).to_contain_text("Kian Pardaz")
    items = page.locator(".checklist li")
    expect(items).to_have_count(3)
    for i in range(3):
        items.nth(i).locator("button").click()
        expect(items.nth(i).locator("button.done")).to_be_visible()
    expect(page.locator("#id_mrr")).to_have_value("900.00")  # (12,000 − 1,200) / 12
    screenshot(page, f"{step}-handoff")
    page.locator(".decide-card button.primary").click()
    expect(page.locator(".messages")).to_contain_text(
        words(
            language,
            "Customer accepted: the account is yours.",
            "مشتری پذیرفته شد: حساب اکنون با شماست.",
        )
    )
    expect(page.locator(".decide-card")).to_have_count(0)
    subscription = page.locator(".main-column .plain-list li", has_text="Kian CRM")
    expect(subscription.locator(".badge.ok")).to_have_text(words(language, "Confirmed", "تأییدشده"))
    expect(subscription).to_contain_text(shown("900.00", language))
    screenshot(page, f"{step}-accepted")

    # Back in the workspace: no handoff waits; the new customer is mine with its MRR.
    nav(page, "/cs/")
    expect(queue.locator(".empty")).to_be_visible()
    mine = page.locator(".my-accounts tbody tr")
    expect(mine).to_have_count(2)
    kian = mine.filter(has_text="Kian Pardaz")
    expect(kian.locator("td.num").first).to_have_text(shown("900.00", language))
    expect(mine.filter(has_text="Parsian Steel").locator(".health-risk")).to_have_text(
        shown("30", language)
    )
    screenshot(page, f"{step}-mine")

    # The account at risk explains its health, component by component.
    risk.locator("a", has_text="Parsian Steel").click()
    page.wait_for_url(re.compile(r".*/accounts/\d+/$"))
    health = page.locator("section[aria-labelledby=health-heading]")
    expect(health.locator("h2 .health-risk")).to_have_text(shown("30", language))
    expect(health).to_contain_text(
        words(language, "Days since the last activity", "روزها از آخرین فعالیت")
    )
    expect(health.locator("td.num", has_text=shown("−30", language))).to_have_count(1)
    expect(health.locator("td.num", has_text=shown("−25", language))).to_have_count(1)
    expect(health.locator("td.num", has_text=shown("−15", language))).to_have_count(1)
    fits(page)
    screenshot(page, f"{step}-at-risk-account")


# --- 4. An executive reads the dashboard and drills down --------------------------------


@pytest.fixture
def exec_world(executive, cs):
    """Three customers paying 1,000, 2,500 and 500 a month since two months ago, and the
    day's KPI snapshots: MRR 4,000, ARR 48,000."""
    start = timezone.localdate() - timedelta(days=60)
    for name, mrr in (("Kian Pardaz", 1000), ("Parsian Steel", 2500), ("Sepid Mehr", 500)):
        account = Account.objects.create(name=name, owner=cs)
        Subscription.objects.create(
            account=account, product="Platform", mrr=mrr, currency="USD", start_on=start
        )
    kpi_recompute_day()


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_executive_reads_the_dashboard_and_drills_down(
    new_page, executive, exec_world, screenshot, language
):
    page = sign_in(new_page, executive, language)
    step = f"journey-executive-{language}"

    nav(page, "/dashboards/", lands_on="/dashboards/executive/")
    expect(page.locator("h1")).to_have_text(
        words(language, "Executive dashboard", "داشبورد مدیر ارشد")
    )
    arr = page.locator('#block-cards .kpi-card[data-kpi="arr"]')
    mrr = page.locator('#block-cards .kpi-card[data-kpi="mrr"]')
    expect(arr.locator(".kpi-value")).to_contain_text(shown("48,000.00", language))
    expect(mrr.locator(".kpi-value")).to_contain_text(shown("4,000.00", language))
    expect(page.locator("#block-trend svg")).to_be_visible()
    expect(page.locator(".dashboard-block .loading")).to_have_count(0)
    fits(page)
    screenshot(page, f"{step}-dashboard")

    # The records behind MRR: the three customers, adding up to the card's value.
    mrr.locator(".kpi-foot a").click()
    page.wait_for_url("**/dashboards/records/?kpi=mrr*")
    expect(page.locator("[data-total]")).to_have_attribute("data-total", "4000.00")
    expect(page.locator("[data-total]")).to_contain_text(shown("4,000.00", language))
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(3)
    for name, value in (("Kian Pardaz", "1,000.00"), ("Parsian Steel", "2,500.00")):
        expect(rows.filter(has_text=name).locator("td.num").last).to_have_text(
            shown(value, language)
        )
    fits(page)
    screenshot(page, f"{step}-mrr-records")

    # Back to the dashboard, and to one customer behind the number.
    page.locator(".breadcrumb a").click()
    expect(page.locator('#block-cards .kpi-card[data-kpi="mrr"]')).to_be_visible()
    page.go_back()
    rows.locator("a", has_text="Sepid Mehr").click()
    page.wait_for_url(re.compile(r".*/accounts/\d+/$"))
    expect(page.locator("h1")).to_contain_text("Sepid Mehr")
    screenshot(page, f"{step}-account")
