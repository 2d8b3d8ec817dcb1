from django.contrib import admin

from governance.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The append-only audit log: staff read and filter it; nobody adds, edits or deletes an entry."""

    list_display = ["at", "actor_name", "organization_slug", "action", "target", "channel", "ip_address"]
    list_filter = ["action", "channel", "organization_slug"]
    search_fields = ["actor_name", "target", "action"]
    date_hierarchy = "at"
    readonly_fields = [
        "at", "actor_name", "actor_id", "organization_slug", "organization_id", "action", "target_type",
        "target_id", "target", "before", "after", "channel", "ip_address", "user_agent",
    ]  # fmt: skip
    fields = readonly_fields
    actions = None  # no bulk delete
    show_full_result_count = False  # the log only grows: skip the second COUNT(*) of every page

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
