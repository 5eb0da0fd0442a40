"""Spreadsheet exports from list pages (issue 6, roles.md)."""

import csv
import io

import pytest
from django.db import DatabaseError, transaction
from django.urls import reverse

from revops.exports import neutralise
from revops.models import ExportRecord
from tests.factories import AccountFactory, LeadFactory

pytestmark = pytest.mark.django_db


def read(response):
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")  # Excel shows Persian only with the BOM
    return list(csv.DictReader(io.StringIO(body[1:])))


def test_cells_that_would_run_as_formulas_are_kept_as_text():
    for text in ("=1+1", "+98 912", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(text) == "'" + text
    assert neutralise("Kian") == "Kian"


@pytest.mark.parametrize(
    "persona, lists",
    [
        ("manager", {"accounts": 200, "leads": 200, "deals": 200}),
        ("executive", {"accounts": 200, "leads": 200, "deals": 200}),
        ("marketer", {"accounts": 403, "leads": 200, "deals": 403}),
        ("rep", {"accounts": 403, "leads": 403, "deals": 403}),
        ("cs", {"accounts": 403, "leads": 403, "deals": 403}),
    ],
)
def test_who_may_export_what(request, client_for, persona, lists):
    client = client_for(request.getfixturevalue(persona))
    urls = {
        "accounts": "crm:account-export",
        "leads": "pipeline:lead-export",
        "deals": "pipeline:opportunity-export",
    }
    for name, status in lists.items():
        assert client.get(reverse(urls[name])).status_code == status, name


def test_an_export_has_the_filtered_rows_the_user_may_see_and_is_recorded(
    client_for, manager, rep, other_team_rep
):
    LeadFactory(first_name='=HYPERLINK("http://evil")', owner=rep, source="webinar")
    LeadFactory(first_name="Hidden", owner=other_team_rep, source="webinar")
    LeadFactory(first_name="Other", owner=rep, source="event")
    client = client_for(manager)
    listing = client.get(reverse("pipeline:lead-list"), {"source": "webinar"})
    assert 'href="/leads/export/?source=webinar"' in listing.content.decode()
    rows = read(client.get(reverse("pipeline:lead-export"), {"source": "webinar"}))
    assert [r["first_name"] for r in rows] == ['\'=HYPERLINK("http://evil")']
    record = ExportRecord.objects.get()
    assert (record.user, record.what, record.filters, record.rows) == (
        manager,
        "leads",
        "source=webinar",
        1,
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        ExportRecord.objects.filter(pk=record.pk).update(rows=0)
    with pytest.raises(DatabaseError), transaction.atomic():
        ExportRecord.objects.filter(pk=record.pk).delete()


def test_persian_text_survives_the_export(client_for, executive):
    AccountFactory(name="شرکت کیان", domain="kian.ir")
    rows = read(client_for(executive).get(reverse("crm:account-export")))
    assert rows[0]["name"] == "شرکت کیان"


def test_admins_download_the_whole_dataset_zipped(client_for, admin_user, manager):
    import zipfile

    AccountFactory(name="Kian", external_id="A1")
    assert client_for(manager).get(reverse("dataset-export")).status_code == 403
    response = client_for(admin_user).get(reverse("dataset-export"))
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert "accounts.csv" in archive.namelist() and len(archive.namelist()) == 13
    assert "A1,Kian" in archive.read("accounts.csv").decode()
    assert ExportRecord.objects.get(what="dataset").user == admin_user
