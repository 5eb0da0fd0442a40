from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Sum, Value
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers

from crm.models import AT_RISK_BELOW
from pipeline.models import Opportunity
from revops import l10n
from revops.models import Organisation, Team, User
from revops.money import converted
from revops.params import int_param, safe_next

from . import charts, dashboards, services
from .forms import GoalForm
from .kpis import KPIS
from .labels import KPI_LABELS
from .models import Goal, Quota
from .periods import period_label, periods_of_year
from .templatetags.kpi import breakdown_label


def _sellers_for(user: User, team_id: str | None):
    sellers = User.objects.filter(
        is_active=True, role__in=[User.Role.REP, User.Role.MANAGER, User.Role.CS]
    )
    if user.role == User.Role.MANAGER:
        if not user.team_id:
            return sellers.none(), None
        return sellers.filter(team_id=user.team_id), user.team
    if user.role == User.Role.REP:
        return sellers.filter(pk=user.pk), user.team
    if user.role in (User.Role.EXECUTIVE, User.Role.ADMIN):
        team_id = int_param(team_id)
        team = Team.objects.filter(pk=team_id).first() if team_id else None
        team = team or Team.objects.filter(kind=Team.Kind.SALES).first()
        return sellers.filter(team=team), team
    raise PermissionDenied


def _parse_amount(text: str):
    """A quota typed in any digits and separators (revops.l10n.parse_amount): positive, at
    most 2 decimals and 18 digits; None for an empty cell."""
    if not text.strip():
        return None
    value = l10n.parse_amount(text)
    if value < 0 or value.as_tuple().exponent < -2 or abs(value) >= Decimal(10) ** 18:
        raise InvalidOperation
    return value


@login_required
@require_http_methods(["GET", "POST"])
def quota_grid(request: HttpRequest) -> HttpResponse:
    """Quotas per seller and period of the organisation's calendar, with attainment to
    date. Managers edit their team's (a grid of reps × periods); reps read their own;
    executives and admins read (admins edit) any team's."""
    user = request.user
    sellers, team = _sellers_for(user, request.GET.get("team"))
    sellers = list(sellers.order_by("full_name"))
    organisation = Organisation.get()
    # Quotas are set on the organisation's calendar periods (kpis.md), whatever the
    # user's own display calendar.
    calendar = organisation.calendar
    grain = (
        request.GET.get("grain")
        if request.GET.get("grain") in ("month", "quarter")
        else ("quarter")
    )
    today = timezone.localdate()
    try:
        year_day = date.fromisoformat(request.GET.get("in", "")) if request.GET.get("in") else today
    except ValueError:
        year_day = today
    if not 1900 <= year_day.year <= 2999:
        year_day = today
    periods = periods_of_year(grain, year_day, calendar)
    can_edit = user.role in (User.Role.MANAGER, User.Role.ADMIN)
    quotas = {
        (q.user_id, q.period_start, q.period_end): q.amount
        for q in Quota.objects.visible_to(user).filter(
            user__in=sellers, period_start__gte=periods[0][0], period_end__lte=periods[-1][1]
        )
    }
    errors = {}
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        cells = {}
        for seller in sellers:
            for first, last in periods:
                name = f"q-{seller.pk}-{first.isoformat()}-{last.isoformat()}"
                try:
                    cells[(seller.pk, first, last)] = _parse_amount(request.POST.get(name, ""))
                except (InvalidOperation, ValueError):
                    errors[name] = _("Enter an amount of at least 0, with at most 2 decimals.")
        if not errors:
            changed = services.quotas_save(cells)
            messages.success(request, _("Quotas saved (%(n)s changed).") % {"n": changed})
            return redirect(request.get_full_path())
    bookings = _bookings(sellers, periods, organisation.base_currency)
    rows = []
    for seller in sellers:
        cells = []
        for first, last in periods:
            key = (seller.pk, first, last)
            quota = quotas.get(key)
            booked = bookings.get((seller.pk, first), Decimal(0))
            name = f"q-{seller.pk}-{first.isoformat()}-{last.isoformat()}"
            cells.append(
                {
                    "name": name,
                    "quota": quota,
                    "value": request.POST.get(name, "")
                    if errors
                    else (quota if quota is not None else ""),
                    "booked": booked,
                    "attainment": (booked / quota) if quota else None,
                    "current": first <= today <= last,
                    "error": errors.get(name),
                }
            )
        rows.append({"seller": seller, "cells": cells})
    return render(
        request,
        "metrics/quotas.html",
        {
            "rows": rows,
            "periods": [
                (first, last, period_label(grain, first, calendar)) for first, last in periods
            ],
            "team": team,
            "teams": Team.objects.filter(kind=Team.Kind.SALES),
            "grain": grain,
            "can_edit": can_edit,
            "can_pick_team": user.role in (User.Role.EXECUTIVE, User.Role.ADMIN),
            "base_currency": organisation.base_currency,
            "has_errors": bool(errors),
        },
        status=400 if errors else 200,
    )


