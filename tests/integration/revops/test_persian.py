"""A Persian user on the Jalali calendar: types Jalali dates and Persian digits, reads them
back the same way; an English user on the same record reads Gregorian and Latin."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from pipeline.models import Opportunity
from tests.factories import AccountFactory, default_stages

pytestmark = pytest.mark.django_db


@pytest.fixture
def persian_rep(rep):
    rep.language, rep.calendar = "fa", "jalali"
    rep.save()
    return rep


def test_a_persian_rep_types_jalali_dates_and_persian_digits(client_for, persian_rep):
    stages = default_stages()
    account = AccountFactory(owner=persian_rep)
    page = client_for(persian_rep).post(
        reverse("pipeline:opportunity-create"),
        {
            "name": "قرارداد پارس",
            "account": account.pk,
            "owner": persian_rep.pk,
            "stage": stages["Proposal"].pk,
            "kind": "new_business",
            "amount": "۱٬۲۵۰٬۰۰۰٫۵۰",
            "currency": "USD",
            "expected_close_on": "۱۴۰۵/۰۴/۰۹",
        },
    )
    assert page.status_code == 302, page.context["form"].errors
    deal = Opportunity.objects.get()
    assert deal.amount == Decimal("1250000.50")
    assert deal.expected_close_on == date(2026, 6, 30)
    shown = client_for(persian_rep).get(deal.get_absolute_url()).content.decode()
    assert "۱۴۰۵/۰۴/۰۹" in shown
    assert "۱٬۲۵۰٬۰۰۰٫۵۰ USD" in shown
    assert 'dir="rtl"' in shown


def test_the_edit_form_shows_the_jalali_date_and_refuses_an_impossible_one(client_for, persian_rep):
    stages = default_stages()
    deal = Opportunity.objects.create(
        name="D",
        account=AccountFactory(owner=persian_rep),
        owner=persian_rep,
        pipeline=stages["Proposal"].pipeline,
        stage=stages["Proposal"],
        amount=100,
        currency="USD",
        expected_close_on=date(2026, 6, 30),
    )
    client = client_for(persian_rep)
    form = client.get(reverse("pipeline:opportunity-edit", args=[deal.pk])).content.decode()
    assert 'value="1405/04/09"' in form
    assert 'placeholder="1405/04/09"' in form
    page = client.post(
        reverse("pipeline:opportunity-edit", args=[deal.pk]),
        {
            "name": "D",
            "account": deal.account_id,
            "owner": persian_rep.pk,
            "stage": stages["Proposal"].pk,
            "kind": "new_business",
            "amount": "100",
            "currency": "USD",
            "expected_close_on": "1404/12/30",  # 1404 has no Esfand 30
            "version": deal.version,
        },
    )
    assert page.status_code == 200
    assert "expected_close_on" in page.context["form"].errors
    deal.refresh_from_db()
    assert deal.expected_close_on == date(2026, 6, 30)


def test_an_english_reader_sees_gregorian_and_latin_digits(client_for, manager, rep):
    stages = default_stages()
    deal = Opportunity.objects.create(
        name="D",
        account=AccountFactory(owner=rep),
        owner=rep,
        pipeline=stages["Proposal"].pipeline,
        stage=stages["Proposal"],
        amount=Decimal("1250000.50"),
        currency="USD",
        expected_close_on=date(2026, 6, 30),
    )
    shown = client_for(manager).get(deal.get_absolute_url()).content.decode()
    assert "2026-06-30" in shown and "1,250,000.50 USD" in shown
    assert "۱" not in shown


def test_a_persian_reader_may_keep_latin_digits_and_read_rial_in_toman(client_for, persian_rep):
    from crm.models import Subscription
    from revops.models import FxRate

    FxRate.objects.create(currency="IRR", rate_to_base="0.00001", valid_from=date(2020, 1, 1))
    persian_rep.latin_digits, persian_rep.toman = True, True
    persian_rep.save()
    account = AccountFactory(owner=persian_rep)
    Subscription.objects.create(
        account=account,
        product="طرح",
        mrr=Decimal("125000000"),
        currency="IRR",
        start_on=date(2026, 1, 1),
        status="confirmed",
    )
    shown = client_for(persian_rep).get(account.get_absolute_url()).content.decode()
    assert "12,500,000 تومان" in shown
    assert "۱۲" not in shown
