from django.contrib import admin

from core.admin import ReadOnlyAdmin

from .models import ExportLog, Promotion


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    list_display = ["name", "starts_on", "ends_on", "tiers", "created_by", "created_at"]
    search_fields = ["name"]
    raw_id_fields = ["bought_product", "not_bought_product", "account_manager"]


@admin.register(ExportLog)
class ExportLogAdmin(ReadOnlyAdmin):
    """Read-only: the log is a record of what happened, nobody edits it."""

    list_display = ["created_at", "actor", "source", "promotion", "filters_text", "row_count", "format"]
    list_filter = ["source", "format"]
    search_fields = ["actor", "promotion__name"]
    list_select_related = ["promotion"]
