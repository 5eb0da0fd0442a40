"""REST: the signed-in user's notifications (list, one, mark read) and bulk reassign."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import QueryDict
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from . import bulk_changes
from .api_base import RecordCursorPagination
from .models import Job, Notification
from .notifications import text


class NotificationSerializer(serializers.ModelSerializer):
    text = serializers.SerializerMethodField(help_text="What happened, in your language.")

    class Meta:
        model = Notification
        fields = ["id", "kind", "event", "text", "url", "params", "created_at", "read_at"]
        read_only_fields = fields

    def get_text(self, notification) -> str:
        return text(notification)


class NotificationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Your notifications, newest first (`?unread=true` for the unread ones). Marking read
    is a POST; nobody else's notifications exist for you (404)."""

    serializer_class = NotificationSerializer
    pagination_class = RecordCursorPagination
    queryset = Notification.objects.none()  # the schema's model; get_queryset reads

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        rows = Notification.objects.filter(recipient=self.request.user)
        unread = self.request.query_params.get("unread")
        if unread not in (None, "", "true", "false"):
            raise exceptions.ValidationError({"unread": ["Use true or false."]})
        if unread == "true":
            rows = rows.filter(read_at__isnull=True)
        elif unread == "false":
            rows = rows.filter(read_at__isnull=False)
        return rows

    @extend_schema(
        parameters=[OpenApiParameter("unread", str, enum=["true", "false"], required=False)]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None, format=None):
        notification = self.get_object()
        if notification.read_at is None:
            notification.read_at = timezone.now()
            notification.save(update_fields=["read_at"])
        return Response(self.get_serializer(notification).data)

    @extend_schema(
        request=None,
        responses=inline_serializer("NotificationsRead", {"read": serializers.IntegerField()}),
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request, format=None):
        count = Notification.objects.filter(recipient=request.user, read_at__isnull=True).update(
            read_at=timezone.now()
        )
        return Response({"read": count})


class BulkReassignInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=sorted(bulk_changes.KINDS))
    owner = serializers.IntegerField(help_text="The new owner's id.")
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=100_000,
        help_text="The records to give; or `filter` for every record matching it.",
    )
    filter = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="The list filters (as on GET of the kind's list endpoint), e.g. "
        '{"owner": "12", "status": "open"}.',
    )

    def validate(self, data):
        if ("ids" in data) == ("filter" in data):
            raise serializers.ValidationError("Give either ids or filter.")
        return data


BulkOutcome = inline_serializer(
    "BulkOutcome",
    {
        "changed": serializers.IntegerField(required=False),
        "skipped": serializers.IntegerField(required=False),
        "job": serializers.IntegerField(required=False),
        "status": serializers.CharField(required=False),
    },
)


class BulkReassignApi(APIView):
    """Give records to someone else (roles.md: a manager within the team, an admin anyone,
    a marketer any lead). Records you may not change are left out. Up to 200 answer at
    once with what changed; more start a job (202) to follow at `/api/v1/bulk/jobs/{id}/`."""

    @extend_schema(request=BulkReassignInput, responses={200: BulkOutcome, 202: BulkOutcome})
    def post(self, request, format=None):
        data = BulkReassignInput(data=request.data)
        data.is_valid(raise_exception=True)
        kind = data.validated_data["kind"]
        if not bulk_changes.may_bulk_change(request.user, kind):
            raise exceptions.PermissionDenied("Your role cannot change these records.")
        spec = bulk_changes.KINDS[kind]
        try:
            params = bulk_changes.check(
                request.user, spec, "reassign", {"owner": data.validated_data["owner"]}
            )
        except DjangoValidationError as error:
            raise exceptions.ValidationError(error.message_dict) from None
        query = QueryDict(mutable=True)
        for name, value in (data.validated_data.get("filter") or {}).items():
            query[name] = value
        chosen = bulk_changes.selection(
            request.user,
            spec,
            ids=data.validated_data.get("ids"),
            query=query,
            request=request,
        )
        if len(chosen) > bulk_changes.INLINE:
            job = bulk_changes.job_for(request.user, kind, "reassign", params, chosen)
            return Response({"job": job.pk, "status": job.status}, status=status.HTTP_202_ACCEPTED)
        return Response(bulk_changes.apply(request.user, spec, "reassign", params, chosen))


class BulkJobApi(APIView):
    """A bulk job of yours: its status, progress and, when done, what changed."""

    @extend_schema(
        responses=inline_serializer(
            "BulkJob",
            {
                "id": serializers.IntegerField(),
                "status": serializers.CharField(),
                "progress": serializers.IntegerField(),
                "total": serializers.IntegerField(allow_null=True),
                "result": serializers.DictField(),
            },
        )
    )
    def get(self, request, pk: int, format=None):
        job = Job.objects.filter(pk=pk, kind__startswith="bulk:", created_by=request.user).first()
        if job is None:
            raise exceptions.NotFound()
        return Response(
            {
                "id": job.pk,
                "status": job.status,
                "progress": job.progress,
                "total": job.total,
                "result": job.result,
            }
        )
