"""CSV formula injection in every spreadsheet export: the list exports (every URL whose name
ends in `-export`) and the rejected rows of a browser import never hand a spreadsheet a
cell that starts with = + - @ TAB or CR. The dataset export is the lossless format that
import reads back (shared/spec/dataset.md: "not altered against spreadsheet formula
injection"), so it keeps the text exactly."""

import csv
import io
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import get_resolver, reverse

from crm.models import Activity
from pipeline import services
from pipeline.models import Opportunity
from revops.exports import FORMULA_START
from revops.models import ImportUpload
from revops.tasks import import_upload_run
from tests.factories import AccountFactory, ContactFactory, LeadFactory, default_stages

pytestmark = pytest.mark.django_db

FORMULAS = ["=1+2", "+98 21 1234", "-2+3", "@SUM(A1)", "\t=cmd", "\r=cmd"]


def export_names():
    names = set()

    def walk(resolver, namespace=""):
        for pattern in resolver.url_patterns:
            if hasattr(pattern, "url_patterns"):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern, inner)
            elif pattern.name and pattern.name.endswith("-export"):
                names.add(namespace + pattern.name)

    walk(get_resolver())
    return names


def cells(body):
    assert body.startswith("\ufeff")
    return [cell for row in csv.reader(io.StringIO(body[1:], newline="")) for cell in row]


def dangerous(cell):
    return cell.startswith(FORMULA_START)


@pytest.fixture
def formula_records(admin_user, rep):
    stages = default_stages()
    for text in FORMULAS:
        account = AccountFactory(owner=rep, name=text, industry=text, country=text)
        ContactFactory(account=account, first_name=text, last_name=text, phone=text, title=text)
        LeadFactory(owner=rep, first_name=text, last_name=text, company=text, source=text)
        Activity.objects.create(kind="note", account=account, owner=rep, subject=text, body=text)
        deal = Opportunity(
            account=account,
            name=text,
            owner=rep,
            stage=stages["Proposal"],
            amount=Decimal(10),
            currency="USD",
            expected_close_on=date.today(),
            lost_reason=text,
        )
        services.opportunity_create(opportunity=deal, by=rep)


def test_every_list_export_neutralises_formulas(client_for, admin_user, formula_records):
    names = export_names() - {"dataset-export"}
    assert names == {
        "crm:account-export",
        "crm:contact-export",
        "crm:activity-export",
        "pipeline:lead-export",
        "pipeline:opportunity-export",
    }
    client = client_for(admin_user)
    for name in sorted(names):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        exported = cells(b"".join(response.streaming_content).decode())
        assert not [c for c in exported if dangerous(c)], name
        # The formulas are there, as text: nothing was dropped.
        for text in ("=1+2", "@SUM(A1)", "\t=cmd"):
            assert "'" + text in exported, (name, text)


def test_the_dataset_export_keeps_the_text_exactly(client_for, admin_user, formula_records):
    response = client_for(admin_user).get(reverse("dataset-export"))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    rows = list(csv.DictReader(io.StringIO(archive.read("accounts.csv").decode(), newline="")))
    assert sorted(r["name"] for r in rows) == sorted(FORMULAS)


def test_the_rejected_rows_of_an_import_are_neutralised(
    client_for, marketer, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    rows = "".join(
        f'{i},"{text}",{text}x,new,bad-date\n'
        for i, text in enumerate([*FORMULAS, "=HYPERLINK(1)"])
    )
    content = f"external_id,first_name,source,status,created_on\n{rows}".encode()
    client = client_for(marketer)
    client.post(
        reverse("import-new"),
        {
            "entity": "leads.csv",
            "file": SimpleUploadedFile("leads.csv", content),
            "skip_invalid": "on",
        },
    )
    upload = ImportUpload.objects.get()
    with django_capture_on_commit_callbacks(execute=False):
        client.post(
            reverse("import-detail", args=[upload.pk]),
            {f"map-{h}": t for h, t in upload.mapping.items()} | {"start": "1"},
        )
    assert import_upload_run(upload.pk) == "done"
    response = client.get(reverse("import-rejects", args=[upload.pk]))
    assert response.status_code == 200
    exported = cells(b"".join(response.streaming_content).decode())
    assert "'=HYPERLINK(1)" in exported and "'@SUM(A1)" in exported
    assert not [c for c in exported if dangerous(c)]
