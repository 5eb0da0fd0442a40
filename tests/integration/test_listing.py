"""List pages page by keyset: forward and back, through equal and empty sort values."""

import re
from decimal import Decimal

import pytest
from django.http import QueryDict
from django.urls import reverse

from tests.factories import AccountFactory, ActivityFactory, LeadFactory, OpportunityFactory


def _link(response, rel):
    found = re.search(rf'href="\?([^"]*)"[^>]*rel="{rel}"', response.content.decode())
    return found and QueryDict(found.group(1).replace("&amp;", "&"))


def test_a_sort_with_empty_values_pages_both_ways_without_losing_a_row(client_for, marketer):
    # Scores repeat across page boundaries and a third have none: those come last.
    leads = [LeadFactory(owner=marketer, score=None if n % 3 == 0 else n % 5) for n in range(140)]
    expected = [
        lead.pk
        for lead in sorted(
            leads, key=lambda lead: (lead.score is not None, lead.score or 0, lead.pk), reverse=True
        )
    ]
    client = client_for(marketer)
    params, pages = {"sort": "-score"}, []
    while params:
        response = client.get(reverse("pipeline:lead-list"), params)
        pages.append([lead.pk for lead in response.context["rows"]])
        params = _link(response, "next")
    assert [pk for page in pages for pk in page] == expected
    # Back from the last page, one page at a time, to the first.
    back = []
    params = _link(response, "prev")
    while params:
        response = client.get(reverse("pipeline:lead-list"), params)
        back.insert(0, [lead.pk for lead in response.context["rows"]])
        params = _link(response, "prev")
    assert back == pages[:-1]


@pytest.mark.parametrize("endpoint", ["opportunities", "leads", "accounts", "activities"])
def test_an_api_list_row_is_exactly_the_records_own_representation(
    client_for, admin_user, rep, endpoint
):
    """The list's fast serialisation writes what the record's own page (DRF's path) does,
    field by field: ids of related records, an owner's e-mail or none, dates, amounts."""
    account = AccountFactory(owner=rep, name="Kian")
    AccountFactory(owner=None, name="Orphan")
    OpportunityFactory(owner=rep, account=account, amount=Decimal("1234.50"))
    OpportunityFactory(owner=rep, account=account, expected_close_on=None, lost_reason="")
    LeadFactory(owner=rep, score=None)
    LeadFactory(owner=None, score=7)
    ActivityFactory(account=account, owner=rep)
    ActivityFactory(account=account, owner=rep, due_on=None, done=True)
    client = client_for(admin_user)
    listed = client.get(f"/api/v1/{endpoint}/").json()["results"]
    assert len(listed) >= 2
    for row in listed:
        own = client.get(f"/api/v1/{endpoint}/{row['id']}/").json()
        assert row == own
