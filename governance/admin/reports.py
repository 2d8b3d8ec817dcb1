from django.contrib import admin
from django.utils.html import format_html

from governance.models import EvaluationReport, ModelCard, PIIScan


class ComputedRecordAdmin(admin.ModelAdmin):
    """Records the hub computes: readable in the admin, never added or edited by hand."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(EvaluationReport)
class EvaluationReportAdmin(ComputedRecordAdmin):
    list_display = [
        "id", "model_version", "dataset_version", "split", "status", "trigger", "accuracy", "delta",
        "epsilon", "theta", "objective", "created_at", "page",
    ]  # fmt: skip
    list_filter = ["status", "trigger", "split"]
    search_fields = ["model_version__model__slug", "dataset_version__dataset__slug"]
    list_select_related = ["model_version__model__organization", "dataset_version__dataset__organization"]
    readonly_fields = [field.name for field in EvaluationReport._meta.fields] + ["page"]

    @admin.display(description="Report")
    def page(self, report: EvaluationReport) -> str:
        return format_html('<a href="{}">open</a>', report.get_absolute_url())


@admin.register(PIIScan)
class PIIScanAdmin(ComputedRecordAdmin):
    list_display = ["dataset_version", "status", "records", "flagged", "detector_version", "finished_at"]
    list_filter = ["status"]
    readonly_fields = [field.name for field in PIIScan._meta.fields]


@admin.register(ModelCard)
class ModelCardAdmin(admin.ModelAdmin):
    list_display = ["model_version", "updated_by", "updated_at"]
    search_fields = ["model_version__model__slug"]
    readonly_fields = ["model_version", "updated_by", "updated_at"]
