"""The bell: its unread count (polled), the list, marking read, opening one."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from .models import Notification
from .notifications import text

PAGE = 30
BADGE_CAP = 99


def unread_count(user) -> int:
    """Unread notifications, counted up to the badge's cap (the partial index answers)."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True)[
        : BADGE_CAP + 1
    ].count()


@login_required
@require_GET
@never_cache
def notification_bell(request: HttpRequest) -> HttpResponse:
    """The bell with its badge: loaded after the page and polled every 30 s."""
    return render(request, "notifications/bell.html", {"unread": unread_count(request.user)})


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    rows = Notification.objects.filter(recipient=request.user).order_by("-id")
    only_unread = request.GET.get("unread") == "1"
    if only_unread:
        rows = rows.filter(read_at__isnull=True)
    before = request.GET.get("before", "")
    if before.isdigit():
        rows = rows.filter(pk__lt=int(before))
    page = list(rows[: PAGE + 1])
    more = len(page) > PAGE
    page = page[:PAGE]
    items = [{"notification": n, "text": text(n)} for n in page]
    context = {
        "items": items,
        "only_unread": only_unread,
        "older": page[-1].pk if more else None,
        "unread": unread_count(request.user),
    }
    return render(request, "notifications/list.html", context)


@login_required
@require_POST
def notification_read(request: HttpRequest) -> HttpResponse:
    """Mark one (`id`) or every unread notification of the user read."""
    rows = Notification.objects.filter(recipient=request.user, read_at__isnull=True)
    one = request.POST.get("id", "")
    if one:
        if not one.isdigit():
            raise Http404
        rows = rows.filter(pk=int(one))
    rows.update(read_at=timezone.now())
    # htmx follows the redirect and swaps the list it gets back (hx-select).
    target = reverse("notification-list")
    return redirect(f"{target}?unread=1" if request.POST.get("unread") == "1" else target)


@login_required
@require_GET
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Follow a notification to its record, marking it read on the way."""
    notification = Notification.objects.filter(recipient=request.user, pk=pk).first()
    if notification is None:
        raise Http404
    if notification.read_at is None:
        Notification.objects.filter(pk=pk).update(read_at=timezone.now())
    target = notification.url
    if not target or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect("notification-list")
    return redirect(target)