def _bookings(sellers, periods, base):
    """Won amounts in the base currency per (seller, period start): one query."""
    from django.db.models import Case, When

    whens = [When(closed_on__range=(first, last), then=Value(first)) for first, last in periods]
    rows = (
        Opportunity.objects.filter(
            owner__in=sellers, status="won", closed_on__range=(periods[0][0], periods[-1][1])
        )
        .annotate(period=Case(*whens))
        .values("owner_id", "period")
        .annotate(total=Sum(converted("amount", "currency", OuterRef("closed_on"), base)))
    )
    return {(row["owner_id"], row["period"]): row["total"] or Decimal(0) for row in rows}


# --- Dashboards ------------------------------------------------------------------------------


def _rtl() -> bool:
    from django.utils.translation import get_language_bidi

    return get_language_bidi()


def _block_waterfall(view):
    keys = [
        "opening_mrr",
        "new_mrr",
        "reactivation_mrr",
        "expansion_mrr",
        "contraction_mrr",
        "churned_mrr",
        "closing_mrr",
    ]
    values = dashboards.card_values(view, keys)
    short = [
        _("Opening"),
        _("New"),
        _("Reactivated"),
        _("Expansion"),
        _("Contraction"),
        _("Churn"),
        _("Closing"),
    ]
    kinds = ["total", "up", "up", "up", "down", "down", "total"]
    steps = [
        (label, values[key]["value"] or Decimal(0), kind)
        for label, key, kind in zip(short, keys, kinds, strict=True)
    ]
    return {
        "steps": steps,
        "chart": charts.waterfall(steps, rtl=_rtl(), title=_("MRR movements")),
        "drill": ["new_mrr", "reactivation_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr"],
    }


def _block_revenue(view):
    values = dashboards.card_values(
        view, ["expansion_mrr", "contraction_mrr", "churned_mrr", "revenue_impact"]
    )
    sources = dashboards.breakdowns(view, ["revenue_source"])["revenue_source"]

    def arr(mrr):
        return (mrr or Decimal(0)) * 12

    rows = [
        (_("Marketing-sourced new business"), arr(sources.get("marketing", [0])[0])),
        (_("Sales-sourced new business"), arr(sources.get("sales", [0])[0])),
        (_("Expansion"), arr(values["expansion_mrr"]["value"])),
        (_("Contraction"), -arr(values["contraction_mrr"]["value"])),
        (_("Churn"), -arr(values["churned_mrr"]["value"])),
    ]
    return {
        "rows": rows,
        "total": values["revenue_impact"]["value"],
        "chart": charts.bars(
            [(label, abs(value)) for label, value in rows],
            rtl=_rtl(),
            title=_("Revenue impact by source (ARR)"),
        ),
    }


def _block_trend(view):
    keys = dashboards.DASHBOARDS[view.kind]["trend"]
    labels, values = dashboards.series(view, keys)
    series = [(KPI_LABELS[key], values[key]) for key in keys]
    return {
        "labels": labels,
        "series": [(KPI_LABELS[key], key, values[key]) for key in keys],
        "unit": KPIS[keys[0]].unit if keys else "money",
        "chart": charts.line_chart(
            series, labels, rtl=_rtl(), title=", ".join(str(KPI_LABELS[k]) for k in keys)
        ),
    }


