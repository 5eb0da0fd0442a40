"""The landing page: what needs each role today, one block per question.

Each block is a function of the request returning its context (records the user may see,
through the same `visible_to` querysets as every other door) and is served on its own as
an htmx partial (`/home/<block>/`), so a slow block never holds up the page. Each names
the full list it summarises.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from .models import User

Role = User.Role
SHOWN = 8


@dataclass(frozen=True)
class Block:
    name: str
    title: str
    compute: object  # (request) -> dict


def tasks_due(request) -> dict:
    from crm.models import Activity
    from crm.task_views import decorate

    today = timezone.localdate()
    tasks = (
        Activity.objects.visible_to(request.user)
        .filter(kind=Activity.Kind.TASK, owner=request.user, done=False, due_on__lte=today)
        .select_related("owner", "account", "contact", "lead", "opportunity")
        .order_by("due_on", "pk")
    )
    rows = list(tasks[: SHOWN + 1])
    return {
        "rows": decorate(rows[:SHOWN], today),
        "more": len(rows) > SHOWN,
        "link": reverse("crm:task-list"),
    }


def closing_without_next_step(request) -> dict:
    """My open deals expected to close this month with no open task on them."""
    from crm.models import Activity
    from metrics.periods import current_period
    from pipeline.models import Opportunity

    user = request.user
    start, last = current_period("month", timezone.localdate(), user.effective_calendar)
    next_step = Activity.objects.filter(
        kind=Activity.Kind.TASK, done=False, opportunity=OuterRef("pk")
    )
    deals = (
        Opportunity.objects.visible_to(user)
        .filter(owner=user, status="open", expected_close_on__range=(start, last))
        .exclude(Exists(next_step))
        .select_related("account", "stage")
        .order_by("expected_close_on", "pk")
    )
    rows = list(deals[: SHOWN + 1])
    query = urlencode(
        {
            "owner": user.pk,
            "status": "open",
            "expected_close_on_after": start.isoformat(),
            "expected_close_on_before": last.isoformat(),
        }
    )
    return {
        "deals": rows[:SHOWN],
        "more": len(rows) > SHOWN,
        "link": f"{reverse('pipeline:opportunity-list')}?{query}",
    }


def _pending_handoffs(request, queryset, *, breached_only=False) -> dict:
    now = timezone.now()
    if breached_only:
        queryset = queryset.filter(sla_due_at__lt=now)
    handoffs = list(
        queryset.select_related(
            "lead", "opportunity__account", "from_user", "to_team", "to_user"
        ).order_by("sla_due_at", "pk")[: SHOWN + 1]
    )
    for handoff in handoffs:
        handoff.sla = handoff.sla_state(now)
        handoff.hours_left = max(0, int((handoff.sla_due_at - now).total_seconds() // 3600))
    return {"handoffs": handoffs[:SHOWN], "more": len(handoffs) > SHOWN}


def leads_waiting(request) -> dict:
    """Leads handed to me, or to my team and nobody in it yet, with their SLA clock."""
    from pipeline.models import Handoff

    pending = Handoff.objects.decidable_by(request.user).filter(kind=Handoff.Kind.LEAD_TO_SALES)
    return {**_pending_handoffs(request, pending), "link": reverse("pipeline:handoff-queue")}


def team_breached_handoffs(request) -> dict:
    """Handoffs to my team (or to one of its people) past their SLA."""
    from pipeline.models import Handoff

    pending = Handoff.objects.decidable_by(request.user)
    return {
        **_pending_handoffs(request, pending, breached_only=True),
        "link": reverse("pipeline:handoff-queue"),
    }


def stuck_deals(request) -> dict:
    """The team's open deals in their stage for longer than the team usually stays there:
    the median of the team's finished stays in that stage (the stage ledger), or, with
    fewer than five, the whole organisation's. Longest in stage first."""
    from pipeline.models import Opportunity

    user = request.user
    usual = usual_days_in_stage().get(user.team_id, {})
    today = timezone.localdate()
    over = Q(pk__in=[])
    for stage_id, days in usual.items():
        over |= Q(stage_id=stage_id, stage_entered_on__lt=today - timedelta(days=days))
    deals = (
        Opportunity.objects.visible_to(user)
        .filter(over, status="open", owner__team_id=user.team_id)
        .select_related("owner", "stage", "account")
        .order_by("stage_entered_on", "pk")
    )
    shown = list(deals[: SHOWN + 1])
    rows = [
        {"deal": deal, "days": (today - deal.stage_entered_on).days, "usual": usual[deal.stage_id]}
        for deal in shown[:SHOWN]
    ]
    return {
        "rows": rows,
        "more": len(shown) > SHOWN,
        "link": f"{reverse('pipeline:board')}?{urlencode({'team': user.team_id or ''})}",
    }


