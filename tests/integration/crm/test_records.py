"""Accounts, contacts and activities: who sees and changes what, bad input, duplicates."""

import re

import pytest
from django.urls import reverse

from crm.models import Account, Activity, Contact
from tests.factories import AccountFactory, ActivityFactory, ContactFactory, LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(rep, teammate, other_team_rep, manager, marketer, cs, executive, admin_user):
    own = AccountFactory(name="Own Co", owner=rep)
    mates = AccountFactory(name="Mate Co", owner=teammate)
    other = AccountFactory(name="Other Co", owner=other_team_rep)
    return {"own": own, "mates": mates, "other": other}


READERS = [
    "rep",
    "teammate",
    "other_team_rep",
    "manager",
    "marketer",
    "cs",
    "executive",
    "admin_user",
]


@pytest.mark.parametrize("persona", READERS)
def test_everyone_reads_every_account(request, world, client_for, persona):
    client = client_for(request.getfixturevalue(persona))
    for account in world.values():
        assert client.get(account.get_absolute_url()).status_code == 200
        assert client.get(f"/api/v1/accounts/{account.pk}/").status_code == 200


# persona -> accounts it may edit
EDITS = {
    "rep": {"own"},
    "manager": {"own", "mates"},
    "marketer": set(),
    "cs": set(),
    "executive": set(),
    "admin_user": {"own", "mates", "other"},
}


@pytest.mark.parametrize("persona", EDITS)
def test_account_edit_rights_follow_roles(request, world, client_for, persona):
    client = client_for(request.getfixturevalue(persona))
    for key, account in world.items():
        allowed = key in EDITS[persona]
        page = client.get(reverse("crm:account-edit", args=[account.pk]))
        api = client.patch(
            f"/api/v1/accounts/{account.pk}/",
            {"industry": "Changed"},
            content_type="application/json",
        )
        assert page.status_code == (200 if allowed else 403), (persona, key)
        assert api.status_code == (200 if allowed else 403), (persona, key)
        account.refresh_from_db()
        assert (account.industry == "Changed") == allowed


def test_a_rep_cannot_give_an_account_to_someone_else(client_for, rep, teammate):
    client = client_for(rep)
    response = client.post(reverse("crm:account-create"), {"name": "Sneaky", "owner": teammate.pk})
    assert response.status_code == 200
    assert "owner" in response.context["form"].errors
    api = client.post(
        "/api/v1/accounts/",
        {"name": "Sneaky", "owner": teammate.pk},
        content_type="application/json",
    )
    assert api.status_code == 400 and "owner" in api.json()
    assert not Account.objects.filter(name="Sneaky").exists()


def test_marketers_and_executives_cannot_create_accounts(client_for, marketer, executive):
    for user in (marketer, executive):
        client = client_for(user)
        assert client.get(reverse("crm:account-create")).status_code == 403
        assert (
            client.post(
                "/api/v1/accounts/", {"name": "X"}, content_type="application/json"
            ).status_code
            == 403
        )
    assert not Account.objects.exists()


def test_creating_an_account_gives_it_a_stable_external_id(client_for, rep):
    response = client_for(rep).post(
        reverse("crm:account-create"),
        {"name": "Kian Co", "domain": "https://www.Kian.IR/about", "owner": rep.pk},
    )
    account = Account.objects.get(name="Kian Co")
    assert response.status_code == 302 and response["Location"] == account.get_absolute_url()
    assert account.domain == "kian.ir"
    assert account.external_id.startswith("acc-")
    external_id = account.external_id
    client_for(rep).post(
        reverse("crm:account-edit", args=[account.pk]),
        {"name": "Kian Company", "domain": "kian.ir", "owner": rep.pk},
    )
    account.refresh_from_db()
    assert (account.name, account.external_id) == ("Kian Company", external_id)


@pytest.mark.parametrize(
    "data, field",
    [
        ({"name": "", "owner": "me"}, "name"),
        ({"name": "X", "domain": "not a domain", "owner": "me"}, "domain"),
        ({"name": "X" * 201, "owner": "me"}, "name"),
        ({"name": "X", "owner": "999999"}, "owner"),
    ],
)
def test_bad_account_input_is_shown_and_nothing_written(client_for, rep, data, field):
    data = {**data, "owner": rep.pk if data["owner"] == "me" else data["owner"]}
    client = client_for(rep)
    page = client.post(reverse("crm:account-create"), data)
    assert page.status_code == 200 and field in page.context["form"].errors
    assert "field-error" in page.content.decode()
    api = client.post("/api/v1/accounts/", data, content_type="application/json")
    assert api.status_code == 400 and field in api.json()
    assert not Account.objects.exists()


def test_inline_validation_checks_without_saving(client_for, rep):
    client = client_for(rep)
    response = client.post(
        reverse("crm:account-create"),
        {
            "name": "Valid",
            "domain": "bad domain",
            "owner": rep.pk,
            "_validate": "1",
            "_touched": "domain",
        },
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'hx-swap-oob="true"' in body and "Enter a domain" in body
    assert "<html" not in body
    assert not Account.objects.exists()


def test_deleting_an_account_hides_it_but_keeps_it(client_for, rep, world):
    client = client_for(rep)
    account = world["own"]
    assert client.get(reverse("crm:account-delete", args=[account.pk])).status_code == 200
    response = client.post(reverse("crm:account-delete", args=[account.pk]))
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.is_deleted and account.deleted_at
    assert client.get(account.get_absolute_url()).status_code == 404
    listed = client.get(reverse("crm:account-list")).context["rows"]
    assert account not in listed and len(listed) == 2


def test_same_domain_is_flagged_not_refused(client_for, rep):
    AccountFactory(name="Acme", domain="acme.com", owner=rep)
    response = client_for(rep).post(
        reverse("crm:account-create"), {"name": "Acme Inc", "domain": "acme.com", "owner": rep.pk}
    )
    assert response.status_code == 302
    flagged = Account.objects.with_duplicate_flag().filter(possible_duplicate=True)
    assert set(flagged.values_list("name", flat=True)) == {"Acme", "Acme Inc"}
    page = client_for(rep).get(reverse("crm:account-list")).content.decode()
    assert page.count("possible duplicate") == 2


def test_same_email_within_an_account_flags_contacts(rep):
    account = AccountFactory(owner=rep)
    ContactFactory(account=account, email="sara@acme.com")
    ContactFactory(account=account, email="sara@acme.com")
    ContactFactory(account=AccountFactory(), email="sara@acme.com")
    flags = sorted(
        Contact.objects.with_duplicate_flag().values_list("possible_duplicate", flat=True)
    )
    assert flags == [False, True, True]


def test_contacts_are_edited_by_whoever_edits_their_account(client_for, rep, other_team_rep):
    mine = ContactFactory(account=AccountFactory(owner=rep))
    theirs = ContactFactory(account=AccountFactory(owner=other_team_rep))
    client = client_for(rep)
    assert client.get(reverse("crm:contact-edit", args=[mine.pk])).status_code == 200
    assert client.get(reverse("crm:contact-edit", args=[theirs.pk])).status_code == 403
    # Nor can a contact be attached to someone else's account.
    response = client.post(
        reverse("crm:contact-create"),
        {"first_name": "Nima", "account": theirs.account_id, "email": "n@x.ir"},
    )
    assert response.status_code == 200 and "account" in response.context["form"].errors
    api = client.post(
        "/api/v1/contacts/",
        {"first_name": "Nima", "account": theirs.account_id},
        content_type="application/json",
    )
    assert api.status_code == 400 and "account" in api.json()


def test_activity_needs_a_record_and_only_tasks_have_due_dates(client_for, rep):
    client = client_for(rep)
    page = client.post(
        reverse("crm:activity-create"),
        {"kind": "call", "subject": "Hi", "occurred_on": "2026-11-01"},
    )
    assert page.status_code == 200 and page.context["form"].non_field_errors()
    account = AccountFactory(owner=rep)
    page = client.post(
        reverse("crm:activity-create"),
        {
            "kind": "call",
            "subject": "Hi",
            "occurred_on": "2026-11-01",
            "due_on": "2026-11-05",
            "account": account.pk,
        },
    )
    assert "due_on" in page.context["form"].errors
    api = client.post(
        "/api/v1/activities/", {"kind": "call", "subject": "Hi"}, content_type="application/json"
    )
    assert api.status_code == 400
    assert not Activity.objects.exists()
    ok = client.post(
        reverse("crm:activity-create"),
        {
            "kind": "task",
            "subject": "Send quote",
            "occurred_on": "2026-11-01",
            "due_on": "2026-11-05",
            "account": account.pk,
        },
    )
    assert ok.status_code == 302
    assert Activity.objects.get().owner == rep


def test_activities_on_a_hidden_lead_are_hidden(client_for, rep, other_team_rep, marketer):
    lead = LeadFactory(owner=other_team_rep)
    activity = ActivityFactory(lead=lead, owner=other_team_rep)
    assert client_for(rep).get(reverse("crm:activity-edit", args=[activity.pk])).status_code == 404
    assert client_for(rep).get(f"/api/v1/activities/{activity.pk}/").status_code == 404
    assert client_for(marketer).get(f"/api/v1/activities/{activity.pk}/").status_code == 200


@pytest.mark.parametrize("url", ["crm:account-list", "crm:contact-list", "crm:activity-list"])
def test_lists_run_a_bounded_number_of_queries(client_for, rep, url, django_assert_max_num_queries):
    for _ in range(60):
        account = AccountFactory(owner=rep)
        ContactFactory(account=account)
        ActivityFactory(account=account, owner=rep)
    client = client_for(rep)
    first = client.get(reverse(url))
    following = re.search(r'href="(\?[^"]*)"[^>]*rel="next"', first.content.decode())
    with django_assert_max_num_queries(5):
        response = client.get(reverse(url) + following.group(1).replace("&amp;", "&"))
    assert response.status_code == 200 and len(response.context["rows"]) >= 10


def test_a_list_answers_htmx_with_only_its_results(client_for, rep):
    AccountFactory(name="Zeta Co", owner=rep)
    response = client_for(rep).get(reverse("crm:account-list") + "?q=zeta", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "Zeta Co" in body and "<html" not in body and "<table" in body
