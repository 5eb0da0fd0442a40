from datetime import date
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Sum, Value
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from pipeline.models import Opportunity
from revops.models import Organisation, Team, User
from revops.money import converted
from revops.params import int_param
from revops.text import digits_to_latin

from . import services
from .models import Quota
from .periods import period_label, periods_of_year


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
    text = digits_to_latin(text.strip()).replace(",", "").replace("٬", "").replace(" ", "")
    if not text:
        return None
    value = Decimal(text)
    if (
        not value.is_finite()
        or value < 0
        or value.as_tuple().exponent < -2
        or abs(value) >= Decimal(10) ** 18
    ):
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