USUAL_DAYS_KEY = "home:usual-days-in-stage"


def usual_days_in_stage() -> dict:
    """{team id: {stage id: median days of a finished stay}}: the team's median where it
    has five stays in the stage, else the organisation's. The whole ledger is read, so
    the answer is kept an hour in the cache."""
    from django.core.cache import cache

    try:
        cached = cache.get(USUAL_DAYS_KEY)
    except Exception:  # the cache (Redis) is down: the database answers
        cached = None
    if cached is not None:
        return cached
    sql = """
        WITH stays AS (
            SELECT c.to_stage_id AS stage_id, u.team_id,
                   lead(c.entered_on) OVER (PARTITION BY c.opportunity_id
                                            ORDER BY c.entered_on, c.id) - c.entered_on AS days
              FROM pipeline_stagechange c
              JOIN pipeline_opportunity o ON o.id = c.opportunity_id
              LEFT JOIN revops_user u ON u.id = o.owner_id
        )
        SELECT stage_id, team_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY days), count(*)
          FROM stays
         WHERE days IS NOT NULL
         GROUP BY GROUPING SETS ((stage_id, team_id), (stage_id))
    """
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    org = {stage: median for stage, team, median, _count in rows if team is None}
    teams: dict = {}
    for stage, team, median, count in rows:
        if team is not None and count >= 5:
            teams.setdefault(team, {})[stage] = median
    result = {
        team: {
            stage: round(teams.get(team, {}).get(stage, median)) for stage, median in org.items()
        }
        for team in {*teams, *User.objects.exclude(team=None).values_list("team_id", flat=True)}
    }
    with contextlib.suppress(Exception):  # no cache: the next page computes it again
        cache.set(USUAL_DAYS_KEY, result, 3600)
    return result


def quota_pace(request) -> dict:
    """The team's bookings this quarter against its quota and against the pace due by
    today, with each member's; from the KPI snapshots, like the dashboards."""
    from metrics.dashboards import card_values, view_of
    from metrics.models import KpiSnapshot
    from metrics.services import Scope

    user = request.user
    team = user.team
    if team is None:
        return {"team": None}
    keys = ["bookings", "quota", "quota_attainment"]
    view = view_of("quarter", user.effective_calendar, Scope.of_team(team))
    total = card_values(view, keys)
    elapsed = Decimal((view.as_of - view.start).days + 1) / Decimal(
        (view.last - view.start).days + 1
    )
    quota = total["quota"]["value"]
    bookings = total["bookings"]["value"]
    due = (quota * elapsed).quantize(Decimal("0.01")) if quota else None
    members = {
        member.pk: {"user": member, **dict.fromkeys(keys)}
        for member in User.objects.filter(
            team=team, is_active=True, role__in=[Role.REP, Role.MANAGER]
        )
    }
    latest = (
        KpiSnapshot.objects.filter(
            kpi__in=keys,
            grain="quarter",
            calendar=view.calendar,
            period_start=view.start,
            as_of__lte=view.as_of,
            scope_kind=KpiSnapshot.ScopeKind.OWNER,
            scope_id__in=list(members),
        )
        .order_by("scope_id", "kpi", "-as_of")
        .distinct("scope_id", "kpi")
        .values_list("scope_id", "kpi", "value")
    )
    for owner, key, value in latest:
        members[owner][key] = value
    members = sorted(members.values(), key=lambda row: row["quota_attainment"] or Decimal(-1))
    return {
        "team": team,
        "bookings": bookings,
        "quota": quota,
        "attainment": total["quota_attainment"]["value"],
        "due": due,
        "on_pace": None if due is None or bookings is None else bookings >= due,
        "elapsed_percent": int(elapsed * 100),
        "members": members,
        "link": f"{reverse('metrics:dashboard', args=['sales'])}?{view.query()}",
    }


