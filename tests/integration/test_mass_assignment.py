"""Mass assignment: fields a user may not set, sent anyway through every create and edit
form and every API create, update and partial update. An owner outside what roles.md lets
the persona assign, a deal's `version` (a precondition, never assigned), `is_staff`,
`is_superuser` or `role` on the user's own profile, and references to records the user may
not see are refused with a field error (or ignored where the field is read-only), and the
database is left as it was."""

from datetime import date
from decimal import Decimal

import pytest
from django.forms.models import model_to_dict

from crm.models import Account, Activity, Contact, Subscription
from metrics.models import Quota
from pipeline import services
from pipeline.models import Lead, Opportunity, Pipeline, Stage
from revops.models import User
from tests.factories import (
    AccountFactory,
    ActivityFactory,
    ContactFactory,
    LeadFactory,
    default_stages,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def stages(db):
    return default_stages()


def deal_for(owner, stages, account=None):
    deal = Opportunity(
        account=account or AccountFactory(owner=owner),
        name="Deal",
        owner=owner,
        stage=stages["Proposal"],
        amount=Decimal(1000),
        currency="USD",
    )
    return services.opportunity_create(opportunity=deal, by=owner)


def snapshot(model):
    return sorted(tuple(sorted(model_to_dict(o).items(), key=str)) for o in model.objects.all())


def form_data(client, url):
    """What the form at `url` would post back unchanged."""
    form = client.get(url).context["form"]
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = "on" if value is True else value
    return data


def refused_by_form(response, field):
    assert response.status_code == 200, response.status_code
    errors = response.context["form"].errors
    assert field in errors, dict(errors)


def refused_by_api(response, field):
    assert response.status_code == 400, (response.status_code, response.content)
    assert field in response.json(), response.json()


# --- owner outside what roles.md allows ------------------------------------------------------


OWNER_CASES = [
    # persona, kind, who they try to name as owner (roles.md: reps own, managers their team)
    ("rep", "account", "teammate"),
    ("rep", "lead", "teammate"),
    ("rep", "opportunity", "teammate"),
    ("rep", "activity", "teammate"),
    ("manager", "account", "other_team_rep"),
    ("manager", "lead", "other_team_rep"),
    ("manager", "opportunity", "other_team_rep"),
    ("cs", "account", "rep"),
    ("cs", "opportunity", "rep"),
]
API = {
    "account": ("/api/v1/accounts/", Account),
    "lead": ("/api/v1/leads/", Lead),
    "opportunity": ("/api/v1/opportunities/", Opportunity),
    "activity": ("/api/v1/activities/", Activity),
}
FORMS = {
    "account": ("/accounts/new/", "/accounts/{pk}/edit/"),
    "lead": ("/leads/new/", "/leads/{pk}/edit/"),
    "opportunity": ("/deals/new/", "/deals/{pk}/edit/"),
    "activity": ("/activities/new/", "/activities/{pk}/edit/"),
}


def _own_record(kind, user, stages):
    if kind == "account":
        return AccountFactory(owner=user)
    if kind == "lead":
        return LeadFactory(owner=user)
    if kind == "activity":
        return ActivityFactory(account=AccountFactory(owner=user), owner=user)
    return deal_for(user, stages)


def _create_body(kind, user, stages):
    account = AccountFactory(owner=user)
    return {
        "account": {"name": "New account"},
        "lead": {"first_name": "New", "source": "web"},
        "opportunity": {
            "account": account.pk,
            "name": "New deal",
            "stage": stages["Proposal"].pk,
            "amount": "10.00",
            "currency": "USD",
        },
        "activity": {"kind": "note", "subject": "New note", "account": account.pk},
    }[kind]


@pytest.mark.parametrize("persona, kind, target", OWNER_CASES)
def test_an_owner_outside_the_personas_reach_is_refused_through_the_api(
    request, client_for, stages, persona, kind, target
):
    user, other = request.getfixturevalue(persona), request.getfixturevalue(target)
    path, model = API[kind]
    record = _own_record(kind, user, stages)
    client = client_for(user)
    body = {**_create_body(kind, user, stages), "owner": other.pk}
    before = snapshot(model)
    refused_by_api(client.post(path, body, content_type="application/json"), "owner")
    assert snapshot(model) == before
    extra = {"expected_version": record.version} if kind == "opportunity" else {}
    refused_by_api(
        client.patch(
            f"{path}{record.pk}/", {"owner": other.pk, **extra}, content_type="application/json"
        ),
        "owner",
    )
    full = client.get(f"{path}{record.pk}/").json()
    full = {k: v for k, v in full.items() if v is not None}
    refused_by_api(
        client.put(
            f"{path}{record.pk}/",
            {**full, "owner": other.pk, **extra},
            content_type="application/json",
        ),
        "owner",
    )
    record.refresh_from_db()
    assert record.owner == user
    assert not model.objects.filter(owner=other).exists()
    # The same request naming the persona itself goes through: only the owner was refused.
    created = client.post(path, {**body, "owner": user.pk}, content_type="application/json")
    assert created.status_code == 201, created.content


@pytest.mark.parametrize("persona, kind, target", OWNER_CASES)
def test_an_owner_outside_the_personas_reach_is_refused_through_the_forms(
    request, client_for, stages, persona, kind, target
):
    user, other = request.getfixturevalue(persona), request.getfixturevalue(target)
    _path, model = API[kind]
    create_url, edit_url = FORMS[kind]
    record = _own_record(kind, user, stages)
    client = client_for(user)
    edit_url = edit_url.format(pk=record.pk)
    data = {**form_data(client, edit_url), "owner": other.pk}
    response = client.post(edit_url, data)
    if kind == "activity":  # the form has no owner: the one sent is ignored
        assert response.status_code == 302
    else:
        refused_by_form(response, "owner")
    data = {**form_data(client, create_url), **_form_create(kind, user, stages)}
    before = snapshot(model)
    response = client.post(create_url, {**data, "owner": other.pk})
    if kind == "activity":
        assert response.status_code == 302
        assert Activity.objects.order_by("-pk").first().owner == user
    else:
        refused_by_form(response, "owner")
        assert snapshot(model) == before
    assert not model.objects.filter(owner=other).exists()
    record.refresh_from_db()
    assert record.owner == user
    # The same form naming the persona itself is saved: only the owner was refused.
    assert client.post(create_url, {**data, "owner": user.pk}).status_code == 302


def _form_create(kind, user, stages):
    body = _create_body(kind, user, stages)
    if kind == "opportunity":
        body.update(amount="10", kind="new_business")
    if kind == "activity":
        body.update(occurred_on=date.today().isoformat())
    return body


def test_a_manager_sets_no_quota_for_another_team(client_for, manager, other_team_rep, rep):
    client = client_for(manager)
    body = {"period_start": "2026-01-01", "period_end": "2026-03-31", "amount": "100.00"}
    refused_by_api(
        client.post("/api/v1/quotas/", {**body, "user": other_team_rep.pk}, "application/json"),
        "user",
    )
    created = client.post("/api/v1/quotas/", {**body, "user": rep.pk}, "application/json")
    assert created.status_code == 201
    quota = Quota.objects.get()
    refused_by_api(
        client.patch(
            f"/api/v1/quotas/{quota.pk}/", {"user": other_team_rep.pk}, "application/json"
        ),
        "user",
    )
    quota.refresh_from_db()
    assert quota.user == rep and Quota.objects.count() == 1


# --- version: a precondition, never assigned -------------------------------------------------


def test_a_deals_version_sent_in_the_api_body_is_never_assigned(client_for, rep, stages):
    deal = deal_for(rep, stages)
    client = client_for(rep)
    response = client.patch(
        f"/api/v1/opportunities/{deal.pk}/",
        {"name": "Renamed", "version": 99, "expected_version": deal.version},
        content_type="application/json",
    )
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.name == "Renamed" and deal.version == 2 == response.json()["version"]
    # A version alone is no precondition and sets nothing: the deal stays at 2.
    response = client.patch(
        f"/api/v1/opportunities/{deal.pk}/",
        {"version": 1, "expected_version": 99, "name": "Stale"},
        content_type="application/json",
    )
    assert response.status_code == 409
    deal.refresh_from_db()
    assert (deal.name, deal.version) == ("Renamed", 2)
    created = client.post(
        "/api/v1/opportunities/",
        {
            "account": deal.account_id,
            "name": "Fresh",
            "stage": stages["Proposal"].pk,
            "amount": "5.00",
            "currency": "USD",
            "version": 42,
        },
        content_type="application/json",
    )
    assert created.status_code == 201 and created.json()["version"] == 1


def test_a_deals_version_in_the_form_is_a_precondition(client_for, rep, stages):
    deal = deal_for(rep, stages)
    client = client_for(rep)
    url = f"/deals/{deal.pk}/edit/"
    data = form_data(client, url)
    response = client.post(url, {**data, "name": "Renamed", "version": 42})
    assert response.status_code in (200, 409)
    deal.refresh_from_db()
    assert (deal.name, deal.version) == ("Deal", 1)
    response = client.post(url, {**data, "name": "Renamed"})
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.name, deal.version) == ("Renamed", 2)


