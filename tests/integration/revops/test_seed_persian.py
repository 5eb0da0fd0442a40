"""`seed_demo --locale fa`: a Persian organisation in Rial on the Jalali calendar."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from crm.models import Account, Subscription
from pipeline.models import Opportunity
from revops.models import FxRate, Organisation, User


@pytest.mark.django_db
def test_the_persian_demo_counts_in_rial_on_the_jalali_calendar(client):
    call_command(
        "seed_demo", "--locale", "fa", "--no-history", stdout=StringIO(), stderr=StringIO()
    )
    org = Organisation.get()
    assert (org.base_currency, org.calendar) == ("IRR", "jalali")
    assert not Opportunity.objects.filter(currency="USD").exists()
    amounts = Opportunity.objects.filter(currency="IRR").values_list("amount", flat=True)
    assert amounts and all(a == a.to_integral_value() and a >= 1000000 for a in amounts)
    assert Subscription.objects.filter(currency="IRR").count() > 0
    assert FxRate.objects.get(currency="USD").rate_to_base == Decimal("1000000")
    assert FxRate.objects.filter(currency="EUR").first().rate_to_base > 1000000
    persian = sum(
        1 for name in Account.objects.values_list("name", flat=True) if name[0] > "\u0600"
    )
    assert persian > Account.objects.count() * 0.8
    rep = User.objects.get(email="rep@daramad.example")
    assert rep.language == "fa" and rep.effective_calendar == "jalali"
    client.force_login(rep)
    page = client.get(Opportunity.objects.filter(owner=rep).first().get_absolute_url())
    html = page.content.decode()
    assert "ریال" in html and 'dir="rtl"' in html
