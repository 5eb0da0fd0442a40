from rest_framework import serializers

from revops.api_base import OwnedSerializer, RecordViewSet

from . import services
from .filters import AccountFilter, ActivityFilter, ContactFilter
from .forms import clean_domain
from .models import Account, Activity, Contact, Persona


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
            "created_on",
        ]
        extra_kwargs = {"external_id": {"required": False}}

    def validate_domain(self, value):
        from django import forms

        try:
            return clean_domain(value)
        except forms.ValidationError as error:
            raise serializers.ValidationError(error.messages) from None


class ContactSerializer(serializers.ModelSerializer):
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
        services.account_delete(instance)


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
