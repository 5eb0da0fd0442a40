import django_filters
from django.utils.translation import gettext_lazy as _

from revops.choices import ReferenceChoiceFilter
from revops.filters import RecordFilterSet, TagFilter
from revops.models import Team

from .models import Handoff, Lead, Opportunity, Pipeline, Stage


class LeadFilter(RecordFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Lead.Status.choices, label=_("Status"))
    source = django_filters.CharFilter(lookup_expr="iexact", label=_("Source"))
    tag = TagFilter(label=_("Tag"))
    utm_campaign = django_filters.CharFilter(lookup_expr="iexact", label=_("Campaign"))
    account = django_filters.NumberFilter(field_name="account_id", label=_("Account"))
    created_on = django_filters.DateFromToRangeFilter(label=_("Created"))

    class Meta:
        model = Lead
        fields = [
            "q",
            "status",
            "source",
            "utm_campaign",
            "owner",
            "owner_email",
            "account",
            "created_on",
            "external_id",
        ]


class HandoffFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Handoff.Status.choices, label=_("Status"))
    to_team = django_filters.ModelChoiceFilter(queryset=Team.objects.all(), label=_("To team"))
    lead = django_filters.NumberFilter(field_name="lead_id", label=_("Lead"))

    class Meta:
        model = Handoff
        fields = ["status", "to_team", "to_user", "lead", "kind"]


class OpportunityFilter(RecordFilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label=_("Search"))
    tag = TagFilter(label=_("Tag"))
    team = ReferenceChoiceFilter(field_name="owner__team", model=Team, label=_("Team"))
    stage = ReferenceChoiceFilter(model=Stage, label=_("Stage"))
    status = django_filters.ChoiceFilter(choices=Stage.Outcome.choices, label=_("Status"))
    pipeline = ReferenceChoiceFilter(model=Pipeline, label=_("Pipeline"))
    kind = django_filters.ChoiceFilter(choices=Opportunity.Kind.choices, label=_("Kind"))
    account = django_filters.NumberFilter(field_name="account_id", label=_("Account"))
    expected_close_on = django_filters.DateFromToRangeFilter(label=_("Expected close"))
    closed_on = django_filters.DateFromToRangeFilter(label=_("Closed"))

    class Meta:
        model = Opportunity
        fields = [
            "q",
            "owner",
            "owner_email",
            "team",
            "stage",
            "status",
            "pipeline",
            "kind",
            "account",
            "expected_close_on",
            "closed_on",
            "external_id",
        ]
