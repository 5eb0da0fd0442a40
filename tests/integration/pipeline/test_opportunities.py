"""Deals: the stage ledger, closing and reopening, conflicts, roles, bad input, the board,
lead conversion and quotas."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from crm.models import Account, Contact
from metrics.models import Quota
from pipeline import services
from pipeline.models import Lead, Opportunity, StageChange
from pipeline.services import handoff_accept, lead_handoff
from revops.models import FxRate
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    default_stages,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def stages(db):
    return default_stages()


def new_deal(owner, stage, **extra):
    deal = Opportunity(
        account=AccountFactory(owner=owner),
        name="Kian CRM",
        owner=owner,
        stage=stage,
        amount=Decimal("1200"),
        currency="USD",
        **extra,
    )
    return services.opportunity_create(opportunity=deal, by=owner)


def test_the_ledger_records_every_move_including_skips_and_reopening(rep, stages):
    today = timezone.localdate()
    deal = new_deal(rep, stages["Qualification"], created_on=today - timedelta(days=20))
    deal = services.opportunity_move(
        opportunity_id=deal.pk, stage=stages["Negotiation"], by=rep, expected_version=deal.version
    )
    deal = services.opportunity_move(
        opportunity_id=deal.pk,
        stage=stages["Closed won"],
        by=rep,
        expected_version=deal.version,
        closed_on=today - timedelta(days=2),
    )
    assert (deal.status, deal.closed_on) == ("won", today - timedelta(days=2))
    deal = services.opportunity_move(
        opportunity_id=deal.pk, stage=stages["Proposal"], by=rep, expected_version=deal.version
    )
    assert (deal.status, deal.closed_on, deal.version) == ("open", None, 4)
    ledger = list(
        StageChange.objects.filter(opportunity=deal)
        .order_by("pk")
        .values_list("from_stage__name", "to_stage__name", "entered_on")
    )
    assert ledger == [
        (None, "Qualification", today - timedelta(days=20)),
        ("Qualification", "Negotiation", today),
        ("Negotiation", "Closed won", today - timedelta(days=2)),
        ("Closed won", "Proposal", today),
    ]
    # The ledger is append-only.
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError), transaction.atomic():
        StageChange.objects.filter(opportunity=deal).update(entered_on=today)


def test_a_lost_deal_needs_a_reason_everywhere(client_for, rep, stages):
    deal = new_deal(rep, stages["Proposal"])
    with pytest.raises(ValidationError):
        services.opportunity_move(
            opportunity_id=deal.pk,
            stage=stages["Closed lost"],
            by=rep,
            expected_version=deal.version,
        )
    client = client_for(rep)
    page = client.post(
        reverse("pipeline:opportunity-move", args=[deal.pk]),
        {
            "stage": stages["Closed lost"].pk,
            "version": deal.version,
            "confirm": "1",
            "closed_on": timezone.localdate().isoformat(),
        },
    )
    assert page.status_code == 400 and "lost_reason" in page.context["form"].errors
    api = client.post(
        f"/api/v1/opportunities/{deal.pk}/move/",
        {"stage": stages["Closed lost"].pk, "expected_version": deal.version},
        content_type="application/json",
    )
    assert api.status_code == 400 and "lost_reason" in api.json()
    deal.refresh_from_db()
    assert (deal.status, deal.version) == ("open", 1)
    ok = client.post(
        f"/api/v1/opportunities/{deal.pk}/move/",
        {"stage": stages["Closed lost"].pk, "expected_version": 1, "lost_reason": "Price"},
        content_type="application/json",
    )
    assert ok.status_code == 200 and ok.json()["status"] == "lost"


def test_two_people_saving_one_deal_the_second_is_told(client_for, rep, manager, stages):
    deal = new_deal(rep, stages["Proposal"])
    form = {
        "name": deal.name,
        "account": deal.account_id,
        "owner": rep.pk,
        "stage": stages["Proposal"].pk,
        "kind": "new_business",
        "amount": "1500",
        "currency": "USD",
        "version": 1,
    }
    first = client_for(manager).post(reverse("pipeline:opportunity-edit", args=[deal.pk]), form)
    assert first.status_code == 302
    second = client_for(rep).post(
        reverse("pipeline:opportunity-edit", args=[deal.pk]), {**form, "amount": "9999"}
    )
    assert second.status_code == 409
    body = second.content.decode()
    assert "Someone else saved this deal" in body and "9999" in body
    deal.refresh_from_db()
    assert (deal.amount, deal.version) == (Decimal("1500"), 2)
    # API: a stale If-Match is a 409; the version is a precondition, never assigned.
    client = client_for(rep)
    stale = client.patch(
        f"/api/v1/opportunities/{deal.pk}/",
        {"amount": "1"},
        content_type="application/json",
        HTTP_IF_MATCH='"1"',
    )
    assert stale.status_code == 409 and stale.json()["version"] == 2
    assigned = client.patch(
        f"/api/v1/opportunities/{deal.pk}/",
        {"amount": "2000", "version": 77, "expected_version": 2},
        content_type="application/json",
    )
    assert assigned.status_code == 200
    deal.refresh_from_db()
    assert (deal.amount, deal.version) == (Decimal("2000"), 3)
    missing = client.patch(
        f"/api/v1/opportunities/{deal.pk}/", {"amount": "5"}, content_type="application/json"
    )
    assert missing.status_code == 409


def test_deal_visibility_and_rights_follow_roles(
    client_for, rep, teammate, other_team_rep, manager, marketer, cs, executive, admin_user, stages
):
    own = new_deal(rep, stages["Proposal"])
    mates = new_deal(teammate, stages["Proposal"])
    other = new_deal(other_team_rep, stages["Proposal"])
    deals = {"own": own, "mates": mates, "other": other}
    expect = {
        rep: ({"own"}, {"own"}),
        manager: ({"own", "mates"}, {"own", "mates"}),
        marketer: (set(deals), set()),
        cs: (set(deals), set()),
        executive: (set(deals), set()),
        admin_user: (set(deals), set(deals)),
    }
    for user, (readable, editable) in expect.items():
        client = client_for(user)
        for key, deal in deals.items():
            status = 200 if key in readable else 404
            assert client.get(deal.get_absolute_url()).status_code == status, (user, key)
            assert client.get(f"/api/v1/opportunities/{deal.pk}/").status_code == status
            move = client.post(
                f"/api/v1/opportunities/{deal.pk}/move/",
                {"stage": stages["Negotiation"].pk, "expected_version": deal.version},
                content_type="application/json",
            )
            want = 200 if key in editable else (403 if key in readable else 404)
            assert move.status_code == want, (user, key, move.content)
            deal.refresh_from_db()


def test_cs_moves_the_renewals_they_own(client_for, cs, stages):
    renewal = new_deal(cs, stages["Proposal"], kind="renewal")
    response = client_for(cs).post(
        f"/api/v1/opportunities/{renewal.pk}/move/",
        {"stage": stages["Closed won"].pk, "expected_version": 1},
        content_type="application/json",
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "change, field",
    [
        ({"amount": "-5"}, "amount"),
        ({"one_time_amount": "5000"}, "one_time_amount"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "GBP"}, "currency"),  # no exchange rate
        ({"name": ""}, "name"),
        ({"stage": "lost"}, "lost_reason"),
    ],
)
def test_bad_deal_input_is_refused_with_field_errors(client_for, rep, stages, change, field):
    account = AccountFactory(owner=rep)
    data = {
        "name": "Deal",
        "account": account.pk,
        "owner": rep.pk,
        "stage": stages["Proposal"].pk,
        "kind": "new_business",
        "amount": "1000",
        "currency": "USD",
        **change,
    }
    if data["stage"] == "lost":
        data["stage"] = stages["Closed lost"].pk
    client = client_for(rep)
    page = client.post(reverse("pipeline:opportunity-create"), data)
    assert page.status_code == 200 and field in page.context["form"].errors, page.context[
        "form"
    ].errors
    api = client.post("/api/v1/opportunities/", data, content_type="application/json")
    assert api.status_code == 400 and field in api.json(), api.json()
    assert not Opportunity.objects.exists()


def test_a_rep_cannot_create_deals_for_others(client_for, rep, teammate, stages):
    account = AccountFactory(owner=rep)
    api = client_for(rep).post(
        "/api/v1/opportunities/",
        {
            "name": "X",
            "account": account.pk,
            "owner": teammate.pk,
            "stage": stages["Proposal"].pk,
            "amount": "10",
            "currency": "USD",
        },
        content_type="application/json",
    )
    assert api.status_code == 400 and "owner" in api.json()


def test_the_board_counts_and_sums_in_the_base_currency(
    client_for, rep, stages, django_assert_max_num_queries
):
    today = timezone.localdate()
    FxRate.objects.create(
        currency="EUR", rate_to_base=Decimal("1.10"), valid_from=today - timedelta(days=400)
    )
    for _ in range(55):
        new_deal(rep, stages["Proposal"])
    eur = Opportunity(
        account=AccountFactory(owner=rep),
        name="Euro deal",
        owner=rep,
        stage=stages["Negotiation"],
        amount=Decimal("100.05"),
        currency="EUR",
    )
    services.opportunity_create(opportunity=eur, by=rep)
    client = client_for(rep)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("pipeline:board"))
    columns = {c.stage.name: c for c in response.context["columns"]}
    assert columns["Proposal"].count == 55 and len(columns["Proposal"].cards) == 50
    assert columns["Proposal"].total == Decimal("66000.00")
    assert columns["Negotiation"].total == Decimal("110.06")  # 110.055 rounded half-up
    more = client.get(
        reverse("pipeline:board-column", args=[stages["Proposal"].pk]), {"offset": 50}
    )
    assert more.content.decode().count('class="deal-card') == 5


def test_the_boards_closed_columns_hold_this_quarters_deals_unless_asked(client_for, rep, stages):
    from metrics.periods import current_period

    today = timezone.localdate()
    quarter_start, _end = current_period("quarter", today)
    old, recent, latest = (
        new_deal(rep, stages["Proposal"], created_on=today - timedelta(days=500)) for _ in range(3)
    )
    for deal, day in ((old, today - timedelta(days=400)), (recent, quarter_start), (latest, today)):
        services.opportunity_move(
            opportunity_id=deal.pk,
            stage=stages["Closed won"],
            by=rep,
            expected_version=1,
            closed_on=day,
        )
    client = client_for(rep)
    board = client.get(reverse("pipeline:board"))
    won = {c.stage.name: c for c in board.context["columns"]}["Closed won"]
    assert won.count == 2 and [c.pk for c in won.cards] == [latest.pk, recent.pk]
    assert "Closed this quarter" in board.content.decode()
    everything = client.get(reverse("pipeline:board"), {"close": "all"})
    won = {c.stage.name: c for c in everything.context["columns"]}["Closed won"]
    assert won.count == 3 and [c.pk for c in won.cards] == [latest.pk, recent.pk, old.pk]


def test_moving_on_the_board_updates_counts_in_place(client_for, rep, stages):
    deal = new_deal(rep, stages["Proposal"])
    response = client_for(rep).post(
        reverse("pipeline:opportunity-move", args=[deal.pk]),
        {"stage": stages["Negotiation"].pk, "version": 1, "board_query": ""},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    columns = {c.stage.name: c.count for c in response.context["columns"]}
    assert columns["Negotiation"] == 1 and columns["Proposal"] == 0
    assert "<html" not in response.content.decode()
    # A won stage from the board first asks for the close date, in the dialog.
    ask = client_for(rep).post(
        reverse("pipeline:opportunity-move", args=[deal.pk]),
        {"stage": stages["Closed won"].pk, "version": 2},
        HTTP_HX_REQUEST="true",
    )
    assert ask["HX-Retarget"] == "#close-dialog" and 'name="closed_on"' in ask.content.decode()
    deal.refresh_from_db()
    assert deal.status == "open"
    # A stale card gets a conflict.
    stale = client_for(rep).post(
        reverse("pipeline:opportunity-move", args=[deal.pk]),
        {"stage": stages["Proposal"].pk, "version": 1},
        HTTP_HX_REQUEST="true",
    )
    assert stale.status_code == 409
    deal.refresh_from_db()
    assert deal.stage == stages["Negotiation"]


def test_a_drag_and_drop_answers_with_the_card_and_its_two_columns(
    client_for, rep, stages, django_assert_max_num_queries
):
    deal = new_deal(rep, stages["Proposal"])
    new_deal(rep, stages["Proposal"])
    client = client_for(rep)
    client.get(reverse("pipeline:board"))
    with django_assert_max_num_queries(20):
        response = client.post(
            reverse("pipeline:opportunity-move", args=[deal.pk]),
            {"stage": stages["Negotiation"].pk, "version": 1, "board_query": "", "swap": "card"},
            HTTP_HX_REQUEST="true",
        )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and 'id="board"' not in body
    assert f'data-id="{deal.pk}" data-version="2"' in body
    stats = dict(
        re.findall(
            r'id="column-stats-(\d+)" hx-swap-oob="true">'
            r'<span class="column-count" data-count>(\d+)<',
            body,
        )
    )
    assert stats == {str(stages["Proposal"].pk): "1", str(stages["Negotiation"].pk): "1"}
    # The same drag from a card that still shows version 1: the whole board, with the conflict.
    stale = client.post(
        reverse("pipeline:opportunity-move", args=[deal.pk]),
        {"stage": stages["Proposal"].pk, "version": 1, "board_query": "", "swap": "card"},
        HTTP_HX_REQUEST="true",
    )
    assert stale.status_code == 409 and stale["HX-Retarget"] == "#board"
    assert 'id="board"' in stale.content.decode()


def test_converting_a_lead_creates_account_contact_and_deal_at_once(
    client_for, marketer, rep, sales_team, stages
):
    lead = LeadFactory(owner=marketer, email="nazanin@kian.ir", company="Kian Pardaz")
    handoff_accept(handoff=lead_handoff(lead=lead, by=marketer, to_team=sales_team), by=rep)
    client = client_for(rep)
    assert client.get(reverse("pipeline:lead-convert", args=[lead.pk])).status_code == 200
    response = client.post(
        reverse("pipeline:lead-convert", args=[lead.pk]),
        {
            "name": "Kian CRM",
            "amount": "5000",
            "currency": "USD",
            "stage": stages["Qualification"].pk,
        },
    )
    deal = Opportunity.objects.get()
    assert response.status_code == 302 and response["Location"] == deal.get_absolute_url()
    lead.refresh_from_db()
    assert (lead.status, lead.converted_opportunity, lead.account) == (
        "converted",
        deal,
        deal.account,
    )
    assert deal.account.domain == "kian.ir" and deal.owner == rep
    assert deal.primary_contact.email == "nazanin@kian.ir"
    assert StageChange.objects.filter(opportunity=deal).count() == 1
    # The lead's history stays on the account's timeline.
    kinds = [e.kind for e in client.get(deal.account.get_absolute_url()).context["events"]]
    assert "lead" in kinds and "handoff" in kinds


def test_conversion_offers_the_existing_customer(client_for, marketer, rep, sales_team, stages):
    account = AccountFactory(name="Kian", domain="kian.ir", owner=rep)
    contact = ContactFactory(account=account, email="nazanin@kian.ir")
    lead = LeadFactory(owner=marketer, email="Nazanin@Kian.ir", company="كيان")
    handoff_accept(handoff=lead_handoff(lead=lead, by=marketer, to_team=sales_team), by=rep)
    page = client_for(rep).get(reverse("pipeline:lead-convert", args=[lead.pk]))
    assert page.context["matches"]["accounts"] == [account]
    assert page.context["matches"]["contacts"] == [contact]
    assert page.context["form"].initial["account"] == account.pk
    client_for(rep).post(
        reverse("pipeline:lead-convert", args=[lead.pk]),
        {
            "account": account.pk,
            "contact": contact.pk,
            "name": "Upsell",
            "amount": "10",
            "currency": "USD",
            "stage": stages["Qualification"].pk,
        },
    )
    assert Account.objects.count() == 1 and Contact.objects.count() == 1
    assert Opportunity.objects.get().account == account


def test_a_failed_conversion_writes_nothing(client_for, marketer, rep, sales_team, stages):
    lead = LeadFactory(owner=marketer, email="x@newco.io", company="NewCo")
    handoff_accept(handoff=lead_handoff(lead=lead, by=marketer, to_team=sales_team), by=rep)
    with pytest.raises(ValidationError):
        services.lead_convert(
            lead=lead,
            by=rep,
            opportunity_data={
                "name": "",
                "amount": Decimal("1"),
                "currency": "USD",
                "stage": stages["Qualification"],
            },
        )
    assert not Account.objects.filter(name="NewCo").exists()
    assert not Contact.objects.exists() and not Opportunity.objects.exists()
    lead.refresh_from_db()
    assert lead.status == "sql"
    api = client_for(rep).post(
        f"/api/v1/leads/{lead.pk}/convert/",
        {"name": "NewCo deal", "amount": "300"},
        content_type="application/json",
    )
    assert api.status_code == 201 and api.json()["account"]
    again = client_for(rep).post(
        f"/api/v1/leads/{lead.pk}/convert/",
        {"name": "twice", "amount": "300"},
        content_type="application/json",
    )
    assert again.status_code == 400
    assert Opportunity.objects.count() == 1


def test_only_accepted_leads_convert(rep, stages):
    lead = LeadFactory(owner=rep, status=Lead.Status.WORKING)
    with pytest.raises(ValidationError):
        services.lead_convert(
            lead=lead,
            by=rep,
            opportunity_data={
                "name": "X",
                "amount": Decimal("1"),
                "currency": "USD",
                "stage": stages["Qualification"],
            },
        )


def test_managers_set_their_teams_quotas_and_reps_see_attainment(
    client_for, manager, rep, other_team_rep, stages
):
    client = client_for(manager)
    page = client.get(reverse("metrics:quota-grid"))
    assert page.status_code == 200
    cells = {cell["name"]: cell for row in page.context["rows"] for cell in row["cells"]}
    assert all(f"-{other_team_rep.pk}-" not in name for name in cells)
    mine = next(
        name for name in cells if name.startswith(f"q-{rep.pk}-") and cells[name]["current"]
    )
    bad = client.post(reverse("metrics:quota-grid"), {mine: "-3"})
    assert bad.status_code == 400 and not Quota.objects.exists()
    # "1,25" is 1.25 in half of Europe and 125 nowhere: refused, not read as 125.
    ambiguous = client.post(reverse("metrics:quota-grid"), {mine: "1,25"})
    assert ambiguous.status_code == 400 and not Quota.objects.exists()
    client.post(reverse("metrics:quota-grid"), {mine: "۱۰٬۰۰۰٫۵"})  # Persian separators
    assert Quota.objects.get().amount == Decimal("10000.5")
    client.post(reverse("metrics:quota-grid"), {mine: "۱۰,۰۰۰"})
    quota = Quota.objects.get()
    assert (quota.user, quota.amount) == (rep, Decimal("10000"))
    today = timezone.localdate()
    deal = new_deal(rep, stages["Proposal"], created_on=today - timedelta(days=1))
    services.opportunity_move(
        opportunity_id=deal.pk,
        stage=stages["Closed won"],
        by=rep,
        expected_version=1,
        closed_on=today,
    )
    rep_page = client_for(rep).get(reverse("metrics:quota-grid"))
    current = next(c for row in rep_page.context["rows"] for c in row["cells"] if c["current"])
    assert (current["quota"], current["booked"]) == (Decimal("10000"), Decimal("1200.00"))
    assert client_for(rep).post(reverse("metrics:quota-grid"), {mine: "1"}).status_code == 403
    api = client_for(rep).get("/api/v1/quotas/").json()["results"]
    assert [q["amount"] for q in api] == ["10000.00"]


def test_the_deal_page_shows_the_stage_path_and_meddic(
    client_for, rep, stages, django_assert_max_num_queries
):
    deal = new_deal(
        rep, stages["Qualification"], metrics="Save 20% of support time", champion="Head of sales"
    )
    services.opportunity_move(
        opportunity_id=deal.pk, stage=stages["Proposal"], by=rep, expected_version=1
    )
    client = client_for(rep)
    with django_assert_max_num_queries(17):  # 16, and one for the open tasks block
        response = client.get(deal.get_absolute_url())
    assert [stay.stage.name for stay in response.context["path"]] == ["Qualification", "Proposal"]
    assert "2/6" in response.content.decode()


def test_the_api_lists_deals_with_filters_and_exposes_stages_and_history(
    client_for, rep, admin_user, stages
):
    deal = new_deal(rep, stages["Proposal"], expected_close_on=timezone.localdate())
    new_deal(rep, stages["Qualification"])
    client = client_for(rep)
    listed = client.get("/api/v1/opportunities/", {"stage": stages["Proposal"].pk}).json()
    assert [d["id"] for d in listed["results"]] == [deal.pk]
    ranged = client.get(
        "/api/v1/opportunities/", {"expected_close_on_after": timezone.localdate().isoformat()}
    ).json()
    assert [d["id"] for d in ranged["results"]] == [deal.pk]
    history = client.get("/api/v1/stage-history/", {"opportunity": deal.pk}).json()
    assert [row["to_stage"] for row in history["results"]] == [stages["Proposal"].pk]
    assert len(client.get("/api/v1/stages/").json()) >= 6
    assert client.post("/api/v1/stages/", {}, content_type="application/json").status_code == 403
    made = client_for(admin_user).post(
        "/api/v1/stages/",
        {
            "pipeline": stages["Proposal"].pipeline_id,
            "name": "Legal review",
            "position": 5,
            "probability": "0.9",
            "outcome": "open",
        },
        content_type="application/json",
    )
    assert made.status_code == 201
    bad = client_for(admin_user).post(
        "/api/v1/stages/",
        {
            "pipeline": stages["Proposal"].pipeline_id,
            "name": "X",
            "position": 5,
            "probability": "1.5",
            "outcome": "open",
        },
        content_type="application/json",
    )
    assert bad.status_code == 400 and "probability" in bad.json()


def _next_link(response):
    found = re.search(r'href="\?([^"]*)"[^>]*rel="next"', response.content.decode())
    return found and QueryDict(found.group(1).replace("&amp;", "&"))


def test_the_opportunity_list_pages_by_keyset_in_five_queries(
    client_for, rep, stages, django_assert_max_num_queries
):
    """performance.md: 50 rows, filtered by stage and owner, sorted by amount, in at most 5
    queries on any page; every deal shows exactly once, in order, page after page."""
    account = AccountFactory(owner=rep)
    # Equal amounts across page boundaries: the order falls back to the id, never skips.
    amounts = [Decimal(1000 + (n % 7) * 10) for n in range(130)]
    deals = [
        OpportunityFactory(owner=rep, account=account, amount=a, stage=stages["Qualification"])
        for a in amounts
    ]
    OpportunityFactory(owner=rep, account=account, stage=stages["Proposal"])  # filtered out
    expected = [d.pk for d in sorted(deals, key=lambda d: (d.amount, d.pk), reverse=True)]
    client = client_for(rep)
    params = {"stage": stages["Qualification"].pk, "owner": rep.pk, "sort": "-amount"}
    client.get(reverse("pipeline:opportunity-list"), params)  # the choice lists get cached
    seen, pages = [], []
    while params:
        with django_assert_max_num_queries(5):
            response = client.get(reverse("pipeline:opportunity-list"), params)
        assert response.status_code == 200
        pages.append(response)
        seen += [row.pk for row in response.context["rows"]]
        params = _next_link(response)
    assert seen == expected and len(pages) == 3
    assert "101–130" in pages[2].content.decode().replace("&ndash;", "–")
    # Previous goes back to exactly the page before.
    found = re.search(r'href="\?([^"]*)"[^>]*rel="prev"', pages[2].content.decode())
    back = client.get(
        reverse("pipeline:opportunity-list"), QueryDict(found.group(1).replace("&amp;", "&"))
    )
    assert [row.pk for row in back.context["rows"]] == expected[50:100]
    # A mangled cursor starts again from the top instead of failing.
    mangled = client.get(
        reverse("pipeline:opportunity-list"), {**params_of(pages[0]), "after": "!!"}
    )
    assert mangled.status_code == 200 and [r.pk for r in mangled.context["rows"]] == expected[:50]


def params_of(response):
    return {"stage": response.context["filter"].data["stage"], "sort": "-amount"}


def test_filter_choices_are_cached_until_an_admin_changes_them(client_for, rep, stages):
    client = client_for(rep)
    first = client.get(reverse("pipeline:opportunity-list")).content.decode()
    assert ">Qualification</option>" in first
    stage = stages["Qualification"]
    stage.name = "First call"
    stage.save()
    page = client.get(reverse("pipeline:opportunity-list")).content.decode()
    assert ">First call</option>" in page and ">Qualification</option>" not in page
    # A stage that does not exist is a filter error, never a 500 nor the whole list.
    OpportunityFactory(owner=rep, account=AccountFactory(owner=rep))
    bad = client.get(reverse("pipeline:opportunity-list"), {"stage": 999999})
    assert bad.status_code == 200 and list(bad.context["rows"]) == []
    api = client.get("/api/v1/opportunities/", {"stage": 999999})
    assert api.status_code == 400 and "stage" in api.json()


def test_an_accepted_lead_converts_in_one_click_and_lands_on_the_board(
    client_for, marketer, rep, sales_team, stages
):
    lead = LeadFactory(owner=marketer, email="sara@onecl.ick", company="One Click")
    handoff_accept(handoff=lead_handoff(lead=lead, by=marketer, to_team=sales_team), by=rep)
    client = client_for(rep)
    assert 'name="quick"' in client.get(lead.get_absolute_url()).content.decode()
    response = client.post(reverse("pipeline:lead-convert", args=[lead.pk]), {"quick": "1"})
    deal = Opportunity.objects.get()
    assert response["Location"] == deal.get_absolute_url()
    assert (deal.name, deal.amount, deal.stage, deal.owner) == (
        "One Click",
        Decimal("0"),
        stages["Qualification"],
        rep,
    )
    board = client.get(reverse("pipeline:board"))
    cards = [c for column in board.context["columns"] for c in column.cards]
    assert cards == [deal]


def test_quotas_follow_the_organisations_jalali_calendar(client_for, manager, rep):
    from revops.models import Organisation

    organisation = Organisation.get()
    organisation.calendar = "jalali"
    organisation.save()
    page = client_for(manager).get(reverse("metrics:quota-grid"), {"in": "2026-06-01"})
    firsts = [first for first, _last, _label in page.context["periods"]]
    # Jalali 1405 quarters begin at Farvardin 1, Tir 1, Mehr 1 and Dey 1.
    assert [d.isoformat() for d in firsts] == [
        "2026-03-21",
        "2026-06-22",
        "2026-09-23",
        "2026-12-22",
    ]
