"""import_dataset: a folder of CSV files (shared/spec/dataset.md) into the database.

Files are read in dependency order, streamed in batches: each batch is parsed, checked
(cell formats, rules between columns, references resolved with one set lookup per batch
against the database, which already holds the earlier files' rows of this import) and
written with bulk upserts keyed as the spec says. Everything happens in one transaction:
by default any invalid row rolls it all back; with `skip_invalid` invalid rows go to
`NAME.rejects.csv` and rows that refer to them are rejected in turn (they are not in the
database when the later file looks them up); `dry_run` always rolls back.
"""

import csv
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice, pairwise
from pathlib import Path
from zoneinfo import available_timezones

import pgtrigger
from django.contrib.auth.hashers import make_password
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from crm.models import Account, Activity, ChurnReason, Contact, Persona, Subscription
from metrics.models import Quota
from pipeline.models import MEDDIC_FIELDS, Lead, Opportunity, Pipeline, Stage, StageChange
from revops.bulk import copy_upsert
from revops.models import FxRate, Organisation, Team, User

from . import formats as f

BATCH = 2000


@dataclass
class Column:
    name: str
    parse: Callable | None = None  # None: text as it is
    required: bool = False


@dataclass
class Problem:
    file: str
    line: int
    column: str
    reason: str

    def __str__(self):
        return f"{self.file}:{self.line}: {self.column}: {self.reason}"


@dataclass
class Row:
    line: int
    raw: dict
    values: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)

    def fail(self, column, reason):
        self.problems.append((column, reason))


class Rollback(Exception):
    pass


def _max_length(model, name):
    return model._meta.get_field(name).max_length


def _text(model, name, required=False, column=None):
    return Column(column or name, f.text(_max_length(model, name)), required)


def _lookup(model, field_name, keys, **extra):
    keys = {k for k in keys if k}
    if not keys:
        return {}
    rows = model.objects.filter(**{f"{field_name}__in": keys}, **extra)
    return {getattr(row, field_name): row.pk for row in rows.only("pk", field_name)}


def _users(emails):
    emails = {e.lower() for e in emails if e}
    if not emails:
        return {}
    return dict(User.objects.filter(email__in=emails).values_list("email", "pk"))


def _rate_exists(currency, base, fx_currencies):
    return currency == base or currency in fx_currencies


class Entity:
    file = ""
    columns: list[Column] = []

    def check(self, rows: list[Row], state: "ImportState") -> None:
        """Rules between columns and references, adding problems to rows."""

    def write(self, rows: list[Row], state: "ImportState") -> None:
        raise NotImplementedError


class SettingsFile(Entity):
    file = "settings.csv"
    columns = [Column("key", required=True), Column("value", required=True)]

    def check(self, rows, state):
        for row in rows:
            key, value = row.values.get("key"), row.values.get("value")
            if key == "base_currency":
                try:
                    f.parse_currency(value)
                except f.CellError as error:
                    row.fail("value", str(error))
            elif key == "calendar":
                if value not in ("gregorian", "jalali"):
                    row.fail(
                        "value",
                        _("unknown calendar %(value)s (gregorian or jalali)")
                        % {"value": repr(value)},
                    )
            elif key == "timezone":
                if value not in available_timezones():
                    row.fail("value", _("unknown time zone %(value)s") % {"value": repr(value)})
            elif key is not None:
                row.fail("key", _("unknown setting %(key)s") % {"key": repr(key)})

    def write(self, rows, state):
        organisation = Organisation.get()
        for row in rows:
            setattr(organisation, row.values["key"], row.values["value"])
        organisation.save()
        state.base = organisation.base_currency


class FxRatesFile(Entity):
    file = "fx_rates.csv"
    columns = [
        Column("currency", f.parse_currency, True),
        Column("rate_to_base", f.parse_rate, True),
        Column("valid_from", f.parse_date, True),
    ]

    def check(self, rows, state):
        for row in rows:
            if row.values.get("rate_to_base") == 0:
                row.fail("rate_to_base", _("a rate must be above 0"))

    def write(self, rows, state):
        FxRate.objects.bulk_create(
            [FxRate(**row.values) for row in rows],
            update_conflicts=True,
            unique_fields=["currency", "valid_from"],
            update_fields=["rate_to_base"],
        )
        state.fx_currencies.update(row.values["currency"] for row in rows)


