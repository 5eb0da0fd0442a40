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
