"""export_dataset: the whole database as the dataset folder (shared/spec/dataset.md), the
lossless format that import_dataset reads back. Streams every table in key order."""

import csv
from pathlib import Path

from crm.models import Account, Activity, Contact, Subscription
from metrics.models import Quota
from pipeline.models import MEDDIC_FIELDS, Lead, Opportunity, Stage, StageChange
from revops.models import FxRate, Organisation, Team, User

from .formats import format_cell
from .importer import ENTITIES

CHUNK = 5000


def _rows_settings():
    organisation = Organisation.get()
    for key in ("base_currency", "calendar", "timezone"):
        yield {"key": key, "value": getattr(organisation, key)}


def _rows(queryset, columns):
    for values in queryset.values_list(*columns.values()).iterator(chunk_size=CHUNK):
        yield dict(zip(columns, values, strict=True))


SOURCES = {
    "settings.csv": _rows_settings,
    "fx_rates.csv": lambda: _rows(
        FxRate.objects.order_by("currency", "valid_from"),
        {"currency": "currency", "rate_to_base": "rate_to_base", "valid_from": "valid_from"},
    ),
    "teams.csv": lambda: _rows(Team.objects.order_by("name"), {"name": "name", "kind": "kind"}),
    "users.csv": lambda: _rows(
        User.objects.order_by("email"),
        {"email": "email", "full_name": "full_name", "team": "team__name", "role": "role"},
    ),
    "stages.csv": lambda: _rows(
        Stage.objects.order_by("pipeline__name", "position", "pk"),
        {
            "pipeline": "pipeline__name",
            "name": "name",
            "position": "position",
            "probability": "probability",
            "outcome": "outcome",
        },
    ),
    "accounts.csv": lambda: _rows(
        Account.objects.filter(is_deleted=False).order_by("external_id"),
        {
            "external_id": "external_id",
            "name": "name",
            "domain": "domain",
            "industry": "industry",
            "country": "country",
            "owner_email": "owner__email",
            "created_on": "created_on",
        },
    ),
    "contacts.csv": lambda: _rows(
        Contact.objects.filter(is_deleted=False).order_by("external_id"),
        {
            "external_id": "external_id",
            "account_external_id": "account__external_id",
            "first_name": "first_name",
            "last_name": "last_name",
            "email": "email",
            "phone": "phone",
            "title": "title",
            "persona": "persona__name",
            "created_on": "created_on",
        },
    ),
    "opportunities.csv": lambda: _rows(
        Opportunity.objects.order_by("external_id"),
        {
            "external_id": "external_id",
            "account_external_id": "account__external_id",
            "name": "name",
            "owner_email": "owner__email",
            "pipeline": "pipeline__name",
            "stage": "stage__name",
            "kind": "kind",
            "amount": "amount",
            "one_time_amount": "one_time_amount",
            "currency": "currency",
            "contract_months": "contract_months",
            "expected_close_on": "expected_close_on",
            "forecast_category": "forecast_category",
            "created_on": "created_on",
            "closed_on": "closed_on",
            "lost_reason": "lost_reason",
            "primary_contact_external_id": "primary_contact__external_id",
            **{name: name for name in MEDDIC_FIELDS},
        },
    ),
    "stage_history.csv": lambda: _rows(
        StageChange.objects.order_by("opportunity__external_id", "entered_on", "pk"),
        {
            "opportunity_external_id": "opportunity__external_id",
            "stage": "to_stage__name",
            "entered_on": "entered_on",
        },
    ),
    "leads.csv": lambda: _rows(
        Lead.objects.order_by("external_id"),
        {
            "external_id": "external_id",
            "first_name": "first_name",
            "last_name": "last_name",
            "email": "email",
            "company": "company",
            "source": "source",
            "utm_source": "utm_source",
            "utm_medium": "utm_medium",
            "utm_campaign": "utm_campaign",
            "score": "score",
            "status": "status",
            "owner_email": "owner__email",
            "created_on": "created_on",
            "handed_off_on": "handed_off_on",
            "accepted_on": "accepted_on",
            "converted_on": "converted_on",
            "converted_opportunity_external_id": "converted_opportunity__external_id",
            "disqualified_reason": "disqualified_reason",
        },
    ),
    "subscriptions.csv": lambda: _rows(
        Subscription.objects.filter(status=Subscription.Status.CONFIRMED).order_by("external_id"),
        {
            "external_id": "external_id",
            "account_external_id": "account__external_id",
            "product": "product",
            "mrr": "mrr",
            "currency": "currency",
            "start_on": "start_on",
            "end_on": "end_on",
            "source_opportunity_external_id": "source_opportunity__external_id",
            "churn_reason": "churn_reason__name",
        },
    ),
    "quotas.csv": lambda: _rows(
        Quota.objects.order_by("user__email", "period_start", "period_end"),
        {
            "owner_email": "user__email",
            "period_start": "period_start",
            "period_end": "period_end",
            "amount": "amount",
        },
    ),
    "activities.csv": lambda: _rows(
        Activity.objects.order_by("external_id"),
        {
            "external_id": "external_id",
            "kind": "kind",
            "subject": "subject",
            "body": "body",
            "account_external_id": "account__external_id",
            "contact_external_id": "contact__external_id",
            "lead_external_id": "lead__external_id",
            "opportunity_external_id": "opportunity__external_id",
            "owner_email": "owner__email",
            "occurred_on": "occurred_on",
            "due_on": "due_on",
            "done": "done",
        },
    ),
}


def export_dataset(folder) -> dict:
    """Write every file; returns rows written per file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for entity in ENTITIES:
        header = [column.name for column in entity.columns]
        count = 0
        with open(folder / entity.file, "w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream, lineterminator="\n")
            # csv quotes a cell with a line break only when the break is the line
            # terminator: a carriage return in a value would end the row for a reader.
            quoted = csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_ALL)
            writer.writerow(header)
            for row in SOURCES[entity.file]():
                cells = [format_cell(row.get(name)) for name in header]
                (quoted if any("\r" in cell for cell in cells) else writer).writerow(cells)
                count += 1
        counts[entity.file] = count
    return counts
