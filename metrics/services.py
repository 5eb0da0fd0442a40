"""Writes of the metrics app: quotas, and KPI snapshots kept fresh.

How snapshots stay correct and prompt (shared/spec/kpis.md):
- Database triggers (migration 0003) add a `KpiDirty` row for every owner whose KPI inputs
  change, in the transaction of the change, whatever the path.
- `kpi_refresh_dirty()` (Celery queue `kpi`, enqueued after commit and swept by beat every
  minute) claims those rows and recomputes today's snapshots of the current periods for
  the owners concerned, every team and the organisation; the first run of a new day, or a
  change that touches everyone, recomputes everyone.
- `kpi_snapshot_pass()` computes one day for everyone (nightly, and `kpi_backfill` for past
  days); `kpi_report()` computes one scope on demand (the `kpis` command and API).
- Passes run one at a time (a Postgres advisory lock) and upsert on the snapshot's unique
  key, so a rerun or a killed run never leaves duplicates.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from django.db import OperationalError, connection, transaction
from django.db.models import Exists, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from revops.bulk import copy_upsert
from revops.models import Organisation, Team, User

from . import kpis
from .breakdowns import BREAKDOWNS, add_breakdowns, breakdown_inputs, serialise
from .models import ForecastFreeze, KpiDirty, KpiInputs, KpiSnapshot, Quota
from .periods import CALENDARS, GRAINS, current_period
from .selectors import kpi_inputs

log = logging.getLogger(__name__)

# Advisory lock (namespace, key) held by every snapshot pass.
KPI_LOCK = (0x10C, 1)
FORECAST_KPIS = ("forecast_commit", "forecast_best_case", "forecast_weighted")


@transaction.atomic
def quotas_save(cells: dict) -> int:
    """Set quotas from a grid: {(user_id, start, end): Decimal | None}; None removes the
    quota. Returns how many rows changed."""
    changed = 0
    existing = {
        (q.user_id, q.period_start, q.period_end): q
        for q in Quota.objects.select_for_update().filter(user_id__in={key[0] for key in cells})
    }
    for key, amount in cells.items():
        current = existing.get(key)
        if amount is None:
            if current is not None:
                current.delete()
                changed += 1
        elif current is None:
            Quota.objects.create(
                user_id=key[0], period_start=key[1], period_end=key[2], amount=amount
            )
            changed += 1
        elif current.amount != Decimal(amount):
            current.amount = amount
            current.save(update_fields=["amount"])
            changed += 1
    return changed


# --- Scopes and periods ----------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Whom a KPI is about: the organisation, a team (its members today) or one owner."""

    kind: str
    id: int = 0
    name: str = ""

    @classmethod
    def org(cls):
        return cls(KpiSnapshot.ScopeKind.ORG)

    @classmethod
    def of_team(cls, team: Team):
        return cls(KpiSnapshot.ScopeKind.TEAM, team.pk, team.name)

    @classmethod
    def of_owner(cls, user: User):
        return cls(KpiSnapshot.ScopeKind.OWNER, user.pk, user.email)

    def owners(self) -> list | None:
        """The user ids whose records make up the scope; None for everyone's (and nobody's)."""
        if self.kind == KpiSnapshot.ScopeKind.ORG:
            return None
        if self.kind == KpiSnapshot.ScopeKind.TEAM:
            return list(User.objects.filter(team_id=self.id).values_list("pk", flat=True))
        return [self.id]

    def owned(self, field: str = "owner") -> Q:
        """A filter on `field` (a user foreign key) for the scope's records, as a join
        rather than a list of ids."""
        if self.kind == KpiSnapshot.ScopeKind.ORG:
            return Q()
        if self.kind == KpiSnapshot.ScopeKind.TEAM:
            return Q(**{f"{field}__team_id": self.id})
        return Q(**{f"{field}_id": self.id})

    def as_json(self) -> dict:
        if self.kind == KpiSnapshot.ScopeKind.TEAM:
            return {"kind": "team", "name": self.name}
        if self.kind == KpiSnapshot.ScopeKind.OWNER:
            return {"kind": "owner", "email": self.name}
        return {"kind": "org"}


