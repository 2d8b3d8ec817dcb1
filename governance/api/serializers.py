"""The evaluation report as the API returns it: headline columns, and the whole report body."""

from rest_framework import serializers

from governance.models import EvaluationReport


class EvaluationReportSerializer(serializers.ModelSerializer):
    model_version = serializers.StringRelatedField()
    model_version_id = serializers.IntegerField()
    dataset_version = serializers.StringRelatedField()
    dataset_version_id = serializers.IntegerField()
    requested_by = serializers.StringRelatedField(allow_null=True)
    governance_score = serializers.FloatField(
        allow_null=True, help_text="1 − F; null when F is n/a.", read_only=True
    )
    report = serializers.JSONField(
        help_text="Per class, per group (with 95% intervals), reliability bins, PII findings (redacted), "
        "membership attack, objective terms and weights, comparison with the baselines, the run's loss curve."
    )

    class Meta:
        model = EvaluationReport
        fields = [
            "id", "model_version", "model_version_id", "dataset_version", "dataset_version_id", "split",
            "status", "trigger", "baseline_of", "queue", "examples", "accuracy", "macro_f1", "delta",
            "epsilon", "theta", "objective", "governance_score", "report", "error", "requested_by",
            "created_at", "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields
