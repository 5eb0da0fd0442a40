"""Holes a review found: each test is the request that used to get through or crash."""

from decimal import Decimal

import pytest
from django.urls import reverse

from crm.models import Account, Contact
from metrics.models import Quota
from pipeline import services
from pipeline.models import Lead, Opportunity
from pipeline.services import handoff_accept, lead_handoff
from revops.models import User
from tests.factories import (
    AccountFactory,
    ActivityFactory,
    ContactFactory,
    LeadFactory,
    UserFactory,
    default_stages,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def stages(db):
    return default_stages()


def deal_for(owner, stages, **extra):
    deal = Opportunity(
        account=AccountFactory(owner=owner),
        name="D",
        owner=owner,
        stage=stages["Proposal"],
        amount=Decimal(100),
        currency="USD",
        **extra,
    )
    return services.opportunity_create(opportunity=deal, by=owner)


def test_an_activity_on_a_hidden_lead_stays_hidden_even_with_a_contact(client_for, rep, marketer):
    lead = LeadFactory(owner=marketer)
    activity = ActivityFactory(lead=lead, contact=ContactFactory(), owner=marketer)
    assert client_for(rep).get(f"/api/v1/activities/{activity.pk}/").status_code == 404
    assert client_for(marketer).get(f"/api/v1/activities/{activity.pk}/").status_code == 200


def test_nobody_but_an_admin_leaves_a_record_without_owner(client_for, rep, stages):
    deal = deal_for(rep, stages)
    client = client_for(rep)
    response = client.patch(
        f"/api/v1/opportunities/{deal.pk}/",
        {"owner": None, "expected_version": 1},
        content_type="application/json",
    )
    assert response.status_code == 400 and "owner" in response.json()
    lead = client.post(
        "/api/v1/leads/",
        {"first_name": "A", "source": "web", "owner": None},
        content_type="application/json",
    )
    assert lead.status_code == 400 and "owner" in lead.json()
    created = client.post(
        "/api/v1/leads/", {"first_name": "A", "source": "web"}, content_type="application/json"
    )
    assert created.status_code == 201 and created.json()["owner"] == rep.pk


def test_external_ids_and_creation_dates_never_change(client_for, rep):
    account = AccountFactory(owner=rep, external_id="crm-1")
    client = client_for(rep)
    response = client.patch(
        f"/api/v1/accounts/{account.pk}/", {"external_id": "crm-2"}, content_type="application/json"
    )
    assert response.status_code == 400 and "external_id" in response.json()
    response = client.patch(
        f"/api/v1/accounts/{account.pk}/",
        {"created_on": "2001-01-01"},
        content_type="application/json",
    )
    assert response.status_code == 400
    account.refresh_from_db()
    assert account.external_id == "crm-1"


def test_a_deleted_account_takes_its_deals_and_activities_out_of_sight(client_for, rep, stages):
    deal = deal_for(rep, stages)
    account = deal.account
    client = client_for(rep)
    refused = client.post(reverse("crm:account-delete", args=[account.pk]))
    assert refused.status_code == 302
    assert not Account.objects.get(pk=account.pk).is_deleted
    assert client.delete(f"/api/v1/accounts/{account.pk}/").status_code == 400
    services.opportunity_move(
        opportunity_id=deal.pk,
        stage=stages["Closed lost"],
        by=rep,
        expected_version=1,
        lost_reason="Price",
    )
    activity = ActivityFactory(account=account, owner=rep)
    assert client.post(reverse("crm:account-delete", args=[account.pk])).status_code == 302
    assert client.get(deal.get_absolute_url()).status_code == 404
    assert client.get(f"/api/v1/activities/{activity.pk}/").status_code == 404


def test_a_manager_without_a_team_sets_no_quota(client_for, rep):
    lonely = UserFactory(email="lonely@example.com", role=User.Role.MANAGER, team=None)
    loner = UserFactory(email="loner@example.com", team=None)
    Quota.objects.create(user=loner, period_start="2026-01-01", period_end="2026-03-31", amount=5)
    client = client_for(lonely)
    assert client.get(reverse("metrics:quota-grid")).context["rows"] == []
    client.post(reverse("metrics:quota-grid"), {})
    assert Quota.objects.count() == 1
    api = client.post(
        "/api/v1/quotas/",
        {"user": loner.pk, "period_start": "2026-04-01", "period_end": "2026-06-30", "amount": "1"},
        content_type="application/json",
    )
    assert api.status_code == 400


def test_a_lead_status_moves_only_through_its_workflow(client_for, marketer, rep, sales_team):
    lead = LeadFactory(owner=marketer)
    handoff_accept(handoff=lead_handoff(lead=lead, by=marketer, to_team=sales_team), by=rep)
    client = client_for(marketer)
    form = {"first_name": lead.first_name, "source": "web", "owner": rep.pk, "status": "working"}
    client.post(reverse("pipeline:lead-edit", args=[lead.pk]), form)
    lead.refresh_from_db()
    assert lead.status == "sql"
    api = client.patch(
        f"/api/v1/leads/{lead.pk}/", {"status": "working"}, content_type="application/json"
    )
    assert api.status_code == 400
    Lead.objects.filter(pk=lead.pk).update(status="working")
    again = client.post(
        f"/api/v1/leads/{lead.pk}/handoff/",
        {"to_team": sales_team.pk},
        content_type="application/json",
    )
    assert again.status_code == 400  # accepted once already: no second handoff


def test_conversion_refuses_a_currency_without_rate(client_for, marketer, rep, sales_team):
    lead = LeadFactory(owner=marketer)
    handoff_accept(handoff=lead_handoff(lead=lead, by=marketer, to_team=sales_team), by=rep)
    client = client_for(rep)
    for currency in ("zzz", "GBP"):
        api = client.post(
            f"/api/v1/leads/{lead.pk}/convert/",
            {"name": "x", "amount": "100", "currency": currency},
            content_type="application/json",
        )
        assert api.status_code == 400 and "currency" in api.json()
    page = client.post(
        reverse("pipeline:lead-convert", args=[lead.pk]),
        {
            "name": "x",
            "amount": "1",
            "currency": "GBP",
            "stage": default_stages()["Qualification"].pk,
        },
    )
    assert "currency" in page.context["form"].errors
    assert not Opportunity.objects.exists()


def test_a_too_long_lost_reason_is_a_field_error(client_for, rep, stages):
    deal = deal_for(rep, stages)
    response = client_for(rep).post(
        f"/api/v1/opportunities/{deal.pk}/move/",
        {"stage": stages["Closed lost"].pk, "expected_version": 1, "lost_reason": "x" * 301},
        content_type="application/json",
    )
    assert response.status_code == 400 and "lost_reason" in response.json()


@pytest.mark.parametrize(
    "url",
    [
        "/accounts/?page=1000000000000000000000",
        "/board/?owner=²&team=²",
        "/handoffs/?team=²",
        "/quotas/?team=²&in=9999-12-31",
        "/leads/?page=abc",
    ],
)
def test_odd_parameters_never_crash(client_for, executive, admin_user, url):
    assert client_for(admin_user).get(url).status_code == 200
    assert client_for(executive).get(url).status_code == 200


def test_odd_column_offsets_and_timeline_pages(client_for, rep, stages):
    deal = deal_for(rep, stages)
    client = client_for(rep)
    assert (
        client.get(
            reverse("pipeline:board-column", args=[stages["Proposal"].pk]), {"offset": "9" * 30}
        ).status_code
        == 200
    )
    assert (
        client.get(
            deal.account.get_absolute_url(), {"page": "9" * 30}, HTTP_HX_REQUEST="true"
        ).status_code
        == 200
    )


def test_a_quota_of_infinity_is_refused(client_for, manager, rep):
    page = client_for(manager).get(reverse("metrics:quota-grid"))
    name = page.context["rows"][0]["cells"][0]["name"]
    assert (
        client_for(manager).post(reverse("metrics:quota-grid"), {name: "Infinity"}).status_code
        == 400
    )
    assert not Quota.objects.exists()


def test_stages_in_use_keep_their_pipeline_and_outcome(client_for, admin_user, rep, stages):
    deal_for(rep, stages)
    client = client_for(admin_user)
    proposal = stages["Proposal"]
    changed = client.patch(
        f"/api/v1/stages/{proposal.pk}/", {"outcome": "won"}, content_type="application/json"
    )
    assert changed.status_code == 400 and "outcome" in changed.json()
    assert client.delete(f"/api/v1/stages/{proposal.pk}/").status_code == 409
    renamed = client.patch(
        f"/api/v1/stages/{proposal.pk}/", {"name": "Offer"}, content_type="application/json"
    )
    assert renamed.status_code == 200


def test_a_contacts_email_is_unique_within_its_account(client_for, rep):
    account = AccountFactory(owner=rep)
    ContactFactory(account=account, email="sara@acme.com")
    client = client_for(rep)
    page = client.post(
        reverse("crm:contact-create"),
        {"account": account.pk, "first_name": "S", "email": "SARA@acme.com"},
    )
    assert "email" in page.context["form"].errors
    api = client.post(
        "/api/v1/contacts/",
        {"account": account.pk, "first_name": "S", "email": "sara@acme.com"},
        content_type="application/json",
    )
    assert api.status_code == 400 and "email" in api.json()
    assert Contact.objects.count() == 1


def test_redirects_stay_on_this_site(client_for, rep, stages):
    deal = deal_for(rep, stages)
    response = client_for(rep).post(
        reverse("pipeline:opportunity-move", args=[deal.pk]),
        {"stage": stages["Negotiation"].pk, "version": 1, "next": "https://evil.example/"},
    )
    assert response.status_code == 302
    assert response["Location"] == deal.get_absolute_url()


def test_a_stale_lead_form_does_not_undo_an_acceptance(client_for, marketer, rep, sales_team):
    lead = LeadFactory(owner=marketer)
    original_name = lead.first_name
    client = client_for(marketer)
    form = client.get(reverse("pipeline:lead-edit", args=[lead.pk])).context["form"]
    loaded = form.initial["loaded_state"]
    handoff_accept(handoff=lead_handoff(lead=lead, by=marketer, to_team=sales_team), by=rep)
    response = client.post(
        reverse("pipeline:lead-edit", args=[lead.pk]),
        {
            "first_name": "Changed",
            "source": "web",
            "owner": marketer.pk,
            "status": "working",
            "loaded_state": loaded,
        },
    )
    assert response.status_code == 200 and response.context["form"].non_field_errors()
    lead.refresh_from_db()
    assert (lead.owner, lead.status, lead.first_name) == (rep, "sql", original_name)


def test_an_oversized_body_is_refused_with_413_and_the_limit(client_for, rep, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    client = client_for(rep)
    big = "x" * (1024 * 1024 + 1)
    page = client.post(reverse("crm:account-create"), {"name": big})
    assert page.status_code == 413 and "larger than the 1 MB" in page.content.decode()
    api = client.post("/api/v1/accounts/", {"name": big}, content_type="application/json")
    assert api.status_code == 413 and "1 MB" in api.json()["detail"]
    # Nothing was written, and a body within the limit is read as ever.
    assert not Account.objects.filter(name__startswith="xxx").exists()
    assert client.post(reverse("crm:account-create"), {"name": ""}).status_code == 200


def test_an_upload_above_the_import_limit_is_refused_before_it_is_read(
    client_for, marketer, settings
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.IMPORT_UPLOAD_MAX_BYTES = 1024 * 1024
    content = b"external_id,source,status,created_on\n" + b"L1,web,new,2025-01-01\n" * 60_000
    response = client_for(marketer).post(
        reverse("import-new"), {"file": SimpleUploadedFile("leads.csv", content)}
    )
    assert response.status_code == 413
    assert "larger than the 1 MB" in response.content.decode()
