from django.contrib import admin

from .models import Account, Activity, ChurnReason, Contact, HealthScore, Persona, Subscription


@admin.register(Persona)
class PersonaAdmin(admin.ModelAdmin):
    """The buyer personas contacts can be tagged with: the admin extends the list here."""

    list_display = ["name"]
    search_fields = ["name"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "domain", "owner", "country", "created_on", "is_deleted"]
    list_filter = ["is_deleted", "industry", "country"]
    list_select_related = ["owner"]
    search_fields = ["name", "domain", "external_id"]
    raw_id_fields = ["owner"]
    readonly_fields = ["external_id", "deleted_at"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["first_name", "last_name", "email", "account", "persona", "is_deleted"]
    list_filter = ["is_deleted", "persona"]
    list_select_related = ["account", "persona"]
    search_fields = ["first_name", "last_name", "email", "external_id"]
    raw_id_fields = ["account", "created_by"]
    readonly_fields = ["external_id", "deleted_at"]


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["subject", "kind", "owner", "occurred_on", "due_on", "done"]
    list_filter = ["kind", "done"]
    list_select_related = ["owner"]
    search_fields = ["subject", "external_id"]
    raw_id_fields = ["account", "contact", "lead", "owner"]
    readonly_fields = ["external_id"]


@admin.register(ChurnReason)
class ChurnReasonAdmin(admin.ModelAdmin):
    """Why customers cancel: the list CS choose from (the admin extends it here)."""

    list_display = ["name"]
    search_fields = ["name"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    """Read subscriptions here; CS change plans and cancel from the account page, so
    that history is never rewritten."""

    list_display = ["account", "product", "mrr", "currency", "start_on", "end_on", "status"]
    list_filter = ["status", "currency"]
    list_select_related = ["account"]
    search_fields = ["account__name", "product", "external_id"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(HealthScore)
class HealthScoreAdmin(admin.ModelAdmin):
    list_display = ["account", "computed_on", "score"]
    list_select_related = ["account"]

    def has_change_permission(self, request, obj=None):
        return False