def org_today(organisation: Organisation | None = None) -> date:
    """Today in the organisation's time zone."""
    organisation = organisation or Organisation.get()
    return datetime.now(ZoneInfo(organisation.timezone)).date()


def period_key(grain: str, calendar: str) -> str:
    return f"{grain}-{calendar}"


def periods_of(as_of: date, calendars) -> dict:
    """{"month-gregorian": (first day, last day), ...}: the periods containing `as_of`."""
    return {
        period_key(grain, calendar): current_period(grain, as_of, calendar)
        for calendar in calendars
        for grain in GRAINS
    }


def snapshot_calendars() -> list[str]:
    """The calendars snapshots are kept in: the organisation's and any a user reads in."""
    chosen = set(User.objects.exclude(calendar="").values_list("calendar", flat=True).distinct())
    chosen.add(Organisation.get().calendar)
    return [calendar for calendar in CALENDARS if calendar in chosen]


# --- On demand: one scope, any day -----------------------------------------------------------


def kpi_compute(as_of: date, grain: str, calendar: str, scope: Scope) -> dict:
    """Every KPI of the scope for the period of `grain` containing `as_of`, exact: from the
    inputs the refresh keeps when they are up to date, else from the records."""
    key = period_key(grain, calendar)
    owners = scope.owners()
    per_owner = _clean_inputs(as_of, key, owners)
    if per_owner is None:
        periods = {key: current_period(grain, as_of, calendar)}
        per_owner = list(kpi_inputs(as_of, periods, owners)[key].values())
    total = kpis.empty_inputs()
    for inputs in per_owner:
        kpis.add_inputs(total, inputs)
    return kpis.evaluate(total)


def _clean_inputs(as_of: date, key: str, owners: list | None) -> list | None:
    """The owners' stored inputs of `as_of` for period `key`, when no change waits for the
    refresh; else None. Every write that changes an input marks its owner dirty in its own
    transaction, and the refresh stores the inputs and clears the marks in one: so with no
    mark, in one snapshot, the stored inputs are those the records give, at no cost."""
    rows = KpiInputs.objects.filter(as_of=as_of).exclude(Exists(KpiDirty.objects.all()))
    if owners is not None:
        keys = [KpiDirty.NO_OWNER if owner is None else owner for owner in owners]
        rows = rows.filter(owner_key__in=keys)
    found = list(rows.values_list("inputs", flat=True))
    if not found or any(key not in inputs for inputs in found):
        return None
    return [_deserialise(inputs[key]) for inputs in found]


def kpi_report(as_of: date, grain: str, calendar: str, scope: Scope, *, store: bool = True) -> dict:
    """The spec's output object for one scope, computed now; the snapshot is stored too."""
    start, last = current_period(grain, as_of, calendar)
    values = kpi_compute(as_of, grain, calendar, scope)
    if store:
        _snapshots_upsert(
            _snapshot_rows(values, grain, calendar, start, as_of, scope, timezone.now())
        )
    return {
        "as_of": as_of.isoformat(),
        "period": {
            "grain": grain,
            "calendar": calendar,
            "start": start.isoformat(),
            "end": as_of.isoformat(),
            "last_day": last.isoformat(),
        },
        "scope": scope.as_json(),
        "currency": Organisation.get().base_currency,
        "kpis": {key: kpis.present(key, value) for key, value in values.items()},
    }


SNAPSHOT_COLUMNS = (
    "kpi",
    "grain",
    "calendar",
    "period_start",
    "as_of",
    "scope_kind",
    "scope_id",
    "value",
    "formula_version",
    "computed_at",
)


