from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from revops.audit import history_for
from revops.bulk_changes import may_bulk_change
from revops.exports import can_export, spreadsheet_response
from revops.listing import Listing
from revops.models import Organisation, User
from revops.params import int_param
from revops.rules import can_create
from revops.views_utils import apply_errors, form_page, partial, saved

from . import selectors, services
from .filters import AccountFilter, ActivityFilter, ContactFilter
from .forms import (
    AccountForm,
    ActivityForm,
    CancelForm,
    ContactForm,
    PlanChangeForm,
    SubscriptionForm,
)
from .models import Account, Activity, ChurnReason, Contact, HealthScore, Subscription

ACCOUNT_LISTING = Listing(
    AccountFilter,
    sorts={
        "name": (gettext_lazy("Name"), ["name"]),
        "-created_on": (gettext_lazy("Newest"), ["-created_on"]),
        "created_on": (gettext_lazy("Oldest"), ["created_on"]),
        "country": (gettext_lazy("Country"), ["country", "name"]),
    },
    default_sort="name",
)
CONTACT_LISTING = Listing(
    ContactFilter,
    sorts={
        "name": (gettext_lazy("Name"), ["first_name", "last_name"]),
        "-created_on": (gettext_lazy("Newest"), ["-created_on"]),
        "account": (gettext_lazy("Account"), ["account__name", "first_name"]),
    },
    default_sort="name",
)
ACTIVITY_LISTING = Listing(
    ActivityFilter,
    sorts={
        "-occurred_on": (gettext_lazy("Newest"), ["-occurred_on"]),
        "occurred_on": (gettext_lazy("Oldest"), ["occurred_on"]),
        "due_on": (gettext_lazy("Due date"), ["due_on"]),
    },
    default_sort="-occurred_on",
)


def _editable(queryset, user, pk):
    """The record if the user may edit it; 404 if they may not even see it, else 403."""
    obj = get_object_or_404(queryset.visible_to(user), pk=pk)
    if not queryset.editable_by(user).filter(pk=pk).exists():
        raise PermissionDenied(_("You may read this record but not change it."))
    return obj


def _validate_only(request) -> bool:
    return request.method == "POST" and request.POST.get("_validate") == "1"


# --- Accounts ----------------------------------------------------------------------------


@login_required
@vary_on_headers("HX-Request")
def account_list(request: HttpRequest) -> HttpResponse:
    qs = Account.objects.visible_to(request.user).with_duplicate_flag().select_related("owner")
    context = ACCOUNT_LISTING.page(request, qs)
    context["can_create"] = can_create(request.user, "account")
    if can_export(request.user, "accounts"):
        context["export_url"] = reverse("crm:account-export")
    context["bulk_kind"] = "account"
    context["can_bulk"] = may_bulk_change(request.user, "account")
    return render(request, partial(request, "crm/account_list.html", "results"), context)


@login_required
@require_http_methods(["GET", "POST"])
def account_create(request: HttpRequest) -> HttpResponse:
    if not can_create(request.user, "account"):
        raise PermissionDenied
    form = AccountForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid() and not _validate_only(request):
        account = form.save()
        return saved(request, account, _("Account created."))
    return form_page(request, "crm/account_form.html", {"form": form})


