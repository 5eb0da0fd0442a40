"""List pages: one FilterSet, a whitelist of sorts, pages of 50 by keyset, a capped count.

Pages follow the sort's keys, not an offset: the next page is the rows after the last one
shown (`after=`), the previous one the rows before the first (`before=`), so page 100 costs
what page 1 does (`OFFSET 5000` reads and throws away 5,000 rows). A count of a million rows
costs more than the page itself, so lists count at most `COUNT_CAP` rows and say "1,000+"
beyond it.
"""

import base64
import datetime
import decimal
import json
from dataclasses import dataclass, field
from functools import reduce
from operator import and_, or_

from django.contrib.postgres.search import SearchQuery
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import F, Q, QuerySet
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


@dataclass(frozen=True)
class _Key:
    """One column of a sort: its path, direction and whether it can be null (nulls always
    come last, in both directions)."""

    path: str
    descending: bool
    field: object

    @property
    def nullable(self) -> bool:
        return self.field.null

    def order(self):
        expression = F(self.path)
        if self.nullable:
            return (
                expression.desc(nulls_last=True)
                if self.descending
                else expression.asc(nulls_last=True)
            )
        return expression.desc() if self.descending else expression.asc()

    def beyond(self, value, forward: bool) -> Q | None:
        """Rows strictly after `value` in this column's order (before it when not
        `forward`); None when nothing can be."""
        if value is None:  # nulls are last
            return None if forward else Q(**{f"{self.path}__isnull": False})
        # Forward in a descending column, or backward in an ascending one: smaller values.
        lookup = "lt" if self.descending == forward else "gt"
        condition = Q(**{f"{self.path}__{lookup}": value})
        if self.nullable and forward:
            condition |= Q(**{f"{self.path}__isnull": True})
        return condition

    def same(self, value) -> Q:
        if value is None:
            return Q(**{f"{self.path}__isnull": True})
        return Q(**{self.path: value})

    def dump(self, value):
        if isinstance(value, (datetime.date, decimal.Decimal)):
            return str(value)
        return value

    def load(self, value):
        if value is None:
            return None
        return self.field.to_python(value)


def _field(model, path: str):
    *joins, last = path.split("__")
    for name in joins:
        model = model._meta.get_field(name).related_model
    return model._meta.get_field(last)


class BadCursor(ValueError):
    pass


