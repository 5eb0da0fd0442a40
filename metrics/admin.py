from django.contrib import admin

from .models import Quota


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = ["user", "period_start", "period_end", "amount"]
    list_filter = ["period_start"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