def rejected_handoffs(request) -> dict:
    """Leads sales sent back in the last 30 days, with why."""
    from pipeline.models import Handoff

    since = timezone.now() - timedelta(days=30)
    handoffs = list(
        Handoff.objects.visible_to(request.user)
        .filter(
            kind=Handoff.Kind.LEAD_TO_SALES, status=Handoff.Status.REJECTED, decided_at__gte=since
        )
        .select_related("lead", "decided_by", "to_team")
        .order_by("-decided_at", "-pk")[: SHOWN + 1]
    )
    return {
        "handoffs": handoffs[:SHOWN],
        "more": len(handoffs) > SHOWN,
        "link": f"{reverse('pipeline:lead-list')}?{urlencode({'status': 'working'})}",
    }


def funnel_week(request) -> dict:
    """This week's funnel (the organisation's week, from its first working day): leads
    created, handed to sales (MQL), accepted (SQL), converted."""
    from django.db.models import Count

    from pipeline.models import Lead

    from .models import Organisation

    today = timezone.localdate()
    weekend = set(Organisation.get().weekend_days or [])
    start = today
    # Back to the day after the last weekend day before today (or 6 days back at most).
    for _step in range(6):
        before = start - timedelta(days=1)
        if before.weekday() in weekend and start.weekday() not in weekend:
            break
        start = before
    leads = Lead.objects.visible_to(request.user)
    counts = leads.aggregate(
        created=Count("pk", filter=Q(created_on__range=(start, today))),
        mql=Count("pk", filter=Q(handed_off_on__range=(start, today))),
        sql=Count("pk", filter=Q(accepted_on__range=(start, today))),
        converted=Count("pk", filter=Q(converted_on__range=(start, today))),
    )
    steps = [
        ("created", _("Created")),
        ("mql", _("Handed to sales (MQL)")),
        ("sql", _("Accepted by sales (SQL)")),
        ("converted", _("Converted")),
    ]
    top = counts["created"] or 0
    return {
        "start": start,
        "steps": [
            {
                "key": key,
                "label": label,
                "count": counts[key],
                "percent": int(100 * counts[key] / top) if top else 0,
            }
            for key, label in steps
        ],
        "link": reverse("metrics:dashboard", args=["marketing"]),
    }


def cs_handoffs(request) -> dict:
    from pipeline.models import Handoff

    pending = Handoff.objects.decidable_by(request.user).filter(kind=Handoff.Kind.DEAL_TO_CS)
    return {**_pending_handoffs(request, pending), "link": reverse("crm:cs-workspace")}


def at_risk_accounts(request) -> dict:
    """My accounts whose health is below 50 (the CS workspace's rule), the worst first."""
    from crm.models import Account

    accounts = list(
        Account.objects.visible_to(request.user)
        .filter(owner=request.user, health_score__lt=50)
        .order_by("health_score", "name")[: SHOWN + 1]
    )
    return {
        "accounts": accounts[:SHOWN],
        "more": len(accounts) > SHOWN,
        "link": reverse("crm:cs-workspace"),
    }


def renewals_due(request) -> dict:
    """My open renewal deals expected to close within the renewal lead time."""
    from pipeline.models import Opportunity

    from .models import Organisation

    today = timezone.localdate()
    horizon = today + timedelta(days=Organisation.get().renewal_lead_days)
    deals = list(
        Opportunity.objects.visible_to(request.user)
        .filter(owner=request.user, kind="renewal", status="open", expected_close_on__lte=horizon)
        .select_related("account", "stage")
        .order_by("expected_close_on", "pk")[: SHOWN + 1]
    )
    return {
        "deals": deals[:SHOWN],
        "more": len(deals) > SHOWN,
        "today": today,
        "link": f"{reverse('pipeline:opportunity-list')}?"
        + urlencode({"kind": "renewal", "status": "open", "owner": request.user.pk}),
    }


