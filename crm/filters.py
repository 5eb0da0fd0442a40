import django_filters
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field

from revops.choices import ListedChoiceFilter, ReferenceChoiceFilter
from revops.filters import RecordFilterSet, TagFilter
from revops.models import User

from .models import Account, Activity, Contact, Persona


@extend_schema_field({"type": "string", "enum": ["true", "false"]})
class _TrueFalseFilter(django_filters.TypedChoiceFilter):
    pass


class AccountFilter(RecordFilterSet):
    industry = django_filters.CharFilter(lookup_expr="iexact", label=_("Industry"))
    country = django_filters.CharFilter(lookup_expr="iexact", label=_("Country"))
    domain = django_filters.CharFilter(lookup_expr="iexact", label=_("Domain"))
    tag = TagFilter(label=_("Tag"))

    class Meta:
        model = Account
        fields = ["q", "owner", "owner_email", "industry", "country", "domain", "external_id"]


class ContactFilter(RecordFilterSet):
    # An account's id, not a list of every account (a hundred thousand options).
    account = django_filters.NumberFilter(field_name="account_id", label=_("Account"))
    persona = ReferenceChoiceFilter(model=Persona, label=_("Persona"))
    owner = ListedChoiceFilter(
        field_name="account__owner",
        queryset=RecordFilterSet.base_filters["owner"].extra["rows_queryset"],
        display=User.label_expression(),
        label=_("Account owner"),
    )
    owner_email = django_filters.CharFilter(
        field_name="account__owner__email", lookup_expr="iexact", label=_("Account owner e-mail")
    )
    email = django_filters.CharFilter(lookup_expr="iexact", label=_("E-mail"))

    class Meta:
        model = Contact
        fields = ["q", "account", "persona", "owner", "owner_email", "email", "external_id"]


class ActivityFilter(RecordFilterSet):
    q = django_filters.CharFilter(field_name="subject", lookup_expr="icontains", label=_("Search"))
    kind = django_filters.ChoiceFilter(choices=Activity.Kind.choices, label=_("Kind"))
    # Choices, not a BooleanFilter: an unknown value is a 400, not silently no filter.
    done = _TrueFalseFilter(
        choices=[("true", _("Yes")), ("false", _("No"))],
        coerce=lambda value: value == "true",
        label=_("Done"),
    )
    account = django_filters.NumberFilter(field_name="account_id", label=_("Account"))
    contact = django_filters.NumberFilter(field_name="contact_id", label=_("Contact"))
    lead = django_filters.NumberFilter(field_name="lead_id", label=_("Lead"))

    class Meta:
        model = Activity
        fields = ["q", "kind", "done", "owner", "owner_email", "account", "contact", "lead"]
