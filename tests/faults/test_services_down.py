"""Redis stopped while people work, Postgres restarted under the running app (issue 11)."""

import re
import time
from decimal import Decimal

import pytest
import requests
from django.db import connection

from crm.models import Account
from metrics.models import KpiDirty
from metrics.services import kpi_recompute_day, org_today
from pipeline.models import Opportunity, Stage
from revops.models import User

from .conftest import fresh_snapshots, snapshot_rows, timed, wait_for

pytestmark = pytest.mark.faults

REP = "rep@daramad.example"
MANAGER = "manager@daramad.example"


def _pages(deal: Opportunity) -> list[str]:
    return ["/", "/accounts/", f"/deals/{deal.pk}/", "/deals/", "/board/", "/dashboards/"]


def _assert_pages_answer(browser, pages: list[str], limit: float = 5) -> None:
    """Each page answers 200 within `limit` seconds, with the blocks the home page loads
    right after it (htmx)."""
    for page in pages:
        with timed(limit, page):
            response = browser.get(page)
        assert response.status_code == 200, f"{page}: {response.status_code}"
        for block in re.findall(r'hx-get="(/home/[^"]+)"', response.text):
            with timed(limit, block):
                answer = browser.get(block)
            assert answer.status_code == 200, f"{block}: {answer.status_code}"


def _open_deal(owner: User) -> Opportunity:
    return (
        Opportunity.objects.filter(owner=owner, status="open", stage__outcome="open")
        .order_by("pk")
        .first()
    )


def _next_open_stage(deal: Opportunity) -> Stage:
    return (
        Stage.objects.filter(
            pipeline=deal.pipeline, outcome="open", position__gt=deal.stage.position
        )
        .order_by("position")
        .first()
        or Stage.objects.filter(pipeline=deal.pipeline, outcome="open")
        .exclude(pk=deal.stage_id)
        .first()
    )


def _writes(browser, rep: User) -> dict:
    """A new deal, an edited amount and a stage move through the pages; what was sent."""
    account = Account.objects.filter(owner=rep).order_by("pk").first()
    stage = Stage.objects.filter(outcome="open").order_by("pipeline", "position").first()
    name = f"Outage deal {time.monotonic_ns()}"
    with timed(10, "creating a deal"):
        created = browser.submit(
            "/deals/new/",
            {
                "name": name,
                "account": str(account.pk),
                "owner": str(rep.pk),
                "stage": str(stage.pk),
                "amount": "4321.00",
                "currency": "USD",
                "expected_close_on": org_today().isoformat(),
            },
            containing="amount",
        )
    assert created.status_code == 302, created.text[-3000:]
    edited_deal = _open_deal(rep)
    with timed(10, "editing a deal"):
        edited = browser.submit(
            f"/deals/{edited_deal.pk}/edit/", {"amount": "98765.00"}, containing="amount"
        )
    assert edited.status_code == 302, edited.text[-3000:]
    moved_deal = Opportunity.objects.get(pk=edited_deal.pk)
    target = _next_open_stage(moved_deal)
    with timed(10, "moving a deal"):
        moved = browser.post(
            f"/deals/{moved_deal.pk}/move/",
            {"stage": str(target.pk), "version": str(moved_deal.version)},
        )
    assert moved.status_code == 302, moved.text[-3000:]
    return {"name": name, "edited": edited_deal.pk, "stage": target.pk}


def _assert_committed(sent: dict) -> None:
    created = Opportunity.objects.get(name=sent["name"])
    assert created.amount == Decimal("4321.00")
    edited = Opportunity.objects.get(pk=sent["edited"])
    assert (edited.amount, edited.stage_id) == (Decimal("98765.00"), sent["stage"])


def test_with_redis_stopped_pages_answer_writes_commit_and_the_sweep_catches_up(fault_app):
    today = org_today()
    kpi_recompute_day()
    assert fresh_snapshots(today) == snapshot_rows(today)
    rep = User.objects.get(email=REP)
    pages = _pages(_open_deal(rep))
    fault_app.start_web()
    fault_app.start_worker()
    fault_app.start_beat()
    browser = fault_app.user(REP)  # signed in while Redis runs: the session is cached there
    _assert_pages_answer(browser, pages)

    fault_app.stack.redis.stop()
    outage = time.monotonic()
    _assert_pages_answer(browser, pages)
    # Someone who signs in during the outage gets in and works too.
    manager = fault_app.user(MANAGER)
    _assert_pages_answer(manager, ["/", "/dashboards/", "/deals/"])
    sent = _writes(browser, rep)
    _assert_committed(sent)
    # The refresh could not be enqueued: the marks wait in Postgres, the dashboards still
    # show the numbers from before the writes.
    assert KpiDirty.objects.exists()
    expected = fresh_snapshots(today)
    assert snapshot_rows(today) != expected
    _assert_pages_answer(browser, pages)

    fault_app.stack.redis.start()  # empty: Redis keeps nothing on disk here
    back = time.monotonic()
    # Beat takes its lock again and sends the minute's sweep; the worker reconnects and
    # runs it: the snapshots catch up with every write of the outage.
    wait_for(lambda: not KpiDirty.objects.exists(), 90, "the sweep claiming the marks", 0.5)
    wait_for(lambda: snapshot_rows(today) == expected, 30, "the snapshots caught up", 0.5)
    print(f"outage {back - outage:.1f} s; caught up {time.monotonic() - back:.1f} s after")
    _assert_pages_answer(browser, pages)


def test_after_a_postgres_restart_the_running_app_and_worker_answer_again(fault_app):
    today = org_today()
    kpi_recompute_day()
    rep = User.objects.get(email=REP)
    pages = _pages(_open_deal(rep))
    web = fault_app.start_web()
    worker = fault_app.start_worker()
    browser = fault_app.user(REP)
    # Every gunicorn worker holds a database connection of its own (CONN_MAX_AGE).
    for _round in range(2):
        _assert_pages_answer(browser, pages)

    connection.close()
    restart = time.monotonic()
    fault_app.stack.postgres.stop()
    # What a load balancer sees meanwhile (no session: no user to load).
    assert requests.get(f"{fault_app.base_url}/healthz", timeout=10).status_code == 503
    fault_app.stack.postgres.start()
    print(f"Postgres down for {time.monotonic() - restart:.1f} s")

    # The very first requests after the restart answer: no retry, no restart of the app.
    for _round in range(2):
        _assert_pages_answer(browser, pages)
    healthz = requests.get(f"{fault_app.base_url}/healthz", timeout=10)
    assert healthz.json() == {"database": "ok", "broker": "ok"}
    sent = _writes(browser, rep)
    _assert_committed(sent)
    # The worker's connection died with the server too: the refresh the writes enqueued
    # runs on a new one.
    expected = fresh_snapshots(today)
    wait_for(lambda: snapshot_rows(today) == expected, 60, "the refresh after the restart", 0.5)
    assert not KpiDirty.objects.exists()
    assert web.poll() is None and worker.poll() is None
