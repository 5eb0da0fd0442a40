"""What the dashboards read: stored snapshots and breakdowns only (one query per block),
for the period, calendar and scope the viewer picked within roles.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import BadRequest
from django.db.models import Max
from django.http import Http404, QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from revops.models import Team, User

from .kpis import KPIS, MONEY, RATIO
from .models import ForecastFreeze, Goal, KpiBreakdown, KpiSnapshot
from .periods import CALENDARS, GRAINS, current_period, period_label, period_start
from .queries import EVERY_SCOPE, scope_visible
from .services import Scope, org_today

# The blocks of each dashboard, in page order; each loads as its own htmx partial.
DASHBOARDS = {
    "executive": {
        "title": gettext_lazy("Executive"),
        "cards": [
            "arr",
            "mrr",
            "revenue_impact",
            "bookings",
            "bookings_365d",
            "nrr",
            "grr",
            "logo_churn_rate",
            "win_rate",
            "avg_deal_size",
            "acv",
            "sales_cycle_length_days",
            "quota_attainment",
            "forecast_weighted",
        ],
        "blocks": ["goals", "cards", "waterfall", "revenue", "trend", "forecast", "breakdowns"],
        "trend": ["arr"],
    },
    "sales": {
        "title": gettext_lazy("Sales"),
        "cards": [
            "bookings",
            "open_pipeline",
            "weighted_pipeline",
            "forecast_commit",
            "forecast_best_case",
            "pipeline_coverage",
            "quota",
            "quota_attainment",
            "win_rate",
            "sales_cycle_length_days",
            "sales_velocity",
            "open_deals",
        ],
        "blocks": ["goals", "cards", "pipeline", "forecast", "team", "breakdowns"],
        "trend": [],
    },
    "marketing": {
        "title": gettext_lazy("Marketing"),
        "cards": [
            "leads_created",
            "mqls",
            "sqls",
            "leads_converted",
            "funnel_conversion_rate",
            "mql_to_sql_rate",
            "lead_response_days",
        ],
        "blocks": ["goals", "cards", "funnel", "sourced", "leads", "handoffs"],
        "trend": [],
    },
    "cs": {
        "title": gettext_lazy("Customer success"),
        "cards": [
            "mrr",
            "customers",
            "net_new_mrr",
            "expansion_mrr",
            "contraction_mrr",
            "churned_mrr",
            "churned_customers",
            "nrr",
            "grr",
            "nrr_12m",
            "logo_churn_rate",
        ],
        "blocks": ["goals", "cards", "waterfall", "churn", "trend", "health", "handoffs"],
        "trend": ["nrr", "grr"],
    },
}
# Where each role lands (roles.md: marketers on marketing first, CS on customer success).
HOME = {
    User.Role.MARKETER: "marketing",
    User.Role.CS: "cs",
    User.Role.REP: "sales",
    User.Role.MANAGER: "sales",
}
LOWER_IS_BETTER = {
    "churned_mrr",
    "contraction_mrr",
    "churned_customers",
    "logo_churn_rate",
    "gross_mrr_churn_rate",
    "sales_cycle_length_days",
    "avg_sales_cycle_days",
    "lead_response_days",
}
# KPIs summed over the period to date (a goal for them is paced through the period).
CUMULATIVE = {
    "bookings",
    "deals_won",
    "in_period_bookings",
    "expansion_bookings",
    "leads_created",
    "mqls",
    "sqls",
    "leads_converted",
    "new_mrr",
    "reactivation_mrr",
    "expansion_mrr",
    "net_new_mrr",
    "revenue_impact",
}


@dataclass
class View:
    """The dashboard being looked at: which period, calendar and scope."""

    kind: str
    grain: str
    calendar: str
    start: date
    last: date
    as_of: date
    today: date
    scope: Scope
    previous_start: date
    scopes: list = field(default_factory=list)

    @property
    def closed(self) -> bool:
        return self.last < self.today

    def query(self, **changes) -> str:
        params = QueryDict(mutable=True)
        values = {
            "period": self.grain,
            "calendar": self.calendar,
            "start": self.start.isoformat(),
            "scope": scope_param(self.scope),
        } | changes
        for key, value in values.items():
            params[key] = value
        return params.urlencode()

    def period_options(self, count: int = 8) -> list[tuple[str, str]]:
        options, start = [], period_start(self.grain, self.today, self.calendar)
        for _step in range(count):
            options.append((start.isoformat(), period_label(self.grain, start, self.calendar)))
            start = period_start(self.grain, start - timedelta(days=1), self.calendar)
        return options


def view_of(grain: str, calendar: str, scope: Scope, day: date | None = None) -> View:
    """The running period's View of a scope (for pages and tasks that are not a dashboard
    request: the home page's blocks, goal checks)."""
    today = org_today()
    day = day or today
    start, last = current_period(grain, day, calendar)
    return View(
        kind="executive",
        grain=grain,
        calendar=calendar,
        start=start,
        last=last,
        as_of=min(last, day),
        today=today,
        scope=scope,
        previous_start=period_start(grain, start - timedelta(days=1), calendar),
    )


