"""The REST API against its own OpenAPI schema (schemathesis): every operation, with an
administrator's token and a sales rep's, at least 100 generated requests each, every
check schemathesis has (no 5xx, answers that match the schema, invalid input refused,
authentication enforced…)."""

from decimal import Decimal

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.config._checks import PositiveDataAcceptanceConfig

from pipeline import services
from pipeline.models import Opportunity
from tests.factories import (
    AccountFactory,
    ActivityFactory,
    ContactFactory,
    LeadFactory,
    default_stages,
)

EXAMPLES = 100
app = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", app)
# A valid request refused for a business rule the schema cannot state (a lead needs a name or
# an e-mail, a subscription ends after it starts, a stale version…) answers 400 or 409.
schema.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
    expected_statuses=["2XX", "400", "403", "404", "409"]
)


@pytest.fixture
def _wsgi_keeps_the_test_connection():
    """The WSGI handler closes the database connection at each request's start and end; the
    test's transaction lives on that connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def _no_rate_limit(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "1000000/minute"},
    }


@pytest.fixture
def world(rep, admin_user, marketer, cs):
    """A few records of every kind, so that generated ids sometimes name a real one."""
    stages = default_stages()
    account = AccountFactory(owner=rep)
    contact = ContactFactory(account=account)
    LeadFactory(owner=rep)
    LeadFactory(owner=marketer)
    ActivityFactory(account=account, owner=rep)
    deal = Opportunity(
        account=account,
        name="Deal",
        owner=rep,
        stage=stages["Proposal"],
        amount=Decimal(1000),
        currency="USD",
        primary_contact=contact,
    )
    services.opportunity_create(opportunity=deal, by=rep)
    return account


def _call(case, user):
    token, _created = Token.objects.get_or_create(user=user)
    case.call_and_validate(headers={"Authorization": f"Token {token.key}"})


HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


@pytest.mark.django_db
@pytest.mark.usefixtures("_wsgi_keeps_the_test_connection", "_no_rate_limit", "world")
@schema.parametrize()
@HYPOTHESIS
def test_the_api_keeps_its_schema_for_an_administrator(case, admin_user):
    _call(case, admin_user)


@pytest.mark.django_db
@pytest.mark.usefixtures("_wsgi_keeps_the_test_connection", "_no_rate_limit", "world")
@schema.exclude(method="GET").parametrize()
@HYPOTHESIS
def test_the_api_keeps_its_schema_for_a_rep_who_writes(case, rep):
    """A rep's writes go through other permission paths (403s, owner rules); a rep's reads
    are the administrator's with a narrower queryset."""
    _call(case, rep)
