"""Every persona of roles.md against every record of a small world, through every door:
the page, the htmx list partial, the API detail and list, and search. A record the
persona may not see is a 404 everywhere and absent from every list."""

import pytest
from django.urls import reverse

from pipeline.services import lead_handoff
from tests.factories import AccountFactory, ActivityFactory, ContactFactory, LeadFactory

pytestmark = pytest.mark.django_db

PERSONAS = [
    "rep",
    "teammate",
    "other_team_rep",
    "manager",
    "marketer",
    "cs",
    "executive",
    "admin_user",
]


@pytest.fixture
def world(
    rep,
    teammate,
    other_team_rep,
    manager,
    marketer,
    cs,
    executive,
    admin_user,
    sales_team,
    other_sales_team,
):
    account = AccountFactory(name="Zephyr Shared", owner=rep)
    contact = ContactFactory(account=account, first_name="Zephyrine")
    leads = {
        "rep_lead": LeadFactory(first_name="Zephyr1", owner=rep),
        "mate_lead": LeadFactory(first_name="Zephyr2", owner=teammate),
        "other_lead": LeadFactory(first_name="Zephyr3", owner=other_team_rep),
        "to_team": LeadFactory(first_name="Zephyr4", owner=marketer),
        "to_other_team": LeadFactory(first_name="Zephyr5", owner=marketer),
    }
    lead_handoff(lead=leads["to_team"], by=marketer, to_team=sales_team)
    lead_handoff(lead=leads["to_other_team"], by=marketer, to_team=other_sales_team)
    activities = {
        "on_account": ActivityFactory(account=account, owner=rep, subject="Zephyr call"),
        "on_other_lead": ActivityFactory(
            lead=leads["other_lead"], owner=other_team_rep, subject="Zephyr private"
        ),
    }
    return {"account": account, "contact": contact, **leads, **activities}


ALL_LEADS = {"rep_lead", "mate_lead", "other_lead", "to_team", "to_other_team"}
VISIBLE_LEADS = {
    "rep": {"rep_lead", "to_team"},
    "teammate": {"mate_lead", "to_team"},
    "other_team_rep": {"other_lead", "to_other_team"},
    "manager": {"rep_lead", "mate_lead", "to_team"},
    "marketer": ALL_LEADS,
    "cs": ALL_LEADS,
    "executive": ALL_LEADS,
    "admin_user": ALL_LEADS,
}


def visible_activities(persona):
    return {"on_account"} | ({"on_other_lead"} if "other_lead" in VISIBLE_LEADS[persona] else set())


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_door_shows_exactly_what_roles_allow(request, world, client_for, persona):
    client = client_for(request.getfixturevalue(persona))
    # Accounts and contacts: everyone reads them.
    for key, api in (("account", "accounts"), ("contact", "contacts")):
        obj = world[key]
        assert client.get(obj.get_absolute_url()).status_code == 200
        assert client.get(f"/api/v1/{api}/{obj.pk}/").status_code == 200
    # Leads.
    for key in ALL_LEADS:
        lead = world[key]
        expected = 200 if key in VISIBLE_LEADS[persona] else 404
        assert client.get(lead.get_absolute_url()).status_code == expected, key
        assert client.get(f"/api/v1/leads/{lead.pk}/").status_code == expected, key
    partial = client.get(reverse("pipeline:lead-list"), {"q": "zephyr"}, HTTP_HX_REQUEST="true")
    assert {lead.pk for lead in partial.context["rows"]} == {
        world[k].pk for k in VISIBLE_LEADS[persona]
    }
    api_ids = {row["id"] for row in client.get("/api/v1/leads/").json()["results"]}
    assert api_ids == {world[k].pk for k in VISIBLE_LEADS[persona]}
    found = client.get(reverse("crm:search"), {"q": "zephyr"}, HTTP_HX_REQUEST="true")
    assert {lead.pk for lead in found.context["leads"]} == {
        world[k].pk for k in VISIBLE_LEADS[persona]
    }
    # Handoffs: seen with their lead.
    handoff_leads = {row["lead"] for row in client.get("/api/v1/handoffs/").json()["results"]}
    assert handoff_leads == {
        world[k].pk for k in ("to_team", "to_other_team") if k in VISIBLE_LEADS[persona]
    }
    # Activities: on records the persona can read.
    for key in ("on_account", "on_other_lead"):
        expected = 200 if key in visible_activities(persona) else 404
        assert client.get(f"/api/v1/activities/{world[key].pk}/").status_code == expected
    listed = client.get(reverse("crm:activity-list"), {"q": "zephyr"}, HTTP_HX_REQUEST="true")
    assert {a.pk for a in listed.context["rows"]} == {
        world[k].pk for k in visible_activities(persona)
    }
    # The account's timeline carries only what the persona may see.
    timeline = client.get(world["account"].get_absolute_url()).context["events"]
    assert {e.obj.pk for e in timeline if e.kind == "activity"} == {world["on_account"].pk}


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/accounts/",
        "/api/v1/contacts/",
        "/api/v1/activities/",
        "/api/v1/leads/",
        "/api/v1/handoffs/",
    ],
)
def test_api_lists_run_a_bounded_number_of_queries(
    client_for, admin_user, marketer, sales_team, url, django_assert_max_num_queries
):
    for _ in range(30):
        account = AccountFactory(owner=admin_user)
        ContactFactory(account=account)
        ActivityFactory(account=account, owner=admin_user)
        lead_handoff(lead=LeadFactory(owner=marketer), by=marketer, to_team=sales_team)
    client = client_for(admin_user)
    with django_assert_max_num_queries(6):
        response = client.get(url)
    assert response.status_code == 200 and len(response.json()["results"]) == 30


def test_the_lead_api_refuses_foreign_keys_the_user_may_not_see(client_for, rep, other_team_rep):
    hidden = LeadFactory(owner=other_team_rep)
    response = client_for(rep).post(
        "/api/v1/activities/",
        {"kind": "call", "subject": "x", "lead": hidden.pk},
        content_type="application/json",
    )
    assert response.status_code == 400 and "lead" in response.json()
