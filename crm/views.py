from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers

from revops.audit import history_for
from revops.listing import Listing
from revops.rules import can_create
from revops.views_utils import form_page, partial, saved

from . import selectors, services
from .filters import AccountFilter, ActivityFilter, ContactFilter
from .forms import AccountForm, ActivityForm, ContactForm
from .models import Account, Activity, Contact

ACCOUNT_LISTING = Listing(
    AccountFilter,
    sorts={
        "name": (_l("Name"), ["name"]),
        "-created_on": (_l("Newest"), ["-created_on"]),
        "created_on": (_l("Oldest"), ["created_on"]),
        "country": (_l("Country"), ["country", "name"]),
    },
    default_sort="name",
)
CONTACT_LISTING = Listing(
    ContactFilter,
    sorts={
        "name": (_l("Name"), ["first_name", "last_name"]),
        "-created_on": (_l("Newest"), ["-created_on"]),
        "account": (_l("Account"), ["account__name", "first_name"]),
    },
    default_sort="name",
)
ACTIVITY_LISTING = Listing(
    ActivityFilter,
    sorts={
        "-occurred_on": (_l("Newest"), ["-occurred_on"]),
        "occurred_on": (_l("Oldest"), ["occurred_on"]),
        "due_on": (_l("Due date"), ["due_on"]),
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
    try:
        page = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        page = 1
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
    context.update(
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
        services.account_delete(account)
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
        return saved(request, activity, _("Activity logged."))
    return form_page(request, "crm/activity_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def activity_edit(request: HttpRequest, pk: int) -> HttpResponse:
    activity = _editable(Activity.objects, request.user, pk)
    form = ActivityForm(request.POST or None, instance=activity, user=request.user)
    if request.method == "POST" and form.is_valid() and not _validate_only(request):
        form.save()
        return saved(request, activity, _("Activity saved."))
    return form_page(request, "crm/activity_form.html", {"form": form, "activity": activity})


@login_required
@require_http_methods(["GET", "POST"])
def activity_delete(request: HttpRequest, pk: int) -> HttpResponse:
    activity = _editable(Activity.objects, request.user, pk)
    if request.method == "POST":
        back_to = activity.get_absolute_url()
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
