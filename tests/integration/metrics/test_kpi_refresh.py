"""Snapshots kept fresh: triggers mark what changed, passes recompute it, nothing is lost
or duplicated (kpis.md; issue 7)."""

import signal
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Count, F

from crm.models import Account
from metrics.dashboards import forecast_accuracy_of
from metrics.models import ForecastFreeze, KpiDirty, KpiSnapshot
from metrics.services import (
    Scope,
    kpi_compute,
    kpi_recompute_day,
    kpi_refresh_dirty,
    org_today,
)
from pipeline.models import Lead, Opportunity
from pipeline.services import opportunity_update
from revops.models import FxRate
from revops.settings import BASE_DIR
from tests.conftest import subprocess_env
from tests.factories import AccountFactory, TeamFactory

from .world import assert_snapshots_fresh, deal, subscription


def _marks():
    keys = set(KpiDirty.objects.values_list("owner_key", flat=True))
    KpiDirty.objects.all().delete()
    return keys


@pytest.mark.django_db
def test_every_kind_of_write_marks_its_owner(rep, teammate, other_team_rep):
    _marks()  # the defaults reinstalled after an earlier test's flush marked everyone
    today = org_today()
    won = deal(rep, "Proposal", created_on=today)
    assert _marks() == {rep.pk}
    Opportunity.objects.filter(pk=won.pk).update(owner=teammate)  # bypasses signals
    assert _marks() == {rep.pk, teammate.pk}
    account = AccountFactory(owner=other_team_rep)
    assert _marks() == set()  # a new account has no revenue yet
    subscription(account, 10, today.isoformat())
    assert _marks() == {other_team_rep.pk}
    Account.objects.filter(pk=account.pk).update(name="Renamed")
    assert _marks() == set()  # the name counts nowhere
    Account.objects.filter(pk=account.pk).update(health_score=40)
    assert _marks() == {other_team_rep.pk}  # the health distribution
    Account.objects.filter(pk=account.pk).update(owner=rep)
    assert _marks() == {rep.pk, other_team_rep.pk}
    Lead.objects.create(source="web", status="new")
    assert _marks() == {KpiDirty.NO_OWNER}
    FxRate.objects.create(currency="EUR", rate_to_base="1.1", valid_from=today)
    assert _marks() == {KpiDirty.EVERYONE}
    rep.team = TeamFactory()
    rep.save()
    assert _marks() == {rep.pk}


@pytest.mark.django_db
def test_a_scoped_refresh_equals_a_full_recompute(rep, teammate, other_team_rep, manager):
    today = org_today()
    mine = deal(rep, "Proposal", amount=100, created_on=today, expected_close_on=today)
    deal(teammate, "Negotiation", amount=300, created_on=today, expected_close_on=today)
    deal(other_team_rep, "Closed won", amount=50, created_on=today, closed_on=today)
    kpi_recompute_day()
    Opportunity.objects.filter(pk=mine.pk).update(amount=Decimal("250.00"))
    result = kpi_refresh_dirty()
    assert result["scoped"] is True
    scopes = [
        Scope.org(),
        Scope.of_team(rep.team),
        Scope.of_team(other_team_rep.team),
        Scope.of_owner(rep),
        Scope.of_owner(teammate),
        Scope.of_owner(manager),
    ]
    assert_snapshots_fresh(today, scopes)
    assert kpi_refresh_dirty() is None  # nothing left to do
    # Changes one after another, in one team then the other: each scoped pass reuses the
    # sums of the teams that did not change from the pass before it, and still equals a
    # full recompute.
    for owner, amount in ((other_team_rep, 70), (rep, 90), (other_team_rep, 5), (teammate, 4)):
        deal(owner, "Proposal", amount=amount, created_on=today, expected_close_on=today)
        assert kpi_refresh_dirty()["scoped"] is True
        assert_snapshots_fresh(today, scopes)
    # A teammate moving team: the team totals follow, no record changed.
    teammate.team = other_team_rep.team
    teammate.save()
    kpi_refresh_dirty()
    assert_snapshots_fresh(today, scopes)


@pytest.mark.django_db
def test_forecasts_are_frozen_on_the_periods_first_day_and_never_overwritten(rep):
    today = org_today()
    first = today.replace(day=1)
    deal(rep, "Negotiation", amount=1000, created_on=first, expected_close_on=first)
    kpi_recompute_day(first)
    frozen = ForecastFreeze.objects.get(
        kpi="forecast_weighted", grain="month", calendar="gregorian", scope_kind="org"
    )
    assert frozen.value == Decimal("800.00")
    deal(rep, "Negotiation", amount=5000, created_on=first, expected_close_on=first)
    kpi_recompute_day(first)
    frozen.refresh_from_db()
    assert frozen.value == Decimal("800.00")
    # 1000 booked by the middle of the period: no accuracy yet, the period has not closed.
    deal(rep, "Closed won", amount=1000, created_on=first, closed_on=first)
    kpi_recompute_day(first + timedelta(days=10))
    [row] = forecast_accuracy_of("month", "gregorian", Scope.org(), [first])
    assert (row["forecast"], row["booked"], row["accuracy"]) == (Decimal("800.00"), None, None)
    # It closed with 1000 booked: the forecast was 80 % right.
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    kpi_recompute_day(last)
    [row] = forecast_accuracy_of("month", "gregorian", Scope.org(), [first])
    assert row["accuracy"] == Decimal("0.8000")