class TeamsFile(Entity):
    file = "teams.csv"
    columns = [
        _text(Team, "name", True),
        Column("kind", f.enum("marketing", "sales", "cs", "revops"), True),
    ]

    def write(self, rows, state):
        Team.objects.bulk_create(
            [Team(**row.values) for row in rows],
            update_conflicts=True,
            unique_fields=["name"],
            update_fields=["kind"],
        )


class UsersFile(Entity):
    file = "users.csv"
    columns = [
        Column("email", f.parse_email, True),
        _text(User, "full_name", True),
        Column("team"),
        Column("role", f.enum("rep", "manager", "marketer", "cs", "executive", "admin"), True),
    ]

    def check(self, rows, state):
        teams = _lookup(Team, "name", (row.values.get("team") for row in rows))
        for row in rows:
            name = row.values.get("team")
            if name and name not in teams:
                row.fail(
                    "team",
                    _("no team named %(name)s in teams.csv or the database") % {"name": repr(name)},
                )
            row.values["team_id"] = teams.get(name)

    def write(self, rows, state):
        # Imported people get no usable password: they set one through the reset link.
        User.objects.bulk_create(
            [
                User(
                    email=row.values["email"],
                    full_name=row.values["full_name"],
                    team_id=row.values["team_id"],
                    role=row.values["role"],
                    is_staff=row.values["role"] == "admin",
                    is_superuser=row.values["role"] == "admin",
                    password=make_password(None),
                )
                for row in rows
            ],
            update_conflicts=True,
            unique_fields=["email"],
            update_fields=["full_name", "team", "role", "is_staff", "is_superuser"],
        )


class StagesFile(Entity):
    file = "stages.csv"
    columns = [
        _text(Pipeline, "name", True, column="pipeline"),
        _text(Stage, "name", True),
        Column("position", f.parse_int, True),
        Column("probability", f.parse_probability, True),
        Column("outcome", f.enum("open", "won", "lost"), True),
    ]

    def write(self, rows, state):
        pipelines = {}
        for name in {row.values["pipeline"] for row in rows}:
            pipelines[name] = Pipeline.objects.get_or_create(
                name=name, defaults={"is_default": not Pipeline.objects.exists()}
            )[0]
        Stage.objects.bulk_create(
            [
                Stage(
                    pipeline=pipelines[row.values["pipeline"]],
                    name=row.values["name"],
                    position=row.values["position"],
                    probability=row.values["probability"],
                    outcome=row.values["outcome"],
                )
                for row in rows
            ],
            update_conflicts=True,
            unique_fields=["pipeline", "name"],
            update_fields=["position", "probability", "outcome"],
        )
        for name, pipeline in pipelines.items():
            named = {row.values["name"] for row in rows if row.values["pipeline"] == name}
            state.stage_names.setdefault(pipeline.pk, set()).update(named)

    def finish(self, state):
        """A stage of the pipeline that the file does not name keeps its place after the
        file's stages; it is never deleted."""
        for pipeline_id, named in state.stage_names.items():
            stages = Stage.objects.filter(pipeline_id=pipeline_id)
            top = stages.filter(name__in=named).aggregate(top=Max("position"))["top"] or 0
            for offset, stage in enumerate(
                stages.exclude(name__in=named).order_by("position", "pk"), 1
            ):
                Stage.objects.filter(pk=stage.pk).update(position=top + offset)


class AccountsFile(Entity):
    file = "accounts.csv"
    columns = [
        _text(Account, "external_id", True),
        _text(Account, "name", True),
        _text(Account, "domain"),
        _text(Account, "industry"),
        _text(Account, "country"),
        Column("owner_email", f.parse_email),
        Column("created_on", f.parse_date, True),
    ]

    def check(self, rows, state):
        owners = _users(row.values.get("owner_email") for row in rows)
        for row in rows:
            email = row.values.pop("owner_email", None)
            if email and email not in owners:
                row.fail(
                    "owner_email",
                    _("no user %(email)s in users.csv or the database") % {"email": repr(email)},
                )
            row.values["owner_id"] = owners.get(email)

    def write(self, rows, state):
        Account.objects.bulk_create(
            [
                Account(
                    external_id=row.values["external_id"],
                    name=row.values["name"],
                    domain=row.values.get("domain") or "",
                    industry=row.values.get("industry") or "",
                    country=row.values.get("country") or "",
                    owner_id=row.values["owner_id"],
                    created_on=row.values["created_on"],
                )
                for row in rows
            ],
            update_conflicts=True,
            unique_fields=["external_id"],
            update_fields=["name", "domain", "industry", "country", "owner", "created_on"],
        )