def _encode(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode()


def _decode(token: str, keys: list[_Key]) -> list:
    try:
        values = json.loads(base64.urlsafe_b64decode(token.encode() + b"==="))
        if not isinstance(values, list) or len(values) != len(keys):
            raise BadCursor(token)
        return [key.load(value) for key, value in zip(keys, values, strict=True)]
    except (ValueError, TypeError, ValidationError, UnicodeError) as error:
        raise BadCursor(token) from error


def _seek(keys: list[_Key], values: list, forward: bool) -> Q:
    """Rows after (or before) the row with these key values, in lexicographic order."""
    branches = []
    for i, key in enumerate(keys):
        beyond = key.beyond(values[i], forward)
        if beyond is None:
            continue
        equal = [k.same(v) for k, v in zip(keys[:i], values[:i], strict=True)]
        branches.append(reduce(and_, [*equal, beyond]))
    return reduce(or_, branches) if branches else Q(pk__in=[])


@dataclass
class Listing:
    filterset_class: type
    sorts: dict  # key -> (label, [order_by...])
    default_sort: str
    per_page: int = PER_PAGE
    extra: dict = field(default_factory=dict)

    def _keys(self, model, sort: str) -> list[_Key]:
        keys = []
        for term in [*self.sorts[sort][1], "-pk"]:
            path = term.lstrip("-")
            try:
                model_field = model._meta.pk if path == "pk" else _field(model, path)
            except FieldDoesNotExist:
                raise ValueError(f"cannot sort by {term}") from None
            keys.append(_Key(path, term.startswith("-"), model_field))
        return keys

    def _apply(self, request, queryset: QuerySet):
        """(filterset, sort key, keys, the filtered and sorted queryset): one reading of the
        request for the page and its export alike."""
        filterset = self.filterset_class(request.GET or None, queryset=queryset, request=request)
        if filterset.is_bound:
            queryset = filterset.qs if filterset.is_valid() else queryset.none()
        sort = request.GET.get("sort") or self.default_sort
        if sort not in self.sorts:
            sort = self.default_sort
        keys = self._keys(queryset.model, sort)
        return filterset, sort, keys, queryset.order_by(*(key.order() for key in keys))

    def filtered(self, request, queryset: QuerySet) -> QuerySet:
        """The whole filtered, sorted list (for exports); `?ids=3,5,8` keeps only the rows
        ticked on the page (a bulk export of a selection)."""
        rows = self._apply(request, queryset)[3]
        if "ids" in request.GET:
            wanted = [int(part) for part in request.GET["ids"].split(",") if part.isdecimal()]
            rows = rows.filter(pk__in=wanted[:100_000])
        return rows

    def page(self, request, queryset: QuerySet) -> dict:
        filterset, sort, keys, qs = self._apply(request, queryset)
        number = int_param(request.GET.get("page"), 1, minimum=1, maximum=1_000_000)
        after, before = request.GET.get("after"), request.GET.get("before")
        try:
            cursor = _decode(after or before, keys) if (after or before) else None
        except BadCursor:
            cursor, number = None, 1  # a mangled link starts again from the top
        forward = not before or bool(after)
        if cursor is None:
            number = 1
            rows = list(qs[: self.per_page + 1])
            more_beyond = len(rows) > self.per_page
            rows = rows[: self.per_page]
            has_previous, has_next = False, more_beyond
        elif forward:
            rows = list(qs.filter(_seek(keys, cursor, True))[: self.per_page + 1])
            has_next = len(rows) > self.per_page
            rows = rows[: self.per_page]
            has_previous = True
        else:
            backwards = qs.filter(_seek(keys, cursor, False)).reverse()
            rows = list(backwards[: self.per_page + 1])
            has_previous = len(rows) > self.per_page
            rows = list(reversed(rows[: self.per_page]))
            has_next = True
            if not has_previous:
                number = 1
        if not has_previous and not has_next:
            total, capped = len(rows), False
        else:
            total = qs.values("pk")[: COUNT_CAP + 1].count()
            capped = total > COUNT_CAP
            total = min(total, COUNT_CAP)
        params = request.GET.copy()
        for name in ("page", "after", "before"):
            params.pop(name, None)
        start = (number - 1) * self.per_page
        return {
            "filter": filterset,
            "rows": rows,
            "sort": sort,
            "sorts": [(key, label) for key, (label, _order) in self.sorts.items()],
            "page_number": number,
            "has_next": has_next,
            "has_previous": has_previous,
            "next_query": _with(params, after=self._cursor(keys, rows[-1]), page=number + 1)
            if has_next and rows
            else "",
            "previous_query": _with(params, before=self._cursor(keys, rows[0]), page=number - 1)
            if has_previous and rows and number > 2
            else _with(params),
            "first_row": start + 1 if rows else 0,
            "last_row": start + len(rows),
            "total": total,
            "total_capped": capped,
            "query": params.urlencode(),
            "sort_query": _without(params, "sort"),
        }

    @staticmethod
    def _cursor(keys: list[_Key], row) -> str:
        values = []
        for key in keys:
            value = row
            for name in key.path.split("__"):
                value = getattr(value, name, None) if value is not None else None
            values.append(key.dump(value))
        return _encode(values)


def _with(params: QueryDict, **extra) -> str:
    params = params.copy()
    for name, value in extra.items():
        params[name] = value
    return params.urlencode()


def _without(params: QueryDict, key: str) -> str:
    params = params.copy()
    params.pop(key, None)
    return params.urlencode()