@login_required
@vary_on_headers("HX-Request")
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(
        Account.objects.visible_to(request.user).with_duplicate_flag().select_related("owner"),
        pk=pk,
    )
    kinds = [k for k in request.GET.getlist("kind") if k in selectors.TIMELINE_KINDS]
    page = int_param(request.GET.get("page"), 1, minimum=1, maximum=10_000)
    events, has_more = selectors.account_timeline(account, request.user, kinds=kinds, page=page)
    context = {
        "account": account,
        "events": events,
        "has_more": has_more,
        "next_page": page + 1,
        "kinds": kinds,
        "timeline_kinds": selectors.TIMELINE_KINDS,
    }
    if request.htmx and not request.htmx.boosted:
        name = "timeline-page" if page > 1 else "timeline"
        return render(request, f"crm/account_detail.html#{name}", context)
    subscriptions = list(
        Subscription.objects.visible_to(request.user)
        .filter(account=account)
        .select_related("churn_reason")
        .order_by("-start_on")[:30]
    )
    health_rows = list(HealthScore.objects.filter(account=account).order_by("-computed_on")[:10])
    context.update(
        subscriptions=subscriptions,
        mrr=services.account_mrr(account),
        base_currency=Organisation.get().base_currency,
        can_edit_subscriptions=_can_edit_subscriptions(request.user, account),
        churn_reasons=ChurnReason.objects.all(),
        health=health_rows[0] if health_rows else None,
        health_trend=list(reversed(health_rows)),
        can_edit=Account.objects.editable_by(request.user).filter(pk=pk).exists(),
        contacts=account.contacts.filter(is_deleted=False).select_related("persona")[:50],
        history=history_for(account, limit=20),
        duplicates=Account.objects.alive()
        .filter(domain=account.domain)
        .exclude(domain="")
        .exclude(pk=account.pk)[:10],
        can_add_activity=can_create(request.user, "activity"),
    )
    return render(request, "crm/account_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    account = _editable(Account.objects, request.user, pk)
    form = AccountForm(request.POST or None, instance=account, user=request.user)
    if request.method == "POST" and form.is_valid() and not _validate_only(request):
        form.save()
        return saved(request, account, _("Account saved."))
    return form_page(request, "crm/account_form.html", {"form": form, "account": account})


@login_required
@require_http_methods(["GET", "POST"])
def account_delete(request: HttpRequest, pk: int) -> HttpResponse:
    account = _editable(Account.objects, request.user, pk)
    if request.method == "POST":
        try:
            services.account_delete(account)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect(account)
        messages.success(request, _("Account “%(name)s” deleted.") % {"name": account.name})
        return redirect("crm:account-list")
    return render(request, "crm/confirm_delete.html", {"object": account, "kind": _("account")})


# --- Contacts ----------------------------------------------------------------------------


@login_required
@vary_on_headers("HX-Request")
def contact_list(request: HttpRequest) -> HttpResponse:
    qs = (
        Contact.objects.visible_to(request.user)
        .with_duplicate_flag()
        .select_related("account", "persona")
    )
    context = CONTACT_LISTING.page(request, qs)
    context["can_create"] = can_create(request.user, "contact")
    if can_export(request.user, "contacts"):
        context["export_url"] = reverse("crm:contact-export")
    return render(request, partial(request, "crm/contact_list.html", "results"), context)


@login_required
@require_http_methods(["GET", "POST"])
def contact_create(request: HttpRequest) -> HttpResponse:
    if not can_create(request.user, "contact"):
        raise PermissionDenied
    initial = {"account": request.GET.get("account")} if request.GET.get("account") else {}
    form = ContactForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid() and not _validate_only(request):
        contact = form.save(commit=False)
        contact.created_by = request.user
        contact.save()
        return saved(request, contact, _("Contact created."))
    return form_page(request, "crm/contact_form.html", {"form": form})


@login_required
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(
        Contact.objects.visible_to(request.user)
        .with_duplicate_flag()
        .select_related("account", "persona"),
        pk=pk,
    )
    activities = (
        Activity.objects.visible_to(request.user)
        .filter(contact=contact)
        .select_related("owner")[:50]
    )
    return render(
        request,
        "crm/contact_detail.html",
        {
            "contact": contact,
            "activities": activities,
            "can_edit": Contact.objects.editable_by(request.user).filter(pk=pk).exists(),
            "can_add_activity": can_create(request.user, "activity"),
            "history": history_for(contact, limit=20),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _editable(Contact.objects, request.user, pk)
    form = ContactForm(request.POST or None, instance=contact, user=request.user)
    if request.method == "POST" and form.is_valid() and not _validate_only(request):
        form.save()
        return saved(request, contact, _("Contact saved."))
    return form_page(request, "crm/contact_form.html", {"form": form, "contact": contact})


@login_required
@require_http_methods(["GET", "POST"])
def contact_delete(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _editable(Contact.objects, request.user, pk)
    if request.method == "POST":
        services.contact_delete(contact)
        messages.success(request, _("Contact “%(name)s” deleted.") % {"name": contact})
        return redirect("crm:contact-list")
    return render(request, "crm/confirm_delete.html", {"object": contact, "kind": _("contact")})


# --- Activities --------------------------------------------------------------------------


@login_required
@vary_on_headers("HX-Request")
def activity_list(request: HttpRequest) -> HttpResponse:
    qs = Activity.objects.visible_to(request.user).select_related(
        "owner", "account", "contact", "lead"
    )
    context = ACTIVITY_LISTING.page(request, qs)
    context["can_create"] = can_create(request.user, "activity")
    if can_export(request.user, "activities"):
        context["export_url"] = reverse("crm:activity-export")
    return render(request, partial(request, "crm/activity_list.html", "results"), context)


@login_required
@require_http_methods(["GET", "POST"])
def activity_create(request: HttpRequest) -> HttpResponse:
    if not can_create(request.user, "activity"):
        raise PermissionDenied
    initial = {
        k: request.GET[k] for k in ("account", "contact", "lead", "kind") if k in request.GET
    }
    form = ActivityForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid() and not _validate_only(request):
        with transaction.atomic():
            activity = form.save(commit=False)
            activity.owner = request.user
            activity.save()
            services.activity_changed(activity)
        return saved(request, activity, _("Activity logged."))
    return form_page(request, "crm/activity_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def activity_edit(request: HttpRequest, pk: int) -> HttpResponse:
    activity = _editable(Activity.objects, request.user, pk)
    form = ActivityForm(request.POST or None, instance=activity, user=request.user)
    if request.method == "POST" and form.is_valid() and not _validate_only(request):
        form.save()
        services.activity_changed(activity)
        return saved(request, activity, _("Activity saved."))
    return form_page(request, "crm/activity_form.html", {"form": form, "activity": activity})


@login_required
@require_http_methods(["GET", "POST"])
def activity_delete(request: HttpRequest, pk: int) -> HttpResponse:
    activity = _editable(Activity.objects, request.user, pk)
    if request.method == "POST":
        back_to = activity.get_absolute_url()
        services.activity_changed(activity)
        activity.delete()
        messages.success(request, _("Activity deleted."))
        return redirect(back_to)
    return render(request, "crm/confirm_delete.html", {"object": activity, "kind": _("activity")})


# --- Search ------------------------------------------------------------------------------


@login_required
@vary_on_headers("HX-Request")
def search(request: HttpRequest) -> HttpResponse:
    text = request.GET.get("q", "")[:200]
    results = selectors.global_search(request.user, text)
    context = {"q": text, **results, "empty": not any(results.values())}
    return render(request, partial(request, "crm/search.html", "results"), context)


# --- Subscriptions -----------------------------------------------------------------------


def _can_edit_subscriptions(user, account) -> bool:
    """CS on the accounts they own, admins on all (roles.md)."""
    return user.role == User.Role.ADMIN or (
        user.role == User.Role.CS and account.owner_id == user.pk
    )


def _subscription_account(request, account_pk):
    account = get_object_or_404(Account.objects.visible_to(request.user), pk=account_pk)
    if not _can_edit_subscriptions(request.user, account):
        raise PermissionDenied(_("Subscriptions are edited by the account's CS manager."))
    return account


def _editable_subscription(request, pk):
    subscription = get_object_or_404(Subscription.objects.visible_to(request.user), pk=pk)
    if not Subscription.objects.editable_by(request.user).filter(pk=pk).exists():
        raise PermissionDenied(_("Subscriptions are edited by the account's CS manager."))
    return subscription


@login_required
@require_http_methods(["GET", "POST"])
def subscription_create(request: HttpRequest, account_pk: int) -> HttpResponse:
    account = _subscription_account(request, account_pk)
    form = SubscriptionForm(
        request.POST or None, initial={"currency": Organisation.get().base_currency}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.subscription_create(account=account, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("Subscription added."))
            return redirect(account)
    return render(request, "crm/subscription_form.html", {"form": form, "account": account})


@login_required
@require_POST
def subscription_change(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = _editable_subscription(request, pk)
    form = PlanChangeForm(request.POST)
    if form.is_valid():
        try:
            services.subscription_change_plan(
                subscription=subscription,
                by=request.user,
                on=form.cleaned_data["on"],
                mrr=form.cleaned_data["mrr"],
                product=form.cleaned_data.get("product") or None,
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Plan changed."))
    else:
        messages.error(request, _("Enter the new monthly amount and the day it starts."))
    return redirect(subscription.get_absolute_url())


@login_required
@require_POST
def subscription_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = _editable_subscription(request, pk)
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            services.subscription_cancel(
                subscription=subscription,
                by=request.user,
                on=form.cleaned_data["on"],
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Subscription cancelled."))
    else:
        messages.error(request, _("Give the last day and the reason."))
    return redirect(subscription.get_absolute_url())


# --- The customer success workspace ------------------------------------------------------


@login_required
def cs_workspace(request: HttpRequest) -> HttpResponse:
    """A CS manager's day: their accounts with MRR, renewal date, health and last touch;
    the handoffs waiting for their team; the accounts at risk."""
    from pipeline.models import Handoff

    user = request.user
    accounts = selectors.cs_accounts(user)
    handoffs = (
        list(
            Handoff.objects.decidable_by(user)
            .select_related("opportunity__account", "from_user", "to_team")
            .order_by("sla_due_at")[:50]
        )
        if user.role in (User.Role.CS, User.Role.ADMIN)
        else []
    )
    now = timezone.now()
    for handoff in handoffs:
        handoff.sla = handoff.sla_state(now)
    at_risk = [a for a in accounts if a.health_score is not None and a.health_score < 50]
    return render(
        request,
        "crm/cs_workspace.html",
        {
            "accounts": accounts,
            "handoffs": handoffs,
            "at_risk": at_risk,
            "base_currency": Organisation.get().base_currency,
        },
    )


# --- Spreadsheet exports -----------------------------------------------------------------


@login_required
def account_export(request: HttpRequest) -> HttpResponse:
    qs = ACCOUNT_LISTING.filtered(
        request, Account.objects.visible_to(request.user).select_related("owner")
    )
    return spreadsheet_response(
        request,
        what="accounts",
        queryset=qs,
        columns=[
            ("external_id", "external_id"),
            ("name", "name"),
            ("domain", "domain"),
            ("industry", "industry"),
            ("country", "country"),
            ("owner_email", "owner__email"),
            ("created_on", "created_on"),
        ],
    )


@login_required
def contact_export(request: HttpRequest) -> HttpResponse:
    qs = CONTACT_LISTING.filtered(
        request,
        Contact.objects.visible_to(request.user).select_related("account", "persona"),
    )
    return spreadsheet_response(
        request,
        what="contacts",
        queryset=qs,
        columns=[
            ("external_id", "external_id"),
            ("first_name", "first_name"),
            ("last_name", "last_name"),
            ("email", "email"),
            ("phone", "phone"),
            ("title", "title"),
            ("account", "account__name"),
            ("persona", "persona__name"),
        ],
    )


@login_required
def activity_export(request: HttpRequest) -> HttpResponse:
    qs = ACTIVITY_LISTING.filtered(
        request,
        Activity.objects.visible_to(request.user).select_related("owner", "account"),
    )
    return spreadsheet_response(
        request,
        what="activities",
        queryset=qs,
        columns=[
            ("external_id", "external_id"),
            ("kind", "kind"),
            ("subject", "subject"),
            ("account", "account__name"),
            ("owner_email", "owner__email"),
            ("occurred_on", "occurred_on"),
            ("due_on", "due_on"),
            ("done", "done"),
        ],
    )
