"""Spreadsheet exports of list pages: the rows the user may see under the current filter,
streamed as UTF-8 CSV with a BOM (so Excel shows Persian), every cell neutralised against
formula injection, every export recorded."""

import csv
from collections.abc import Callable, Iterable

from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.utils import timezone

from .dataset.formats import format_cell
from .models import ExportRecord, User

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# roles.md: export from a list page (what they can see): managers, executives and admins;
# marketers their leads.
EXPORTERS = {
    User.Role.MANAGER: None,  # every list
    User.Role.EXECUTIVE: None,
    User.Role.ADMIN: None,
    User.Role.MARKETER: {"leads"},
}


def can_export(user, what: str) -> bool:
    if not user.is_authenticated or user.role not in EXPORTERS:
        return False
    allowed = EXPORTERS[user.role]
    return allowed is None or what in allowed


def email_of(user) -> str:
    return user.email if user else ""


def neutralise(text: str) -> str:
    """A cell a spreadsheet would run as a formula is kept as text."""
    return "'" + text if text.startswith(FORMULA_START) else text


class _Echo:
    def write(self, value):
        return value


def spreadsheet_response(
    request, *, what: str, rows: Iterable, columns: list[tuple[str, Callable]]
) -> StreamingHttpResponse:
    if not can_export(request.user, what):
        raise PermissionDenied
    record = ExportRecord.objects.create(
        user=request.user, what=what, filters=request.GET.urlencode()[:2000]
    )
    writer = csv.writer(_Echo())

    def stream():
        count = 0
        try:
            yield "\ufeff" + writer.writerow([header for header, _ in columns])
            for row in rows:
                yield writer.writerow([neutralise(format_cell(get(row))) for _, get in columns])
                count += 1
        finally:
            ExportRecord.objects.filter(pk=record.pk, rows__isnull=True).update(rows=count)

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{what}-{stamp}.csv"'
    return response
