from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from crm.models import Activity
from revops.audit import history_for
from revops.listing import Listing
from revops.models import Team, User
from revops.rules import can_create
from revops.views_utils import form_page, partial, saved

from . import services
from .filters import LeadFilter
from .forms import AcceptForm, HandoffForm, LeadForm, RejectForm
from .models import Handoff, Lead

LEAD_LISTING = Listing(
    LeadFilter,
    sorts={
        "-created_on": (_l("Newest"), ["-created_on"]),
        "created_on": (_l("Oldest"), ["created_on"]),
        "-score": (_l("Score"), ["-score"]),
        "name": (_l("Name"), ["first_name", "last_name"]),
    },
    default_sort="-created_on",
)


def _apply_errors(form, error: ValidationError):
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


@login_required
@vary_on_headers("HX-Request")
def lead_list(request: HttpRequest) -> HttpResponse:
    qs = Lead.objects.visible_to(request.user).with_duplicate_flag().select_related("owner")
    context = LEAD_LISTING.page(request, qs)
    context["can_create"] = can_create(request.user, "lead")
    context["statuses"] = Lead.Status.choices
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
        .select_related("owner", "account"),
        pk=pk,
    )
    user = request.user
    handoffs = list(lead.handoffs.select_related("from_user", "to_team", "to_user", "decided_by"))
    pending = next((h for h in handoffs if h.status == Handoff.Status.PENDING), None)
    can_decide = bool(pending) and Handoff.objects.decidable_by(user).filter(pk=pending.pk).exists()
    context = {
        "lead": lead,
        "handoffs": handoffs,
        "pending": pending,
        "pending_sla": pending.sla_state() if pending else None,
        "can_edit": Lead.objects.editable_by(user).filter(pk=pk).exists(),
        "can_hand_off": can_create(user, "handoff")
        and pending is None
        and lead.status not in (Lead.Status.SQL, Lead.Status.CONVERTED, Lead.Status.DISQUALIFIED),
        "can_decide": can_decide,
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
            _apply_errors(form, error)
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
                handoff=handoff, by=request.user, assignee=form.cleaned_data["assignee"]
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Lead accepted: it is yours to work."))
    else:
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
    return redirect(request.POST.get("next") or handoff.get_absolute_url())


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
    teams = Team.objects.filter(kind=Team.Kind.SALES)
    if user.role in (User.Role.REP, User.Role.MANAGER) and user.team_id:
        team = user.team
    else:
        team = teams.filter(pk=request.GET.get("team") or 0).first()
    qs = Handoff.objects.visible_to(user).select_related(
        "lead", "from_user", "to_team", "to_user", "decided_by"
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
        "can_pick_team": not (user.role in (User.Role.REP, User.Role.MANAGER) and user.team_id),
        "decidable": set(
            Handoff.objects.decidable_by(user)
            .filter(pk__in=[h.pk for h in rows])
            .values_list("pk", flat=True)
        ),
    }
    return render(request, partial(request, "pipeline/handoff_queue.html", "results"), context)
