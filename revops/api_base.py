"""What every record API shares: rules of roles.md, cursor pages, owner rules."""

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers, viewsets
from rest_framework.fields import SkipField
from rest_framework.pagination import CursorPagination
from rest_framework.relations import PKOnlyObject

from .rules import assignable_owners, can_create


class StrictCharField(serializers.CharField):
    """Text is a JSON string: a number or a boolean sent for it is refused (400), not
    silently turned into text; its length is the length sent (as the schema's maxLength
    says), before the outer whitespace is trimmed."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


# Every model serializer's text fields, whichever class it derives from.
serializers.ModelSerializer.serializer_field_mapping[models.CharField] = StrictCharField
serializers.ModelSerializer.serializer_field_mapping[models.TextField] = StrictCharField


class RecordCursorPagination(CursorPagination):
    """`results` with `next`/`previous` links; no count, so a page costs the same at a
    million rows as at a hundred."""

    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = "-id"

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and (not raw.isdecimal() or int(raw) < 1):
            raise exceptions.ValidationError(
                {"page_size": [_("A page size is a whole number ≥ 1.")]}
            )
        return super().get_page_size(request)


class FastListSerializer(serializers.ListSerializer):
    """A list page's rows as DRF would write them, without its per-field machinery on each
    of 50 rows: the fields are planned once per page (a foreign key's id read from its
    column, a field's attribute path walked directly); anything unusual (a method field, a
    callable, a missing attribute) takes DRF's own path for that field."""

    def to_representation(self, data):
        rows = data.all() if hasattr(data, "all") else data
        child = self.child
        if type(child).to_representation is not serializers.Serializer.to_representation:
            return super().to_representation(data)
        plan = [(field, _reader(field)) for field in child._readable_fields]
        result = []
        for instance in rows:
            row = {}
            for field, read in plan:
                try:
                    value = read(instance) if read else _SLOW
                except (AttributeError, KeyError, ObjectDoesNotExist):
                    value = _SLOW
                if value is _SLOW:
                    try:
                        value = field.get_attribute(instance)
                    except SkipField:
                        continue
                    check = value.pk if isinstance(value, PKOnlyObject) else value
                    row[field.field_name] = (
                        None if check is None else field.to_representation(value)
                    )
                    continue
                row[field.field_name] = None if value is None else field.to_representation(value)
            result.append(row)
        return result


_SLOW = object()


def _reader(field):
    """A function reading `field`'s value from an instance the way DRF would, or None
    when only DRF's own `get_attribute` will do."""
    if field.source == "*" or not field.source_attrs:
        return None
    if isinstance(field, serializers.PrimaryKeyRelatedField):
        if not field.use_pk_only_optimization() or len(field.source_attrs) != 1:
            return None
        name = field.source_attrs[0]

        def read_key(instance):
            value = instance.serializable_value(name)  # the column, no query
            return None if value is None else PKOnlyObject(pk=value)

        return read_key
    if type(field).get_attribute is not serializers.Field.get_attribute:
        return None
    attrs = field.source_attrs

    def read(instance):
        for attr in attrs:
            if instance is None:
                raise AttributeError(attr)  # DRF's default/allow_null rules decide
            instance = getattr(instance, attr)
            if callable(instance):
                return _SLOW
        return instance

    return read


class FastLists:
    """Serializers whose lists take `FastListSerializer`."""

    @classmethod
    def many_init(cls, *args, **kwargs):
        serializer = super().many_init(*args, **kwargs)
        if type(serializer) is serializers.ListSerializer:
            serializer.__class__ = FastListSerializer
        return serializer


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


class OwnedSerializer(FastLists, StableIdentity, serializers.ModelSerializer):
    """A record with an owner: `owner` (id) may only name someone the user may assign
    (roles.md), and only an administrator leaves a record without one; `owner_email` is
    shown read-only."""

    owner_email = serializers.EmailField(
        source="owner.email", read_only=True, default=None, allow_null=True
    )
    rule_kind = ""  # key of revops.rules.CREATORS

    def validate_tags(self, tags):
        """Tags as the list pages write them (revops.bulk_changes.clean_tag), once each."""
        from .bulk_changes import clean_tag

        cleaned = []
        for tag in tags or []:
            tag = clean_tag(tag)
            if not tag:
                raise serializers.ValidationError(
                    _("A tag is 1 to 40 characters, without a comma.")
                )
            if tag not in cleaned:
                cleaned.append(tag)
        return cleaned

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
