"""A Celery worker killed with SIGKILL in the middle of its work (issue 11): once a new
worker runs, the results are those of an uninterrupted run, and nothing is doubled."""

import contextlib
import io
import time
import zipfile
from datetime import date

import psycopg
import pytest
from django.db import connection, transaction
from django.db.models import Count, F

from crm.models import Account, Contact
from metrics.models import KpiDirty
from metrics.services import KPI_LOCK, kpi_recompute_day, org_today
from metrics.tasks import kpi_recompute_day as kpi_recompute_day_task
from pipeline.models import Lead, Opportunity, Stage
from revops.jobs import JOB_LOCK_NAMESPACE
from revops.models import ImportUpload, Job

from .conftest import fresh_snapshots, snapshot_rows, wait_for

pytestmark = pytest.mark.faults


def _backend_holding(fault_app, namespace: int, key: int) -> dict | None:
    """The session that holds the advisory lock (namespace, key), seen from a connection
    of its own: its pid, whether it waits for a table lock, and its statement."""
    with psycopg.connect(fault_app.env["DATABASE_URL"], autocommit=True) as observer:
        row = observer.execute(
            """
            SELECT a.pid, a.wait_event_type = 'Lock', a.query
              FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted
               AND l.classid = %s AND l.objid = %s
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """,
            [namespace, key],
        ).fetchone()
    return None if row is None else {"pid": row[0], "waiting": row[1], "query": row[2]}


@contextlib.contextmanager
def writes_held_back(table: str):
    """Every write to `table` waits until the block ends (a SHARE lock in a transaction
    of this process): work that reaches it stops there, in the middle of its own
    transaction, for as long as the test needs."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {table} IN SHARE MODE")
        yield


def _waiting_at(fault_app, lock: tuple, table: str):
    """The worker's session that holds `lock` once it waits to write into `table`."""
    held = _backend_holding(fault_app, *lock)
    return held if held and held["waiting"] and table in held["query"] else None


def test_a_snapshot_pass_killed_midway_is_redone_whole_by_the_next_worker(fault_app):
    today = org_today()
    kpi_recompute_day()  # the snapshots as they stood before the change below
    before = snapshot_rows(today)
    assert before
    # A change the dashboards must show once the nightly pass has run: every open deal
    # doubles, a tenth of them is won today.
    open_deals = Opportunity.objects.filter(closed_on=None)
    assert open_deals.count() > 100
    open_deals.update(amount=F("amount") * 2)
    won_stage = Stage.objects.filter(outcome=Stage.Outcome.WON).first()
    won = list(open_deals.order_by("pk").values_list("pk", flat=True)[::10])
    Opportunity.objects.filter(pk__in=won).update(stage=won_stage, status="won", closed_on=today)
    expected = fresh_snapshots(today)
    assert expected.keys() == before.keys()
    assert expected != before

    worker = fault_app.start_worker("worker-1")
    # The pass writes this day's snapshots in its transaction, then stops at the
    # breakdowns: that is when the worker dies.
    with writes_held_back("metrics_kpibreakdown"):
        fault_app.enqueue(kpi_recompute_day_task)
        busy = wait_for(
            lambda: _waiting_at(fault_app, KPI_LOCK, "metrics_kpibreakdown"),
            60,
            "the snapshot pass past its snapshots",
            interval=0.05,
        )
        fault_app.kill(worker)
    killed_at = time.monotonic()
    # Postgres ends the dead worker's session and rolls its transaction back: the pages
    # still show the whole previous pass, never half of the new one.
    wait_for(
        lambda: _backend_holding(fault_app, *KPI_LOCK) is None, 10, "the dead pass's lock freed"
    )
    assert snapshot_rows(today) == before
    assert KpiDirty.objects.exists()  # the marks of the change wait for the next pass

    fault_app.start_worker("worker-2")
    wait_for(lambda: snapshot_rows(today) != before, 60, "the pass redone by the new worker")
    wait_for(lambda: _backend_holding(fault_app, *KPI_LOCK) is None, 30, "the redone pass finished")
    print(f"redone {time.monotonic() - killed_at:.1f} s after the kill (pid {busy['pid']})")
    assert snapshot_rows(today) == expected
    assert not KpiDirty.objects.exists()


# --- An import -----------------------------------------------------------------------------

ACCOUNTS, CONTACTS_EACH, LEADS = 4000, 3, 40000


