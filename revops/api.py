from django.http import JsonResponse
from django.views.defaults import page_not_found
from rest_framework import serializers
from rest_framework.generics import RetrieveAPIView

from .models import Calendar, User


class MeSerializer(serializers.ModelSerializer):
    team_name = serializers.CharField(source="team.name", read_only=True, default=None)
    calendar = serializers.ChoiceField(
        choices=Calendar.choices,
        allow_blank=True,
        read_only=True,
        help_text="Empty: the organisation's calendar.",
    )

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "role", "team", "team_name", "language", "calendar"]
        read_only_fields = fields


class MeApi(RetrieveAPIView):
    """The signed-in user: who the API believes you are, and your role."""

    serializer_class = MeSerializer

    def get_object(self):
        return self.request.user


def not_found(request, exception):
    """An API address that matches no route answers 404 in JSON like any other API error,
    not with the HTML page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)
