"""Many people changing one deal at once, through the API and the board, against Postgres:
every change lands or is refused with a conflict, none is lost; the audit history and the
stage ledger tell the same story as the deal; KPI snapshots end equal to a recompute."""

import itertools
import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token

from metrics.kpis import stored
from metrics.services import Scope, kpi_recompute_day, kpi_refresh_dirty, org_today
from pipeline.models import Opportunity, OpportunityEvent, StageChange
from tests.factories import AccountFactory, OpportunityFactory, default_stages
from tests.integration.metrics.world import assert_snapshots_fresh

WRITERS = 12
ROUNDS = 6
INCREMENTS = 4  # per writer, retried on conflict until each lands


def _in_threads(count, work):
    """Run work(i) in `count` threads, each on its own database connection; re-raise the
    first error."""
    errors = []

    def run(i):
        try:
            work(i)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads), "a writer hung (deadlock?)"
    if errors:
        raise errors[0]


class Writer:
    """One person at their own browser or API client."""

    def __init__(self, user):
        self.api = Client(
            HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}"
        )
        self.browser = Client()
        self.browser.force_login(user)

    def read(self, pk):
        body = self.api.get(f"/api/v1/opportunities/{pk}/").json()
        return body["version"], Decimal(body["amount"]), body["stage"]

    def edit_amount(self, pk, amount, version):
        response = self.api.patch(
            f"/api/v1/opportunities/{pk}/",
            {"amount": str(amount), "expected_version": version},
            content_type="application/json",
        )
        return response.status_code, response.json().get("version")

    def api_move(self, pk, stage, version, **extra):
        response = self.api.post(
            f"/api/v1/opportunities/{pk}/move/",
            {"stage": stage.pk, "expected_version": version, **extra},
            content_type="application/json",
        )
        return response.status_code, response.json().get("version")

    def board_move(self, pk, stage, version):
        response = self.browser.post(
            f"/deals/{pk}/move/",
            {"stage": stage.pk, "version": version, "swap": "card"},
            HTTP_HX_REQUEST="true",
        )
        return response.status_code, None