def _dataset_zip() -> bytes:
    """A dataset folder, zipped: accounts, their contacts, and a long leads file."""
    accounts = ["external_id,name,domain,owner_email,created_on"]
    accounts += [
        f"FLT-A{n},Fault Test {n},fault{n}.example,rep@daramad.example,2026-01-{n % 28 + 1:02d}"
        for n in range(ACCOUNTS)
    ]
    contacts = ["external_id,account_external_id,first_name,last_name,email,created_on"]
    contacts += [
        f"FLT-C{n}-{k},FLT-A{n},Contact{k},Of {n},c{k}@fault{n}.example,2026-02-01"
        for n in range(ACCOUNTS)
        for k in range(CONTACTS_EACH)
    ]
    leads = ["external_id,first_name,email,company,source,status,created_on"]
    leads += [
        f"FLT-L{n},Lead{n},lead{n}@fault.example,Company {n % 900},webinar,new,2026-03-01"
        for n in range(LEADS)
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("accounts.csv", "\n".join(accounts) + "\n")
        archive.writestr("contacts.csv", "\n".join(contacts) + "\n")
        archive.writestr("leads.csv", "\n".join(leads) + "\n")
    return buffer.getvalue()


def _imported() -> dict:
    return {
        "accounts": Account.objects.filter(external_id__startswith="FLT-").count(),
        "contacts": Contact.objects.filter(external_id__startswith="FLT-").count(),
        "leads": Lead.objects.filter(external_id__startswith="FLT-").count(),
    }


def test_an_import_killed_midway_is_imported_once_by_the_next_worker(fault_app):
    fault_app.start_web()
    worker = fault_app.start_worker("worker-1")
    admin = fault_app.user("admin@daramad.example")
    response = admin.session.post(
        f"{fault_app.base_url}/imports/",
        data={
            "csrfmiddlewaretoken": admin.session.cookies["csrftoken"],
            "entity": "zip",
            "skip_invalid": "on",
        },
        files={"file": ("dataset.zip", _dataset_zip(), "application/zip")},
        allow_redirects=False,
        timeout=60,
    )
    assert response.status_code == 302, response.text[-2000:]
    page = response.headers["Location"]
    # The import writes the accounts, then stops at the contacts: that is when the worker
    # dies.
    with writes_held_back("crm_contact"):
        assert admin.post(page, {"start": "1"}).status_code == 302
        upload = ImportUpload.objects.get(original_name="dataset.zip")
        job_lock = (JOB_LOCK_NAMESPACE, upload.job_id)
        busy = wait_for(
            lambda: _waiting_at(fault_app, job_lock, "crm_contact"),
            90,
            "the import past its accounts",
            interval=0.05,
        )
        fault_app.kill(worker)
    killed_at = time.monotonic()
    wait_for(
        lambda: _backend_holding(fault_app, *job_lock) is None, 10, "the dead import's lock freed"
    )
    # All or nothing: not one row of the half-done import is in the database.
    assert _imported() == {"accounts": 0, "contacts": 0, "leads": 0}
    upload.refresh_from_db()
    assert upload.status == ImportUpload.Status.RUNNING
    assert admin.get(page).status_code == 200

    fault_app.start_worker("worker-2")

    def finished():
        upload.refresh_from_db()
        return upload.status != ImportUpload.Status.RUNNING

    wait_for(finished, 120, "the import finished by the new worker", interval=0.5)
    print(f"imported {time.monotonic() - killed_at:.1f} s after the kill (pid {busy['pid']})")
    assert upload.status == ImportUpload.Status.DONE, upload.result
    job = Job.objects.get(pk=upload.job_id)
    assert (job.status, job.attempts) == (Job.Status.DONE, 2)
    assert upload.result["committed"] is True
    assert upload.result["problem_count"] == 0
    assert upload.result["counts"] == {
        "accounts.csv": [ACCOUNTS, ACCOUNTS, 0],
        "contacts.csv": [ACCOUNTS * CONTACTS_EACH] * 2 + [0],
        "leads.csv": [LEADS, LEADS, 0],
    }
    # Every row exactly once, every contact on its own account.
    assert _imported() == {
        "accounts": ACCOUNTS,
        "contacts": ACCOUNTS * CONTACTS_EACH,
        "leads": LEADS,
    }
    for model in (Account, Contact, Lead):
        repeated = (
            model.objects.filter(external_id__startswith="FLT-")
            .values("external_id")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
        )
        assert not repeated.exists(), model
    misplaced = Contact.objects.filter(external_id__startswith="FLT-C").exclude(
        account__external_id__startswith="FLT-A"
    )
    assert not misplaced.exists()
    sample = Contact.objects.select_related("account").get(external_id="FLT-C1234-2")
    assert sample.account.external_id == "FLT-A1234"
    assert Account.objects.get(external_id="FLT-A77").owner.email == "rep@daramad.example"
    assert Account.objects.get(external_id="FLT-A77").created_on == date(2026, 1, 22)
    # The page of the upload tells the admin it is done.
    assert admin.get(page).status_code == 200
