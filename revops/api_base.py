"""What every record API shares: rules of roles.md, cursor pages, owner rules."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, serializers, viewsets
from rest_framework.pagination import CursorPagination

from .rules import assignable_owners, can_create


class RecordCursorPagination(CursorPagination):
    """`results` with `next`/`previous` links; no count, so a page costs the same at a
    million rows as at a hundred."""

    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = "-id"


class StableIdentity:
    """A record's external id and creation date are set once: they are how other systems
    and the dataset refer to it."""

    def validate_external_id(self, value):
        if self.instance is not None and value != self.instance.external_id:
            raise serializers.ValidationError("An external id never changes.")
        return value

    def validate_created_on(self, value):
        if self.instance is not None and value != self.instance.created_on:
            raise serializers.ValidationError("The creation date never changes.")
        return value


class OwnedSerializer(StableIdentity, serializers.ModelSerializer):
    """A record with an owner: `owner` (id) may only name someone the user may assign
    (roles.md), and only an administrator leaves a record without one; `owner_email` is
    shown read-only."""

    owner_email = serializers.EmailField(source="owner.email", read_only=True, default=None)
    rule_kind = ""  # key of revops.rules.CREATORS

    def validate_owner(self, owner):
        user = self.context["request"].user
        if owner is None:
            if user.role != "admin":
                raise serializers.ValidationError("Every record has an owner.")
            return owner
        if not assignable_owners(user, self.rule_kind).filter(pk=owner.pk).exists():
            raise serializers.ValidationError("You may not assign records to this user.")
        return owner


def django_errors(error: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(error, "message_dict"):
        return exceptions.ValidationError(error.message_dict)
    return exceptions.ValidationError({"non_field_errors": error.messages})


class RecordViewSet(viewsets.ModelViewSet):
    """Reads through `Model.objects.visible_to(user)` (others: 404); writes only on
    `editable_by(user)` (visible but not editable: 403); creation by role."""

    pagination_class = RecordCursorPagination
    rule_kind = ""
    select_related: tuple = ()

    def get_queryset(self):
        qs = self.queryset.model.objects.visible_to(self.request.user)
        return qs.select_related(*self.select_related) if self.select_related else qs

    def get_object(self):
        obj = super().get_object()
        if self.request.method not in ("GET", "HEAD", "OPTIONS") and self.action in (
            "update",
            "partial_update",
            "destroy",
        ):
            editable = self.queryset.model.objects.editable_by(self.request.user)
            if not editable.filter(pk=obj.pk).exists():
                raise exceptions.PermissionDenied("You may read this record but not change it.")
        return obj

    def perform_create(self, serializer):
        if not can_create(self.request.user, self.rule_kind):
            raise exceptions.PermissionDenied("Your role cannot create this record.")
        serializer.save(**self.create_defaults(serializer))

    def create_defaults(self, serializer) -> dict:
        if "owner" in serializer.fields and "owner" not in serializer.validated_data:
            return {"owner": self.request.user}
        return {}
