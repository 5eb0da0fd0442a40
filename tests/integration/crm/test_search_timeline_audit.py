"""Global search, the account's unified timeline, audit history, the API's conventions."""

from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from pipeline.services import handoff_reject, lead_handoff
from revops.text import normalize
from tests.factories import AccountFactory, ActivityFactory, ContactFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_normalize_unifies_persian_spellings_digits_and_case():
    assert normalize("شركت  كيان\u200cپرداز ۱۲۳") == "شرکت کیانپرداز 123"
    assert normalize("علي ٤٥") == "علی 45"
    assert normalize("ACME Corp") == "acme corp"


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("کیان", "شركت كيان\u200cپرداز"),  # Persian letters find Arabic spellings
        ("كيانپرداز", "شركت كيان\u200cپرداز"),  # and the other way round, without ZWNJ
        ("kian.ir", "شركت كيان\u200cپرداز"),
        ("acm", "Acme Corp"),  # prefix, any case
        ("ACME", "Acme Corp"),
    ],
)
def test_search_finds_accounts_in_both_scripts(client_for, rep, typed, expected):
    AccountFactory(name="شركت كيان\u200cپرداز", domain="kian.ir")
    AccountFactory(name="Acme Corp", domain="acme.com")
    results = client_for(rep).get(reverse("crm:search"), {"q": typed}).context["accounts"]
    assert [a.name for a in results] == [expected]


def test_search_finds_contacts_and_leads_by_email_and_domain(client_for, marketer):
    ContactFactory(first_name="سارا", last_name="رحیمی", email="sara@acme.com")
    LeadFactory(first_name="Nima", email="nima@startup.io", company="Startup")
    client = client_for(marketer)
    assert [
        c.first_name
        for c in client.get(reverse("crm:search"), {"q": "acme.com"}).context["contacts"]
    ] == ["سارا"]
    assert [
        c.first_name
        for c in client.get(reverse("crm:search"), {"q": "ساراrahimi"[:4]}).context["contacts"]
    ] == ["سارا"]
    assert [
        lead.first_name
        for lead in client.get(reverse("crm:search"), {"q": "nima@st"}).context["leads"]
    ] == ["Nima"]


def test_search_shows_only_what_the_user_may_see(client_for, rep, other_team_rep):
    LeadFactory(first_name="Hidden", email="hidden@x.io", owner=other_team_rep)
    LeadFactory(first_name="Mine", email="mine@x.io", owner=rep)
    leads = client_for(rep).get(reverse("crm:search"), {"q": "x.io"}).context["leads"]
    assert [lead.first_name for lead in leads] == ["Mine"]


def test_search_survives_hostile_text(client_for, rep):
    for text in ("'", "a & | ! (", ":*", "\\", "' OR 1=1 --", "🙂"):
        response = client_for(rep).get(reverse("crm:search"), {"q": text})
        assert response.status_code == 200


def test_the_timeline_shows_activities_leads_and_handoffs_newest_first(
    client_for, rep, marketer, sales_team
):
    account = AccountFactory(owner=rep)
    contact = ContactFactory(account=account)
    ActivityFactory(
        account=account, owner=rep, subject="Kickoff call", occurred_on=date(2026, 1, 5)
    )
    ActivityFactory(
        contact=contact,
        owner=rep,
        subject="Follow-up e-mail",
        kind="email",
        occurred_on=date(2026, 2, 5),
    )
    lead = LeadFactory(
        account=account, first_name="Nazanin", created_on=date(2026, 1, 20), owner=marketer
    )
    lead_handoff(lead=lead, by=marketer, to_team=sales_team)
    client = client_for(marketer)
    response = client.get(account.get_absolute_url())
    kinds = [event.kind for event in response.context["events"]]
    assert kinds == ["handoff", "activity", "lead", "activity"]
    body = response.content.decode()
    assert "Kickoff call" in body and "Follow-up e-mail" in body and "Nazanin" in body
    only_leads = client.get(account.get_absolute_url(), {"kind": "lead"}, HTTP_HX_REQUEST="true")
    assert [e.kind for e in only_leads.context["events"]] == ["lead"]
    assert "<html" not in only_leads.content.decode()


