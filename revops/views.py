import redis
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import home as home_blocks
from .forms import LanguageForm, ProfileForm
from .models import Organisation, User


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 while the database answers (the app degrades without the broker), else 503."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception:
        connection.close_if_unusable_or_obsolete()
        database = "down"
    try:
        timeout = settings.HEALTHZ_BROKER_TIMEOUT
        client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_connect_timeout=timeout, socket_timeout=timeout
        )
        client.ping()
        client.close()
        broker = "ok"
    except Exception:
        broker = "down"
    return JsonResponse(
        {"database": database, "broker": broker}, status=200 if database == "ok" else 503
    )


def login_username(request: HttpRequest, credentials: dict | None) -> str:
    """The e-mail a sign-in is counted under: as the login matches it, case-blind."""
    username = (credentials or {}).get("username") or request.POST.get("username") or ""
    return username.strip().lower()


def login_locked_out(request: HttpRequest, credentials: dict | None, *args, **kwargs):
    """django-axes refused a sign-in: the login page again, saying why and for how long."""
    form = AuthenticationForm(request, initial={"username": login_username(request, credentials)})
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    context = {"form": form, "locked_out": True, "cooloff_minutes": minutes}
    return render(request, "registration/login.html", context, status=429)


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    teammates = (
        User.objects.filter(team_id=user.team_id, is_active=True).only("full_name", "email", "role")
        if user.team_id
        else User.objects.none()
    )
    return render(
        request,
        "revops/home.html",
        {
            "organisation": Organisation.get(),
            "teammates": teammates,
            "blocks": home_blocks.blocks_for(user),
        },
    )


EMPTY_HANDOFFS = {
    "leads_waiting": gettext_lazy("No lead is waiting for you."),
    "team_breached_handoffs": gettext_lazy("No handoff is past its SLA."),
    "cs_handoffs": gettext_lazy("No customer is waiting for you."),
}


@login_required
@require_GET
def home_block(request: HttpRequest, name: str) -> HttpResponse:
    """One block of the home page (an htmx partial, also a page of its own): only the
    blocks of the user's role exist for them."""
    block = next((b for b in home_blocks.blocks_for(request.user) if b.name == name), None)
    if block is None:
        raise Http404
    context = block.compute(request)
    body = "home/handoffs.html" if name in EMPTY_HANDOFFS else f"home/{name}.html"
    context |= {"block": block, "body": body, "empty": EMPTY_HANDOFFS.get(name, "")}
    if request.htmx:
        return render(request, "home/block.html", context)
    return render(request, "home/block_page.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        translation.activate(user.language)
        messages.success(request, _("Your profile was saved."))
        response = redirect("profile")
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.language, samesite="Lax")
        return response
    return render(request, "revops/profile.html", {"form": form})


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Switch the interface language from the top bar; remembered on the profile."""
    form = LanguageForm(request.POST)
    if not form.is_valid():
        return HttpResponse(_("Unknown language."), status=400)
    language = form.cleaned_data["language"]
    target = form.cleaned_data["next"]
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    if request.user.is_authenticated:
        User.objects.filter(pk=request.user.pk).update(language=language)
    response = redirect(target)
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax")
    return response


@login_required
@require_GET
def dataset_export(request: HttpRequest) -> HttpResponse:
    """The whole dataset (export_dataset's lossless format), zipped, for administrators."""
    import tempfile
    import zipfile
    from pathlib import Path

    from django.core.exceptions import PermissionDenied
    from django.http import FileResponse

    from .dataset.exporter import export_dataset
    from .models import ExportRecord

    if request.user.role != User.Role.ADMIN:
        raise PermissionDenied
    folder = Path(tempfile.mkdtemp(prefix="daramad-export-"))
    counts = export_dataset(folder)
    archive = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(folder.iterdir()):
            zipped.write(path, arcname=path.name)
            path.unlink()
    folder.rmdir()
    archive.seek(0)
    ExportRecord.objects.create(user=request.user, what="dataset", rows=sum(counts.values()))
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return FileResponse(
        archive,
        as_attachment=True,
        filename=f"daramad-dataset-{stamp}.zip",
        content_type="application/zip",
    )
