"""Spreadsheet exports of list pages: the rows the user may see under the current filter,
streamed as UTF-8 CSV with a BOM (so Excel shows Persian), every cell neutralised against
formula injection, every export recorded."""

import csv
from itertools import islice

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
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


def neutralise(text: str) -> str:
    """A cell a spreadsheet would run as a formula is kept as text."""
    return "'" + text if text.startswith(FORMULA_START) else text


class _Echo:
    def write(self, value):
        return value


BATCH_ROWS = 1000


def spreadsheet_response(
    request, *, what: str, queryset: QuerySet, columns: list[tuple[str, str]]
) -> StreamingHttpResponse:
    """`columns`: (header, field path) pairs, read with `values_list` (no model instances:
    a million rows stream at the speed of the database) and written a thousand rows to a
    chunk, in constant memory."""
    if not can_export(request.user, what):
        raise PermissionDenied
    record = ExportRecord.objects.create(
        user=request.user, what=what, filters=request.GET.urlencode()[:2000]
    )
    writer = csv.writer(_Echo())
    rows = queryset.values_list(*(path for _header, path in columns)).iterator(chunk_size=5000)

    def stream():
        count = 0
        try:
            yield "\ufeff" + writer.writerow([header for header, _ in columns])
            while batch := list(islice(rows, BATCH_ROWS)):
                yield "".join(
                    writer.writerow([neutralise(format_cell(value)) for value in row])
                    for row in batch
                )
                count += len(batch)
        finally:
            ExportRecord.objects.filter(pk=record.pk, rows__isnull=True).update(rows=count)

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{what}-{stamp}.csv"'
    return response
