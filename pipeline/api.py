from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from crm.models import Account, Contact
from revops.api_base import (
    OwnedSerializer,
    RecordCursorPagination,
    RecordViewSet,
    StrictCharField,
    django_errors,
)
from revops.models import Team, User
from revops.money import currency_problem
from revops.rules import can_create

from . import services
from .filters import HandoffFilter, LeadFilter, OpportunityFilter
from .models import MEDDIC_FIELDS, Handoff, Lead, Opportunity, Pipeline, Stage, StageChange


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
            "tags",
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
        editable = (Lead.Status.NEW, Lead.Status.WORKING, Lead.Status.DISQUALIFIED)
        current = self.instance.status if self.instance else None
        if status != current and (
            status not in editable or (current is not None and current not in editable)
        ):
            raise serializers.ValidationError(
                "Leads reach and leave this status through a handoff or a conversion."
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


class ChecklistItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    done = serializers.BooleanField()


class HandoffSerializer(serializers.ModelSerializer):
    sla = serializers.SerializerMethodField()
    checklist = ChecklistItemSerializer(many=True, read_only=True)

    class Meta:
        model = Handoff
        fields = [
            "id",
            "external_id",
            "kind",
            "lead",
            "opportunity",
            "checklist",
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
    note = StrictCharField(required=False, allow_blank=True, default="")


class AcceptInput(serializers.Serializer):
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    # For a won deal: corrections to its draft subscription, confirmed on acceptance.
    mrr = serializers.DecimalField(max_digits=20, decimal_places=2, min_value=0, required=False)
    start_on = serializers.DateField(required=False)
    product = StrictCharField(max_length=200, required=False)


class ChecklistInput(serializers.Serializer):
    item = serializers.IntegerField()
    done = serializers.BooleanField(default=True)


class RejectInput(serializers.Serializer):
    reason = StrictCharField(max_length=2000)


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
        values = data.validated_data
        handoff = _run(
            services.handoff_accept,
            handoff=handoff,
            by=request.user,
            assignee=values.get("assignee"),
            subscription={k: values.get(k) for k in ("mrr", "start_on", "product")},
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


class HandoffViewSet(
    HandoffDecisions, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Handoffs between teams, with their SLA state; accept or reject a pending one."""

    serializer_class = HandoffSerializer
    filterset_class = HandoffFilter
    pagination_class = RecordCursorPagination

    def get_queryset(self):
        return Handoff.objects.visible_to(self.request.user).prefetch_related("checklist")

    @extend_schema(request=AcceptInput, responses=HandoffSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None, format=None):
        return self._accept(request, get_object_or_404(self.get_queryset(), pk=pk))

    @extend_schema(request=RejectInput, responses=HandoffSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None, format=None):
        return self._reject(request, get_object_or_404(self.get_queryset(), pk=pk))

    @extend_schema(request=ChecklistInput, responses=HandoffSerializer)
    @action(detail=True, methods=["post"])
    def checklist(self, request, pk=None, format=None):
        """Tick (`done: true`) or untick a step of the handoff's checklist."""
        handoff = get_object_or_404(self.get_queryset(), pk=pk)
        data = ChecklistInput(data=request.data)
        data.is_valid(raise_exception=True)
        item = handoff.checklist.filter(pk=data.validated_data["item"]).first()
        if item is None:
            raise exceptions.ValidationError({"item": ["No such step in this handoff."]})
        _run(
            services.checklist_item_set,
            item=item,
            by=request.user,
            done=data.validated_data["done"],
        )
        # Fresh from the database: the prefetched checklist predates the tick.
        return Response(HandoffSerializer(self.get_queryset().get(pk=handoff.pk)).data)


# --- Opportunities, stages, pipelines, stage history -------------------------------------


class OpportunitySerializer(OwnedSerializer):
    """`version` is read-only here: a client sends the version it read as a precondition
    (in the body or as `If-Match`), never to set it."""

    rule_kind = "opportunity"
    expected_version = serializers.IntegerField(
        write_only=True, required=False, help_text="The version you read (or use If-Match)."
    )

    class Meta:
        model = Opportunity
        fields = [
            "id",
            "external_id",
            "account",
            "name",
            "owner",
            "owner_email",
            "tags",
            "pipeline",
            "stage",
            "status",
            "kind",
            "amount",
            "one_time_amount",
            "currency",
            "contract_months",
            "expected_close_on",
            "forecast_category",
            "created_on",
            "closed_on",
            "lost_reason",
            "primary_contact",
            *MEDDIC_FIELDS,
            "version",
            "expected_version",
            "meddic_score",
        ]
        read_only_fields = ["pipeline", "status", "version", "meddic_score"]
        extra_kwargs = {"external_id": {"required": False}}

    meddic_score = serializers.IntegerField(read_only=True)

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            fields["account"].queryset = Account.objects.visible_to(request.user)
            fields["primary_contact"].queryset = Contact.objects.visible_to(request.user)
        return fields

    def validate_currency(self, value):
        value = value.upper()
        if problem := currency_problem(value):
            raise serializers.ValidationError(problem)
        return value

    def validate(self, data):
        instance = self.instance
        merged = {
            **(
                {
                    f: getattr(instance, f)
                    for f in (
                        "amount",
                        "one_time_amount",
                        "stage",
                        "lost_reason",
                        "account",
                        "primary_contact",
                    )
                }
                if instance
                else {}
            ),
            **data,
        }
        errors = {}
        amount, one_time = merged.get("amount"), merged.get("one_time_amount")
        if amount is not None and amount < 0:
            errors["amount"] = ["An amount cannot be negative."]
        if one_time is not None and (one_time < 0 or (amount is not None and one_time > amount)):
            errors["one_time_amount"] = ["One-time fees are between 0 and the amount."]
        stage = merged.get("stage")
        if (
            stage is not None
            and stage.outcome == "lost"
            and not (merged.get("lost_reason") or "").strip()
        ):
            errors["lost_reason"] = ["Say why the deal was lost."]
        contact, account = merged.get("primary_contact"), merged.get("account")
        if contact and account and contact.account_id not in (None, account.pk):
            errors["primary_contact"] = ["This contact belongs to another account."]
        if errors:
            raise serializers.ValidationError(errors)
        return data


def _expected_version(request, data):
    """The client's precondition: If-Match (an ETag or a bare number) or expected_version."""
    header = request.headers.get("If-Match", "").strip().strip("W/").strip('"')
    if header:
        return header
    return data.get("expected_version")


class MoveInput(serializers.Serializer):
    stage = serializers.PrimaryKeyRelatedField(queryset=Stage.objects.all())
    expected_version = serializers.IntegerField(required=False)
    closed_on = serializers.DateField(required=False, allow_null=True)
    lost_reason = StrictCharField(required=False, allow_blank=True, default="", max_length=300)


def _conflict_response(error):
    return Response(
        {
            "detail": str(error),
            "version": error.current.version,
            "changed": {
                name: str(theirs) if theirs is not None else None
                for name, (_mine, theirs) in error.changes.items()
            },
        },
        status=409,
    )


class OpportunityViewSet(RecordViewSet):
    """Deals. Updates and moves need the version you read (body `expected_version` or
    `If-Match`); a stale one answers 409 and nothing is saved."""

    queryset = Opportunity.objects.all()
    serializer_class = OpportunitySerializer
    filterset_class = OpportunityFilter
    rule_kind = "opportunity"
    select_related = ("owner",)
    conflict_actions = ("update", "partial_update", "move")

    def perform_create(self, serializer):
        if not can_create(self.request.user, self.rule_kind):
            raise exceptions.PermissionDenied("Your role cannot create deals.")
        data = dict(serializer.validated_data)
        data.pop("expected_version", None)
        data.setdefault("owner", self.request.user)
        opportunity = Opportunity(**data)
        _run(services.opportunity_create, opportunity=opportunity, by=self.request.user)
        serializer.instance = opportunity

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("expected_version", None)
        try:
            opportunity = services.opportunity_update(
                opportunity_id=instance.pk,
                data=data,
                by=request.user,
                expected_version=_expected_version(request, request.data),
            )
        except services.Conflict as error:
            return _conflict_response(error)
        except DjangoValidationError as error:
            raise django_errors(error) from None
        return Response(self.get_serializer(opportunity).data)

    def destroy(self, request, *args, **kwargs):
        self.get_object()  # a deal the user may not see is a 404, never a 403 (roles.md)
        if request.user.role != User.Role.ADMIN:
            raise exceptions.PermissionDenied("Only an administrator deletes deals.")
        return super().destroy(request, *args, **kwargs)

    @extend_schema(request=MoveInput, responses=OpportunitySerializer)
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None, format=None):
        opportunity = self.get_object()
        if not Opportunity.objects.editable_by(request.user).filter(pk=opportunity.pk).exists():
            raise exceptions.PermissionDenied("You may read this deal but not move it.")
        data = MoveInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            moved = services.opportunity_move(
                opportunity_id=opportunity.pk,
                stage=data.validated_data["stage"],
                by=request.user,
                expected_version=_expected_version(request, data.validated_data),
                closed_on=data.validated_data.get("closed_on"),
                lost_reason=data.validated_data.get("lost_reason", ""),
            )
        except services.Conflict as error:
            return _conflict_response(error)
        except DjangoValidationError as error:
            raise django_errors(error) from None
        return Response(OpportunitySerializer(moved, context={"request": request}).data)


class ConvertInput(serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(
        queryset=Account.objects.all(), required=False, allow_null=True
    )
    contact = serializers.PrimaryKeyRelatedField(
        queryset=Contact.objects.all(), required=False, allow_null=True
    )
    name = StrictCharField(max_length=200)
    amount = serializers.DecimalField(max_digits=20, decimal_places=2, min_value=0)
    currency = StrictCharField(max_length=3, required=False)
    expected_close_on = serializers.DateField(required=False, allow_null=True)
    stage = serializers.PrimaryKeyRelatedField(
        queryset=Stage.objects.filter(outcome="open"), required=False
    )

    def get_fields(self):
        fields = super().get_fields()
        user = self.context["request"].user
        fields["account"].queryset = Account.objects.visible_to(user)
        fields["contact"].queryset = Contact.objects.visible_to(user)
        return fields


class StageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Stage
        fields = ["id", "pipeline", "name", "position", "probability", "outcome"]

    def validate_probability(self, value):
        if not 0 <= value <= 1:
            raise serializers.ValidationError("A probability is between 0 and 1.")
        return value

    def validate(self, data):
        stage = self.instance
        if stage is not None and stage.opportunities.exists():
            for name in ("pipeline", "outcome"):
                if name in data and data[name] != getattr(stage, name):
                    raise serializers.ValidationError(
                        {name: ["Deals are in this stage: its pipeline and outcome stay."]}
                    )
        return data


class PipelineSerializer(serializers.ModelSerializer):
    stages = StageSerializer(many=True, read_only=True)

    class Meta:
        model = Pipeline
        fields = ["id", "name", "is_default", "stages"]


class AdminWrites:
    """Everyone reads; administrators change (roles.md: pipelines are settings). What deals
    still use cannot be deleted (409)."""

    conflict_actions = ("destroy",)

    def check_permissions(self, request):
        super().check_permissions(request)
        if request.method not in ("GET", "HEAD", "OPTIONS") and request.user.role != "admin":
            raise exceptions.PermissionDenied("Only an administrator changes pipelines.")

    def destroy(self, request, *args, **kwargs):
        from django.db.models import ProtectedError

        try:
            return super().destroy(request, *args, **kwargs)
        except ProtectedError:
            return Response({"detail": "Deals still use it: move them first."}, status=409)


class PipelineViewSet(AdminWrites, viewsets.ModelViewSet):
    queryset = Pipeline.objects.prefetch_related("stages")
    serializer_class = PipelineSerializer


class StageViewSet(AdminWrites, viewsets.ModelViewSet):
    queryset = Stage.objects.all()
    serializer_class = StageSerializer
    filterset_fields = ["pipeline", "outcome"]


class StageChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = StageChange
        fields = [
            "id",
            "opportunity",
            "from_stage",
            "to_stage",
            "entered_on",
            "changed_by",
            "created_at",
        ]
        read_only_fields = fields


class StageChangeViewSet(viewsets.ReadOnlyModelViewSet):
    """The append-only ledger of stage moves, for the deals you may see."""

    serializer_class = StageChangeSerializer
    pagination_class = RecordCursorPagination
    filterset_fields = ["opportunity"]

    def get_queryset(self):
        return StageChange.objects.filter(
            opportunity__in=Opportunity.objects.visible_to(self.request.user)
        )


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
    def handoff(self, request, pk=None, format=None):
        lead = self.get_object()
        if not can_create(request.user, "handoff"):
            raise exceptions.PermissionDenied("Only marketing hands leads to sales.")
        data = HandOffInput(data=request.data)
        data.is_valid(raise_exception=True)
        handoff = _run(services.lead_handoff, lead=lead, by=request.user, **data.validated_data)
        return Response(HandoffSerializer(handoff).data, status=201)

    @extend_schema(request=AcceptInput, responses=HandoffSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None, format=None):
        return self._accept(request, self._pending(self.get_object()))

    @extend_schema(request=ConvertInput, responses={201: OpportunitySerializer})
    @action(detail=True, methods=["post"])
    def convert(self, request, pk=None, format=None):
        lead = self.get_object()
        if not Lead.objects.editable_by(request.user).filter(pk=lead.pk).exists() or not (
            can_create(request.user, "opportunity")
        ):
            raise exceptions.PermissionDenied("You may not convert this lead.")
        data = ConvertInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        from revops.models import Organisation

        stage = (
            values.pop("stage", None)
            or Pipeline.default().stages.filter(outcome="open").order_by("position").first()
        )
        opportunity = _run(
            services.lead_convert,
            lead=lead,
            by=request.user,
            account=values.pop("account", None),
            contact=values.pop("contact", None),
            opportunity_data={
                "name": values["name"],
                "amount": values["amount"],
                "currency": values.get("currency") or Organisation.get().base_currency,
                "expected_close_on": values.get("expected_close_on"),
                "stage": stage,
            },
        )
        return Response(
            OpportunitySerializer(opportunity, context={"request": request}).data, status=201
        )

    @extend_schema(request=RejectInput, responses=HandoffSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None, format=None):
        return self._reject(request, self._pending(self.get_object()))
