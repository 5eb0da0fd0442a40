"""Merging two records flagged as duplicates: choose the other one, then the surviving
value of each field; everything related moves to the survivor in one transaction."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from . import merge as merging


@login_required
@require_http_methods(["GET", "POST"])
def merge_page(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    if kind not in merging.KINDS:
        raise Http404
    spec = merging.KINDS[kind]
    record = get_object_or_404(spec.model.objects.visible_to(request.user), pk=pk)
    if not merging.may_merge(request.user):
        raise PermissionDenied(_("Only managers and administrators merge records."))
    candidates = list(spec.candidates(record, request.user)[:20])
    other_id = request.POST.get("merged") or request.GET.get("with")
    other = next((c for c in candidates if str(c.pk) == str(other_id)), None)
    errors = []
    if request.method == "POST" and other is not None:
        take = {name for name in request.POST.getlist("take") if name}
        try:
            merging.merge(kind, record.pk, other.pk, take, request.user)
        except ValidationError as error:
            errors = error.messages
        else:
            messages.success(
                request,
                _("%(other)s was merged into %(record)s.") % {"other": other, "record": record},
            )
            return redirect(record.get_absolute_url())
    elif request.method == "POST":
        errors = [_("Choose the record to merge into this one.")]
    rows = []
    if other is not None:
        for name in spec.fields:
            field = spec.model._meta.get_field(name)
            mine, theirs = getattr(record, name), getattr(other, name)
            rows.append(
                {
                    "name": name,
                    "label": field.verbose_name,
                    "mine": mine if mine not in (None, "") else "—",
                    "theirs": theirs if theirs not in (None, "") else "—",
                    "same": mine == theirs,
                    "take": name in request.POST.getlist("take")
                    or (mine in (None, "") and theirs not in (None, "")),
                }
            )
    return render(
        request,
        "revops/merge.html",
        {
            "spec": spec,
            "record": record,
            "candidates": candidates,
            "other": other,
            "rows": rows,
            "errors": errors,
        },
        status=400 if errors else 200,
    )
