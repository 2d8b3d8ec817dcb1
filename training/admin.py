from django.contrib import admin

from training.models import ComputePool, FineTuneRun


@admin.register(FineTuneRun)
class FineTuneRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "organization",
        "status",
        "base_version",
        "dataset_version",
        "progress",
        "attempts",
        "created_at",
    ]
    list_filter = ["status", "queue", "pool"]
    search_fields = ["organization__slug", "output_model__slug"]
    list_select_related = ["organization", "base_version__model__organization", "dataset_version__dataset"]
    readonly_fields = [f.name for f in FineTuneRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # runs are submitted through the dashboard or the API


@admin.register(ComputePool)
class ComputePoolAdmin(admin.ModelAdmin):
    list_display = ["queue", "organization", "name", "shared_with_all", "created_at"]
    list_filter = ["shared_with_all"]
    search_fields = ["queue", "organization__slug", "name"]
    filter_horizontal = ["shared_with"]
