from django.utils import translation


class UserPreferencesMiddleware:
    """Speak the signed-in user's language, whatever the browser asks for, and show dates
    and numbers their way (calendar, digits, Toman: revops.l10n).

    LocaleMiddleware (which runs earlier) picks a language for anonymous visitors from the
    language cookie or Accept-Language; once we know who the user is, their profile wins.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from . import l10n

        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.language:
            translation.activate(user.language)
            request.LANGUAGE_CODE = translation.get_language()
        if user is not None and user.is_authenticated:
            token = l10n.use_display(l10n.display_for(user))
        else:
            persian = translation.get_language() == "fa"
            token = l10n.use_display(l10n.Display(persian_digits=persian))
        try:
            response = self.get_response(request)
            if (
                l10n.display().persian_digits
                and not response.streaming
                and response.get("Content-Type", "").startswith("text/html")
            ):
                response.content = l10n.persian_digits_html(
                    response.content.decode(response.charset)
                ).encode(response.charset)
        finally:
            l10n.reset_display(token)
        response.headers.setdefault("Content-Language", translation.get_language())
        return response


class RequestMemoMiddleware:
    """Rows read on every request (the organisation's settings) are read once per request
    (revops.models._request_memo): a dashboard partial has a budget of six queries."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from .models import _request_memo

        token = _request_memo.set({})
        try:
            return self.get_response(request)
        finally:
            _request_memo.reset(token)


class BodySizeLimitMiddleware:
    """413 Content Too Large, with a message saying the limit, for a request whose declared
    body is above it, before anything reads the body: the import upload page takes
    `IMPORT_UPLOAD_MAX_BYTES` (and its form), every other request `DATA_UPLOAD_MAX_MEMORY_SIZE`
    (Django would answer 400 only after reading that much, and not at all for files)."""

    FORM_ALLOWANCE = 64 * 1024

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            size = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = 0
        limit, shown = self.limit_for(request)
        if size > limit:
            return self.too_large(request, shown)
        return self.get_response(request)

    @staticmethod
    def limit_for(request) -> tuple[int, int]:
        """(bytes the body may have, bytes the message names)."""
        from django.conf import settings
        from django.urls import reverse

        if request.path == reverse("import-new"):
            files = settings.IMPORT_UPLOAD_MAX_BYTES
            return files + BodySizeLimitMiddleware.FORM_ALLOWANCE, files
        return settings.DATA_UPLOAD_MAX_MEMORY_SIZE, settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    @staticmethod
    def too_large(request, limit):
        from django.http import HttpResponse, JsonResponse
        from django.utils.html import format_html
        from django.utils.translation import gettext as _

        from .l10n import format_number

        megabytes = limit / (1024 * 1024)
        places = 0 if megabytes == int(megabytes) else 1
        message = _("This request is larger than the %(limit)s MB this page accepts.") % {
            "limit": format_number(megabytes, places)
        }
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message}, status=413)
        page = format_html(
            '<!doctype html><html lang="{}" dir="{}"><title>413</title><p>{}</p></html>',
            translation.get_language() or "en",
            "rtl" if translation.get_language_bidi() else "ltr",
            message,
        )
        return HttpResponse(page, status=413)