def _snapshot_rows(values, grain, calendar, start, as_of, scope, now) -> list[tuple]:
    return [
        (
            key,
            grain,
            calendar,
            start,
            as_of,
            scope.kind,
            scope.id,
            kpis.stored(key, value),
            kpis.FORMULA_VERSION,
            now,
        )
        for key, value in values.items()
    ]


SNAPSHOT_KEY = ("scope_kind", "scope_id", "grain", "calendar", "kpi", "as_of", "period_start")
BREAKDOWN_COLUMNS = (
    "name",
    "grain",
    "calendar",
    "period_start",
    "as_of",
    "scope_kind",
    "scope_id",
    "data",
    "computed_at",
)
BREAKDOWN_KEY = ("scope_kind", "scope_id", "grain", "calendar", "name", "as_of", "period_start")


def _snapshots_upsert(rows: list[tuple]) -> None:
    copy_upsert("metrics_kpisnapshot", SNAPSHOT_COLUMNS, SNAPSHOT_KEY, rows)


# --- Passes: every scope of one day ----------------------------------------------------------


def _owner_key(owner_id) -> int:
    return KpiDirty.NO_OWNER if owner_id is None else owner_id


def _serialise(inputs: dict) -> dict:
    return {
        name: (
            {str(months): str(amount) for months, amount in value.items()}
            if name == "acv_by_months"
            else str(value)
        )
        for name, value in inputs.items()
    }


def _deserialise(data: dict) -> dict:
    inputs = kpis.empty_inputs()
    for name, value in data.items():
        if name == "acv_by_months":
            inputs[name] = {int(months): Fraction(amount) for months, amount in value.items()}
        else:
            inputs[name] = Fraction(value)
    return inputs


# The stored inputs as last read by this process: {owner key: (row version, {period:
# inputs}, {period: breakdowns})} of one day. A scoped pass re-reads only the rows written
# since (by itself or another worker): parsing 500 owners' JSON into exact fractions on
# every pass took longer than querying the changed owner's records.
_stored_memo: dict = {"as_of": None, "rows": {}, "groups": {}}


def _stored_inputs(as_of: date) -> dict:
    """({owner key: ({period: inputs}, {period: breakdowns})}, {owner key: row version}) of
    `as_of`'s KpiInputs. The values are shared with the memo: read them, never change
    them."""
    if _stored_memo["as_of"] != as_of:
        _stored_memo.update(as_of=as_of, rows={}, groups={})
    memo = _stored_memo["rows"]
    version = RawSQL("xmin::text", ())
    versions = dict(
        KpiInputs.objects.filter(as_of=as_of)
        .annotate(version=version)
        .values_list("owner_key", "version")
    )
    for key in set(memo) - set(versions):
        del memo[key]
    stale = [key for key, v in versions.items() if key not in memo or memo[key][0] != v]
    for key, v, inputs, breakdowns in (
        KpiInputs.objects.filter(as_of=as_of, owner_key__in=stale)
        .annotate(version=version)
        .values_list("owner_key", "version", "inputs", "breakdowns")
    ):
        memo[key] = (v, {p: _deserialise(data) for p, data in inputs.items()}, breakdowns)
    rows = {key: (inputs, breakdowns) for key, (_v, inputs, breakdowns) in memo.items()}
    return rows, versions