def scope_param(scope: Scope) -> str:
    return "org" if scope.kind == "org" else f"{scope.kind}:{scope.id}"


def _scope_from(param: str | None, user: User) -> Scope:
    if not param:
        if user.role in EVERY_SCOPE:
            return Scope.org()
        if user.role == User.Role.MANAGER and user.team_id:
            return Scope(KpiSnapshot.ScopeKind.TEAM, user.team_id)
        return Scope(KpiSnapshot.ScopeKind.OWNER, user.pk)
    if param == "org":
        return Scope.org()
    kind, _sep, number = param.partition(":")
    if kind not in ("team", "owner") or not number.isdigit() or len(number) > 9:
        raise BadRequest  # roles.md: an unknown scope is a 400
    return Scope(kind, int(number))


def allowed_scopes(user: User, scope: Scope) -> list[tuple[str, str]]:
    """The scope picker's choices (value, label), within roles.md."""
    choices = []
    if user.role in EVERY_SCOPE:
        choices.append(("org", _("Organisation")))
        teams = Team.objects.order_by("name")
    else:
        teams = Team.objects.filter(pk=user.team_id)
    team_ids = []
    for team in teams:
        choices.append((f"team:{team.pk}", team.name))
        team_ids.append(team.pk)
    members = User.objects.filter(is_active=True).order_by("full_name")
    if user.role == User.Role.REP:
        members = members.filter(pk=user.pk)
    elif user.role == User.Role.MANAGER:
        members = members.filter(team_id=user.team_id)
    elif scope.kind == "team":
        members = members.filter(team_id=scope.id)
    elif scope.kind == "owner":
        members = members.filter(pk=scope.id)
    else:
        members = members.none()
    choices += [(f"owner:{m.pk}", m.full_name) for m in members.only("pk", "full_name")]
    return choices


def view_for(request, kind: str) -> View:
    """The View a request asks for; 404 for a scope the user may not see (roles.md)."""
    if kind not in DASHBOARDS:
        raise Http404
    user = request.user
    params = request.GET
    today = org_today()
    grain = params.get("period") if params.get("period") in GRAINS else "month"
    calendar = params.get("calendar")
    if calendar not in CALENDARS:
        calendar = user.effective_calendar
    try:
        asked = date.fromisoformat(params["start"]) if params.get("start") else today
    except ValueError:
        asked = today
    asked = min(asked, today)
    start, last = current_period(grain, asked, calendar)
    scope = _scope_from(params.get("scope"), user)
    # The viewer's own team and self exist; any other scope is looked up: an unknown one is
    # a 400, as in the API, and one the user may not see a 404 (roles.md).
    if scope.kind == "team" and scope.id != user.team_id:
        team = Team.objects.filter(pk=scope.id).first()
        if team is None:
            raise BadRequest
        scope = Scope.of_team(team)
    elif scope.kind == "owner" and scope.id != user.pk:
        owner = User.objects.filter(pk=scope.id).first()
        if owner is None:
            raise BadRequest
        scope = Scope(KpiSnapshot.ScopeKind.OWNER, owner.pk, owner.full_name)
    elif scope.kind == "owner":
        scope = Scope(KpiSnapshot.ScopeKind.OWNER, user.pk, user.full_name)
    if not scope_visible(user, scope):
        raise Http404
    return View(
        kind=kind,
        grain=grain,
        calendar=calendar,
        start=start,
        last=last,
        as_of=min(last, today),
        today=today,
        scope=scope,
        previous_start=period_start(grain, start - timedelta(days=1), calendar),
    )


