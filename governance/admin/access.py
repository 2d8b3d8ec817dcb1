"""Access between organizations in the admin: requests and grants to read and filter. Decisions and
revocations go through the access pages or the API, so each gets its reason, audit event and check."""

from django.contrib import admin

from governance.models import AccessGrant, AccessRequest


class ReadOnlyAdmin(admin.ModelAdmin):
    actions = None

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AccessRequest)
class AccessRequestAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "organization", "dataset", "model", "status", "decided_by", "decided_at"]
    list_filter = ["status", "created_at", "decided_at"]
    list_select_related = ["organization", "dataset__organization", "model__organization", "decided_by"]
    search_fields = [
        "organization__slug", "dataset__slug", "dataset__organization__slug", "model__slug",
        "model__organization__slug", "purpose", "reason",
    ]  # fmt: skip
    date_hierarchy = "created_at"
    fields = [
        "organization", "dataset", "model", "policy_version", "intended_use", "purpose",
        "accepted_conditions", "status", "requested_by", "created_at", "decided_by", "decided_at", "reason",
    ]  # fmt: skip
    readonly_fields = fields


@admin.register(AccessGrant)
class AccessGrantAdmin(ReadOnlyAdmin):
    list_display = ["granted_at", "organization", "dataset", "model", "source", "is_active", "revoked_at"]
    list_filter = ["source", ("revoked_at", admin.EmptyFieldListFilter), "granted_at"]
    list_select_related = ["organization", "dataset__organization", "model__organization"]
    search_fields = [
        "organization__slug", "dataset__slug", "dataset__organization__slug", "model__slug",
        "model__organization__slug", "revoke_reason",
    ]  # fmt: skip
    date_hierarchy = "granted_at"
    fields = [
        "organization", "dataset", "model", "source", "request", "granted_by", "granted_at", "revoked_by",
        "revoked_at", "revoke_reason",
    ]  # fmt: skip
    readonly_fields = fields

    @admin.display(boolean=True, description="Active")
    def is_active(self, grant: AccessGrant) -> bool:
        return grant.active