def _refs(rows, column, model):
    ids = _lookup(model, "external_id", (row.values.get(column) for row in rows))
    for row in rows:
        key = row.values.pop(column, None)
        if key and key not in ids:
            row.fail(
                column,
                _(
                    "refers to %(key)s, which is neither in the files nor in the database "
                    "(or its row was rejected)"
                )
                % {"key": repr(key)},
            )
        row.values[column] = ids.get(key)
    return ids


class ContactsFile(Entity):
    file = "contacts.csv"
    columns = [
        _text(Contact, "external_id", True),
        Column("account_external_id"),
        _text(Contact, "first_name", True),
        _text(Contact, "last_name"),
        _text(Contact, "email"),
        _text(Contact, "phone"),
        _text(Contact, "title"),
        Column("persona", f.text(100)),
        Column("created_on", f.parse_date, True),
    ]

    def check(self, rows, state):
        _refs(rows, "account_external_id", Account)

    def write(self, rows, state):
        personas = state.named(Persona, (row.values.get("persona") for row in rows))
        Contact.objects.bulk_create(
            [
                Contact(
                    external_id=row.values["external_id"],
                    account_id=row.values["account_external_id"],
                    first_name=row.values["first_name"],
                    last_name=row.values.get("last_name") or "",
                    email=row.values.get("email") or "",
                    phone=row.values.get("phone") or "",
                    title=row.values.get("title") or "",
                    persona_id=personas.get(row.values.get("persona")),
                    created_on=row.values["created_on"],
                )
                for row in rows
            ],
            update_conflicts=True,
            unique_fields=["external_id"],
            update_fields=[
                "account",
                "first_name",
                "last_name",
                "email",
                "phone",
                "title",
                "persona",
                "created_on",
            ],
        )


class OpportunitiesFile(Entity):
    file = "opportunities.csv"
    columns = [
        _text(Opportunity, "external_id", True),
        Column("account_external_id", required=True),
        _text(Opportunity, "name", True),
        Column("owner_email", f.parse_email),
        Column("pipeline", required=True),
        Column("stage", required=True),
        Column("kind", f.enum("new_business", "expansion", "renewal"), True),
        Column("amount", f.parse_amount, True),
        Column("one_time_amount", f.parse_amount),
        Column("currency", f.parse_currency, True),
        Column("contract_months", f.parse_int),
        Column("expected_close_on", f.parse_date),
        Column("forecast_category", f.enum("pipeline", "best_case", "commit", "omitted")),
        Column("created_on", f.parse_date, True),
        Column("closed_on", f.parse_date),
        _text(Opportunity, "lost_reason"),
        Column("primary_contact_external_id"),
        *[Column(name) for name in MEDDIC_FIELDS],
    ]

    def check(self, rows, state):
        _refs(rows, "account_external_id", Account)
        _refs(rows, "primary_contact_external_id", Contact)
        owners = _users(row.values.get("owner_email") for row in rows)
        stages = state.stages()
        for row in rows:
            v = row.values
            email = v.pop("owner_email", None)
            if email and email not in owners:
                row.fail(
                    "owner_email",
                    _("no user %(email)s in users.csv or the database") % {"email": repr(email)},
                )
            v["owner_id"] = owners.get(email)
            stage = stages.get((v.get("pipeline"), v.get("stage")))
            if v.get("stage") and stage is None:
                row.fail(
                    "stage",
                    _("no stage %(stage)s in pipeline %(pipeline)s")
                    % {"stage": repr(v.get("stage")), "pipeline": repr(v.get("pipeline"))},
                )
            v["stage_obj"] = stage
            if stage is not None:
                if stage.outcome != "open" and not v.get("closed_on"):
                    row.fail(
                        "closed_on",
                        _("a %(outcome)s deal needs its closed_on") % {"outcome": stage.outcome},
                    )
                if stage.outcome == "open" and v.get("closed_on"):
                    row.fail("closed_on", _("an open deal has no closed_on"))
            if v.get("closed_on") and v.get("created_on") and v["closed_on"] < v["created_on"]:
                row.fail("closed_on", _("closed_on is before created_on"))
            if (
                v.get("one_time_amount") is not None
                and v.get("amount") is not None
                and (v["one_time_amount"] > v["amount"])
            ):
                row.fail("one_time_amount", _("one_time_amount is above amount"))
            currency = v.get("currency")
            if currency and not _rate_exists(currency, state.base, state.fx_currencies):
                row.fail(
                    "currency",
                    _(
                        "%(currency)s is not the base currency (%(base)s) and has no rate in "
                        "fx_rates.csv or the database"
                    )
                    % {"currency": currency, "base": state.base},
                )

    def write(self, rows, state):
        deals = []
        for row in rows:
            v = row.values
            stage = v["stage_obj"]
            deals.append(
                Opportunity(
                    external_id=v["external_id"],
                    account_id=v["account_external_id"],
                    name=v["name"],
                    owner_id=v["owner_id"],
                    pipeline_id=stage.pipeline_id,
                    stage=stage,
                    status=stage.outcome,
                    kind=v["kind"],
                    amount=v["amount"],
                    one_time_amount=v.get("one_time_amount"),
                    currency=v["currency"],
                    contract_months=v.get("contract_months"),
                    expected_close_on=v.get("expected_close_on"),
                    forecast_category=v.get("forecast_category") or "",
                    created_on=v["created_on"],
                    closed_on=v.get("closed_on"),
                    lost_reason=v.get("lost_reason") or "",
                    primary_contact_id=v["primary_contact_external_id"],
                    # Without stage history a deal entered its stage on created_on (dataset.md).
                    stage_entered_on=v["created_on"],
                    **{name: v.get(name) or "" for name in MEDDIC_FIELDS},
                )
            )
        Opportunity.objects.bulk_create(
            deals,
            update_conflicts=True,
            unique_fields=["external_id"],
            update_fields=[
                "account",
                "name",
                "owner",
                "pipeline",
                "stage",
                "status",
                "kind",
                "amount",
                "one_time_amount",
                "currency",
                "contract_months",
                "expected_close_on",
                "forecast_category",
                "created_on",
                "closed_on",
                "lost_reason",
                "primary_contact",
                *MEDDIC_FIELDS,
            ],
        )


