from rest_framework import serializers
from rest_framework.generics import RetrieveAPIView

from .models import User


class MeSerializer(serializers.ModelSerializer):
    team_name = serializers.CharField(source="team.name", read_only=True, default=None)

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "role", "team", "team_name", "language", "calendar"]
        read_only_fields = fields


class MeApi(RetrieveAPIView):
    """The signed-in user: who the API believes you are, and your role."""

    serializer_class = MeSerializer

    def get_object(self):
        return self.request.user