def goals(request) -> dict:
    """The organisation's goals of this month, quarter and year, with their progress."""
    from metrics.dashboards import goals_for, view_of
    from metrics.services import Scope

    calendar = request.user.effective_calendar
    rows = []
    for grain in ("month", "quarter", "year"):
        rows += goals_for(view_of(grain, calendar, Scope.org()))
    return {"rows": rows, "link": reverse("metrics:dashboard", args=["executive"])}


MOVERS = (
    "arr",
    "mrr",
    "bookings",
    "open_pipeline",
    "win_rate",
    "nrr",
    "grr",
    "avg_deal_size",
    "sales_cycle_length_days",
    "quota_attainment",
    "logo_churn_rate",
    "funnel_conversion_rate",
)


LOWER_IS_BETTER = {"sales_cycle_length_days", "logo_churn_rate"}


def kpi_movers(request) -> dict:
    """The organisation's KPIs that moved most this month against last month's final
    value, by the size of the move."""
    from metrics.dashboards import card_values, view_of
    from metrics.kpis import KPIS
    from metrics.labels import KPI_LABELS
    from metrics.services import Scope

    view = view_of("month", request.user.effective_calendar, Scope.org())
    values = card_values(view, list(MOVERS))
    moves = []
    for key in MOVERS:
        value, previous = values[key]["value"], values[key]["previous"]
        if value is None or previous in (None, 0) or value == previous:
            continue
        change = (value - previous) / abs(previous)
        moves.append(
            {
                "key": key,
                "label": KPI_LABELS.get(key, key),
                "value": value,
                "previous": previous,
                "change": change,
                "percent": round(abs(change) * 100),
                "up": change > 0,
                "good": (change > 0) != (key in LOWER_IS_BETTER),
                "unit": KPIS[key].unit,
            }
        )
    moves.sort(key=lambda row: -abs(row["change"]))
    return {"rows": moves[:5], "link": reverse("metrics:dashboard", args=["executive"])}


BLOCKS = {
    block.name: block
    for block in (
        Block("tasks_due", _("My tasks due and overdue"), tasks_due),
        Block(
            "closing_without_next_step",
            _("Closing this month with no next step"),
            closing_without_next_step,
        ),
        Block("leads_waiting", _("Leads waiting for you to accept"), leads_waiting),
        Block("team_breached_handoffs", _("Handoffs past their SLA"), team_breached_handoffs),
        Block("stuck_deals", _("Stuck deals"), stuck_deals),
        Block("quota_pace", _("Quota pace this quarter"), quota_pace),
        Block("rejected_handoffs", _("Leads sales sent back"), rejected_handoffs),
        Block("funnel_week", _("This week's funnel"), funnel_week),
        Block("cs_handoffs", _("Customers to accept"), cs_handoffs),
        Block("at_risk_accounts", _("Accounts at risk"), at_risk_accounts),
        Block("renewals_due", _("Renewals due"), renewals_due),
        Block("goals", _("Goals"), goals),
        Block("kpi_movers", _("KPIs that moved most this month"), kpi_movers),
    )
}

BY_ROLE = {
    Role.REP: ["tasks_due", "closing_without_next_step", "leads_waiting"],
    Role.MANAGER: ["team_breached_handoffs", "stuck_deals", "quota_pace", "tasks_due"],
    Role.MARKETER: ["rejected_handoffs", "funnel_week"],
    Role.CS: ["cs_handoffs", "at_risk_accounts", "renewals_due", "tasks_due"],
    Role.EXECUTIVE: ["goals", "kpi_movers"],
    Role.ADMIN: ["goals", "kpi_movers", "team_breached_handoffs", "tasks_due"],
}


def blocks_for(user) -> list[Block]:
    return [BLOCKS[name] for name in BY_ROLE.get(user.role, [])]