class StageHistoryFile(Entity):
    file = "stage_history.csv"
    columns = [
        Column("opportunity_external_id", required=True),
        Column("stage", required=True),
        Column("entered_on", f.parse_date, True),
    ]

    def check(self, rows, state):
        keys = {row.values.get("opportunity_external_id") for row in rows}
        deals = {
            d.external_id: d
            for d in Opportunity.objects.filter(external_id__in=keys).only(
                "pk", "external_id", "pipeline_id"
            )
        }
        stages = state.stages_by_pipeline_id()
        for row in rows:
            key = row.values.get("opportunity_external_id")
            deal = deals.get(key)
            if deal is None:
                row.fail(
                    "opportunity_external_id",
                    _(
                        "refers to %(key)s, which is neither in the files nor in the database "
                        "(or its row was rejected)"
                    )
                    % {"key": repr(key)},
                )
                continue
            stage = stages.get((deal.pipeline_id, row.values.get("stage")))
            if stage is None:
                row.fail(
                    "stage",
                    _("no stage %(stage)s in the deal's pipeline")
                    % {"stage": repr(row.values.get("stage"))},
                )
            row.values.update(opportunity_id=deal.pk, to_stage_id=stage.pk if stage else None)

    def write(self, rows, state):
        ids = {row.values["opportunity_id"] for row in rows}
        existing = set(
            StageChange.objects.filter(opportunity_id__in=ids).values_list(
                "opportunity_id", "to_stage_id", "entered_on"
            )
        )
        new = []
        for row in rows:
            key = (
                row.values["opportunity_id"],
                row.values["to_stage_id"],
                row.values["entered_on"],
            )
            if key not in existing:
                existing.add(key)
                new.append(
                    StageChange(opportunity_id=key[0], to_stage_id=key[1], entered_on=key[2])
                )
        StageChange.objects.bulk_create(new, batch_size=BATCH)
        state.history_deals.update(ids)

    def finish(self, state):
        """Days in stage count from the latest entry into the deal's current stage."""
        from django.db.models import F, OuterRef, Subquery
        from django.db.models.functions import Coalesce

        latest = (
            StageChange.objects.filter(opportunity=OuterRef("pk"), to_stage=OuterRef("stage"))
            .order_by("-entered_on")
            .values("entered_on")[:1]
        )
        for chunk in _chunks(sorted(state.history_deals), BATCH):
            Opportunity.objects.filter(pk__in=chunk).update(
                stage_entered_on=Coalesce(Subquery(latest), F("stage_entered_on"))
            )


