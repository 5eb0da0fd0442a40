"""A rep works the board: drag a deal to the next stage, drop one on "Closed lost" and give
the reason, move one with the keyboard through the card's stage menu."""

import pytest
from playwright.sync_api import expect

from crm.models import Account
from pipeline import services
from pipeline.models import Opportunity, StageChange
from revops.models import Team, User
from tests.factories import default_stages

from .conftest import shown


@pytest.fixture
def board_world(transactional_db):
    team = Team.objects.create(name="Sales Tehran", kind=Team.Kind.SALES)
    rep = User.objects.create_user(
        "rep@daramad.example", "demo", full_name="Sara Rahimi", team=team
    )
    stages = default_stages()
    account = Account.objects.create(name="شرکت کیان", domain="kian.ir", owner=rep)
    deals = {}
    for name, stage in (
        ("Kian CRM", "Proposal"),
        ("Kian Support", "Proposal"),
        ("Kian Seats", "Discovery"),
    ):
        deal = Opportunity(
            account=account, name=name, owner=rep, stage=stages[stage], amount=1000, currency="USD"
        )
        deals[name] = services.opportunity_create(opportunity=deal, by=rep)
    return {"rep": rep, "stages": stages, "deals": deals}


def drag(page, source, target):
    """Press, move in steps and release, as a hand does (Sortable listens to pointer moves)."""
    target.scroll_into_view_if_needed()
    source.scroll_into_view_if_needed()
    start, end = source.bounding_box(), target.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + 12)
    page.mouse.down()
    page.mouse.move(start["x"] + start["width"] / 2 + 5, start["y"] + 20, steps=5)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 30, steps=20)
    page.mouse.up()


def column(page, stage):
    return page.locator(f".cards[data-stage='{stage.pk}']")


def card(page, deal):
    return page.locator(f".deal-card[data-id='{deal.pk}']")


@pytest.mark.parametrize("language", ["en", "fa"])
def test_drag_and_drop_and_the_keyboard_fallback(new_page, board_world, screenshot, language):
    rep, stages, deals = board_world["rep"], board_world["stages"], board_world["deals"]
    rep.language = language
    rep.save(update_fields=["language"])
    page = new_page("fa-IR" if language == "fa" else "en-US")
    page.goto("/login/")
    page.locator("input[name=username]").fill(rep.email)
    page.locator("input[name=password]").fill("demo")
    page.locator("button[type=submit].primary").click()
    page.goto("/board/")
    expect(column(page, stages["Proposal"]).locator(".deal-card")).to_have_count(2)
    screenshot(page, f"board-before-{language}")

    # Drag "Kian CRM" from Proposal to Negotiation.
    drag(page, card(page, deals["Kian CRM"]), column(page, stages["Negotiation"]))
    expect(column(page, stages["Negotiation"]).locator(".deal-card")).to_have_count(1)
    expect(
        page.locator(f"#stage-{stages['Negotiation'].pk} ~ .column-stats .column-count")
    ).to_have_text(shown("1", language))
    crm = Opportunity.objects.get(pk=deals["Kian CRM"].pk)
    assert (crm.stage, crm.version) == (stages["Negotiation"], 2)
    assert StageChange.objects.filter(opportunity=crm, to_stage=stages["Negotiation"]).exists()
    assert crm.pgh_event_models["change"].objects.filter(pgh_obj_id=crm.pk).count() == 2

    # Drop "Kian Support" on Closed lost: a dialog asks for the date and the reason.
    drag(page, card(page, deals["Kian Support"]), column(page, stages["Closed lost"]))
    dialog = page.locator("#close-dialog")
    expect(dialog).to_be_visible()
    screenshot(page, f"board-close-dialog-{language}")
    dialog.locator("button[type=submit]").click()
    expect(dialog.locator(".field-error")).to_be_visible()  # no reason, no loss
    assert Opportunity.objects.get(pk=deals["Kian Support"].pk).status == "open"
    dialog.locator("input[name=lost_reason]").fill("Went with a competitor")
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_be_hidden()
    expect(column(page, stages["Closed lost"]).locator(".deal-card")).to_have_count(1)
    support = Opportunity.objects.get(pk=deals["Kian Support"].pk)
    assert (support.status, support.lost_reason) == ("lost", "Went with a competitor")
    assert support.closed_on is not None

    # Keyboard only: the card's stage menu and its Move button.
    seats = card(page, deals["Kian Seats"])
    seats.locator("select[name=stage]").focus()
    seats.locator("select[name=stage]").select_option(str(stages["Proposal"].pk))
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(
        column(page, stages["Proposal"]).locator(f".deal-card[data-id='{deals['Kian Seats'].pk}']")
    ).to_have_count(1)
    assert Opportunity.objects.get(pk=deals["Kian Seats"].pk).stage == stages["Proposal"]
    screenshot(page, f"board-after-{language}")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280 + 1  # the board scrolls inside itself, the page does not
    screenshot(page, f"board-after-{language}")
