"""REST: tasks — activities of kind `task`, with their due date, assignee (owner) and done."""

from datetime import timedelta

import django_filters
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field

from .api import ActivitySerializer, ActivityViewSet
from .filters import ActivityFilter


class TaskSerializer(ActivitySerializer):
    class Meta(ActivitySerializer.Meta):
        read_only_fields = ["kind"]

    def validate(self, data):
        data["kind"] = "task"
        return super().validate(data)


class TaskFilter(ActivityFilter):
    due = django_filters.ChoiceFilter(
        choices=[
            ("overdue", "overdue"),
            ("today", "today"),
            ("upcoming", "upcoming"),
            ("none", "none"),
        ],
        method="filter_due",
        label="Due: overdue, today, upcoming (after today) or none (no date)",
    )
    # Choices, not a BooleanFilter: an unknown value is a 400, not silently no filter.
    mine = django_filters.TypedChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        coerce=lambda value: value == "true",
        method="filter_mine",
        label="Only those assigned to you",
    )

    def filter_due(self, queryset, name, value):
        today = timezone.localdate()
        return {
            "overdue": lambda: queryset.filter(due_on__lt=today, done=False),
            "today": lambda: queryset.filter(due_on=today),
            "upcoming": lambda: queryset.filter(due_on__gte=today + timedelta(days=1)),
            "none": lambda: queryset.filter(due_on__isnull=True),
        }[value]()

    @extend_schema_field({"type": "string", "enum": ["true", "false"]})
    def filter_mine(self, queryset, name, value):
        return queryset.filter(owner=self.request.user) if value else queryset


class TaskViewSet(ActivityViewSet):
    """Tasks: `owner` is the assignee (yourself, or — for a manager — a teammate; an admin
    anyone). `?mine=true&due=overdue` is your overdue list; PATCH `done` ticks one off."""

    serializer_class = TaskSerializer
    filterset_class = TaskFilter

    def get_queryset(self):
        return super().get_queryset().filter(kind="task")