class LeadsFile(Entity):
    file = "leads.csv"
    columns = [
        _text(Lead, "external_id", True),
        _text(Lead, "first_name"),
        _text(Lead, "last_name"),
        _text(Lead, "email"),
        _text(Lead, "company"),
        _text(Lead, "source", True),
        _text(Lead, "utm_source"),
        _text(Lead, "utm_medium"),
        _text(Lead, "utm_campaign"),
        Column("score", f.parse_int),
        Column("status", f.enum("new", "working", "mql", "sql", "converted", "disqualified"), True),
        Column("owner_email", f.parse_email),
        Column("created_on", f.parse_date, True),
        Column("handed_off_on", f.parse_date),
        Column("accepted_on", f.parse_date),
        Column("converted_on", f.parse_date),
        Column("converted_opportunity_external_id"),
        _text(Lead, "disqualified_reason"),
    ]
    DATES = ["created_on", "handed_off_on", "accepted_on", "converted_on"]

    def check(self, rows, state):
        _refs(rows, "converted_opportunity_external_id", Opportunity)
        owners = state.users(row.values.get("owner_email") for row in rows)
        for row in rows:
            v = row.values
            email = v.pop("owner_email", None)
            if email and email not in owners:
                row.fail(
                    "owner_email",
                    _("no user %(email)s in users.csv or the database") % {"email": repr(email)},
                )
            v["owner_id"] = owners.get(email)
            if v.get("status") == "converted" and not v.get("converted_on"):
                row.fail("converted_on", _("a converted lead needs its converted_on"))
            present = [(name, v[name]) for name in self.DATES if v.get(name)]
            for (before, first), (after, second) in pairwise(present):
                if second < first:
                    row.fail(
                        after,
                        _("%(after)s is before %(before)s") % {"after": after, "before": before},
                    )
                    break

    TEXTS = (
        "first_name",
        "last_name",
        "email",
        "company",
        "source",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "disqualified_reason",
    )
    COLUMNS = (
        "external_id",
        *TEXTS,
        "score",
        "status",
        "owner_id",
        *DATES,
        "converted_opportunity_id",
    )

    # Written in a thread of its own while the next batch is read and checked (nothing in
    # a leads file refers to another row of it).
    pipelined = True

    def write(self, rows, state):
        """Through COPY (a leads file is the one that runs to millions of rows): new leads
        are inserted, known ones (by external id) overwritten, as `bulk_create` would."""
        copy_upsert(
            "pipeline_lead",
            self.COLUMNS,
            ("external_id",),
            (
                (
                    v["external_id"],
                    *(v.get(name) or "" for name in self.TEXTS),
                    v.get("score"),
                    v["status"],
                    v["owner_id"],
                    *(v.get(name) for name in self.DATES),
                    v["converted_opportunity_external_id"],
                )
                for v in (row.values for row in rows)
            ),
            using=state.shared_connection,
        )


class SubscriptionsFile(Entity):
    file = "subscriptions.csv"
    columns = [
        _text(Subscription, "external_id", True),
        Column("account_external_id", required=True),
        _text(Subscription, "product", True),
        Column("mrr", f.parse_amount, True),
        Column("currency", f.parse_currency, True),
        Column("start_on", f.parse_date, True),
        Column("end_on", f.parse_date),
        Column("source_opportunity_external_id"),
        Column("churn_reason", f.text(100)),
    ]

    def check(self, rows, state):
        _refs(rows, "account_external_id", Account)
        _refs(rows, "source_opportunity_external_id", Opportunity)
        for row in rows:
            v = row.values
            if v.get("end_on") and v.get("start_on") and v["end_on"] <= v["start_on"]:
                row.fail("end_on", _("end_on is not after start_on"))
            currency = v.get("currency")
            if currency and not _rate_exists(currency, state.base, state.fx_currencies):
                row.fail(
                    "currency",
                    _(
                        "%(currency)s is not the base currency (%(base)s) and has no rate in "
                        "fx_rates.csv or the database"
                    )
                    % {"currency": currency, "base": state.base},
                )

    def write(self, rows, state):
        reasons = state.named(ChurnReason, (row.values.get("churn_reason") for row in rows))
        Subscription.objects.bulk_create(
            [
                Subscription(
                    external_id=row.values["external_id"],
                    account_id=row.values["account_external_id"],
                    product=row.values["product"],
                    mrr=row.values["mrr"],
                    currency=row.values["currency"],
                    start_on=row.values["start_on"],
                    end_on=row.values.get("end_on"),
                    status=Subscription.Status.CONFIRMED,
                    source_opportunity_id=row.values["source_opportunity_external_id"],
                    churn_reason_id=reasons.get(row.values.get("churn_reason")),
                )
                for row in rows
            ],
            update_conflicts=True,
            unique_fields=["external_id"],
            update_fields=[
                "account",
                "product",
                "mrr",
                "currency",
                "start_on",
                "end_on",
                "status",
                "source_opportunity",
                "churn_reason",
            ],
        )