@pytest.mark.django_db(transaction=True)
def test_parallel_moves_and_edits_of_one_deal_lose_nothing(
    rep, teammate, manager, admin_user, other_team_rep
):
    stages = default_stages()
    open_stages = [stage for stage in stages.values() if not stage.is_closed]
    today = org_today()
    deal = OpportunityFactory(
        account=AccountFactory(owner=rep),
        owner=rep,
        stage=open_stages[0],
        amount=Decimal("1000.00"),
        created_on=today,
        expected_close_on=today,
    )
    # Someone else's deal, to show the storm's refresh leaves other scopes right too.
    OpportunityFactory(owner=other_team_rep, stage=open_stages[1], amount=500, created_on=today)
    kpi_recompute_day()
    start_version = Opportunity.objects.get(pk=deal.pk).version
    writers = [Writer(user) for user in (rep, manager, admin_user) * (WRITERS // 3)]
    outcomes = Counter()
    versions_granted = []
    lock = threading.Lock()

    def record(status, version):
        with lock:
            outcomes[status] += 1
            if status == 200 and version is not None:
                versions_granted.append(version)

    # 1. Rounds: everyone read the same version, then all submit at once. One wins.
    barrier = threading.Barrier(WRITERS)
    for round_ in range(ROUNDS):
        version, _amount, current = writers[0].read(deal.pk)
        targets = [stage for stage in open_stages if stage.pk != current]

        def submit(i, version=version, targets=targets, round_=round_):
            writer, target = writers[i], targets[i % len(targets)]
            barrier.wait()
            if i % 3 == 0:
                record(*writer.api_move(deal.pk, target, version))
            elif i % 3 == 1:
                record(*writer.edit_amount(deal.pk, 2000 + 100 * round_ + i, version))
            else:
                record(*writer.board_move(deal.pk, target, version))

        _in_threads(WRITERS, submit)
    assert outcomes == {200: ROUNDS, 409: ROUNDS * (WRITERS - 1)}

    # 2. Everyone adds 1 to the amount, re-reading after each conflict (as the app asks),
    # while a worker refreshes KPI snapshots from the dirty marks.
    base = Opportunity.objects.get(pk=deal.pk).amount
    conflicts = Counter()
    writing = threading.Event()

    def refresher():
        while writing.is_set():
            kpi_refresh_dirty()
        connection.close()

    def add_one(i):
        writer = writers[i]
        for _ in range(INCREMENTS):
            while True:
                version, amount, _stage = writer.read(deal.pk)
                status, granted = writer.edit_amount(deal.pk, amount + 1, version)
                if status == 200:
                    record(status, granted)
                    break
                assert status == 409, status
                with lock:
                    conflicts[i] += 1

    writing.set()
    kpis = threading.Thread(target=refresher)
    kpis.start()
    try:
        _in_threads(WRITERS, add_one)
    finally:
        writing.clear()
        kpis.join(120)

    # 3. All try to close it as won at once: once.
    version, _amount, _stage = writers[0].read(deal.pk)
    won = stages["Closed won"]
    won_by = []

    def close_won(i):
        status, granted = writers[i].api_move(deal.pk, won, version, closed_on=today.isoformat())
        record(status, granted)
        if status == 200:
            won_by.append(i)

    _in_threads(WRITERS, close_won)
    assert len(won_by) == 1

    final = Opportunity.objects.get(pk=deal.pk)
    landed = ROUNDS + WRITERS * INCREMENTS + 1
    # Every change that answered 200 is in the deal: the version counted each once,
    # and the increments all add up.
    assert outcomes[200] == landed
    assert set(outcomes) == {200, 409}
    assert final.version == start_version + landed
    # No two landed API changes were granted the same version (the board answers a card).
    assert len(set(versions_granted)) == len(versions_granted) >= landed - ROUNDS
    assert set(versions_granted) <= set(range(start_version + 1, final.version + 1))
    assert final.amount == base + WRITERS * INCREMENTS
    assert final.stage == won and final.status == "won"
    assert sum(conflicts.values()) > 0  # the writers did collide

    # The audit history has one row per landed change, in order, ending in the deal.
    events = list(OpportunityEvent.objects.filter(pgh_obj_id=deal.pk).order_by("pgh_id"))
    changes = events[1:]  # the first is the insert
    assert len(changes) == landed
    increments = [event.amount for event in changes[ROUNDS : ROUNDS + WRITERS * INCREMENTS]]
    assert increments == [base + n for n in range(1, WRITERS * INCREMENTS + 1)]
    last = events[-1]
    assert (last.amount, last.stage_id, last.status) == (final.amount, won.pk, "won")

    # The stage ledger has one row per move, in the audit's order, from the first stage
    # to the last.
    ledger = list(StageChange.objects.filter(opportunity=deal).order_by("pk"))
    stage_events = [
        event for before, event in itertools.pairwise(events) if event.stage_id != before.stage_id
    ]
    assert [row.to_stage_id for row in ledger] == [event.stage_id for event in stage_events]
    assert ledger[0].from_stage_id == open_stages[0].pk
    for before, after in itertools.pairwise(ledger):
        assert after.from_stage_id == before.to_stage_id
    assert ledger[-1].to_stage_id == won.pk

    # After the storm, one more refresh: the snapshots equal a recompute from the records.
    kpi_refresh_dirty()
    rows = assert_snapshots_fresh(
        today,
        [
            Scope.of_team(rep.team),
            Scope.of_team(other_team_rep.team),
            Scope.of_owner(rep),
            Scope.of_owner(other_team_rep),
            Scope.org(),
        ],
    )
    assert rows["bookings"] == stored("bookings", final.amount)