def _snapshots(view: View):
    return KpiSnapshot.objects.filter(
        grain=view.grain,
        calendar=view.calendar,
        scope_kind=view.scope.kind,
        scope_id=view.scope.id,
    )


def card_values(view: View, keys) -> dict:
    """{kpi: {"value", "previous", "as_of", "computed_at"}}: the latest stored value of the
    period (as of its end, or today) and the previous period's final one. One query."""
    rows = (
        _snapshots(view)
        .filter(
            kpi__in=keys,
            period_start__in=[view.start, view.previous_start],
            as_of__lte=view.as_of,
        )
        .order_by("kpi", "period_start", "-as_of")
        .distinct("kpi", "period_start")
        .values("kpi", "period_start", "as_of", "value", "computed_at")
    )
    found: dict = {}
    for row in rows:
        entry = found.setdefault(row["kpi"], {"value": None, "previous": None, "missing": True})
        if row["period_start"] == view.start:
            entry |= {
                "value": row["value"],
                "as_of": row["as_of"],
                "computed_at": row["computed_at"],
                "missing": False,
            }
        else:
            entry["previous"] = row["value"]
    return {key: found.get(key, {"value": None, "previous": None, "missing": True}) for key in keys}


def card(key: str, entry: dict) -> dict:
    """A card's content: value, change versus the previous period and its direction."""
    kpi = KPIS[key]
    value, previous = entry.get("value"), entry.get("previous")
    change = trend = None
    if value is not None and previous is not None:
        change = value - previous
        if change:
            better = (change < 0) if key in LOWER_IS_BETTER else (change > 0)
            trend = "good" if better else "bad"
    relative = None
    if change is not None and previous not in (None, Decimal(0)):
        relative = change / abs(previous)
    return {
        "key": key,
        "unit": kpi.unit,
        "formula": kpi.formula,
        "value": value,
        "previous": previous,
        "change": change,
        "relative": relative,
        "trend": trend,
        "as_of": entry.get("as_of"),
        "computed_at": entry.get("computed_at"),
        "missing": entry.get("missing", True),
    }


def breakdowns(view: View, names) -> dict:
    """{name: {key: [Decimal, ...]}} as stored for the period's latest day. One query."""
    rows = (
        KpiBreakdown.objects.filter(
            name__in=names,
            grain=view.grain,
            calendar=view.calendar,
            scope_kind=view.scope.kind,
            scope_id=view.scope.id,
            period_start=view.start,
            as_of__lte=view.as_of,
        )
        .order_by("name", "-as_of")
        .distinct("name")
        .values("name", "data")
    )
    found = {row["name"]: row["data"] for row in rows}
    return {
        name: {key: [Decimal(v) for v in vector] for key, vector in found.get(name, {}).items()}
        for name in names
    }


def series(view: View, keys, count: int = 8) -> tuple[list[str], dict]:
    """The last `count` periods' final stored values of `keys`. One query."""
    starts, start = [], view.start
    for _step in range(count):
        starts.insert(0, start)
        start = period_start(view.grain, start - timedelta(days=1), view.calendar)
    rows = (
        _snapshots(view)
        .filter(kpi__in=keys, period_start__in=starts, as_of__lte=view.as_of)
        .order_by("kpi", "period_start", "-as_of")
        .distinct("kpi", "period_start")
        .values("kpi", "period_start", "value")
    )
    values = {(row["kpi"], row["period_start"]): row["value"] for row in rows}
    labels = [period_label(view.grain, s, view.calendar) for s in starts]
    return labels, {key: [values.get((key, s)) for s in starts] for key in keys}


