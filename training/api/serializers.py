from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from hub.models import DatasetVersion, ModelVersion, Organization
from training.engine.config import HYPERPARAMETERS, Hyperparameter
from training.models import FineTuneRun
from training.selectors import eta_seconds


def _field_for(spec: Hyperparameter) -> serializers.Field:
    common = {"required": False, "default": spec.default, "help_text": spec.help}
    if spec.kind == "choice":
        return serializers.ChoiceField(choices=spec.choices, **common)
    field_class = serializers.IntegerField if spec.kind == "int" else serializers.FloatField
    return field_class(min_value=spec.minimum, max_value=spec.maximum, **common)


class _HyperparametersBase(serializers.Serializer):
    def to_internal_value(self, data):
        # DRF ignores unknown keys; a misspelt hyperparameter silently left at its default would surprise.
        if isinstance(data, dict):
            unknown = sorted(str(name) for name in set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["unknown hyperparameter"] for name in unknown})
        return super().to_internal_value(data)


# One field per declared hyperparameter, with the engine's ranges and defaults.
HyperparametersSerializer = type(
    "HyperparametersSerializer",
    (_HyperparametersBase,),
    {spec.name: _field_for(spec) for spec in HYPERPARAMETERS},
)


class RunCreateSerializer(serializers.Serializer):
    organization = serializers.SlugRelatedField(
        slug_field="slug", queryset=Organization.objects.all(), help_text="Organization the run belongs to."
    )
    base_version = serializers.PrimaryKeyRelatedField(
        queryset=ModelVersion.objects.all(), help_text="Model version to fine-tune."
    )
    dataset_version = serializers.PrimaryKeyRelatedField(
        queryset=DatasetVersion.objects.all(), help_text="Dataset version to train and validate on."
    )
    hyperparameters = HyperparametersSerializer(required=False)
    queue = serializers.CharField(default="cpu", help_text="Worker queue, e.g. cpu or gpu.")
    output_model = serializers.SlugField(
        required=False, help_text="Slug of the model that receives the new version (default: base-dataset)."
    )

    def validate_queue(self, value: str) -> str:
        if value not in settings.AGORA_RUN_QUEUES:
            raise serializers.ValidationError(f"must be one of {', '.join(settings.AGORA_RUN_QUEUES)}")
        return value


class RunSerializer(serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    base_version = serializers.StringRelatedField()
    base_version_id = serializers.IntegerField()
    dataset_version = serializers.StringRelatedField()
    dataset_version_id = serializers.IntegerField()
    output_model = serializers.CharField(source="output_model.full_name")
    output_version = serializers.StringRelatedField()
    output_version_id = serializers.IntegerField(allow_null=True)
    eta_seconds = serializers.SerializerMethodField()
    wall_seconds = serializers.FloatField(allow_null=True)
    created_by = serializers.StringRelatedField()

    class Meta:
        model = FineTuneRun
        fields = [
            "id", "organization", "status", "base_version", "base_version_id", "dataset_version",
            "dataset_version_id", "output_model", "output_version", "output_version_id", "hyperparameters",
            "queue", "progress", "step", "total_steps", "eta_seconds", "metrics", "device", "precision",
            "worker", "attempts", "error", "cancel_requested", "accelerator_seconds", "created_by",
            "created_at", "started_at", "heartbeat_at", "finished_at", "wall_seconds",
        ]  # fmt: skip
        read_only_fields = fields

    def get_eta_seconds(self, run: FineTuneRun) -> float | None:
        return eta_seconds(run, timezone.now())


class RunMetricsSerializer(serializers.Serializer):
    series = serializers.DictField(
        child=serializers.ListField(child=serializers.ListField(child=serializers.FloatField())),
        help_text="Metric name → [[step, value], …], thinned to at most 500 points.",
    )
