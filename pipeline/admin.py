from django.contrib import admin

from .models import (
    ChecklistTemplateItem,
    Handoff,
    Lead,
    Opportunity,
    Pipeline,
    Stage,
    StageChange,
)


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "source", "status", "owner", "created_on"]
    list_filter = ["status", "source"]
    list_select_related = ["owner"]
    search_fields = ["first_name", "last_name", "email", "company", "external_id"]
    raw_id_fields = ["owner", "account"]
    readonly_fields = ["external_id"]


@admin.register(Handoff)
class HandoffAdmin(admin.ModelAdmin):
    """Handoffs are decided in the app (with their SLA and audit); here they are read."""

    list_display = ["lead", "kind", "to_team", "to_user", "status", "created_at", "sla_due_at"]
    list_filter = ["kind", "status", "to_team"]
    list_select_related = ["lead", "to_team", "to_user"]
    raw_id_fields = ["lead", "from_user", "to_user", "decided_by"]

    def has_change_permission(self, request, obj=None):
        return False


class StageInline(admin.TabularInline):
    model = Stage
    extra = 1
    ordering = ["position"]


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    """Pipelines and their stages: position, probability (0–1) and outcome."""

    list_display = ["name", "is_default"]
    inlines = [StageInline]


@admin.register(Opportunity)
class OpportunityAdmin(admin.ModelAdmin):
    """Read and search deals; changes go through the app (stage ledger, versions)."""

    list_display = ["name", "account", "owner", "stage", "status", "amount", "currency"]
    list_filter = ["status", "kind", "pipeline", "stage"]
    list_select_related = ["account", "owner", "stage"]
    search_fields = ["name", "external_id", "account__name"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(StageChange)
class StageChangeAdmin(admin.ModelAdmin):
    list_display = ["opportunity", "from_stage", "to_stage", "entered_on", "changed_by"]
    list_select_related = ["opportunity", "from_stage", "to_stage", "changed_by"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(ChecklistTemplateItem)
class ChecklistTemplateItemAdmin(admin.ModelAdmin):
    """The steps every sales → customer success handoff lists."""

    list_display = ["label", "position", "active"]
    list_editable = ["position", "active"]
