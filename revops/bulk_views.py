"""Bulk actions from the list pages, offboarding, and a bulk job's progress."""

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import bulk_changes
from .models import Job, User
from .params import safe_next
from .rules import assignable_owners

LIST_PAGES = {
    "opportunity": "pipeline:opportunity-list",
    "lead": "pipeline:lead-list",
    "account": "crm:account-list",
}
EXPORTS = {
    "opportunity": "pipeline:opportunity-export",
    "lead": "pipeline:lead-export",
    "account": "crm:account-export",
}


@login_required
@require_POST
def bulk_change(request: HttpRequest, kind: str) -> HttpResponse:
    """Apply the chosen action to the ticked rows, or to every row matching the list's
    filter (`all=1` with the list's `query`)."""
    if kind not in bulk_changes.KINDS:
        raise Http404
    spec = bulk_changes.KINDS[kind]
    back = safe_next(request, request.POST.get("next", ""), "") or reverse(LIST_PAGES[kind])
    action = request.POST.get("action", "")
    everything = request.POST.get("all") == "1"
    query = QueryDict(request.POST.get("query", ""))
    ids = [int(value) for value in request.POST.getlist("ids") if value.isdigit()]
    if action == "export":
        # Exports are their own door (roles.md says who may export): hand over the choice.
        params = query.copy() if everything else QueryDict(mutable=True)
        if not everything:
            params["ids"] = ",".join(str(pk) for pk in ids)
        return redirect(f"{reverse(EXPORTS[kind])}?{params.urlencode()}")
    if not bulk_changes.may_bulk_change(request.user, kind):
        raise PermissionDenied
    try:
        params = bulk_changes.check(request.user, spec, action, request.POST)
    except ValidationError as error:
        for field_errors in error.message_dict.values():
            for message in field_errors:
                messages.error(request, message)
        return redirect(back)
    chosen = bulk_changes.selection(
        request.user, spec, ids=None if everything else ids, query=query, request=request
    )
    if not chosen:
        messages.error(request, _("Nothing selected that you may change."))
        return redirect(back)
    if len(chosen) > bulk_changes.INLINE:
        job = bulk_changes.job_for(request.user, kind, action, params, chosen)
        return redirect("bulk-job", pk=job.pk)
    outcome = bulk_changes.apply(request.user, spec, action, params, chosen)
    messages.success(request, summary(outcome, spec.label))
    return redirect(back)


def summary(outcome: dict, label) -> str:
    text = _("%(changed)s %(what)s changed.") % {"changed": outcome["changed"], "what": label}
    if outcome["skipped"]:
        text += " " + _(
            "%(skipped)s left as they were (already so, or not in a state that allows it)."
        ) % {"skipped": outcome["skipped"]}
    return text


@login_required
@require_GET
def bulk_fields(request: HttpRequest, kind: str) -> HttpResponse:
    """The bulk bar's choices (new owner, stage, status), loaded when a row is first ticked,
    so the list page itself costs no query for them."""
    if kind not in bulk_changes.KINDS or not bulk_changes.may_bulk_change(request.user, kind):
        raise Http404
    from .exports import can_export

    what = {"opportunity": "deals", "lead": "leads", "account": "accounts"}[kind]
    context = {
        "kind": kind,
        "actions": bulk_changes.KINDS[kind].actions,
        "can_export": can_export(request.user, what),
    }
    if "reassign" in context["actions"]:
        context["owners"] = list(assignable_owners(request.user, kind).order_by("full_name"))
    if "stage" in context["actions"]:
        from pipeline.models import Stage

        context["stages"] = list(
            Stage.objects.filter(outcome="open")
            .select_related("pipeline")
            .order_by("pipeline__name", "position")
        )
    if "status" in context["actions"]:
        from pipeline.models import Lead

        labels = dict(Lead.Status.choices)
        context["statuses"] = [(value, labels[value]) for value in bulk_changes.LEAD_STATUSES]
    return render(request, "includes/bulk_fields.html", context)


@login_required
@require_GET
def bulk_job(request: HttpRequest, pk: int) -> HttpResponse:
    """A bulk job's progress (polled while it runs) and result: its author's, or an
    administrator's."""
    job = Job.objects.filter(pk=pk, kind__startswith="bulk:").first()
    if job is None or (
        job.created_by_id != request.user.pk and request.user.role != User.Role.ADMIN
    ):
        raise Http404
    finished = job.status in (Job.Status.DONE, Job.Status.FAILED)
    percent = int(100 * job.progress / job.total) if job.total else (100 if finished else 0)
    context = {"job": job, "finished": finished, "percent": percent}
    if job.status == Job.Status.DONE:
        context["summary"] = summary(job.result or {"changed": 0, "skipped": 0}, _("records"))
    template = "revops/bulk_job.html#progress" if request.htmx else "revops/bulk_job.html"
    return render(request, template, context)


class OffboardForm(forms.Form):
    leaving = forms.ModelChoiceField(queryset=User.objects.none(), label=gettext_lazy("From"))
    to = forms.ModelChoiceField(queryset=User.objects.none(), label=gettext_lazy("To"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        people = assignable_owners(user, "opportunity").order_by("full_name")
        everyone = User.objects.filter(pk__in=people.values("pk")) | User.objects.filter(
            pk__in=_leavers(user)
        )
        self.fields["leaving"].queryset = everyone.distinct().order_by("full_name")
        self.fields["to"].queryset = people

    def clean(self):
        data = super().clean()
        if data.get("leaving") and data.get("to") and data["leaving"] == data["to"]:
            self.add_error("to", _("Choose someone else."))
        return data


def _leavers(user: User):
    """Whose records a user may hand on: a manager's team (active or not), anyone for an
    administrator."""
    if user.role == User.Role.ADMIN:
        return User.objects.values("pk")
    return User.objects.filter(team_id=user.team_id).values("pk")


@login_required
@require_http_methods(["GET", "POST"])
def offboard(request: HttpRequest) -> HttpResponse:
    """Hand everything someone is working on to someone else in one step: their open
    deals, live leads, accounts and open tasks. Managers within their team, admins all."""
    user = request.user
    if user.role not in (User.Role.MANAGER, User.Role.ADMIN) or (
        user.role == User.Role.MANAGER and not user.team_id
    ):
        raise PermissionDenied
    form = OffboardForm(request.POST or request.GET or None, user=user)
    targets = None
    if form.is_bound and form.is_valid():
        targets = bulk_changes.offboard_targets(user, form.cleaned_data["leaving"])
        if request.method == "POST" and request.POST.get("confirm") == "1":
            job = bulk_changes.offboard_job(
                user, form.cleaned_data["leaving"], form.cleaned_data["to"], targets
            )
            return redirect("bulk-job", pk=job.pk)
    counts = {what: len(ids) for what, ids in targets.items()} if targets else None
    return render(
        request,
        "revops/offboard.html",
        {"form": form, "counts": counts, "confirm_query": urlencode(request.GET or {})},
    )