def kpi_snapshot_pass(as_of: date, owner_keys: set[int] | None = None) -> dict:
    """Snapshots and breakdowns of `as_of` for every scope, in every snapshot calendar and
    grain.

    With `owner_keys` (user ids, 0 for "no owner"), only those owners' records are queried
    again; everyone else's inputs come from today's stored `KpiInputs`, and the owners, every
    team and the organisation are rewritten. Call it under `kpi_lock()`.
    """
    started = time.monotonic()
    calendars = snapshot_calendars()
    periods = periods_of(as_of, calendars)
    stored, versions = _stored_inputs(as_of)
    groups = _stored_memo["groups"]
    complete = bool(stored) and all(
        set(periods) <= set(inputs) and set(periods) <= set(breakdowns)
        for inputs, breakdowns in stored.values()
    )
    if owner_keys is not None and (not complete or KpiDirty.EVERYONE in owner_keys):
        owner_keys = None  # a new day, a new calendar or a change for everyone
    if owner_keys is not None:
        # A few owners' records: one core is enough, and the other stays with the pages
        # (parallel workers would take both for a few hundred milliseconds after every move).
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")

    base = Organisation.get().base_currency
    # {owner key: {period: inputs}} and {owner key: {period: breakdowns}}
    inputs_by_owner: dict = defaultdict(dict)
    breakdowns_by_owner: dict = defaultdict(dict)
    owners = None
    if owner_keys is not None:
        owners = [None if key == KpiDirty.NO_OWNER else key for key in owner_keys]
        for key, (inputs, breakdowns) in stored.items():
            if key not in owner_keys:
                inputs_by_owner[key] = {p: inputs[p] for p in periods}
                breakdowns_by_owner[key] = {p: breakdowns[p] for p in periods}
        for key in owner_keys:
            inputs_by_owner[key] = {period: kpis.empty_inputs() for period in periods}
            breakdowns_by_owner[key] = {period: {} for period in periods}
    stage_rows: list = []
    fresh = kpi_inputs(as_of, periods, owners, stage_rows)
    for period, per_owner in fresh.items():
        for owner_id, inputs in per_owner.items():
            inputs_by_owner[_owner_key(owner_id)][period] = inputs
    for period, per_owner in breakdown_inputs(
        as_of, periods, base, owners, stage_rows, fresh
    ).items():
        for owner_id, data in per_owner.items():
            breakdowns_by_owner[_owner_key(owner_id)][period] = data

    # Every owner holds every period in both, so a stored row is complete.
    for key in set(inputs_by_owner) | set(breakdowns_by_owner):
        for period in periods:
            inputs_by_owner[key].setdefault(period, kpis.empty_inputs())
            breakdowns_by_owner[key].setdefault(period, {})

    users = list(User.objects.values_list("pk", "team_id"))
    team_of = dict(users)
    team_ids = list(Team.objects.values_list("pk", flat=True))
    rewritten_users = set(team_of) if owner_keys is None else set(owner_keys) & set(team_of)
    now = timezone.now()
    rows: list[tuple] = []
    breakdown_rows: list[tuple] = []
    freezes: list[ForecastFreeze] = []
    for period, (start, _last) in periods.items():
        grain, calendar = period.split("-")
        org_inputs, org_breakdowns = kpis.empty_inputs(), {}
        team_inputs: dict = defaultdict(kpis.empty_inputs)
        team_breakdowns: dict = defaultdict(dict)
        members = defaultdict(list)
        for key in set(inputs_by_owner) | set(breakdowns_by_owner):
            members[team_of.get(key)].append(key)
        # Each team's sum, then the organisation's as the sum of the teams' (and of the
        # owners in none): a team none of whose owners changed keeps its sum from the last
        # pass of this process. Sums of exact numbers: the order does not change them.
        for team, keys in members.items():
            signature = frozenset(
                (key, None if owner_keys is None or key in owner_keys else versions.get(key))
                for key in keys
            )
            cached = groups.get((period, team))
            if cached is not None and cached[0] == signature:
                group_inputs, group_breakdowns = cached[1], cached[2]
            else:
                group_inputs, group_breakdowns = kpis.empty_inputs(), {}
                for key in keys:
                    inputs = inputs_by_owner.get(key, {}).get(period)
                    if inputs is not None:
                        kpis.add_inputs(group_inputs, inputs)
                    add_breakdowns(
                        group_breakdowns, breakdowns_by_owner.get(key, {}).get(period) or {}
                    )
                if all(version is not None for _key, version in signature):
                    groups[(period, team)] = (signature, group_inputs, group_breakdowns)
            kpis.add_inputs(org_inputs, group_inputs)
            add_breakdowns(org_breakdowns, group_breakdowns)
            if team:
                team_inputs[team], team_breakdowns[team] = group_inputs, group_breakdowns
        scopes = [(Scope.org(), org_inputs, org_breakdowns)]
        scopes += [
            (
                Scope(KpiSnapshot.ScopeKind.TEAM, team_id),
                team_inputs[team_id],
                team_breakdowns[team_id],
            )
            for team_id in team_ids
        ]
        scopes += [
            (
                Scope(KpiSnapshot.ScopeKind.OWNER, pk),
                inputs_by_owner.get(pk, {}).get(period) or kpis.empty_inputs(),
                breakdowns_by_owner.get(pk, {}).get(period) or {},
            )
            for pk in rewritten_users
        ]
        for scope, inputs, data in scopes:
            values = kpis.evaluate(inputs)
            rows += _snapshot_rows(values, grain, calendar, start, as_of, scope, now)
            breakdown_rows += [
                (
                    name,
                    grain,
                    calendar,
                    start,
                    as_of,
                    scope.kind,
                    scope.id,
                    json.dumps(serialise({name: data.get(name, {})})[name]),
                    now,
                )
                for name in BREAKDOWNS
            ]
            if as_of == start:
                freezes += [
                    ForecastFreeze(
                        kpi=key,
                        grain=grain,
                        calendar=calendar,
                        period_start=start,
                        scope_kind=scope.kind,
                        scope_id=scope.id,
                        value=kpis.stored(key, values[key]),
                    )
                    for key in FORECAST_KPIS
                ]
    _snapshots_upsert(rows)
    copy_upsert("metrics_kpibreakdown", BREAKDOWN_COLUMNS, BREAKDOWN_KEY, breakdown_rows)
    ForecastFreeze.objects.bulk_create(freezes, batch_size=5000, ignore_conflicts=True)
    _inputs_store(as_of, inputs_by_owner, breakdowns_by_owner, owner_keys)
    return {
        "as_of": as_of.isoformat(),
        "scoped": owner_keys is not None,
        "snapshots": len(rows),
        "seconds": round(time.monotonic() - started, 3),
    }


