from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from crm.models import Account
from revops.api_base import OwnedSerializer, RecordCursorPagination, RecordViewSet, django_errors
from revops.models import Team, User
from revops.rules import can_create

from . import services
from .filters import HandoffFilter, LeadFilter
from .models import Handoff, Lead


class LeadSerializer(OwnedSerializer):
    rule_kind = "lead"

    class Meta:
        model = Lead
        fields = [
            "id",
            "external_id",
            "first_name",
            "last_name",
            "email",
            "company",
            "account",
            "source",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "score",
            "status",
            "owner",
            "owner_email",
            "created_on",
            "handed_off_on",
            "accepted_on",
            "converted_on",
            "disqualified_reason",
        ]
        read_only_fields = ["handed_off_on", "accepted_on", "converted_on"]
        extra_kwargs = {"external_id": {"required": False}}

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            fields["account"].queryset = Account.objects.visible_to(request.user)
        return fields

    def validate_status(self, status):
        current = self.instance.status if self.instance else None
        if status != current and status not in (
            Lead.Status.NEW,
            Lead.Status.WORKING,
            Lead.Status.DISQUALIFIED,
        ):
            raise serializers.ValidationError(
                "Leads reach this status through a handoff or a conversion."
            )
        return status

    def validate_email(self, value):
        return value.strip().lower()

    def validate_score(self, value):
        if value is not None and not 0 <= value <= 100:
            raise serializers.ValidationError("A score is between 0 and 100.")
        return value

    def validate(self, data):
        merged = {**(self._current() if self.instance else {}), **data}
        if not any(merged.get(n) for n in ("first_name", "last_name", "email", "company")):
            raise serializers.ValidationError(
                {"non_field_errors": ["Give the lead a name, an e-mail or a company."]}
            )
        if merged.get("status") == Lead.Status.DISQUALIFIED and not merged.get(
            "disqualified_reason"
        ):
            raise serializers.ValidationError(
                {"disqualified_reason": ["Say why the lead is disqualified."]}
            )
        created_on = merged.get("created_on")
        for later in ("handed_off_on", "accepted_on", "converted_on"):
            if created_on and merged.get(later) and merged[later] < created_on:
                raise serializers.ValidationError({"created_on": ["Dates are out of order."]})
        return data

    def _current(self):
        return {
            name: getattr(self.instance, name)
            for name in self.Meta.fields
            if name not in ("id", "owner_email")
        }


class HandoffSerializer(serializers.ModelSerializer):
    sla = serializers.SerializerMethodField()

    class Meta:
        model = Handoff
        fields = [
            "id",
            "kind",
            "lead",
            "from_user",
            "to_team",
            "to_user",
            "note",
            "status",
            "created_at",
            "sla_due_at",
            "sla",
            "decided_at",
            "decided_by",
            "reason",
        ]
        read_only_fields = fields

    def get_sla(self, handoff) -> str:
        return handoff.sla_state()


class HandOffInput(serializers.Serializer):
    to_team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all())
    to_user = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")


class AcceptInput(serializers.Serializer):
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )


class RejectInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


def _run(fn, **kwargs):
    try:
        return fn(**kwargs)
    except DjangoValidationError as error:
        raise django_errors(error) from None
    except DjangoPermissionDenied as error:
        raise exceptions.PermissionDenied(str(error)) from None


class HandoffDecisions:
    """accept/reject, shared by /leads/{id}/… (its pending handoff) and /handoffs/{id}/…"""

    def _accept(self, request, handoff):
        data = AcceptInput(data=request.data)
        data.is_valid(raise_exception=True)
        handoff = _run(
            services.handoff_accept,
            handoff=handoff,
            by=request.user,
            assignee=data.validated_data.get("assignee"),
        )
        return Response(HandoffSerializer(handoff).data)

    def _reject(self, request, handoff):
        data = RejectInput(data=request.data)
        data.is_valid(raise_exception=True)
        handoff = _run(
            services.handoff_reject,
            handoff=handoff,
            by=request.user,
            reason=data.validated_data["reason"],
        )
        return Response(HandoffSerializer(handoff).data)


class LeadViewSet(HandoffDecisions, RecordViewSet):
    """Leads; actions: hand off to sales, accept or reject the pending handoff."""

    queryset = Lead.objects.all()
    serializer_class = LeadSerializer
    filterset_class = LeadFilter
    rule_kind = "lead"
    select_related = ("owner",)

    def _pending(self, lead):
        handoff = lead.handoffs.filter(status=Handoff.Status.PENDING).first()
        if handoff is None:
            raise exceptions.ValidationError({"lead": ["This lead has no handoff waiting."]})
        return handoff

    @extend_schema(request=HandOffInput, responses=HandoffSerializer)
    @action(detail=True, methods=["post"])
    def handoff(self, request, pk=None):
        lead = self.get_object()
        if not can_create(request.user, "handoff"):
            raise exceptions.PermissionDenied("Only marketing hands leads to sales.")
        data = HandOffInput(data=request.data)
        data.is_valid(raise_exception=True)
        handoff = _run(services.lead_handoff, lead=lead, by=request.user, **data.validated_data)
        return Response(HandoffSerializer(handoff).data, status=201)

    @extend_schema(request=AcceptInput, responses=HandoffSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._accept(request, self._pending(self.get_object()))

    @extend_schema(request=RejectInput, responses=HandoffSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._reject(request, self._pending(self.get_object()))


class HandoffViewSet(
    HandoffDecisions, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Handoffs between teams, with their SLA state; accept or reject a pending one."""

    serializer_class = HandoffSerializer
    filterset_class = HandoffFilter
    pagination_class = RecordCursorPagination

    def get_queryset(self):
        return Handoff.objects.visible_to(self.request.user)

    @extend_schema(request=AcceptInput, responses=HandoffSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._accept(request, get_object_or_404(self.get_queryset(), pk=pk))

    @extend_schema(request=RejectInput, responses=HandoffSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._reject(request, get_object_or_404(self.get_queryset(), pk=pk))