def _block_forecast(view):
    keys = [
        "quota",
        "bookings",
        "forecast_commit",
        "forecast_best_case",
        "forecast_weighted",
        "pipeline_coverage",
    ]
    values = dashboards.card_values(view, keys)
    quota = values["quota"]["value"]
    bars = [(KPI_LABELS[key], values[key]["value"] or Decimal(0)) for key in keys[:5]]
    return {
        "cards": [dashboards.card(key, values[key]) for key in keys],
        "quota": quota,
        "chart": charts.bars(bars, rtl=_rtl(), title=_("Forecast against quota")),
        "accuracy": dashboards.forecast_accuracy_rows(view),
    }


def _breakdown_rows(data: dict) -> list[dict]:
    rows = []
    for key, (won, lost, booked, cycle) in sorted(data.items(), key=lambda item: -item[1][2]):
        rows.append(
            {
                "key": key,
                "won": int(won),
                "lost": int(lost),
                "win_rate": won / (won + lost) if won + lost else None,
                "deal_size": booked / won if won else None,
                "cycle": cycle / won if won else None,
                "bookings": booked,
            }
        )
    return rows


def _block_breakdowns(view):
    data = dashboards.breakdowns(view, ["deal_kind", "persona", "deal_source"])
    return {
        "tables": [
            (_("By deal kind"), _breakdown_rows(data["deal_kind"])),
            (_("By buyer persona"), _breakdown_rows(data["persona"])),
            (_("By lead source"), _breakdown_rows(data["deal_source"])),
        ]
    }


def _block_pipeline(view):
    from pipeline.models import Stage

    data = dashboards.breakdowns(view, ["pipeline_stage"])["pipeline_stage"]
    stages = {
        str(stage.pk): stage
        for stage in Stage.objects.filter(pk__in=[int(k) for k in data if k.isdigit()])
        .select_related("pipeline")
        .order_by("pipeline__name", "position")
    }
    rows = [
        {
            "stage": stages[key],
            "deals": int(vector[0]),
            "amount": vector[1],
            "weighted": vector[2],
        }
        for key, vector in data.items()
        if key in stages
    ]
    rows.sort(key=lambda row: (row["stage"].pipeline.name, row["stage"].position))
    label = "{} · {}"
    return {
        "rows": rows,
        "chart": charts.bars(
            [(label.format(r["stage"].pipeline.name, r["stage"].name), r["amount"]) for r in rows],
            rtl=_rtl(),
            title=_("Open pipeline by stage"),
        ),
    }


def _block_team(view):
    return {"rows": dashboards.team_rows(view)}


def _block_goals(view):
    return {"goals": dashboards.goals_for(view)}


def _block_cards(view):
    keys = dashboards.DASHBOARDS[view.kind]["cards"]
    values = dashboards.card_values(view, keys)
    return {"cards": [dashboards.card(key, values[key]) for key in keys]}


def _block_funnel(view):
    values = dashboards.card_values(view, ["leads_created", "mqls", "sqls"])
    won = dashboards.breakdowns(view, ["deal_source"])["deal_source"]
    marketing_won = sum((int(vector[0]) for key, vector in won.items() if key != "direct"), 0)
    steps = [
        (_("Leads"), int(values["leads_created"]["value"] or 0)),
        (_("MQLs"), int(values["mqls"]["value"] or 0)),
        (_("SQLs"), int(values["sqls"]["value"] or 0)),
        (_("Won"), marketing_won),
    ]
    conversions = [
        (steps[i][0], steps[i + 1][0], steps[i + 1][1] / steps[i][1] if steps[i][1] else None)
        for i in range(len(steps) - 1)
    ]
    return {
        "steps": steps,
        "conversions": conversions,
        "chart": charts.funnel(steps, rtl=_rtl(), title=_("Funnel")),
    }