def _inputs_store(as_of: date, inputs_by_owner: dict, breakdowns_by_owner: dict, owner_keys):
    """Keep the owners' inputs of the latest day only (what a scoped pass re-adds)."""
    if KpiInputs.objects.filter(as_of__gt=as_of).exists():
        return  # a backfill of a past day
    KpiInputs.objects.filter(as_of__lt=as_of).delete()
    if owner_keys is None:
        KpiInputs.objects.filter(as_of=as_of).delete()
        owner_keys = set(inputs_by_owner) | set(breakdowns_by_owner)
    KpiInputs.objects.bulk_create(
        [
            KpiInputs(
                as_of=as_of,
                owner_key=key,
                inputs={
                    period: _serialise(inputs)
                    for period, inputs in inputs_by_owner.get(key, {}).items()
                },
                breakdowns={
                    period: serialise(data)
                    for period, data in breakdowns_by_owner.get(key, {}).items()
                },
            )
            for key in owner_keys
        ],
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["as_of", "owner_key"],
        update_fields=["inputs", "breakdowns"],
    )


# --- Locking, claiming dirty marks, scheduling -------------------------------------------------


class kpi_lock:
    """The session-level advisory lock that makes passes run one at a time. Taken before
    the pass's transaction begins, so its snapshot sees what the previous pass committed."""

    def __enter__(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", KPI_LOCK)
        return self

    def __exit__(self, *exc):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", KPI_LOCK)


def _pass_transaction(work, attempts: int = 3):
    """Run `work()` in one REPEATABLE READ transaction (one consistent view of the data and
    the dirty marks), retried when a concurrent on-demand write wins a snapshot row. Inside
    a caller's transaction (tests), it joins that one."""
    outermost = not connection.in_atomic_block
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic():
                if outermost:
                    with connection.cursor() as cursor:
                        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                return work()
        except OperationalError as error:
            if not outermost or attempt == attempts or "could not serialize" not in str(error):
                raise
            log.info("KPI pass met a concurrent write; retrying (%s)", attempt)
    return None


def kpi_refresh_dirty() -> dict | None:
    """Recompute today's snapshots for the owners marked dirty; nothing when none are."""
    with kpi_lock():

        def work():
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM metrics_kpidirty RETURNING owner_key")
                keys = {row[0] for row in cursor.fetchall()}
            today = org_today()
            if not keys and KpiInputs.objects.filter(as_of=today).exists():
                return None
            return kpi_snapshot_pass(today, keys)

        return _pass_transaction(work)


def kpi_recompute_day(as_of: date | None = None) -> dict:
    """Every scope's snapshots of one day (today by default), from scratch."""
    with kpi_lock():

        def work():
            day = as_of or org_today()
            if day == org_today():
                KpiDirty.objects.all().delete()
            return kpi_snapshot_pass(day)

        return _pass_transaction(work)


def kpi_refresh_soon() -> None:
    """Enqueue the dirty-scope refresh once this transaction commits (once per
    transaction); when the broker is down, the minute sweep of beat catches up."""
    if any(func is _enqueue_refresh for _sids, func, _robust in connection.run_on_commit):
        return
    transaction.on_commit(_enqueue_refresh)


def _enqueue_refresh():
    from .tasks import kpi_refresh

    try:
        kpi_refresh.delay()
    except Exception:  # the broker is down: the marks wait in Postgres for the sweep
        log.warning("could not enqueue the KPI refresh; the sweep will run it")


def goals_off_track_notify(today: date | None = None) -> int:
    """Tell the setter of each goal of a running period, and the people of its scope (the
    owner; a team's managers), when the goal falls off track, once per goal. Reads the
    snapshots, like the dashboards that show the goal."""
    from revops.models import Notification
    from revops.notifications import notify, team_members

    from .dashboards import goals_for, view_of
    from .models import Goal

    today = today or org_today()
    told = 0
    announced = set(
        Notification.objects.filter(
            kind=Notification.Kind.GOAL_OFF_TRACK, event__startswith="goal:"
        ).values_list("event", flat=True)
    )
    running = defaultdict(list)
    for goal in Goal.objects.filter(period_start__lte=today).select_related("created_by"):
        if f"goal:{goal.pk}" in announced:
            continue
        start, last = current_period(goal.grain, today, goal.calendar)
        if start == goal.period_start:
            running[
                (goal.grain, goal.calendar, start, last, goal.scope_kind, goal.scope_id)
            ].append(goal)
    for (grain, calendar, _start, _last, scope_kind, scope_id), group in running.items():
        view = view_of(grain, calendar, Scope(scope_kind, scope_id, ""), today)
        for row in goals_for(view):
            goal = row["goal"]
            if row["on_track"] is not False or goal not in group:
                continue
            people = [goal.created_by]
            if scope_kind == KpiSnapshot.ScopeKind.TEAM:
                people += team_members(scope_id, User.Role.MANAGER)
            elif scope_kind == KpiSnapshot.ScopeKind.OWNER:
                people += list(User.objects.filter(pk=scope_id))
            told += notify(
                people,
                Notification.Kind.GOAL_OFF_TRACK,
                f"goal:{goal.pk}",
                url=f"/dashboards/executive/?{view.query()}",
                params={
                    "kpi": goal.kpi,
                    "comparison": goal.comparison,
                    "target": _plain(goal.target),
                    "value": _plain(row["value"]),
                    "due": _plain(row["due"]),
                },
            )
    return told


def _plain(value) -> str:
    """A number as people write it: 1.1, 2500, 0.35."""
    if value is None:
        return ""
    text = f"{Decimal(value).quantize(Decimal('0.01')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
