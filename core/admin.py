from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record written by the application alone (logs, runs): admins read it, nobody adds, edits or deletes."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