def _block_sourced(view):
    data = dashboards.breakdowns(view, ["pipeline_source", "deal_source"])
    pipeline = [v for k, v in data["pipeline_source"].items() if k != "direct"]
    won = [v for k, v in data["deal_source"].items() if k != "direct"]
    return {
        "pipeline_deals": sum((int(v[0]) for v in pipeline), 0),
        "pipeline_amount": sum((v[1] for v in pipeline), Decimal(0)),
        "won": sum((int(v[0]) for v in won), 0),
        "bookings": sum((v[2] for v in won), Decimal(0)),
    }


def _block_leads(view):
    data = dashboards.breakdowns(view, ["lead_source", "lead_campaign"])

    def rows(entries):
        return [
            {
                "key": key,
                "created": int(v[0]),
                "mqls": int(v[1]),
                "sqls": int(v[2]),
                "converted": int(v[3]),
                "mql_to_sql": v[2] / v[1] if v[1] else None,
            }
            for key, v in sorted(entries.items(), key=lambda item: -item[1][0])
        ]

    return {
        "tables": [
            (_("By source"), rows(data["lead_source"])),
            (_("By campaign"), rows(data["lead_campaign"])),
        ]
    }


def _block_handoffs(view):
    data = dashboards.breakdowns(view, ["handoff_sla"])["handoff_sla"]
    kind = "deal_to_cs" if view.kind == "cs" else "lead_to_sales"
    on_time, late, waiting, breached = data.get(kind, [Decimal(0)] * 4)
    decided = on_time + late
    return {
        "kind": kind,
        "on_time": int(on_time),
        "late": int(late),
        "waiting": int(waiting),
        "breached": int(breached),
        "attainment": on_time / decided if decided else None,
    }


def _block_churn(view):
    data = dashboards.breakdowns(view, ["churn_reason"])["churn_reason"]
    rows = [
        {"key": key, "subscriptions": int(v[0]), "mrr": v[1]}
        for key, v in sorted(data.items(), key=lambda item: -item[1][1])
    ]
    return {"rows": rows}


def _block_health(view):
    from crm.models import Account, Subscription

    data = dashboards.breakdowns(view, ["health"])["health"]
    order = ["good", "watch", "risk", "unknown"]
    bands = [(band, int(data.get(band, [0])[0])) for band in order]
    accounts = Account.objects.filter(
        view.scope.owned("owner"), is_deleted=False, health_score__lt=AT_RISK_BELOW
    )
    renewals = Subscription.objects.confirmed().filter(
        view.scope.owned("account__owner"),
        end_on__gte=view.today,
        end_on__lte=view.today + timedelta(days=Organisation.get().renewal_lead_days),
        account__is_deleted=False,
    )
    return {
        "bands": bands,
        "chart": charts.bars(
            [(breakdown_label(band), count) for band, count in bands],
            rtl=_rtl(),
            title=_("Accounts by health"),
        ),
        "at_risk": accounts.order_by("health_score", "name")[:8],
        "renewals": renewals.select_related("account").order_by("end_on")[:8],
    }


BLOCKS = {
    "cards": _block_cards,
    "goals": _block_goals,
    "waterfall": _block_waterfall,
    "revenue": _block_revenue,
    "trend": _block_trend,
    "forecast": _block_forecast,
    "breakdowns": _block_breakdowns,
    "pipeline": _block_pipeline,
    "team": _block_team,
    "funnel": _block_funnel,
    "sourced": _block_sourced,
    "leads": _block_leads,
    "handoffs": _block_handoffs,
    "churn": _block_churn,
    "health": _block_health,
}


@login_required
def dashboard_home(request: HttpRequest) -> HttpResponse:
    return redirect("metrics:dashboard", kind=dashboards.HOME.get(request.user.role, "executive"))


