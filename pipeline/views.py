from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from crm.models import Activity
from revops.audit import history_for
from revops.bulk_changes import may_bulk_change
from revops.exports import can_export, spreadsheet_response
from revops.listing import Listing
from revops.models import Organisation, Team, User
from revops.params import int_param, safe_next
from revops.rules import can_create
from revops.views_utils import apply_errors, form_page, partial, saved

from . import selectors, services
from .filters import LeadFilter, OpportunityFilter
from .forms import (
    AcceptForm,
    ConvertForm,
    HandoffForm,
    LeadForm,
    MoveForm,
    OpportunityForm,
    RejectForm,
)
from .models import MEDDIC_FIELDS, Handoff, Lead, Opportunity, Pipeline, Stage

LEAD_LISTING = Listing(
    LeadFilter,
    sorts={
        "-created_on": (gettext_lazy("Newest"), ["-created_on"]),
        "created_on": (gettext_lazy("Oldest"), ["created_on"]),
        "-score": (gettext_lazy("Score"), ["-score"]),
        "name": (gettext_lazy("Name"), ["first_name", "last_name"]),
    },
    default_sort="-created_on",
)


@login_required
@vary_on_headers("HX-Request")
def lead_list(request: HttpRequest) -> HttpResponse:
    qs = Lead.objects.visible_to(request.user).with_duplicate_flag().select_related("owner")
    context = LEAD_LISTING.page(request, qs)
    context["can_create"] = can_create(request.user, "lead")
    if can_export(request.user, "leads"):
        context["export_url"] = reverse("pipeline:lead-export")
    context["statuses"] = Lead.Status.choices
    context["bulk_kind"], context["can_bulk"] = "lead", may_bulk_change(request.user, "lead")
    return render(request, partial(request, "pipeline/lead_list.html", "results"), context)


@login_required
@require_http_methods(["GET", "POST"])
def lead_create(request: HttpRequest) -> HttpResponse:
    if not can_create(request.user, "lead"):
        raise PermissionDenied
    form = LeadForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid() and request.POST.get("_validate") != "1":
        lead = form.save()
        return saved(request, lead, _("Lead created."))
    return form_page(request, "pipeline/lead_form.html", {"form": form})


