"""The morning routine in the browser, for a rep and for a CS manager, in English and in
Persian: log in, read what the home page says needs doing today, follow the bell, act on
what it shows, and see the home page catch up.

The world is set up beforehand through the ORM and the real services (so the
notifications are the ones the services send); each routine itself is one continuous
flow through the pages, asserting what the user sees."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm.models import Account, Activity
from pipeline import services
from pipeline.models import Handoff, Lead, Opportunity
from revops.models import Notification
from tests.factories import default_stages

from .conftest import fits, nav, shown, sign_in, won_deal, words

LANGUAGES = ["en", "fa"]

# The block titles of revops/home.py and their Persian in locale/fa/LC_MESSAGES/django.po.
TITLES = {
    "tasks_due": ("My tasks due and overdue", "کارهای سررسیده و عقب‌افتادهٔ من"),
    "closing_without_next_step": (
        "Closing this month with no next step",
        "بسته‌شدنی در این ماه، بی گام بعدی",
    ),
    "leads_waiting": ("Leads waiting for you to accept", "سرنخ‌های در انتظار پذیرش شما"),
    "cs_handoffs": ("Customers to accept", "مشتریان در انتظار پذیرش"),
    "at_risk_accounts": ("Accounts at risk", "حساب‌های در خطر"),
    "renewals_due": ("Renewals due", "تمدیدهای پیش رو"),
}


def _log_in(new_page, user, language):
    """Signed in (tests/browser/conftest.py), on the home page: LOGIN_REDIRECT_URL."""
    page = sign_in(new_page, user, language)
    expect(page).to_have_url(re.compile(r"^https?://[^/]+/$"))
    return page


def _block(page, name, language):
    """A home block, once htmx has swapped its content in, with its title in the language."""
    block = page.locator(f"section#home-{name}")
    expect(block).not_to_have_attribute("aria-busy", "true")
    expect(block.locator("h2")).to_have_text(words(language, *TITLES[name]))
    return block


READS_IN_ORDER = """(element, text) => {
    // Each character of `text` is drawn after the one before it (left to right), when
    // both are on one line.
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const at = node.data.indexOf(text);
        if (at < 0) continue;
        const boxes = [...text].map((_, i) => {
            const range = document.createRange();
            range.setStart(node, at + i);
            range.setEnd(node, at + i + 1);
            return range.getBoundingClientRect();
        });
        return boxes.every((box, i) => i === 0 || Math.abs(box.top - boxes[i - 1].top) > 2
                                       || box.left > boxes[i - 1].left);
    }
    return null;
}"""


def _date_reads_in_order(locator, day, language):
    """A date (yyyy-mm-dd) in a sentence is drawn year first, left to right, even among
    right-to-left words: the bidi algorithm must not reverse its parts."""
    text = shown(day.isoformat(), language)
    assert locator.evaluate(READS_IN_ORDER, text) is True, f"{text} is drawn out of order"


def _hours_left(handoff) -> int:
    return max(0, int((handoff.sla_due_at - timezone.now()).total_seconds() // 3600))


# --- A rep's morning --------------------------------------------------------------------


@pytest.fixture
def rep_world(rep, manager, marketer):
    """An overdue task on a customer, a deal closing today with no open task (whose amount
    the manager changed overnight), and a lead marketing handed to the rep's team."""
    stages = default_stages()
    today = timezone.localdate()
    account = Account.objects.create(name="Kian Pardaz", domain="kian.ir", owner=rep)
    overdue = Activity.objects.create(
        kind=Activity.Kind.TASK,
        subject="Send the revised proposal",
        account=account,
        owner=rep,
        occurred_on=today - timedelta(days=10),
        due_on=today - timedelta(days=3),
    )
    deal = services.opportunity_create(
        opportunity=Opportunity(
            account=account,
            name="Kian CRM",
            owner=rep,
            stage=stages["Negotiation"],
            amount=12000,
            currency="USD",
            expected_close_on=today,  # in this month on either calendar
        ),
        by=rep,
    )
    services.opportunity_update(
        opportunity_id=deal.pk, data={"amount": Decimal(13500)}, by=manager, expected_version=1
    )
    lead = Lead.objects.create(
        first_name="Parisa",
        last_name="Karimi",
        email="parisa@tarafoods.ir",
        company="Tara Foods",
        source="webinar",
        owner=marketer,
    )
    handoff = services.lead_handoff(lead=lead, by=marketer, to_team=rep.team)
    # What the services told the rep: the handoff and the manager's change.
    assert sorted(
        Notification.objects.filter(recipient=rep, read_at=None).values_list("kind", flat=True)
    ) == sorted([Notification.Kind.DEAL_CHANGED, Notification.Kind.HANDOFF_ADDRESSED])
    return {"deal": deal, "lead": lead, "handoff": handoff, "overdue": overdue}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_reps_morning(new_page, rep, rep_world, screenshot, language):
    deal, lead, handoff, overdue = (
        rep_world["deal"],
        rep_world["lead"],
        rep_world["handoff"],
        rep_world["overdue"],
    )
    step = f"morning-rep-{language}"
    before = _hours_left(handoff)
    page = _log_in(new_page, rep, language)

    # Home: the three blocks of a rep load on their own.
    expect(page.locator("h1")).to_contain_text(words(language, "Good to see you", "خوش آمدید"))
    tasks = _block(page, "tasks_due", language)
    row = tasks.locator(f"#task-{overdue.pk}")
    expect(row).to_have_class(re.compile(r"\boverdue\b"))
    expect(row).to_contain_text("Send the revised proposal")
    expect(row.locator(".badge.danger")).to_have_text(
        shown(words(language, "3 days overdue", "3 روز دیرکرد"), language)
    )
    expect(tasks.locator("li.task")).to_have_count(1)
    _date_reads_in_order(row, overdue.due_on, language)
    closing = _block(page, "closing_without_next_step", language)
    expect(closing.locator("li")).to_have_count(1)
    expect(closing.locator("li a")).to_have_text("Kian CRM")
    expect(closing).to_contain_text(shown("13,500", language))
    _date_reads_in_order(closing.locator("li"), deal.expected_close_on, language)
    waiting = _block(page, "leads_waiting", language)
    expect(waiting.locator("li")).to_have_count(1)
    expect(waiting.locator("li a")).to_have_text(str(lead))
    expect(waiting.locator(".badge.ok")).to_have_text(words(language, "On time", "به‌موقع"))
    after = _hours_left(handoff)
    # The page computed the hours left between `before` and `after`.
    hours = "|".join(sorted({shown(str(h), language) for h in (before, after)}))
    phrase = words(language, "hours left", "ساعت مانده")
    expect(waiting.locator(".muted.small")).to_contain_text(re.compile(rf"· ({hours}) {phrase}"))
    _date_reads_in_order(
        waiting.locator("li"), timezone.localtime(handoff.sla_due_at).date(), language
    )
    # The bell counts what the services told the rep overnight.
    bell = page.locator("#bell .bell-count")
    expect(bell).to_have_text(shown("2", language))
    fits(page)
    screenshot(page, f"{step}-home")

    # The bell: the list, the handoff notification opened (read) lands on the lead.
    page.locator("#bell").click()
    page.wait_for_url("**/notifications/")
    items = page.locator(".notification-list li.notification")
    expect(items).to_have_count(2)
    expect(page.locator(".notification-list li.unread")).to_have_count(2)
    changed = page.locator("li.notification[data-kind=deal_changed]")
    expect(changed).to_contain_text("Mona Manager")
    expect(changed).to_contain_text("Kian CRM")
    addressed = page.locator("li.notification[data-kind=handoff_addressed]")
    expect(addressed).to_contain_text("Mark Eter")
    expect(addressed).to_contain_text(str(lead))
    _date_reads_in_order(addressed.locator("time"), timezone.localdate(), language)
    screenshot(page, f"{step}-notifications")
    addressed.locator("a").first.click()
    page.wait_for_url(f"**/leads/{lead.pk}/")
    expect(page.locator("h1")).to_contain_text(str(lead))
    expect(page.locator("#bell .bell-count")).to_have_text(shown("1", language))
    assert Notification.objects.get(recipient=rep, kind="handoff_addressed").read_at is not None
    assert Notification.objects.get(recipient=rep, kind="deal_changed").read_at is None
    screenshot(page, f"{step}-lead")

    # Back on the deal (from home's block): a next step for tomorrow, added in place.
    nav(page, "/")
    closing = _block(page, "closing_without_next_step", language)
    closing.locator("li a", has_text="Kian CRM").click()
    page.wait_for_url(f"**/deals/{deal.pk}/")
    record = page.locator("section.record-tasks")
    expect(record.locator(".empty")).to_be_visible()
    add = record.locator("form.task-quick-add")
    add.locator("input[name=subject]").fill("Call Kian about the signature")
    add.locator("button[type=submit]").click()
    record = page.locator("section.record-tasks")
    added = record.locator("li.task", has_text="Call Kian about the signature")
    expect(added).to_have_count(1)
    expect(added).not_to_have_class(re.compile(r"\boverdue\b"))
    task = Activity.objects.get(subject="Call Kian about the signature")
    assert (task.opportunity_id, task.owner_id, task.due_on, task.done) == (
        deal.pk,
        rep.pk,
        timezone.localdate() + timedelta(days=1),
        False,
    )
    screenshot(page, f"{step}-deal")

    # Home: the deal has a next step now, so it is no longer listed.
    nav(page, "/")
    closing = _block(page, "closing_without_next_step", language)
    expect(closing.locator("li")).to_have_count(0)
    expect(closing.locator(".empty")).to_have_text(
        words(
            language,
            "Every deal closing this month has a next step.",
            "هر معامله‌ای که این ماه بسته می‌شود گام بعدی دارد.",
        )
    )
    # The task for tomorrow is not due yet; the overdue one still is.
    tasks = _block(page, "tasks_due", language)
    expect(tasks.locator("li.task")).to_have_count(1)

    # My tasks: tick the overdue one done; it leaves the due list.
    nav(page, "/tasks/")
    due_tab = page.locator("nav.tabs a[aria-current=page] .badge")
    expect(due_tab).to_have_text(shown("1", language))
    row = page.locator(f"#task-{overdue.pk}")
    expect(row).to_have_class(re.compile(r"\boverdue\b"))
    row.locator("button.task-check").click()
    expect(row).to_have_class(re.compile(r"\bdone\b"))
    expect(row.locator("button.task-check")).to_have_attribute("aria-pressed", "true")
    overdue.refresh_from_db()
    assert overdue.done
    page.reload()
    expect(page.locator(f"#task-{overdue.pk}")).to_have_count(0)
    expect(due_tab).to_have_text(shown("0", language))
    expect(page.locator("section.card .empty")).to_be_visible()
    screenshot(page, f"{step}-tasks")
    nav(page, "/")
    tasks = _block(page, "tasks_due", language)
    expect(tasks.locator(".empty")).to_have_text(
        words(language, "Nothing due today. Well done.", "امروز کاری سررسید نشده. آفرین.")
    )
    screenshot(page, f"{step}-home-after")


