from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from revops.api_base import (
    OwnedSerializer,
    RecordCursorPagination,
    RecordViewSet,
    StableIdentity,
    StrictCharField,
    django_errors,
)
from revops.money import currency_problem

from . import services
from .filters import AccountFilter, ActivityFilter, ContactFilter
from .forms import clean_domain, contact_email_taken
from .models import Account, Activity, ChurnReason, Contact, HealthScore, Persona, Subscription


class AccountSerializer(OwnedSerializer):
    rule_kind = "account"

    class Meta:
        model = Account
        fields = [
            "id",
            "external_id",
            "name",
            "domain",
            "industry",
            "country",
            "owner",
            "owner_email",
            "tags",
            "created_on",
        ]
        extra_kwargs = {"external_id": {"required": False}}

    def validate_domain(self, value):
        from django import forms

        try:
            return clean_domain(value)
        except forms.ValidationError as error:
            raise serializers.ValidationError(error.messages) from None


class ContactSerializer(StableIdentity, serializers.ModelSerializer):
    persona = serializers.SlugRelatedField(
        slug_field="name", queryset=Persona.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Contact
        fields = [
            "id",
            "external_id",
            "account",
            "first_name",
            "last_name",
            "email",
            "phone",
            "title",
            "persona",
            "created_on",
        ]
        extra_kwargs = {"external_id": {"required": False}}

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            fields["account"].queryset = Account.objects.editable_by(request.user)
        return fields

    def validate_email(self, value):
        return value.strip().lower()

    def validate(self, data):
        account = data.get("account", getattr(self.instance, "account", None))
        email = data.get("email", getattr(self.instance, "email", ""))
        if account and email and contact_email_taken(account, email, self.instance):
            raise serializers.ValidationError(
                {"email": ["Another contact of this account has this e-mail."]}
            )
        return data


class ActivitySerializer(OwnedSerializer):
    rule_kind = "activity"

    class Meta:
        model = Activity
        fields = [
            "id",
            "external_id",
            "kind",
            "subject",
            "body",
            "account",
            "contact",
            "lead",
            "opportunity",
            "owner",
            "owner_email",
            "occurred_on",
            "due_on",
            "done",
        ]
        extra_kwargs = {"external_id": {"required": False}}

    def get_fields(self):
        from pipeline.models import Lead, Opportunity

        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            fields["opportunity"].queryset = Opportunity.objects.visible_to(request.user)
            fields["account"].queryset = Account.objects.visible_to(request.user)
            fields["contact"].queryset = Contact.objects.visible_to(request.user)
            fields["lead"].queryset = Lead.objects.visible_to(request.user)
        return fields

    def validate(self, data):
        merged = {
            **(
                {}
                if self.instance is None
                else {
                    "account": self.instance.account,
                    "contact": self.instance.contact,
                    "lead": self.instance.lead,
                    "kind": self.instance.kind,
                    "due_on": self.instance.due_on,
                }
            ),
            **data,
        }
        if not any(merged.get(k) for k in ("account", "contact", "lead")):
            raise serializers.ValidationError(
                {"non_field_errors": ["Link the activity to an account, contact or lead."]}
            )
        if merged.get("due_on") and merged.get("kind") != Activity.Kind.TASK:
            raise serializers.ValidationError({"due_on": ["Only tasks have a due date."]})
        return data


class AccountViewSet(RecordViewSet):
    """Accounts: everyone reads; owners (reps, CS), managers (team's) and admins edit."""

    queryset = Account.objects.all()
    serializer_class = AccountSerializer
    filterset_class = AccountFilter
    rule_kind = "account"
    select_related = ("owner",)

    def perform_destroy(self, instance):
        from django.core.exceptions import ValidationError as DjangoValidationError

        try:
            services.account_delete(instance)
        except DjangoValidationError as error:
            raise django_errors(error) from None


class ContactViewSet(RecordViewSet):
    queryset = Contact.objects.all()
    serializer_class = ContactSerializer
    filterset_class = ContactFilter
    rule_kind = "contact"
    select_related = ("persona",)

    def create_defaults(self, serializer):
        return {"created_by": self.request.user}

    def perform_destroy(self, instance):
        services.contact_delete(instance)


class ActivityViewSet(RecordViewSet):
    queryset = Activity.objects.all()
    serializer_class = ActivitySerializer
    filterset_class = ActivityFilter
    rule_kind = "activity"
    select_related = ("owner",)

    def perform_create(self, serializer):
        super().perform_create(serializer)
        services.activity_changed(serializer.instance)

    def perform_update(self, serializer):
        super().perform_update(serializer)
        services.activity_changed(serializer.instance)

    def perform_destroy(self, instance):
        services.activity_changed(instance)
        super().perform_destroy(instance)


class SubscriptionSerializer(StableIdentity, serializers.ModelSerializer):
    churn_reason = serializers.SlugRelatedField(
        slug_field="name", queryset=ChurnReason.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Subscription
        fields = [
            "id",
            "external_id",
            "account",
            "product",
            "mrr",
            "currency",
            "start_on",
            "end_on",
            "status",
            "source_opportunity",
            "replaces",
            "churn_reason",
            "churn_note",
            "renewal_opportunity",
        ]
        read_only_fields = ["status", "source_opportunity", "replaces", "renewal_opportunity"]
        extra_kwargs = {"external_id": {"required": False}}

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            accounts = Account.objects.visible_to(request.user)
            if request.user.role != "admin":
                accounts = accounts.filter(owner=request.user)
            fields["account"].queryset = accounts
        return fields

    def validate(self, data):
        start = data.get("start_on", getattr(self.instance, "start_on", None))
        end = data.get("end_on", getattr(self.instance, "end_on", None))
        if start and end and end <= start:
            raise serializers.ValidationError({"end_on": ["A subscription ends after it starts."]})
        if data.get("mrr") is not None and data["mrr"] < 0:
            raise serializers.ValidationError({"mrr": ["MRR cannot be negative."]})
        if "currency" in data and (problem := currency_problem(data["currency"])):
            raise serializers.ValidationError({"currency": [problem]})
        return data


class PlanChangeInput(serializers.Serializer):
    mrr = serializers.DecimalField(max_digits=20, decimal_places=2, min_value=0)
    on = serializers.DateField()
    product = StrictCharField(max_length=200, required=False, allow_blank=True)


class CancelInput(serializers.Serializer):
    on = serializers.DateField()
    reason = serializers.SlugRelatedField(slug_field="name", queryset=ChurnReason.objects.all())
    note = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")


class SubscriptionViewSet(RecordViewSet):
    """Subscriptions: everyone who reads the account reads them; CS add them to the
    accounts they own, admins to all. History is never rewritten: a plan change ends one
    subscription and starts the next (`change_plan`), a cancellation records its reason
    (`cancel`); there is no update or delete."""

    http_method_names = ["get", "post", "head", "options"]
    queryset = Subscription.objects.all()
    serializer_class = SubscriptionSerializer
    rule_kind = "subscription"
    select_related = ("churn_reason",)
    filterset_fields = ["account", "status", "external_id"]

    def perform_create(self, serializer):
        from revops.rules import can_create

        if not can_create(self.request.user, "subscription"):
            from rest_framework import exceptions

            raise exceptions.PermissionDenied("Subscriptions are edited by CS and admins.")
        serializer.save(status=Subscription.Status.CONFIRMED)
        services.health_refresh_soon(serializer.instance.account_id)

    def _editable(self, pk):
        from rest_framework import exceptions

        subscription = self.get_object()
        if not Subscription.objects.editable_by(self.request.user).filter(pk=pk).exists():
            raise exceptions.PermissionDenied("Subscriptions are edited by the account's CS.")
        return subscription

    def _run(self, fn, **kwargs):
        from django.core.exceptions import ValidationError as DjangoValidationError

        try:
            return fn(by=self.request.user, **kwargs)
        except DjangoValidationError as error:
            raise django_errors(error) from None

    @extend_schema(request=PlanChangeInput, responses={201: SubscriptionSerializer})
    @action(detail=True, methods=["post"])
    def change_plan(self, request, pk=None, format=None):
        subscription = self._editable(pk)
        data = PlanChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        new = self._run(
            services.subscription_change_plan,
            subscription=subscription,
            on=values["on"],
            mrr=values["mrr"],
            product=values.get("product"),
        )
        return Response(SubscriptionSerializer(new, context={"request": request}).data, status=201)

    @extend_schema(request=CancelInput, responses=SubscriptionSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None, format=None):
        subscription = self._editable(pk)
        data = CancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        ended = self._run(
            services.subscription_cancel,
            subscription=subscription,
            on=values["on"],
            reason=values["reason"],
            note=values["note"],
        )
        return Response(SubscriptionSerializer(ended, context={"request": request}).data)


class HealthSerializer(serializers.ModelSerializer):
    class Meta:
        model = HealthScore
        fields = ["account", "computed_on", "score", "components"]


class HealthViewSet(viewsets.ReadOnlyModelViewSet):
    """Accounts' health scores with their components, newest first (`?account=`)."""

    serializer_class = HealthSerializer
    pagination_class = RecordCursorPagination
    filterset_fields = ["account", "computed_on"]

    def get_queryset(self):
        return HealthScore.objects.filter(
            account__in=Account.objects.visible_to(self.request.user)
        ).order_by("-computed_on")