@pytest.mark.django_db(transaction=True)
@pytest.mark.celery_worker
def test_a_change_reaches_the_snapshots_through_a_real_worker(celery_worker_process, rep):
    today = org_today()
    opportunity = deal(rep, "Proposal", amount=100, created_on=today)
    kpi_recompute_day()
    opportunity_update(
        opportunity_id=opportunity.pk,
        data={"amount": Decimal("4321.00")},
        by=rep,
        expected_version=opportunity.version,
    )
    deadline = time.monotonic() + 30
    value = None
    while time.monotonic() < deadline:
        value = (
            KpiSnapshot.objects.filter(
                kpi="open_pipeline", as_of=today, grain="month", scope_kind="org"
            )
            .values_list("value", flat=True)
            .first()
        )
        if value == Decimal("4321.00"):
            break
        time.sleep(0.2)
    assert value == Decimal("4321.00")
    assert not KpiDirty.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_backfill_killed_midway_and_rerun_leaves_correct_unduplicated_snapshots(rep):
    today = org_today()
    start = today - timedelta(days=40)
    for n in range(40):
        day = start + timedelta(days=n)
        deal(rep, "Closed won", amount=100 + n, created_on=day, closed_on=day)
    command = [
        sys.executable,
        "manage.py",
        "kpi_backfill",
        "--from",
        start.isoformat(),
        "--to",
        today.isoformat(),
    ]
    env = subprocess_env()
    process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stderr=subprocess.PIPE, text=True)
    process.stderr.readline()  # the first day is written…
    process.stderr.readline()
    process.send_signal(signal.SIGKILL)  # …and the run dies in the middle of another
    process.wait()
    partial = KpiSnapshot.objects.values("as_of").distinct().count()
    assert 0 < partial < 41
    subprocess.run(command, cwd=BASE_DIR, env=env, check=True, capture_output=True)
    duplicates = (
        KpiSnapshot.objects.values(
            "kpi", "grain", "calendar", "period_start", "as_of", "scope_kind", "scope_id"
        )
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not duplicates.exists()
    assert KpiSnapshot.objects.values("as_of").distinct().count() == 41
    for day in (start, start + timedelta(days=17), today):
        assert_snapshots_fresh(day, [Scope.org(), Scope.of_owner(rep)])


@pytest.mark.django_db
def test_an_import_marks_the_owners_of_what_it_brought(tmp_path, rep):
    from revops.dataset.importer import import_dataset

    _marks()  # the defaults reinstalled after an earlier test's flush marked everyone
    (tmp_path / "leads.csv").write_text(
        "external_id,source,status,owner_email,created_on\n"
        f"L-1,web,new,{rep.email},2026-01-05\n"
        "L-2,web,new,,2026-01-06\n"
    )
    report = import_dataset(tmp_path)
    assert not report.problems
    assert _marks() == {rep.pk, KpiDirty.NO_OWNER}


@pytest.mark.django_db(transaction=True)
def test_concurrent_passes_never_double_write(rep, teammate):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    today = org_today()
    for n in range(20):
        deal(rep if n % 2 else teammate, "Proposal", amount=100 + n, created_on=today)

    def run(n):
        try:
            if n % 2:
                return kpi_recompute_day()
            Opportunity.objects.filter(owner=rep).update(amount=F("amount") + 1)
            return kpi_refresh_dirty()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(run, range(8)))
    kpi_refresh_dirty()
    duplicates = (
        KpiSnapshot.objects.values(
            "kpi", "grain", "calendar", "period_start", "as_of", "scope_kind", "scope_id"
        )
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not duplicates.exists()
    assert not KpiDirty.objects.exists()
    assert_snapshots_fresh(today, [Scope.org(), Scope.of_owner(rep), Scope.of_team(rep.team)])


@pytest.mark.django_db
def test_the_kpis_read_the_refreshed_inputs_and_never_miss_a_pending_change(
    rep, other_team_rep, django_assert_max_num_queries
):
    today = org_today()
    deal(rep, "Proposal", amount=100, created_on=today, expected_close_on=today)
    won = deal(other_team_rep, "Closed won", amount=50, created_on=today, closed_on=today)
    kpi_recompute_day()
    scopes = [Scope.org(), Scope.of_team(rep.team), Scope.of_owner(other_team_rep)]
    for scope in scopes:
        # Nothing waits for the refresh: the stored inputs answer, in two queries, exactly
        # what the records give.
        with django_assert_max_num_queries(2):
            fast = kpi_compute(today, "month", "gregorian", scope)
        assert fast == _from_records(today, scope)
    assert kpi_compute(today, "month", "gregorian", Scope.org())["bookings"] == 50
    # A change the refresh has not taken yet is in the numbers all the same.
    Opportunity.objects.filter(pk=won.pk).update(amount=Decimal("80.00"))
    assert kpi_compute(today, "month", "gregorian", Scope.org())["bookings"] == 80
    kpi_refresh_dirty()
    assert kpi_compute(today, "month", "gregorian", Scope.org())["bookings"] == 80


def _from_records(day, scope):
    from metrics import kpis
    from metrics.periods import current_period
    from metrics.selectors import kpi_inputs

    key = "month-gregorian"
    per_owner = kpi_inputs(day, {key: current_period("month", day, "gregorian")}, scope.owners())
    total = kpis.empty_inputs()
    for inputs in per_owner[key].values():
        kpis.add_inputs(total, inputs)
    return kpis.evaluate(total)