# --- A CS manager's morning -------------------------------------------------------------


@pytest.fixture
def cs_world(rep, cs):
    """A deal the rep won yesterday (handed to CS by the service), an account of the CS
    manager's at risk, and its renewal due within the renewal lead time."""
    stages = default_stages()
    today = timezone.localdate()
    deal = won_deal(rep)
    handoff = Handoff.objects.get(opportunity=deal, kind=Handoff.Kind.DEAL_TO_CS)
    assert services.deal_won_handoff(deal, rep) == handoff  # handed over once
    assert Notification.objects.filter(
        recipient=cs, kind=Notification.Kind.HANDOFF_ADDRESSED, read_at=None
    ).exists()
    slipping = Account.objects.create(
        name="Parsian Steel", domain="parsian.ir", owner=cs, health_score=35
    )
    renewal = services.opportunity_create(
        opportunity=Opportunity(
            account=slipping,
            name="Parsian Steel renewal",
            owner=cs,
            kind=Opportunity.Kind.RENEWAL,
            stage=stages["Negotiation"],
            amount=4800,
            currency="USD",
            expected_close_on=today + timedelta(days=20),
        ),
        by=cs,
    )
    return {"deal": deal, "handoff": handoff, "slipping": slipping, "renewal": renewal}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_cs_managers_morning(new_page, cs, cs_world, screenshot, language):
    handoff = cs_world["handoff"]
    step = f"morning-cs-{language}"
    page = _log_in(new_page, cs, language)

    # Home: customers to accept, accounts at risk, renewals due.
    to_accept = _block(page, "cs_handoffs", language)
    expect(to_accept.locator("li")).to_have_count(1)
    expect(to_accept.locator("li a")).to_have_text("Kian CRM")
    expect(to_accept.locator(".badge.ok")).to_have_text(words(language, "On time", "به‌موقع"))
    expect(to_accept).to_contain_text(str(handoff.from_user))
    at_risk = _block(page, "at_risk_accounts", language)
    expect(at_risk.locator("li")).to_have_count(1)
    expect(at_risk.locator("li a")).to_have_text("Parsian Steel")
    expect(at_risk.locator(".badge.danger")).to_have_text(
        shown(words(language, "health 35", "سلامت 35"), language)
    )
    renewals = _block(page, "renewals_due", language)
    expect(renewals.locator("li")).to_have_count(1)
    expect(renewals.locator("li a")).to_have_text("Parsian Steel renewal")
    expect(renewals).to_contain_text(shown("4,800", language))
    expect(renewals.locator(".badge.danger")).to_have_count(0)  # due, not overdue
    _date_reads_in_order(renewals.locator("li"), cs_world["renewal"].expected_close_on, language)
    _date_reads_in_order(
        to_accept.locator("li"), timezone.localtime(handoff.sla_due_at).date(), language
    )
    expect(page.locator("#bell .bell-count")).to_have_text(shown("1", language))
    fits(page)
    screenshot(page, f"{step}-home")

    # The handoff, followed from home: tick the checklist, accept.
    to_accept.locator("li a", has_text="Kian CRM").click()
    page.wait_for_url(f"**/handoffs/{handoff.pk}/")
    expect(page.locator("h1")).to_contain_text("Kian Pardaz")
    items = page.locator(".checklist li")
    expect(items).to_have_count(handoff.checklist.count())
    for i in range(items.count()):
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
    handoff.refresh_from_db()
    assert (handoff.status, handoff.decided_by_id) == (Handoff.Status.ACCEPTED, cs.pk)

    # Home again: nobody waits; the account at risk and the renewal are still there.
    nav(page, "/")
    to_accept = _block(page, "cs_handoffs", language)
    expect(to_accept.locator("li")).to_have_count(0)
    expect(to_accept.locator(".empty")).to_have_text(
        words(language, "No customer is waiting for you.", "مشتری‌ای در انتظار شما نیست.")
    )
    at_risk = _block(page, "at_risk_accounts", language)
    expect(at_risk.locator("li a", has_text="Parsian Steel")).to_have_count(1)
    expect(_block(page, "renewals_due", language).locator("li")).to_have_count(1)
    fits(page)
    screenshot(page, f"{step}-home-after")
