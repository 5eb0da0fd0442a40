"""Reading numbers from query strings and forms without a 500 on odd input."""

import re
from urllib.parse import urlsplit

from django.utils.http import url_has_allowed_host_and_scheme

_DIGITS = re.compile(r"[0-9]{1,9}")


def int_param(value, default=None, *, minimum=0, maximum=1_000_000):
    """A whole number between `minimum` and `maximum` written in ASCII digits, else
    `default` (so `?page=abc`, `?page=10**20` and `?team=²` all fall back)."""
    if value is None or not _DIGITS.fullmatch(str(value)):
        return default
    return min(max(int(value), minimum), maximum)


def safe_next(request, target: str, fallback: str) -> str:
    """A redirect target from the request only when it stays on this site."""
    if (
        target
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        and not urlsplit(target).netloc
    ):
        return target
    return fallback