def test_the_timeline_pages_by_fifty_in_few_queries(client_for, rep, django_assert_max_num_queries):
    account = AccountFactory(owner=rep)
    for day in range(1, 29):
        for _ in range(3):
            ActivityFactory(account=account, owner=rep, occurred_on=date(2026, 3, day))
    for n in range(10):
        LeadFactory(account=account, owner=rep, created_on=date(2026, 2, n + 1))
    client = client_for(rep)
    # session, user, the page of the union, one load per kind on the page
    with django_assert_max_num_queries(5):
        first = client.get(account.get_absolute_url(), {"page": 1}, HTTP_HX_REQUEST="true")
    assert len(first.context["events"]) == 50 and first.context["has_more"]
    seen = [e.obj.pk for e in first.context["events"]]
    second = client.get(account.get_absolute_url(), {"page": 2}, HTTP_HX_REQUEST="true")
    third = client.get(account.get_absolute_url(), {"page": 2 + 1}, HTTP_HX_REQUEST="true")
    assert len(second.context["events"]) == 44 and not third.context["events"]
    assert not set(seen) & {e.obj.pk for e in second.context["events"] if e.kind == "activity"}
    # 16, one for the open tasks block, one for the records merged into this one
    with django_assert_max_num_queries(18):
        assert client.get(account.get_absolute_url()).status_code == 200


def test_the_timeline_hides_leads_the_user_may_not_see(client_for, rep, other_team_rep):
    account = AccountFactory(owner=rep)
    LeadFactory(account=account, owner=other_team_rep, first_name="Secret")
    events = client_for(rep).get(account.get_absolute_url()).context["events"]
    assert events == []


def test_owner_and_status_changes_are_audited_with_who_and_when(
    client_for, rep, teammate, manager, marketer, sales_team
):
    account = AccountFactory(owner=rep)
    client = client_for(manager)
    client.post(
        reverse("crm:account-edit", args=[account.pk]),
        {"name": account.name, "domain": account.domain, "owner": teammate.pk},
    )
    history = client.get(account.get_absolute_url()).context["history"]
    change = history[0]
    assert (change.field, change.old, change.new, change.who) == (
        "owner",
        str(rep),
        str(teammate),
        manager,
    )
    # A handoff and its rejection, even through queryset.update(), are in the lead's history.
    lead = LeadFactory(owner=marketer)
    handoff = lead_handoff(lead=lead, by=marketer, to_team=sales_team)
    handoff_reject(handoff=handoff, by=rep, reason="No budget")
    fields = [
        (c.field, c.new)
        for c in client_for(marketer).get(lead.get_absolute_url()).context["history"]
    ]
    assert ("status", "Marketing qualified") in fields
    assert ("status", "Working") in fields


def test_audit_history_cannot_be_edited(rep):
    from django.db import DatabaseError, transaction

    from crm.models import Account

    account = AccountFactory(owner=rep)
    event_model = Account.pgh_event_models["change"]
    with pytest.raises(DatabaseError), transaction.atomic():
        event_model.objects.filter(pgh_obj_id=account.pk).update(name="forged")
    with pytest.raises(DatabaseError), transaction.atomic():
        event_model.objects.filter(pgh_obj_id=account.pk).delete()


def test_api_lists_page_with_cursor_links_and_filter(client_for, rep, teammate, admin_user):
    for _ in range(55):
        AccountFactory(owner=rep)
    special = AccountFactory(owner=teammate, external_id="crm-legacy-42")
    client = client_for(admin_user)
    page = client.get("/api/v1/accounts/").json()
    assert set(page) >= {"results", "next", "previous"} and len(page["results"]) == 50
    assert client.get(page["next"]).json()["results"]
    assert [
        a["id"]
        for a in client.get("/api/v1/accounts/", {"external_id": "crm-legacy-42"}).json()["results"]
    ] == [special.pk]
    by_email = client.get("/api/v1/accounts/", {"owner_email": teammate.email.upper()}).json()
    assert [a["owner_email"] for a in by_email["results"]] == [teammate.email]
    by_id = client.get("/api/v1/accounts/", {"owner": rep.pk}).json()
    assert len(by_id["results"]) == 50 and by_id["next"]


def test_api_token_command_prints_one_token(rep, client):
    out = StringIO()
    call_command("api_token", "REP@example.com", stdout=out)
    token = out.getvalue().strip()
    again = StringIO()
    call_command("api_token", rep.email, stdout=again)
    assert again.getvalue().strip() == token
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.json()["email"] == rep.email
    with pytest.raises(CommandError) as error:
        call_command("api_token", "nobody@example.com")
    assert error.value.returncode == 1


def test_the_openapi_schema_describes_the_record_api(client, db):
    schema = client.get("/api/v1/schema/?format=json").json()
    for path in (
        "/api/v1/accounts/",
        "/api/v1/leads/{id}/handoff/",
        "/api/v1/handoffs/{id}/accept/",
        "/api/v1/leads/{id}/reject/",
    ):
        assert path in schema["paths"], path
