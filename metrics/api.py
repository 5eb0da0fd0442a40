from rest_framework import exceptions, serializers, viewsets

from revops.api_base import RecordCursorPagination
from revops.models import User

from .models import Quota


class QuotaSerializer(serializers.ModelSerializer):
    user_email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Quota
        fields = ["id", "user", "user_email", "period_start", "period_end", "amount"]

    def validate_user(self, user):
        actor = self.context["request"].user
        if actor.role == User.Role.MANAGER and (
            actor.team_id is None or user.team_id != actor.team_id
        ):
            raise serializers.ValidationError("Set quotas for your own team only.")
        return user

    def validate(self, data):
        start = data.get("period_start", getattr(self.instance, "period_start", None))
        end = data.get("period_end", getattr(self.instance, "period_end", None))
        if start and end and end < start:
            raise serializers.ValidationError({"period_end": ["The period ends before it starts."]})
        if data.get("amount") is not None and data["amount"] < 0:
            raise serializers.ValidationError({"amount": ["A quota cannot be negative."]})
        return data


class QuotaViewSet(viewsets.ModelViewSet):
    """Quotas in the base currency: reps read their own, managers read and set their
    team's, executives read all, admins all."""

    serializer_class = QuotaSerializer
    pagination_class = RecordCursorPagination
    filterset_fields = ["user", "period_start", "period_end"]

    def get_queryset(self):
        return Quota.objects.visible_to(self.request.user).select_related("user")

    def check_permissions(self, request):
        super().check_permissions(request)
        if request.method not in ("GET", "HEAD", "OPTIONS") and request.user.role not in (
            User.Role.MANAGER,
            User.Role.ADMIN,
        ):
            raise exceptions.PermissionDenied("Only managers and administrators set quotas.")