class QuotasFile(Entity):
    file = "quotas.csv"
    columns = [
        Column("owner_email", f.parse_email, True),
        Column("period_start", f.parse_date, True),
        Column("period_end", f.parse_date, True),
        Column("amount", f.parse_amount, True),
    ]

    def check(self, rows, state):
        owners = _users(row.values.get("owner_email") for row in rows)
        for row in rows:
            email = row.values.pop("owner_email", None)
            if email and email not in owners:
                row.fail(
                    "owner_email",
                    _("no user %(email)s in users.csv or the database") % {"email": repr(email)},
                )
            row.values["user_id"] = owners.get(email)
            start, end = row.values.get("period_start"), row.values.get("period_end")
            if start and end and end < start:
                row.fail("period_end", _("period_end is before period_start"))

    def write(self, rows, state):
        Quota.objects.bulk_create(
            [Quota(**row.values) for row in rows],
            update_conflicts=True,
            unique_fields=["user", "period_start", "period_end"],
            update_fields=["amount"],
        )


class ActivitiesFile(Entity):
    file = "activities.csv"
    columns = [
        _text(Activity, "external_id", True),
        Column("kind", f.enum("call", "email", "meeting", "note", "task"), True),
        _text(Activity, "subject", True),
        Column("body"),
        Column("account_external_id"),
        Column("contact_external_id"),
        Column("lead_external_id"),
        Column("opportunity_external_id"),
        Column("owner_email", f.parse_email),
        Column("occurred_on", f.parse_date, True),
        Column("due_on", f.parse_date),
        Column("done", f.parse_bool),
    ]

    def check(self, rows, state):
        _refs(rows, "account_external_id", Account)
        _refs(rows, "contact_external_id", Contact)
        _refs(rows, "lead_external_id", Lead)
        _refs(rows, "opportunity_external_id", Opportunity)
        owners = _users(row.values.get("owner_email") for row in rows)
        for row in rows:
            email = row.values.pop("owner_email", None)
            if email and email not in owners:
                row.fail(
                    "owner_email",
                    _("no user %(email)s in users.csv or the database") % {"email": repr(email)},
                )
            row.values["owner_id"] = owners.get(email)

    def write(self, rows, state):
        Activity.objects.bulk_create(
            [
                Activity(
                    external_id=row.values["external_id"],
                    kind=row.values["kind"],
                    subject=row.values["subject"],
                    body=row.values.get("body") or "",
                    account_id=row.values["account_external_id"],
                    contact_id=row.values["contact_external_id"],
                    lead_id=row.values["lead_external_id"],
                    opportunity_id=row.values["opportunity_external_id"],
                    owner_id=row.values["owner_id"],
                    occurred_on=row.values["occurred_on"],
                    due_on=row.values.get("due_on"),
                    done=bool(row.values.get("done")),
                )
                for row in rows
            ],
            update_conflicts=True,
            unique_fields=["external_id"],
            update_fields=[
                "kind",
                "subject",
                "body",
                "account",
                "contact",
                "lead",
                "opportunity",
                "owner",
                "occurred_on",
                "due_on",
                "done",
            ],
        )


ENTITIES = [
    SettingsFile(),
    FxRatesFile(),
    TeamsFile(),
    UsersFile(),
    StagesFile(),
    AccountsFile(),
    ContactsFile(),
    OpportunitiesFile(),
    StageHistoryFile(),
    LeadsFile(),
    SubscriptionsFile(),
    QuotasFile(),
    ActivitiesFile(),
]