# --- the user's own privileges ---------------------------------------------------------------


def test_nobody_raises_their_own_privileges(client_for, rep, other_sales_team):
    client = client_for(rep)
    for method in ("put", "patch", "post"):
        response = getattr(client, method)(
            "/api/v1/me/",
            {"is_staff": True, "is_superuser": True, "role": "admin", "team": None},
            content_type="application/json",
        )
        assert response.status_code == 405
    data = form_data(client, "/profile/")
    response = client.post(
        "/profile/",
        {
            **data,
            "full_name": "Rita Renamed",
            "is_staff": "on",
            "is_superuser": "on",
            "role": "admin",
            "team": other_sales_team.pk,
            "email": "boss@example.com",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    rep.refresh_from_db()
    assert rep.full_name == "Rita Renamed"  # the form was saved…
    assert (rep.is_staff, rep.is_superuser, rep.role, rep.email, rep.team.name) == (
        False,
        False,
        User.Role.REP,
        "rep@example.com",
        "Sales North",
    )  # …and nothing else
    assert client.get("/admin/").status_code == 302


# --- references to records the user may not see ----------------------------------------------


def test_activities_cannot_point_at_hidden_leads_or_deals(
    client_for, rep, marketer, other_team_rep, stages
):
    hidden_lead = LeadFactory(owner=marketer)
    hidden_deal = deal_for(other_team_rep, stages)
    mine = ActivityFactory(account=AccountFactory(owner=rep), owner=rep)
    client = client_for(rep)
    before = snapshot(Activity)
    for field, target in (("lead", hidden_lead), ("opportunity", hidden_deal)):
        body = {"kind": "note", "subject": "Probe", field: target.pk}
        refused_by_api(client.post("/api/v1/activities/", body, "application/json"), field)
        refused_by_api(
            client.patch(f"/api/v1/activities/{mine.pk}/", {field: target.pk}, "application/json"),
            field,
        )
        data = form_data(client, "/activities/new/")
        data.update(kind="note", subject="Probe", occurred_on=date.today().isoformat())
        refused_by_form(client.post("/activities/new/", {**data, field: target.pk}), field)
        url = f"/activities/{mine.pk}/edit/"
        refused_by_form(client.post(url, {**form_data(client, url), field: target.pk}), field)
    assert snapshot(Activity) == before


def test_contacts_go_only_on_accounts_the_user_may_edit(client_for, rep, teammate):
    theirs = AccountFactory(owner=teammate)
    mine = ContactFactory(account=AccountFactory(owner=rep))
    client = client_for(rep)
    before = snapshot(Contact)
    body = {"first_name": "Probe", "account": theirs.pk}
    refused_by_api(client.post("/api/v1/contacts/", body, "application/json"), "account")
    refused_by_api(
        client.patch(f"/api/v1/contacts/{mine.pk}/", {"account": theirs.pk}, "application/json"),
        "account",
    )
    data = {**form_data(client, "/contacts/new/"), "first_name": "Probe", "account": theirs.pk}
    refused_by_form(client.post("/contacts/new/", data), "account")
    url = f"/contacts/{mine.pk}/edit/"
    refused_by_form(client.post(url, {**form_data(client, url), "account": theirs.pk}), "account")
    assert snapshot(Contact) == before


def test_a_deal_takes_no_stage_of_another_pipeline(client_for, rep, stages):
    other = Pipeline.objects.create(name="Partners")
    foreign = Stage.objects.create(pipeline=other, name="Signed", position=1, probability=0.5)
    deal = deal_for(rep, stages)
    client = client_for(rep)
    refused_by_api(
        client.patch(
            f"/api/v1/opportunities/{deal.pk}/",
            {"stage": foreign.pk, "expected_version": 1},
            content_type="application/json",
        ),
        "stage",
    )
    refused_by_api(
        client.post(
            f"/api/v1/opportunities/{deal.pk}/move/",
            {"stage": foreign.pk, "expected_version": 1},
            content_type="application/json",
        ),
        "stage",
    )
    url = f"/deals/{deal.pk}/edit/"
    refused_by_form(client.post(url, {**form_data(client, url), "stage": foreign.pk}), "stage")
    deal.refresh_from_db()
    assert (deal.stage, deal.pipeline.name, deal.version) == (stages["Proposal"], "Sales", 1)


def test_cs_adds_subscriptions_only_to_accounts_they_own(client_for, cs, rep):
    theirs = AccountFactory(owner=rep)
    body = {
        "account": theirs.pk,
        "product": "Plan",
        "mrr": "10.00",
        "currency": "USD",
        "start_on": "2026-01-01",
    }
    refused_by_api(
        client_for(cs).post("/api/v1/subscriptions/", body, "application/json"), "account"
    )
    response = client_for(cs).post(f"/accounts/{theirs.pk}/subscriptions/new/", body)
    assert response.status_code in (403, 404)
    assert not Subscription.objects.exists()


def test_a_handoff_is_not_accepted_for_someone_outside_the_team(
    client_for, marketer, manager, other_team_rep, sales_team
):
    from pipeline.services import lead_handoff

    lead = LeadFactory(owner=marketer)
    lead_handoff(lead=lead, by=marketer, to_team=sales_team)
    response = client_for(manager).post(
        f"/api/v1/leads/{lead.pk}/accept/",
        {"assignee": other_team_rep.pk},
        content_type="application/json",
    )
    assert response.status_code in (400, 403)
    lead.refresh_from_db()
    assert lead.owner == marketer and lead.status == Lead.Status.MQL
