from django.contrib import admin

from hub.models import (
    AccessToken,
    Blob,
    Dataset,
    DatasetFile,
    DatasetVersion,
    Membership,
    ModelFile,
    ModelVersion,
    Organization,
    RegisteredModel,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]


@admin.register(AccessToken)
class AccessTokenAdmin(admin.ModelAdmin):
    list_display = [
        "prefix",
        "name",
        "user",
        "scope",
        "organization",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["scope"]
    search_fields = ["prefix", "name", "user__username"]
    readonly_fields = ["prefix", "digest", "last_used_at", "created_at"]


@admin.register(Blob)
class BlobAdmin(admin.ModelAdmin):
    list_display = ["sha256", "size", "created_at"]
    search_fields = ["sha256"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # content-addressed: never edited


class DatasetFileInline(admin.TabularInline):
    model = DatasetFile
    extra = 0
    readonly_fields = ["split", "path", "rows", "blob"]
    can_delete = False


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["slug", "organization", "name", "visibility", "license", "updated_at"]
    list_filter = ["visibility", "license"]
    search_fields = ["slug", "name", "organization__slug"]
    list_select_related = ["organization"]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "text_field", "label_field", "labels", "row_counts", "created_at"]
    list_select_related = ["dataset__organization"]
    inlines = [DatasetFileInline]
    readonly_fields = [f.name for f in DatasetVersion._meta.fields]


class ModelFileInline(admin.TabularInline):
    model = ModelFile
    extra = 0
    readonly_fields = ["path", "blob"]
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # a version's files are fixed when it is stored


@admin.register(RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin):
    list_display = ["slug", "organization", "name", "task", "visibility", "license", "updated_at"]
    list_filter = ["visibility", "task"]
    search_fields = ["slug", "name", "organization__slug"]
    list_select_related = ["organization"]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "origin",
        "status",
        "architecture",
        "num_parameters",
        "validation_accuracy",
        "created_at",
    ]
    list_filter = ["origin", "status"]
    search_fields = ["model__slug", "model__organization__slug"]
    list_select_related = ["model__organization"]
    inlines = [ModelFileInline]
    # Status changes go through publication and review (governance), never through this form.
    readonly_fields = [
        "model", "number", "origin", "status", "base_version", "dataset_version", "architecture", "labels",
        "num_parameters", "tensor_summary", "metrics", "library_versions", "created_by", "created_at",
        "published_at", "published_by", "deprecated_at", "deprecation_reason",
    ]  # fmt: skip

    def has_delete_permission(self, request, obj=None) -> bool:
        # Published and deprecated versions are never deleted.
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.is_frozen)

    @admin.display(description="validation accuracy")
    def validation_accuracy(self, obj: ModelVersion):
        return (obj.metrics.get("validation") or {}).get("accuracy")