@login_required
@vary_on_headers("HX-Request")
def dashboard(request: HttpRequest, kind: str) -> HttpResponse:
    """A dashboard's frame: pickers and one placeholder per block, each loading (and
    reloading when new snapshots land) as its own partial."""
    view = dashboards.view_for(request, kind)
    return render(
        request,
        "metrics/dashboard.html",
        {
            "view": view,
            "spec": dashboards.DASHBOARDS[kind],
            "kinds": [(k, d["title"]) for k, d in dashboards.DASHBOARDS.items()],
            "scopes": dashboards.allowed_scopes(request.user, view.scope),
            "scope_value": dashboards.scope_param(view.scope),
            "stamp": dashboards.latest_stamp(view),
            "can_set_goals": request.user.role in GOAL_SETTERS,
        },
    )


@login_required
def dashboard_block(request: HttpRequest, kind: str, block: str) -> HttpResponse:
    view = dashboards.view_for(request, kind)
    if block not in BLOCKS or block not in dashboards.DASHBOARDS[kind]["blocks"]:
        raise Http404
    context = {"view": view, "block": block, **BLOCKS[block](view)}
    if "cards" in context:  # blocks showing KPI cards link them to their records
        context["drillable"] = dashboards.drillable(request.user, view.scope)
    return render(request, f"metrics/dashboard.html#block-{block}", context)


@login_required
def dashboard_stamp(request: HttpRequest, kind: str) -> HttpResponse:
    """When the scope's snapshots last changed; a change tells every block to reload."""
    view = dashboards.view_for(request, kind)
    stamp = dashboards.latest_stamp(view)
    response = render(request, "metrics/dashboard.html#stamp", {"view": view, "stamp": stamp})
    if stamp != request.GET.get("stamp", ""):
        response["HX-Trigger"] = "kpi-refresh"
    return response


@login_required
def kpi_records(request: HttpRequest) -> HttpResponse:
    """The records behind one number of a dashboard, with their base-currency amounts and
    the total they add up to; only where the user may see every one of them."""
    from .drilldown import FAMILY_OF, TOTALS, records_all_visible
    from .drilldown import kpi_records as records_of

    key = request.GET.get("kpi", "")
    if key not in FAMILY_OF:
        raise Http404
    view = dashboards.view_for(request, request.GET.get("dashboard") or "executive")
    records = records_of(key, view.as_of, view.grain, view.calendar, view.scope.owners())
    if not records_all_visible(key, records, request.user):
        raise Http404
    family = FAMILY_OF[key]
    rows = list(records.order_by("id")[:200])
    aggregates = {"count": Count("id")}
    if key in TOTALS:
        aggregates["total"] = TOTALS[key]()
    summary = records.order_by().aggregate(**aggregates)
    total, count = summary.get("total"), summary["count"]
    return render(
        request,
        "metrics/kpi_records.html",
        {
            "view": view,
            "kpi": key,
            "family": family,
            "label": KPI_LABELS[key],
            "formula": KPIS[key].formula,
            "rows": rows,
            "count": count,
            "total": total,
            "total_unit": KPIS[key].unit,
            "shown": len(rows),
            "currency": Organisation.get().base_currency,
            "back": f"{reverse('metrics:dashboard', args=[view.kind])}?{view.query()}",
        },
    )


GOAL_SETTERS = (User.Role.EXECUTIVE, User.Role.ADMIN)


@login_required
@require_http_methods(["GET", "POST"])
def goal_new(request: HttpRequest) -> HttpResponse:
    """Executives set a target for any KPI, period and scope."""
    if request.user.role not in GOAL_SETTERS:
        raise PermissionDenied
    view = dashboards.view_for(request, request.GET.get("dashboard") or "executive")
    form = GoalForm(request.POST or None, view=view, user=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Goal saved."))
        return redirect(f"{reverse('metrics:dashboard', args=[view.kind])}?{view.query()}")
    return render(request, "metrics/goal_form.html", {"form": form, "view": view})


@login_required
@require_http_methods(["POST"])
def goal_delete(request: HttpRequest, pk: int) -> HttpResponse:
    if request.user.role not in GOAL_SETTERS:
        raise PermissionDenied
    Goal.objects.filter(pk=pk).delete()
    messages.success(request, _("Goal removed."))
    return redirect(safe_next(request, request.POST.get("next", ""), reverse("metrics:dashboards")))
