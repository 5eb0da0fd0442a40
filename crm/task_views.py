"""Tasks: activities of kind `task` with a due date, an assignee (the owner) and a done
state. "My tasks", quick add from any record's page, and done in one click."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from revops.models import User
from revops.params import safe_next
from revops.rules import can_create

from . import services
from .forms import TaskQuickForm
from .models import Activity

TABS = ("due", "upcoming", "someday", "done")
PAGE = 100


def _tasks():
    return Activity.objects.filter(kind=Activity.Kind.TASK).select_related(
        "owner", "account", "contact", "lead", "opportunity"
    )


def decorate(tasks, today):
    """Each task with how late it is (overdue highlighting)."""
    rows = []
    for task in tasks:
        late = (today - task.due_on).days if task.due_on and not task.done else 0
        rows.append(
            {
                "task": task,
                "overdue": late > 0,
                "late_days": late,
                "today": task.due_on == today and not task.done,
            }
        )
    return rows


@login_required
@require_GET
def task_list(request: HttpRequest) -> HttpResponse:
    """My tasks (or, for a manager, the team's; for an admin, everyone's): due and
    overdue first, then upcoming, undated and recently done."""
    user = request.user
    today = timezone.localdate()
    tab = request.GET.get("tab") if request.GET.get("tab") in TABS else "due"
    whose = request.GET.get("whose", "mine")
    tasks = _tasks().visible_to(user)
    if whose == "team" and user.role == User.Role.MANAGER and user.team_id:
        tasks = tasks.filter(owner__team_id=user.team_id)
    elif whose == "all" and user.role == User.Role.ADMIN:
        pass
    else:
        whose = "mine"
        tasks = tasks.filter(owner=user)
    counts = {
        "due": tasks.filter(done=False, due_on__lte=today).count(),
        "upcoming": tasks.filter(done=False, due_on__gt=today).count(),
    }
    if tab == "due":
        tasks = tasks.filter(done=False, due_on__lte=today).order_by("due_on", "pk")
    elif tab == "upcoming":
        tasks = tasks.filter(done=False, due_on__gt=today).order_by("due_on", "pk")
    elif tab == "someday":
        tasks = tasks.filter(done=False, due_on__isnull=True).order_by("-occurred_on", "-pk")
    else:
        since = today - timedelta(days=30)
        tasks = tasks.filter(done=True, occurred_on__gte=since).order_by("-due_on", "-pk")
    context = {
        "rows": decorate(tasks[:PAGE], today),
        "tab": tab,
        "whose": whose,
        "counts": counts,
        "can_team": user.role == User.Role.MANAGER and bool(user.team_id),
        "can_all": user.role == User.Role.ADMIN,
        "can_create": can_create(user, "activity"),
    }
    return render(request, "crm/task_list.html", context)


@login_required
@require_POST
def task_add(request: HttpRequest) -> HttpResponse:
    """Quick add from a record's page. htmx gets the record's task block back."""
    if not can_create(request.user, "activity"):
        raise PermissionDenied
    form = TaskQuickForm(request.POST, user=request.user)
    back = safe_next(request, request.POST.get("next", ""), "")
    if form.is_valid():
        with transaction.atomic():
            task = form.save()
            services.activity_changed(task)
        if not request.htmx:
            messages.success(request, _("Task added."))
            return redirect(back or task.get_absolute_url())
        form = None
    elif not request.htmx:
        for field, errors in form.errors.items():
            for error in errors:
                messages.error(
                    request,
                    f"{form.fields[field].label}: {error}" if field in form.fields else error,
                )
        return redirect(back or "crm:task-list")
    record = {
        name: request.POST.get(name, "") for name in ("account", "contact", "lead", "opportunity")
    }
    return render(
        request,
        "crm/record_tasks.html",
        record_tasks_context(request, record, form=form, back=back),
        status=200 if form is None else 400,
    )


@login_required
@require_POST
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    """Tick a task done (or open again). The assignee and whoever may edit it."""
    task = get_object_or_404(_tasks().visible_to(request.user), pk=pk)
    if not Activity.objects.editable_by(request.user).filter(pk=pk).exists():
        raise PermissionDenied(_("You may read this record but not change it."))
    task.done = request.POST.get("done", "1") == "1"
    task.save(update_fields=["done"])
    services.activity_changed(task)
    if request.htmx:
        today = timezone.localdate()
        return render(request, "crm/task_row.html", {"row": decorate([task], today)[0]})
    return redirect(safe_next(request, request.POST.get("next", ""), "") or "crm:task-list")


def record_tasks_context(request, record: dict, *, form=None, back="") -> dict:
    """The open tasks of one record and the quick-add form, for its page."""
    link = {f"{name}_id": int(value) for name, value in record.items() if str(value).isdigit()}
    tasks = (
        _tasks().visible_to(request.user).filter(done=False, **link).order_by("due_on", "pk")
        if link
        else Activity.objects.none()
    )
    today = timezone.localdate()
    if form is None and can_create(request.user, "activity"):
        form = TaskQuickForm(
            user=request.user, initial={**record, "due_on": today + timedelta(days=1)}
        )
    return {
        "rows": decorate(tasks[:20], today),
        "form": form,
        "record": record,
        "next": back or request.get_full_path(),
        "block_id": "tasks-" + "-".join(f"{k}{v}" for k, v in record.items() if v),
    }
