"""The audit history cannot be changed through any door: not the ORM, not raw SQL, and no
page, admin screen or API endpoint offers it for editing."""

import pghistory.models
import pytest
from django.apps import apps
from django.contrib import admin
from django.db import DatabaseError, connection, transaction
from django.urls import get_resolver

from crm.models import Account
from pipeline.models import Opportunity, StageChange
from pipeline.services import lead_handoff
from tests.factories import (
    AccountFactory,
    ActivityFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    default_stages,
)
from tests.integration.metrics.world import subscription

EVENT_MODELS = [
    model
    for model in apps.get_models()
    if issubclass(model, pghistory.models.Event) and not model._meta.proxy
]


def test_every_audited_model_has_its_history():
    names = {model._meta.label for model in EVENT_MODELS}
    assert {"crm.AccountEvent", "pipeline.OpportunityEvent", "pipeline.LeadEvent"} <= names


@pytest.mark.django_db
@pytest.mark.parametrize("model", EVENT_MODELS, ids=lambda model: model._meta.label)
def test_no_event_can_be_updated_or_deleted(model, rep, marketer):
    account = AccountFactory(owner=rep)
    deal = OpportunityFactory(account=account, owner=rep)
    Account.objects.filter(pk=account.pk).update(name="Renamed")
    Opportunity.objects.filter(pk=deal.pk).update(amount=5)
    ContactFactory(account=account)
    ActivityFactory(account=account, owner=rep)
    subscription(account, 10, "2026-01-01")
    lead_handoff(lead=LeadFactory(owner=marketer), by=marketer, to_team=rep.team)
    rows = model.objects.all()
    assert rows.exists(), f"{model._meta.label}: this world writes no such event"
    table = connection.ops.quote_name(model._meta.db_table)
    attempts = [
        lambda: rows.update(pgh_created_at="2000-01-01T00:00:00Z"),
        lambda: rows.delete(),
        lambda: connection.cursor().execute(f"UPDATE {table} SET pgh_label = 'forged'"),  # noqa: S608
        lambda: connection.cursor().execute(f"DELETE FROM {table}"),  # noqa: S608
    ]
    before = list(rows.values_list("pgh_id", "pgh_label", "pgh_created_at"))
    for attempt in attempts:
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
    assert list(rows.values_list("pgh_id", "pgh_label", "pgh_created_at")) == before


@pytest.mark.django_db
def test_the_stage_ledger_is_append_only(rep):
    stages = default_stages()
    deal = OpportunityFactory(owner=rep)
    row = StageChange.objects.create(
        opportunity=deal, to_stage=stages["Proposal"], entered_on="2026-01-05"
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        StageChange.objects.filter(pk=row.pk).update(entered_on="2025-01-01")


def test_no_page_admin_screen_or_endpoint_serves_the_history_for_editing():
    assert not [model for model in EVENT_MODELS if admin.site.is_registered(model)]
    labels = {model._meta.model_name for model in EVENT_MODELS}

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    routes = list(walk(get_resolver().url_patterns))
    assert not [route for route in routes if any(label in route.lower() for label in labels)]
