"""Small helpers the page views share."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render


def apply_errors(form, error) -> None:
    """A service's ValidationError shown on the form: on its field, or above the form."""
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


def partial(request, template: str, name: str) -> str:
    """The page template, or only its `name` partial for an htmx request (not boosted)."""
    if getattr(request, "htmx", False) and not request.htmx.boosted:
        return f"{template}#{name}"
    return template


def saved(request, obj, message: str) -> HttpResponse:
    """After a successful POST: go to the record (htmx follows HX-Redirect)."""
    messages.success(request, message)
    url = obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else "/"
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def form_page(request, template: str, context: dict, cancel_url: str = "") -> HttpResponse:
    """A form page, or only its form for htmx. With `_validate=1` (inline validation) the
    form's error blocks come back as out-of-band swaps, for the fields the user touched."""
    validating = request.method == "POST" and request.POST.get("_validate") == "1"
    touched = set(request.POST.get("_touched", "").split(",")) if validating else set()
    context = {
        "validating": validating,
        "touched": touched,
        "cancel_url": cancel_url or request.META.get("HTTP_REFERER") or "/",
        **context,
    }
    return render(request, partial(request, template, "form"), context)