def forecast_accuracy_rows(view: View, count: int = 4) -> list[dict]:
    """The `count` closed periods before the one in view (see `forecast_accuracy_of`)."""
    starts, start = [], view.start
    for _step in range(count):
        start = period_start(view.grain, start - timedelta(days=1), view.calendar)
        starts.append(start)
    return forecast_accuracy_of(view.grain, view.calendar, view.scope, starts)


def forecast_accuracy_of(grain: str, calendar: str, scope: Scope, starts) -> list[dict]:
    """For each period (by its first day): the weighted forecast frozen on its first day
    against the bookings stored as of its last day, and the accuracy (kpis.md). A period
    without a snapshot of its last day has no accuracy rather than one from an earlier day's
    bookings. Two queries."""
    from django.db.models import Q

    from .kpis import forecast_accuracy, round_half_up

    last_days = {start: current_period(grain, start, calendar)[1] for start in starts}
    frozen = dict(
        ForecastFreeze.objects.filter(
            kpi="forecast_weighted",
            grain=grain,
            calendar=calendar,
            scope_kind=scope.kind,
            scope_id=scope.id,
            period_start__in=starts,
        ).values_list("period_start", "value")
    )
    on_last_day = Q(pk__in=[])
    for start, last in last_days.items():
        on_last_day |= Q(period_start=start, as_of=last)
    booked = dict(
        KpiSnapshot.objects.filter(
            on_last_day,
            kpi="bookings",
            grain=grain,
            calendar=calendar,
            scope_kind=scope.kind,
            scope_id=scope.id,
        ).values_list("period_start", "value")
    )
    rows = []
    for start in starts:
        accuracy = None
        if start in booked:
            accuracy = forecast_accuracy(frozen.get(start), booked[start])
        rows.append(
            {
                "label": period_label(grain, start, calendar),
                "forecast": frozen.get(start),
                "booked": booked.get(start),
                "accuracy": None if accuracy is None else round_half_up(accuracy, 4),
            }
        )
    return rows


def team_rows(view: View) -> list[dict]:
    """For a team scope: each member's quota attainment and coaching figures, and the
    team's median of each. Three queries."""
    if view.scope.kind != "team":
        return []
    members = list(
        User.objects.filter(team_id=view.scope.id, is_active=True)
        .order_by("full_name")
        .values("pk", "full_name")
    )
    ids = [m["pk"] for m in members]
    keys = [
        "bookings",
        "quota",
        "quota_attainment",
        "win_rate",
        "sales_cycle_length_days",
        "avg_deal_size",
    ]
    values: dict = {}
    for row in (
        KpiSnapshot.objects.filter(
            kpi__in=keys,
            grain=view.grain,
            calendar=view.calendar,
            scope_kind="owner",
            scope_id__in=ids,
            period_start=view.start,
            as_of__lte=view.as_of,
        )
        .order_by("scope_id", "kpi", "-as_of")
        .distinct("scope_id", "kpi")
        .values("scope_id", "kpi", "value")
    ):
        values.setdefault(row["scope_id"], {})[row["kpi"]] = row["value"]
    coaching: dict = {}
    for row in (
        KpiBreakdown.objects.filter(
            name="coaching",
            grain=view.grain,
            calendar=view.calendar,
            scope_kind="owner",
            scope_id__in=ids,
            period_start=view.start,
            as_of__lte=view.as_of,
        )
        .order_by("scope_id", "-as_of")
        .distinct("scope_id")
        .values("scope_id", "data")
    ):
        deals, activities, meddic = (Decimal(v) for v in row["data"].get("all", [0, 0, 0]))
        coaching[row["scope_id"]] = {
            "activities_per_deal": (activities / deals).quantize(Decimal("0.1")) if deals else None,
            "meddic": (meddic / (deals * 6)).quantize(Decimal("0.0001")) if deals else None,
        }
    rows = [
        {
            "name": m["full_name"],
            "id": m["pk"],
            **values.get(m["pk"], {}),
            **coaching.get(m["pk"], {}),
        }
        for m in members
    ]
    medians = {}
    for key in [*keys, "activities_per_deal", "meddic"]:
        numbers = sorted(r[key] for r in rows if r.get(key) is not None)
        if numbers:
            middle = len(numbers) // 2
            medians[key] = (
                numbers[middle] if len(numbers) % 2 else (numbers[middle - 1] + numbers[middle]) / 2
            )
    for row in rows:
        row["coach"] = [
            key
            for key in ("win_rate", "avg_deal_size", "activities_per_deal", "meddic")
            if row.get(key) is not None and key in medians and row[key] < medians[key]
        ] + (
            ["sales_cycle_length_days"]
            if row.get("sales_cycle_length_days") is not None
            and "sales_cycle_length_days" in medians
            and row["sales_cycle_length_days"] > medians["sales_cycle_length_days"]
            else []
        )
    return rows and [*rows, {"name": _("Team median"), "median": True, **medians}]


