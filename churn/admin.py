from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import ChurnPolicy, FollowUp, FollowUpPolicy, Lapse, Release, SuspectAnalysis


@admin.register(ChurnPolicy)
class ChurnPolicyAdmin(SimpleHistoryAdmin):
    """One policy (row 1, created by the migration or on first use): edited, never added or deleted.
    No query here: the admin asks every page of its sidebar."""

    list_display = ["__str__", "min_days", "gap_multiple", "follow_up_trigger"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(FollowUpPolicy)
class FollowUpPolicyAdmin(SimpleHistoryAdmin):
    list_display = [
        "tier",
        "action",
        "priority",
        "due_days",
        "working_days",
        "assign_to_account_manager",
        "risk_threshold",
    ]


@admin.register(Lapse)
class LapseAdmin(admin.ModelAdmin):
    list_display = ["customer", "detected_on", "last_order_at", "tier_while_active", "response", "returned_at"]
    list_filter = ["tier_while_active", "response", "trigger", "detected_on"]
    search_fields = ["customer__name", "customer__external_id"]
    raw_id_fields = ["customer", "run"]
    list_select_related = ["customer"]


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    list_display = [
        "customer",
        "kind",
        "tier",
        "status",
        "assignee",
        "due_on",
        "value_at_risk",
        "cause_category",
        "dismiss_reason",
    ]
    list_filter = ["status", "tier", "kind", "cause_category", "dismiss_reason"]
    search_fields = ["customer__name", "customer__external_id"]
    raw_id_fields = ["customer", "lapse", "cause_product"]
    list_select_related = ["customer", "assignee", "cause_product"]
    readonly_fields = ["version", "created_at", "updated_at", "updated_by"]

    def save_model(self, request, obj, form, change):
        # An admin edit is a change like any other: a queue form still showing the old version
        # is then refused instead of overwriting it.
        if change:
            obj.version += 1
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Release)
class ReleaseAdmin(SimpleHistoryAdmin):
    list_display = ["title", "kind", "released_on", "audience", "product", "category"]
    list_filter = ["kind", "audience"]
    fields = ["title", "kind", "released_on", "audience", "product", "category", "description"]
    search_fields = ["title", "description"]
    raw_id_fields = ["product"]
    date_hierarchy = "released_on"


@admin.register(SuspectAnalysis)
class SuspectAnalysisAdmin(admin.ModelAdmin):
    """Read only: written by churn.suspects (the pages, `churn_suspects`); deleting one recomputes it."""

    list_display = ["as_of", "tiers", "computed_at", "seconds"]
    readonly_fields = ["as_of", "tiers", "computed_at", "seconds", "rows", "curves"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
