from django.contrib import admin

from .models import Handoff, Lead


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