def goals_for(view: View) -> list[dict]:
    """The goals of this period and scope with their progress. One query for the goals and
    one for their KPIs' values."""
    goals = list(
        Goal.objects.filter(
            grain=view.grain,
            calendar=view.calendar,
            period_start=view.start,
            scope_kind=view.scope.kind,
            scope_id=view.scope.id,
        )
    )
    if not goals:
        return []
    values = card_values(view, list({goal.kpi for goal in goals}))
    elapsed = ((view.as_of - view.start).days + 1) / ((view.last - view.start).days + 1)
    result = []
    for goal in goals:
        value = values[goal.kpi]["value"]
        target = goal.target
        # A summed KPI is judged on its pace: the share of the target due by today.
        due = target * Decimal(str(round(elapsed, 4))) if goal.kpi in CUMULATIVE else target
        if value is None:
            on_track = None
        elif goal.comparison == Goal.Comparison.AT_LEAST:
            on_track = value >= due
        else:
            on_track = value <= due
        progress = None
        if value is not None and target:
            progress = min(max(value / target, Decimal(0)), Decimal(1))
        result.append(
            {
                "goal": goal,
                "unit": KPIS[goal.kpi].unit,
                "value": value,
                "due": due,
                "on_track": on_track,
                "progress": progress,
                "percent": None if progress is None else int(progress * 100),
            }
        )
    return result


def latest_stamp(view: View) -> str:
    """When the scope's snapshots of this period last changed: polled by the page."""
    stamp = (
        _snapshots(view)
        .filter(period_start=view.start, kpi="mrr", as_of__lte=view.as_of)
        .aggregate(latest=Max("computed_at"))["latest"]
    )
    return stamp.isoformat() if stamp else ""


def is_money(key: str) -> bool:
    return KPIS[key].unit == MONEY


def is_ratio(key: str) -> bool:
    return KPIS[key].unit == RATIO


def drillable(user: User, scope: Scope) -> set[str]:
    """The KPIs whose records a card links to: those whose every record the user may see
    for this scope by roles.md (the records page checks each record again)."""
    from .drilldown import FAMILY_OF

    own = scope.kind == "owner" and scope.id == user.pk
    in_team = (
        user.role == User.Role.MANAGER
        and user.team_id is not None
        and (
            (scope.kind == "team" and scope.id == user.team_id)
            or (
                scope.kind == "owner"
                and User.objects.filter(pk=scope.id, team_id=user.team_id).exists()
            )
        )
    )
    every_deal = user.role in EVERY_SCOPE
    allowed = {
        "won": every_deal or own or in_team,
        "closed": every_deal or own or in_team,
        "lost": every_deal or own or in_team,
        "open": every_deal or own or in_team,
        "forecast": every_deal or own or in_team,
        "leads": every_deal or own or in_team,
        "accounts": True,
        "quota": user.role in (User.Role.EXECUTIVE, User.Role.ADMIN) or own or in_team,
    }
    return {key for key, family in FAMILY_OF.items() if allowed[family]}
