"""REST: the signed-in user's notifications (list, one, mark read)."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from .api_base import RecordCursorPagination
from .models import Notification
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
