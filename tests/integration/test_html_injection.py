"""HTML injection: a payload that breaks out of an attribute and opens a script and an
image with a handler, stored with its own marker in every text field of every kind of
record (and the names of users, teams, pipelines, stages, personas, churn reasons and
checklist steps), then every page that shows them read by an administrator: the payload
never comes back as markup, and every marker shows up (escaped) somewhere."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from crm.models import Activity, ChurnReason, Persona, Subscription
from pipeline import services
from pipeline.models import (
    MEDDIC_FIELDS,
    ChecklistTemplateItem,
    Handoff,
    Lead,
    Opportunity,
    Pipeline,
    Stage,
)
from revops.models import Organisation
from tests.factories import AccountFactory, ContactFactory, LeadFactory, default_stages

pytestmark = pytest.mark.django_db

RAW = ("<script>alert(", "<img src=x onerror=")


def payload(marker, short=False):
    if short:  # for a field of 50 characters
        return f"<img src=x onerror=alert(1)>{marker}"
    return f'"><script>alert("{marker}")</script><img src=x onerror=alert(1)>{marker}'


@pytest.fixture
def world(admin_user, rep, marketer, cs, sales_team):
    """Every text field a user can fill, each with its own marker."""
    markers = {}

    def mark(label, short=False):
        marker = f"XSS{len(markers):03d}X"
        markers[marker] = label
        return payload(marker, short)

    stages = default_stages()
    sales_team.name = mark("team.name")
    sales_team.save()
    rep.full_name = mark("user.full_name")
    rep.save()
    Organisation.objects.update(name=mark("organisation.name"))
    Organisation.forget()
    pipeline = Pipeline.default()
    extra_stage = Stage.objects.create(
        pipeline=pipeline, name=mark("stage.name"), position=2, probability=Decimal("0.3")
    )
    Pipeline.objects.create(name=mark("pipeline.name"))
    persona = Persona.objects.create(name=mark("persona.name"))
    reason = ChurnReason.objects.create(name=mark("churn_reason.name"))
    ChecklistTemplateItem.objects.create(label=mark("checklist.label"), position=99)
    account = AccountFactory(
        owner=rep,
        name=mark("account.name"),
        industry=mark("account.industry"),
        country=mark("account.country"),
    )
    contact = ContactFactory(
        account=account,
        first_name=mark("contact.first_name"),
        last_name=mark("contact.last_name"),
        phone=mark("contact.phone", short=True),
        title=mark("contact.title"),
        persona=persona,
    )
    lead = LeadFactory(
        owner=marketer,
        account=account,
        first_name=mark("lead.first_name"),
        last_name=mark("lead.last_name"),
        company=mark("lead.company"),
        source=mark("lead.source"),
        utm_source=mark("lead.utm_source"),
        utm_medium=mark("lead.utm_medium"),
        utm_campaign=mark("lead.utm_campaign"),
    )
    services.lead_handoff(lead=lead, by=marketer, to_team=sales_team, note=mark("handoff.note"))
    rejected = LeadFactory(owner=marketer, first_name="Rejected", email="r@example.com")
    handoff = services.lead_handoff(lead=rejected, by=marketer, to_team=sales_team)
    services.handoff_reject(handoff=handoff, by=rep, reason=mark("handoff.reason"))
    disqualified = LeadFactory(
        owner=marketer,
        first_name="Disqualified",
        status=Lead.Status.DISQUALIFIED,
        disqualified_reason=mark("lead.disqualified_reason"),
    )
    deal = Opportunity(
        account=account,
        name=mark("opportunity.name"),
        owner=rep,
        stage=extra_stage,
        amount=Decimal(1000),
        currency="USD",
        primary_contact=contact,
        expected_close_on=date.today(),
        **{name: mark(f"opportunity.{name}") for name in MEDDIC_FIELDS},
    )
    services.opportunity_create(opportunity=deal, by=rep)
    lost = Opportunity(
        account=account,
        name="Lost deal",
        owner=rep,
        stage=stages["Closed lost"],
        amount=Decimal(10),
        currency="USD",
        closed_on=date.today(),
        lost_reason=mark("opportunity.lost_reason"),
    )
    services.opportunity_create(opportunity=lost, by=rep)
    won = Opportunity(
        account=account,
        name="Won deal",
        owner=rep,
        stage=stages["Proposal"],
        amount=Decimal(1200),
        currency="USD",
        contract_months=12,
    )
    services.opportunity_create(opportunity=won, by=rep)
    won_stage = Stage.objects.get(pipeline=pipeline, outcome="won")
    services.opportunity_move(
        opportunity_id=won.pk, stage=won_stage, by=rep, expected_version=1, closed_on=date.today()
    )
    for kind in (Activity.Kind.NOTE, Activity.Kind.TASK):
        Activity.objects.create(
            kind=kind,
            account=account,
            contact=contact,
            owner=rep,
            subject=mark(f"activity.subject.{kind}"),
            body=mark(f"activity.body.{kind}"),
            due_on=date.today() - timedelta(days=1) if kind == Activity.Kind.TASK else None,
        )
    Subscription.objects.create(
        account=account,
        product=mark("subscription.product"),
        mrr=Decimal(100),
        currency="USD",
        start_on=date.today() - timedelta(days=60),
        end_on=date.today() - timedelta(days=1),
        status=Subscription.Status.CONFIRMED,
        churn_reason=reason,
        churn_note=mark("subscription.churn_note"),
    )
    return {
        "markers": markers,
        "account": account,
        "contact": contact,
        "lead": lead,
        "deal": deal,
        "handoff": Handoff.objects.filter(lead=lead).get(),
        "cs_handoff": Handoff.objects.filter(opportunity=won).first(),
        "more": [
            rejected.get_absolute_url(),
            disqualified.get_absolute_url(),
            lost.get_absolute_url(),
            won.get_absolute_url(),
        ],
    }


def pages(world):
    account, contact, lead, deal = world["account"], world["contact"], world["lead"], world["deal"]
    urls = [
        "/",
        "/accounts/",
        f"/accounts/{account.pk}/",
        f"/accounts/{account.pk}/edit/",
        "/contacts/",
        f"/contacts/{contact.pk}/",
        f"/contacts/{contact.pk}/edit/",
        "/activities/",
        "/activities/?done=false",
        "/leads/",
        f"/leads/{lead.pk}/",
        f"/leads/{lead.pk}/edit/",
        f"/leads/{lead.pk}/convert/",
        "/leads/?status=disqualified",
        "/handoffs/",
        f"/handoffs/{world['handoff'].pk}/",
        "/board/",
        "/deals/",
        f"/deals/{deal.pk}/",
        f"/deals/{deal.pk}/edit/",
        "/deals/new/",
        "/activities/new/",
        "/search/?q=XSS",
        "/cs/",
        "/quotas/",
        "/dashboards/",
        "/dashboards/executive/",
        "/dashboards/sales/",
        "/dashboards/marketing/",
        "/dashboards/cs/",
        "/profile/",
        "/imports/",
    ]
    urls += world["more"]
    if world["cs_handoff"] is not None:
        urls.append(f"/handoffs/{world['cs_handoff'].pk}/")
    return urls


def test_no_stored_payload_comes_back_as_markup(client_for, admin_user, world):
    client = client_for(admin_user)
    seen = set()
    scanned = 0
    for url in pages(world):
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = client.get(url, follow=True, **headers)
            assert response.status_code == 200, (url, headers, response.status_code)
            html = response.content.decode()
            scanned += 1
            for raw in RAW:
                assert raw not in html, f"{url} {headers}: raw {raw!r}"
            seen |= {m for m in world["markers"] if m in html}
    missing = {world["markers"][m] for m in set(world["markers"]) - seen}
    assert not missing, f"never shown on the {scanned} pages scanned: {sorted(missing)}"