def _chunks(items: Iterable, size: int):
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class ImportState:
    def __init__(self):
        organisation = Organisation.get()
        self.base = organisation.base_currency
        self.fx_currencies = set(FxRate.objects.values_list("currency", flat=True).distinct())
        self.stage_names: dict = {}
        self.history_deals: set = set()
        self.rows_read = 0
        self.progress = None
        self.shared_connection = None  # set while a file's batches are written in a thread
        self.user_ids: dict = {}  # e-mail → id (None: no such user), for the big files

    def users(self, emails) -> dict:
        """`_users` remembered across batches: a leads file names the same few owners on
        every one of its thousands of batches (users.csv is imported before it)."""
        wanted = {e.lower() for e in emails if e}
        missing = wanted - self.user_ids.keys()
        if missing:
            self.user_ids.update(dict.fromkeys(missing))
            self.user_ids.update(_users(missing))
        return {e: self.user_ids[e] for e in wanted if self.user_ids[e] is not None}

    def stages(self):
        """(pipeline name, stage name) → Stage, for the stages in the database now."""
        return {(s.pipeline.name, s.name): s for s in Stage.objects.select_related("pipeline")}

    def stages_by_pipeline_id(self):
        return {(s.pipeline_id, s.name): s for s in Stage.objects.all()}

    def named(self, model, names):
        """Ids of a list the admin extends (personas, churn reasons), adding what the
        import brings (dataset.md)."""
        wanted = {n.strip() for n in names if n and n.strip()}
        known = {o.name.lower(): o.pk for o in model.objects.all()}
        result = {}
        for name in wanted:
            if name.lower() not in known:
                known[name.lower()] = model.objects.create(name=name).pk
            result[name] = known[name.lower()]
        return result


@dataclass
class Report:
    problems: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)  # file → (read, written, rejected)
    rejects: list = field(default_factory=list)  # paths written


# Imported history is not a change anyone made: its rows are inserted without an audit
# event each (ten times faster). Rows an import *changes* still go through the update
# triggers, so a re-import that moves an owner or a stage is in the audit history.
SILENT_INSERTS = [
    f"{model._meta.label}:change_insert"
    for model in (Account, Contact, Activity, Lead, Opportunity, Subscription)
]


def import_dataset(folder, *, skip_invalid=False, dry_run=False, progress=None) -> Report:
    """`progress(rows_read_so_far)` is called after every batch (for a progress bar)."""
    from metrics.services import kpi_refresh_soon

    folder = Path(folder)
    report = Report()
    try:
        with transaction.atomic(), pgtrigger.ignore(*SILENT_INSERTS):
            with connection.cursor() as cursor:
                # The search indexes take new rows into a pending list merged when it is
                # full: a larger list merges a big import in fewer, cheaper passes.
                cursor.execute("SET LOCAL gin_pending_list_limit = '64MB'")
            state = ImportState()
            state.progress = progress
            for entity in ENTITIES:
                path = folder / entity.file
                if path.exists():
                    _import_file(entity, path, state, report, skip_invalid, dry_run)
            if (report.problems and not skip_invalid) or dry_run:
                raise Rollback
            # The triggers marked the owners concerned; bulk writes send no signals.
            kpi_refresh_soon()
    except Rollback:
        pass
    return report


