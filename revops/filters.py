import django_filters
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from .choices import ListedChoiceFilter
from .listing import search_query
from .models import User


@extend_schema_field(OpenApiTypes.STR)
class TagFilter(django_filters.CharFilter):
    """`?tag=Q4 push`: the records carrying that tag."""

    def filter(self, qs, value):
        return qs.filter(tags__contains=[value]) if value else qs


class RecordFilterSet(django_filters.FilterSet):
    """Filters every record list has, on pages and in the API."""

    q = django_filters.CharFilter(method="filter_search", label=_("Search"))
    owner = ListedChoiceFilter(
        queryset=User.objects.filter(is_active=True),
        display=User.label_expression(),
        label=_("Owner"),
    )
    owner_email = django_filters.CharFilter(
        field_name="owner__email", lookup_expr="iexact", label=_("Owner e-mail")
    )
    external_id = django_filters.CharFilter(label=_("External id"))

    def filter_search(self, queryset, name, value):
        query = search_query(value)
        return queryset.filter(search=query) if query is not None else queryset
