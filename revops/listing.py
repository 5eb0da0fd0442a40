"""List pages: one FilterSet, a whitelist of sorts, pages of 50 with a capped count.

A count of a million rows costs more than the page itself, so lists count at most
`COUNT_CAP` rows and say "1,000+" beyond it.
"""

from dataclasses import dataclass, field

from django.contrib.postgres.search import SearchQuery
from django.db.models import QuerySet
from django.http import QueryDict

from .params import int_param
from .text import normalize

PER_PAGE = 50
COUNT_CAP = 1000
_TSQUERY_SPECIAL = str.maketrans(dict.fromkeys("&|!():*<>'\\\"", " "))


def search_query(text: str) -> SearchQuery | None:
    """Prefix search over a `search` column: every word must start a word of the record."""
    words = normalize(text).translate(_TSQUERY_SPECIAL).split()
    if not words:
        return None
    raw = " & ".join(f"'{word}':*" for word in words[:8])
    return SearchQuery(raw, search_type="raw", config="simple")


@dataclass
class Listing:
    filterset_class: type
    sorts: dict  # key -> (label, [order_by...])
    default_sort: str
    per_page: int = PER_PAGE
    extra: dict = field(default_factory=dict)

    def _apply(self, request, queryset: QuerySet):
        """(filterset, sort key, the filtered and sorted queryset): one reading of the
        request for the page and its export alike."""
        filterset = self.filterset_class(request.GET or None, queryset=queryset, request=request)
        if filterset.is_bound:
            queryset = filterset.qs if filterset.is_valid() else queryset.none()
        sort = request.GET.get("sort") or self.default_sort
        if sort not in self.sorts:
            sort = self.default_sort
        return filterset, sort, queryset.order_by(*self.sorts[sort][1], "-pk")

    def filtered(self, request, queryset: QuerySet) -> QuerySet:
        """The whole filtered, sorted list (for exports)."""
        return self._apply(request, queryset)[2]

    def page(self, request, queryset: QuerySet) -> dict:
        filterset, sort, qs = self._apply(request, queryset)
        number = int_param(request.GET.get("page"), 1, minimum=1, maximum=10_000)
        start = (number - 1) * self.per_page
        rows = list(qs[start : start + self.per_page + 1])
        has_next = len(rows) > self.per_page
        rows = rows[: self.per_page]
        if number == 1 and not has_next:
            total, capped = len(rows), False
        else:
            total = qs.values("pk")[: COUNT_CAP + 1].count()
            capped = total > COUNT_CAP
            total = min(total, COUNT_CAP)
        params = request.GET.copy()
        params.pop("page", None)
        return {
            "filter": filterset,
            "rows": rows,
            "sort": sort,
            "sorts": [(key, label) for key, (label, _order) in self.sorts.items()],
            "page_number": number,
            "has_next": has_next,
            "has_previous": number > 1,
            "first_row": start + 1 if rows else 0,
            "last_row": start + len(rows),
            "total": total,
            "total_capped": capped,
            "query": params.urlencode(),
            "sort_query": _without(params, "sort"),
        }


def _without(params: QueryDict, key: str) -> str:
    params = params.copy()
    params.pop(key, None)
    return params.urlencode()