def _import_file(entity, path, state, report, skip_invalid, dry_run):
    try:
        stream, reader = f.open_csv(path)
    except OSError as error:
        report.problems.append(
            Problem(entity.file, 0, "-", _("cannot read: %(error)s") % {"error": error})
        )
        return
    read = written = rejected = 0
    rejects_writer = rejects_stream = None
    writer = _BatchWriter(entity, state)
    try:
        try:
            header = reader.fieldnames or []
        except UnicodeDecodeError:
            report.problems.append(Problem(entity.file, 1, "-", _("not UTF-8 or UTF-16 text")))
            return
        known = {column.name for column in entity.columns}
        header_problems = [
            Problem(entity.file, 1, name or "(empty)", _("unknown column"))
            for name in header
            if name not in known
        ] + [
            Problem(entity.file, 1, column.name, _("required column is missing"))
            for column in entity.columns
            if column.required and column.name not in header
        ]
        if header_problems:
            report.problems.extend(header_problems)
            return
        try:
            for batch in _chunks(_numbered(reader), BATCH):
                rows = [_parse(entity, line, raw) for line, raw in batch]
                _refuse_repeats(rows)
                read += len(rows)
                state.rows_read += len(rows)
                if state.progress is not None:
                    state.progress(state.rows_read)
                entity.check([r for r in rows if not r.problems], state)
                good = [r for r in rows if not r.problems]
                bad = [r for r in rows if r.problems]
                for row in bad:
                    for column, reason in row.problems:
                        report.problems.append(Problem(entity.file, row.line, column, reason))
                if bad and skip_invalid and not dry_run:
                    if rejects_writer is None:
                        rejects_path = path.with_name(path.stem + ".rejects.csv")
                        rejects_stream = open(rejects_path, "w", newline="", encoding="utf-8")  # noqa: SIM115
                        rejects_writer = csv.writer(rejects_stream)
                        rejects_writer.writerow([*header, "reason"])
                        report.rejects.append(rejects_path)
                    for row in bad:
                        reason = "; ".join(f"{c}: {r}" for c, r in row.problems)
                        rejects_writer.writerow([*(row.raw.get(h) or "" for h in header), reason])
                rejected += len(bad)
                # Valid rows are written even when the import will roll back, so that later
                # files' references to them resolve and only real problems are reported.
                if good:
                    writer.write(good)
                    written += len(good)
        except UnicodeDecodeError:
            report.problems.append(
                Problem(entity.file, read + 2, "-", _("not UTF-8 or UTF-16 text"))
            )
        except csv.Error as error:
            report.problems.append(
                Problem(entity.file, read + 2, "-", _("unreadable: %(error)s") % {"error": error})
            )
        writer.flush()
        if hasattr(entity, "finish") and written:
            entity.finish(state)
    finally:
        writer.close()
        stream.close()
        if rejects_stream is not None:
            rejects_stream.close()
        report.counts[entity.file] = (read, written, rejected)


class _BatchWriter:
    """Writes a file's checked batches: in a thread of its own, one batch in flight while
    the next is parsed and checked, for entities marked `pipelined` (Python reads the CSV on
    one core while Postgres writes on another); in turn otherwise. The thread writes through
    this transaction's connection, so the import stays all or nothing; an error there is
    raised here at the next batch or at the end."""

    def __init__(self, entity, state):
        self.entity, self.state = entity, state
        self.executor = self.pending = None
        if getattr(entity, "pipelined", False):
            self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import")
            state.shared_connection = connections[DEFAULT_DB_ALIAS]
            state.shared_connection.inc_thread_sharing()

    def write(self, rows):
        if self.executor is None:
            self.entity.write(rows, self.state)
            return
        self.flush()
        self.pending = self.executor.submit(self._write, rows)

    def _write(self, rows):
        self.entity.write(rows, self.state)

    def flush(self):
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def close(self):
        if self.executor is not None:
            self.executor.shutdown(wait=True)
            self.state.shared_connection.dec_thread_sharing()
            self.state.shared_connection = None
            self.executor = None


def _refuse_repeats(rows) -> None:
    """A record twice in one file is a mistake to show, not a row to write twice (one
    statement cannot write one row twice). Checked within each batch: a repeat further
    apart is written in turn, the later row winning, as a re-import would."""
    first = {}
    for row in rows:
        key = row.values.get("external_id")
        if not key or row.problems:
            continue
        if key in first:
            row.fail(
                "external_id",
                _("%(key)s is also on line %(line)s") % {"key": repr(key), "line": first[key]},
            )
        else:
            first[key] = row.line


def _numbered(reader):
    """Each record with the physical line it starts on (a quoted cell may span lines)."""
    previous = reader.line_num
    for raw in reader:
        yield previous + 1, raw
        previous = reader.line_num


def _parse(entity, line, raw) -> Row:
    row = Row(line, raw)
    if None in raw:  # more cells than the header has columns
        row.fail("-", _("more cells than columns"))
    for column in entity.columns:
        text = raw.get(column.name)
        text = text.strip() if text is not None and column.parse is not None else text
        if text is None or text == "":
            if column.required:
                row.fail(column.name, _("required and empty"))
            row.values[column.name] = None
            continue
        if column.parse is None:
            row.values[column.name] = text
            continue
        try:
            row.values[column.name] = column.parse(text)
        except f.CellError as error:
            row.fail(column.name, str(error))
    return row