@login_required
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_object_or_404(
        Lead.objects.visible_to(request.user)
        .with_duplicate_flag()
        .select_related("owner", "account", "converted_opportunity"),
        pk=pk,
    )
    user = request.user
    handoffs = list(lead.handoffs.select_related("from_user", "to_team", "to_user", "decided_by"))
    pending = next((h for h in handoffs if h.status == Handoff.Status.PENDING), None)
    can_decide = bool(pending) and Handoff.objects.decidable_by(user).filter(pk=pending.pk).exists()
    can_edit = Lead.objects.editable_by(user).filter(pk=pk).exists()
    context = {
        "lead": lead,
        "handoffs": handoffs,
        "pending": pending,
        "pending_sla": pending.sla_state() if pending else None,
        "can_edit": can_edit,
        "can_hand_off": can_create(user, "handoff")
        and pending is None
        and lead.status not in (Lead.Status.SQL, Lead.Status.CONVERTED, Lead.Status.DISQUALIFIED),
        "can_decide": can_decide,
        "can_convert": lead.status == Lead.Status.SQL
        and can_create(user, "opportunity")
        and can_edit,
        "can_add_activity": can_create(user, "activity"),
        "activities": Activity.objects.visible_to(user)
        .filter(lead=lead)
        .select_related("owner")[:50],
        "history": history_for(lead, limit=30),
        "handoff_form": HandoffForm(),
        "reject_form": RejectForm(),
        "accept_form": AcceptForm(receivers=services.handoff_receivers(pending.to_team))
        if can_decide and user.role != User.Role.REP
        else None,
    }
    return render(request, "pipeline/lead_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def lead_edit(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_object_or_404(Lead.objects.visible_to(request.user), pk=pk)
    if not Lead.objects.editable_by(request.user).filter(pk=pk).exists():
        raise PermissionDenied
    form = LeadForm(request.POST or None, instance=lead, user=request.user)
    if request.method == "POST" and form.is_valid() and request.POST.get("_validate") != "1":
        form.save()
        return saved(request, lead, _("Lead saved."))
    return form_page(request, "pipeline/lead_form.html", {"form": form, "lead": lead})


@login_required
@require_http_methods(["GET", "POST"])
def lead_delete(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_object_or_404(Lead.objects.visible_to(request.user), pk=pk)
    if not Lead.objects.editable_by(request.user).filter(pk=pk).exists():
        raise PermissionDenied
    if request.method == "POST":
        lead.delete()
        messages.success(request, _("Lead deleted."))
        return redirect("pipeline:lead-list")
    return render(request, "crm/confirm_delete.html", {"object": lead, "kind": _("lead")})


@login_required
@require_http_methods(["GET", "POST"])
def lead_handoff(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_object_or_404(Lead.objects.visible_to(request.user), pk=pk)
    if not can_create(request.user, "handoff"):
        raise PermissionDenied
    form = HandoffForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.lead_handoff(
                lead=lead,
                by=request.user,
                to_team=form.cleaned_data["to_team"],
                to_user=form.cleaned_data["to_user"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("Lead handed off to sales."))
            return redirect(lead)
    return render(request, "pipeline/handoff_form.html", {"form": form, "lead": lead})


@login_required
@require_POST
def handoff_accept(request: HttpRequest, pk: int) -> HttpResponse:
    handoff = get_object_or_404(Handoff.objects.visible_to(request.user), pk=pk)
    form = AcceptForm(request.POST, receivers=services.handoff_receivers(handoff.to_team))
    if form.is_valid():
        try:
            services.handoff_accept(
                handoff=handoff,
                by=request.user,
                assignee=form.cleaned_data["assignee"],
                subscription={k: form.cleaned_data.get(k) for k in ("mrr", "start_on", "product")},
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request,
                _("Lead accepted: it is yours to work.")
                if handoff.kind == Handoff.Kind.LEAD_TO_SALES
                else _("Customer accepted: the account is yours."),
            )
    else:
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
    return redirect(safe_next(request, request.POST.get("next", ""), handoff.get_absolute_url()))


@login_required
@require_POST
def handoff_reject(request: HttpRequest, pk: int) -> HttpResponse:
    handoff = get_object_or_404(Handoff.objects.visible_to(request.user), pk=pk)
    form = RejectForm(request.POST)
    if form.is_valid():
        try:
            services.handoff_reject(
                handoff=handoff, by=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Lead sent back to marketing."))
            return redirect("pipeline:handoff-queue")
    else:
        messages.error(request, _("Say why the lead is rejected."))
    return redirect(handoff.get_absolute_url())


@login_required
@vary_on_headers("HX-Request")
def handoff_queue(request: HttpRequest) -> HttpResponse:
    """The receiving team's queue with each handoff's SLA clock. Reps and managers see
    their team's; everyone else picks a team. `?sla=breached` lists the breached ones."""
    user = request.user
    teams = Team.objects.filter(kind__in=[Team.Kind.SALES, Team.Kind.CS])
    receiving = user.role in (User.Role.REP, User.Role.MANAGER, User.Role.CS) and user.team_id
    if receiving:
        team = user.team
    else:
        team_id = int_param(request.GET.get("team"))
        team = teams.filter(pk=team_id).first() if team_id else None
    qs = Handoff.objects.visible_to(user).select_related(
        "lead", "opportunity__account", "from_user", "to_team", "to_user", "decided_by"
    )
    if team is not None:
        qs = qs.filter(to_team=team)
    status = request.GET.get("status", "pending")
    if status in Handoff.Status.values:
        qs = qs.filter(status=status)
    now = timezone.now()
    if request.GET.get("sla") == "breached":
        qs = qs.filter(
            Q(status=Handoff.Status.PENDING, sla_due_at__lt=now) | Q(decided_at__gt=F("sla_due_at"))
        )
    rows = list(qs.order_by("sla_due_at", "pk")[:200])
    for handoff in rows:
        handoff.sla = handoff.sla_state(now)
    context = {
        "rows": rows,
        "team": team,
        "teams": teams,
        "status": status,
        "statuses": Handoff.Status.choices,
        "sla": request.GET.get("sla", ""),
        "can_pick_team": not receiving,
        "decidable": set(
            Handoff.objects.decidable_by(user)
            .filter(pk__in=[h.pk for h in rows])
            .values_list("pk", flat=True)
        ),
    }
    return render(request, partial(request, "pipeline/handoff_queue.html", "results"), context)


# --- Opportunities -----------------------------------------------------------------------

OPPORTUNITY_LISTING = Listing(
    OpportunityFilter,
    sorts={
        "-amount": (gettext_lazy("Largest"), ["-amount"]),
        "amount": (gettext_lazy("Smallest"), ["amount"]),
        "expected_close_on": (gettext_lazy("Closing soonest"), ["expected_close_on"]),
        "-created_on": (gettext_lazy("Newest"), ["-created_on"]),
        "name": (gettext_lazy("Name"), ["name"]),
    },
    default_sort="-amount",
)


def _opportunity_editable(request, pk):
    opportunity = get_object_or_404(Opportunity.objects.visible_to(request.user), pk=pk)
    if not Opportunity.objects.editable_by(request.user).filter(pk=pk).exists():
        raise PermissionDenied(_("You may read this deal but not change it."))
    return opportunity


@login_required
@vary_on_headers("HX-Request")
def opportunity_list(request: HttpRequest) -> HttpResponse:
    qs = Opportunity.objects.visible_to(request.user).select_related("account", "owner", "stage")
    context = OPPORTUNITY_LISTING.page(request, qs)
    context["can_create"] = can_create(request.user, "opportunity")
    if can_export(request.user, "deals"):
        context["export_url"] = reverse("pipeline:opportunity-export")
    context["bulk_kind"] = "opportunity"
    context["can_bulk"] = may_bulk_change(request.user, "opportunity")
    return render(request, partial(request, "pipeline/opportunity_list.html", "results"), context)


@login_required
@require_http_methods(["GET", "POST"])
def opportunity_create(request: HttpRequest) -> HttpResponse:
    if not can_create(request.user, "opportunity"):
        raise PermissionDenied
    initial = {"account": request.GET.get("account")} if request.GET.get("account") else {}
    form = OpportunityForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid() and request.POST.get("_validate") != "1":
        try:
            opportunity = services.opportunity_create(opportunity=form.instance, by=request.user)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            return saved(request, opportunity, _("Deal created."))
    return form_page(request, "pipeline/opportunity_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def opportunity_edit(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = _opportunity_editable(request, pk)
    form = OpportunityForm(request.POST or None, instance=opportunity, user=request.user)
    conflict = None
    if request.method == "POST" and form.is_valid() and request.POST.get("_validate") != "1":
        data = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            opportunity = services.opportunity_update(
                opportunity_id=pk,
                data=data,
                by=request.user,
                expected_version=form.cleaned_data.get("version"),
            )
        except services.Conflict as error:
            conflict = error
        except ValidationError as error:
            apply_errors(form, error)
        else:
            return saved(request, opportunity, _("Deal saved."))
    status = 409 if conflict else 200
    response = form_page(
        request,
        "pipeline/opportunity_form.html",
        {
            "form": form,
            "opportunity": opportunity,
            "conflict": conflict,
            "conflict_rows": _conflict_rows(form, conflict),
        },
    )
    response.status_code = status if not request.htmx else 200
    return response


def _conflict_rows(form, conflict):
    if not conflict:
        return []
    rows = []
    for name, (mine, theirs) in conflict.changes.items():
        if name in form.fields:
            rows.append((form.fields[name].label, mine, theirs))
    return rows


@login_required
def opportunity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = get_object_or_404(
        Opportunity.objects.visible_to(request.user).select_related(
            "account", "owner", "stage", "pipeline", "primary_contact__persona"
        ),
        pk=pk,
    )
    user = request.user
    from crm.selectors import account_timeline

    timeline, _more = account_timeline(opportunity.account, user)
    context = {
        "opportunity": opportunity,
        "path": selectors.stage_path(opportunity),
        "stages": list(opportunity.pipeline.stages.order_by("position")),
        "meddic": [
            (Opportunity._meta.get_field(n).verbose_name, getattr(opportunity, n))
            for n in MEDDIC_FIELDS
        ],
        "can_edit": Opportunity.objects.editable_by(user).filter(pk=pk).exists(),
        "can_add_activity": can_create(user, "activity"),
        "activities": Activity.objects.visible_to(user)
        .filter(opportunity=opportunity)
        .select_related("owner")[:50],
        "timeline": timeline[:10],
        "history": history_for(opportunity, limit=30),
        "amount_base": _amount_in_base(opportunity),
    }
    return render(request, "pipeline/opportunity_detail.html", context)


def _amount_in_base(opportunity):
    from revops.money import to_base

    day = opportunity.closed_on or timezone.localdate()
    try:
        return to_base(opportunity.amount, opportunity.currency, day)
    except LookupError:
        return None


def _board_filters(request):
    user = request.user
    filters = {}
    owner = int_param(request.GET.get("owner"))
    team = int_param(request.GET.get("team"))
    if owner:
        filters["owner"] = User.objects.filter(pk=owner).first()
    if team:
        filters["team"] = Team.objects.filter(pk=team).first()
    elif not owner and user.role == User.Role.REP:
        filters["owner"] = user
    elif not owner and user.role == User.Role.MANAGER and user.team_id:
        filters["team"] = user.team
    period = request.GET.get("close", "")
    filters.update(_close_period(period))
    return filters, period


def _close_period(period):
    """The board's "Closing" filter. By default the won and lost columns hold the deals
    closed this quarter (the open ones are all there): years of closed deals are history,
    not a pipeline, and counting them would slow every board. "all" shows them all."""
    from metrics.periods import current_period

    if period in ("month", "quarter", "year"):
        start, end = current_period(period, timezone.localdate())
        return {"close_from": start, "close_to": end}
    if period == "all":
        return {}
    start, _end = current_period("quarter", timezone.localdate())
    return {"closed_since": start}


@login_required
@vary_on_headers("HX-Request")
def board(request: HttpRequest) -> HttpResponse:
    """The pipeline board: a column per stage with its count and sum in the base currency;
    cards move by drag and drop or by each card's stage menu."""
    pipelines = list(Pipeline.objects.all())
    pipeline = next((p for p in pipelines if str(p.pk) == request.GET.get("pipeline")), None)
    pipeline = pipeline or next((p for p in pipelines if p.is_default), None)
    pipeline = pipeline or (pipelines[0] if pipelines else None)
    filters, period = _board_filters(request)
    base_currency = Organisation.get().base_currency
    columns = (
        selectors.pipeline_board(request.user, pipeline, base_currency, **filters)
        if pipeline
        else []
    )
    context = {
        "pipeline": pipeline,
        "pipelines": pipelines,
        "columns": columns,
        "filters": filters,
        "period": period,
        "owners": User.objects.filter(
            is_active=True, role__in=[User.Role.REP, User.Role.MANAGER, User.Role.CS]
        )
        .order_by("full_name", "pk")
        .values_list("pk", User.label_expression()),
        "teams": Team.objects.filter(kind__in=[Team.Kind.SALES, Team.Kind.CS]),
        "base_currency": base_currency,
        "query": request.GET.urlencode(),
        "stage_list": [column.stage for column in columns],
        "board_url": f"{reverse('pipeline:board')}?{request.GET.urlencode()}",
    }
    return render(request, partial(request, "pipeline/board.html", "board"), context)


@login_required
def board_column(request: HttpRequest, stage_id: int) -> HttpResponse:
    """The next cards of one column ("more")."""
    stage = get_object_or_404(Stage.objects.select_related("pipeline"), pk=stage_id)
    filters, _period = _board_filters(request)
    offset = int_param(request.GET.get("offset"), 0)
    cards = selectors.column_cards(request.user, stage.pipeline, stage, offset, **filters)
    more = selectors.board_queryset(request.user, stage.pipeline, **filters).filter(
        stage=stage
    ).count() > offset + len(cards)
    return render(
        request,
        "pipeline/board_cards.html",
        {
            "cards": cards,
            "stage_list": list(stage.pipeline.stages.all()),
            "board_url": f"{reverse('pipeline:board')}?{request.GET.urlencode()}",
            "stage": stage,
            "next_offset": offset + len(cards),
            "more": more,
            "query": request.GET.urlencode(),
        },
    )


@login_required
@require_POST
def opportunity_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a deal to another stage (board drag and drop, card menu, detail page). A won or
    lost stage without its close date (and reason) answers with the form that asks for it;
    a stale version answers 409."""
    opportunity = _opportunity_editable(request, pk)
    form = MoveForm(request.POST)
    form.fields["stage"].queryset = opportunity.pipeline.stages.all()
    back = safe_next(request, request.POST.get("next", ""), "")
    if form.is_valid():
        stage = form.cleaned_data["stage"]
        needs_close = stage.is_closed and not form.cleaned_data.get("closed_on")
        needs_reason = (
            stage.outcome == Stage.Outcome.LOST
            and not form.cleaned_data.get("lost_reason", "").strip()
        )
        if not (needs_close or needs_reason):
            try:
                services.opportunity_move(
                    opportunity_id=pk,
                    stage=stage,
                    by=request.user,
                    expected_version=form.cleaned_data["version"],
                    closed_on=form.cleaned_data.get("closed_on"),
                    lost_reason=form.cleaned_data.get("lost_reason", ""),
                )
            except services.Conflict as error:
                messages.error(request, str(error))
                if request.htmx:
                    response = _board_response(request, status=409)
                    response["HX-Retarget"], response["HX-Reswap"] = "#board", "outerHTML"
                    return response
                return redirect(back or opportunity.get_absolute_url())
            except ValidationError as error:
                apply_errors(form, error)
            else:
                if request.htmx and request.POST.get("swap") == "card":
                    return _moved_card_response(request, pk, opportunity.stage)
                if request.htmx:
                    return _board_response(request)
                messages.success(request, _("Deal moved to %(stage)s.") % {"stage": stage})
                return redirect(back or opportunity.get_absolute_url())
        elif not form.errors and request.POST.get("confirm") == "1":
            if needs_close:
                form.add_error("closed_on", _("When did the deal close?"))
            if needs_reason:
                form.add_error("lost_reason", _("Say why the deal was lost."))
    if form.is_bound and form.is_valid() and request.POST.get("confirm") != "1":
        # First ask: the same move, with today's date and the reason to fill in.
        form = MoveForm(
            initial={
                **form.cleaned_data,
                "closed_on": form.cleaned_data.get("closed_on") or timezone.localdate(),
            }
        )
        form.fields["stage"].queryset = opportunity.pipeline.stages.all()
        form.cleaned_data = {"stage": form.initial["stage"]}
    context = {
        "form": form,
        "opportunity": opportunity,
        "next": back,
        "stage": getattr(form, "cleaned_data", {}).get("stage"),
        "board_query": request.POST.get("board_query", ""),
    }
    if request.htmx:
        response = render(request, "pipeline/move_form.html#move-form", context)
        response["HX-Retarget"] = "#close-dialog"
        response["HX-Reswap"] = "innerHTML"
        return response
    return render(request, "pipeline/move_form.html", context, status=400 if form.errors else 200)


def _moved_card_response(request, pk, left):
    """After a drag and drop the card is already where it belongs: the answer is that card
    (its new version) and the new count and sum of the two columns it joined and left,
    swapped in out of band; the rest of the board is not read again."""
    from django.http import QueryDict

    request.GET = QueryDict(request.POST.get("board_query", ""))
    filters, period = _board_filters(request)
    card = (
        Opportunity.objects.filter(pk=pk)
        .annotate(editable=selectors.editable_flag(request.user))
        .select_related("account", "owner", "stage")
        .get()
    )
    columns = selectors.board_totals(
        request.user,
        card.pipeline,
        Organisation.get().base_currency,
        stages=[left, card.stage],
        **filters,
    )
    context = {
        "card": card,
        "columns": columns,
        "period": period,
        "base_currency": Organisation.get().base_currency,
        "query": request.GET.urlencode(),
        "stage_list": list(card.pipeline.stages.all()),
        "board_url": f"{reverse('pipeline:board')}?{request.GET.urlencode()}",
    }
    return render(request, "pipeline/board_moved.html", context)


def _board_response(request, status=200):
    """Re-render the board (counts, sums, cards) for the filters the board was showing."""
    from django.http import QueryDict

    request.GET = QueryDict(request.POST.get("board_query", ""))
    response = board(request)
    response.status_code = status
    return response


# --- Lead conversion ---------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def lead_convert(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_object_or_404(Lead.objects.visible_to(request.user), pk=pk)
    if not Lead.objects.editable_by(request.user).filter(pk=pk).exists() or not can_create(
        request.user, "opportunity"
    ):
        raise PermissionDenied
    matches = services.lead_matches(lead, request.user)
    initial = {
        "name": f"{lead.company or lead.display_name}",
        "currency": Organisation.get().base_currency,
        "account": matches["accounts"][0].pk if matches["accounts"] else None,
        "contact": matches["contacts"][0].pk if matches["contacts"] else None,
    }
    default = Pipeline.default()
    if default:
        first = default.stages.filter(outcome="open").order_by("position").first()
        initial["stage"] = first.pk if first else None
    data = request.POST or None
    if request.method == "POST" and request.POST.get("quick") == "1":
        # One click from the lead page: the proposed values as they are.
        data = {key: value for key, value in initial.items() if value is not None}
    form = ConvertForm(data, user=request.user, matches=matches, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            opportunity = services.lead_convert(
                lead=lead,
                by=request.user,
                account=data["account"],
                contact=data["contact"],
                opportunity_data={
                    "name": data["name"],
                    "amount": data["amount"] or 0,
                    "currency": data["currency"],
                    "expected_close_on": data["expected_close_on"],
                    "stage": data["stage"],
                },
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("Lead converted into a deal."))
            return redirect(opportunity)
    return render(
        request, "pipeline/lead_convert.html", {"form": form, "lead": lead, "matches": matches}
    )


@login_required
def handoff_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A won deal handed to customer success: the deal's whole history, the checklist, the
    draft subscription to confirm or edit, accept or reject."""
    handoff = get_object_or_404(
        Handoff.objects.visible_to(request.user).select_related(
            "opportunity__account",
            "opportunity__owner",
            "opportunity__stage",
            "from_user",
            "to_team",
            "to_user",
            "decided_by",
        ),
        pk=pk,
    )
    if handoff.kind == Handoff.Kind.LEAD_TO_SALES:
        return redirect(handoff.get_absolute_url())
    from crm.models import Subscription
    from crm.selectors import account_timeline

    user = request.user
    opportunity = handoff.opportunity
    can_decide = Handoff.objects.decidable_by(user).filter(pk=pk).exists()
    drafts = list(Subscription.objects.filter(source_opportunity=opportunity))
    draft = next((d for d in drafts if d.status == "draft"), None)
    timeline, _more = account_timeline(opportunity.account, user)
    return render(
        request,
        "pipeline/handoff_detail.html",
        {
            "handoff": handoff,
            "opportunity": opportunity,
            "sla": handoff.sla_state(),
            "checklist": list(handoff.checklist.select_related("done_by")),
            "can_decide": can_decide,
            "can_tick": can_decide
            or (handoff.to_user_id == user.pk)
            or user.role == User.Role.ADMIN,
            "subscriptions": drafts,
            "accept_form": AcceptForm(
                receivers=services.handoff_receivers(handoff.to_team),
                initial={"mrr": draft.mrr, "start_on": draft.start_on, "product": draft.product}
                if draft
                else None,
                with_subscription=draft is not None,
            ),
            "reject_form": RejectForm(),
            "path": selectors.stage_path(opportunity),
            "timeline": timeline[:20],
            "activities": Activity.objects.visible_to(user)
            .filter(opportunity=opportunity)
            .select_related("owner")[:20],
        },
    )


@login_required
@require_POST
def checklist_item_toggle(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    from .models import HandoffChecklistItem

    handoff = get_object_or_404(Handoff.objects.visible_to(request.user), pk=pk)
    item = get_object_or_404(HandoffChecklistItem, pk=item_pk, handoff=handoff)
    try:
        services.checklist_item_set(
            item=item, by=request.user, done=request.POST.get("done") == "1"
        )
    except PermissionDenied:
        raise
    if request.htmx:
        return render(
            request,
            "pipeline/handoff_detail.html#checklist-item",
            {"item": item, "handoff": handoff, "can_tick": True},
        )
    return redirect(handoff.get_absolute_url())


# --- Spreadsheet exports -----------------------------------------------------------------


@login_required
def lead_export(request: HttpRequest) -> HttpResponse:
    qs = LEAD_LISTING.filtered(
        request, Lead.objects.visible_to(request.user).select_related("owner")
    )
    return spreadsheet_response(
        request,
        what="leads",
        queryset=qs,
        columns=[
            ("external_id", "external_id"),
            ("first_name", "first_name"),
            ("last_name", "last_name"),
            ("email", "email"),
            ("company", "company"),
            ("source", "source"),
            ("utm_campaign", "utm_campaign"),
            ("score", "score"),
            ("status", "status"),
            ("owner_email", "owner__email"),
            ("created_on", "created_on"),
        ],
    )


@login_required
def opportunity_export(request: HttpRequest) -> HttpResponse:
    qs = OPPORTUNITY_LISTING.filtered(
        request,
        Opportunity.objects.visible_to(request.user).select_related("account", "owner", "stage"),
    )
    return spreadsheet_response(
        request,
        what="deals",
        queryset=qs,
        columns=[
            ("external_id", "external_id"),
            ("name", "name"),
            ("account", "account__name"),
            ("stage", "stage__name"),
            ("status", "status"),
            ("kind", "kind"),
            ("amount", "amount"),
            ("currency", "currency"),
            ("expected_close_on", "expected_close_on"),
            ("closed_on", "closed_on"),
            ("owner_email", "owner__email"),
        ],
    )
