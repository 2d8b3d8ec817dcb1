from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from governance.policy_engine import USE_TAGS
from hub.api.serializers import VisiblePrimaryKeyRelatedField
from hub.models import DatasetVersion, ModelVersion, Organization
from hub.selectors import dataset_versions_visible_to, model_versions_visible_to
from training.engine.config import HYPERPARAMETERS, Hyperparameter
from training.models import ComputePool, FineTuneRun
from training.selectors import MAX_POINTS_LIMIT, MAX_POINTS_PER_SERIES, eta_seconds, pool_usage


def _field_for(spec: Hyperparameter) -> serializers.Field:
    common = {"required": False, "default": spec.default, "help_text": spec.help}
    if spec.kind == "choice":
        return serializers.ChoiceField(choices=spec.choices, **common)
    if spec.kind == "text":
        return serializers.CharField(allow_blank=True, **common)
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
    base_version = VisiblePrimaryKeyRelatedField(
        queryset=ModelVersion.objects.all(),
        visible_to=model_versions_visible_to,
        missing="no such model version, or it is not visible to you",
        help_text="Model version to fine-tune.",
    )
    dataset_version = VisiblePrimaryKeyRelatedField(
        queryset=DatasetVersion.objects.all(),
        visible_to=dataset_versions_visible_to,
        missing="no such dataset version, or it is not visible to you",
        help_text="Dataset version to train and validate on.",
    )
    hyperparameters = HyperparametersSerializer(required=False)
    queue = serializers.CharField(
        default="cpu", help_text="Worker queue, e.g. cpu or gpu (ignored with pool)."
    )
    pool = serializers.SlugRelatedField(
        slug_field="queue",
        queryset=ComputePool.objects.all(),
        required=False,
        allow_null=True,
        help_text="Compute pool to train on, by its queue (pool-<org>-<slug>): owned by or shared with you.",
    )
    priority = serializers.IntegerField(
        default=5, min_value=0, max_value=9, help_text="0 (lowest) to 9 (highest)."
    )
    output_model = serializers.SlugField(
        required=False, help_text="Slug of the model that receives the new version (default: base-dataset)."
    )
    intended_use = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(USE_TAGS)),
        required=False,
        default=list,
        help_text="Use tags the run declares; the policies of its inputs may prohibit some.",
    )
    license = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Licence of a new output model (default: the base model's); the policy engine checks it.",
    )

    def validate(self, attrs):
        if not attrs.get("pool") and attrs["queue"] not in settings.AGORA_RUN_QUEUES:
            choices = ", ".join(settings.AGORA_RUN_QUEUES)
            raise serializers.ValidationError({"queue": f"must be one of {choices}, or give a pool"})
        return attrs


class RunSerializer(serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    base_version = serializers.StringRelatedField()
    base_version_id = serializers.IntegerField()
    dataset_version = serializers.StringRelatedField()
    dataset_version_id = serializers.IntegerField()
    output_model = serializers.CharField(source="output_model.full_name", default=None, allow_null=True)
    output_version = serializers.StringRelatedField(allow_null=True)
    output_version_id = serializers.IntegerField(allow_null=True)
    eta_seconds = serializers.SerializerMethodField()
    wall_seconds = serializers.FloatField(allow_null=True)
    created_by = serializers.StringRelatedField(allow_null=True)
    pool = serializers.SlugRelatedField(slug_field="queue", read_only=True, allow_null=True)
    policy_reasons = serializers.SerializerMethodField(help_text="Why the policy check refused the run.")

    class Meta:
        model = FineTuneRun
        fields = [
            "id", "organization", "status", "base_version", "base_version_id", "dataset_version",
            "dataset_version_id", "output_model", "output_version", "output_version_id", "hyperparameters",
            "queue", "pool", "priority", "progress", "step", "total_steps", "eta_seconds", "metrics",
            "device", "precision", "worker", "attempts", "events", "error", "cancel_requested",
            "accelerator_seconds", "created_by", "created_at", "started_at", "heartbeat_at", "finished_at",
            "wall_seconds", "intended_use", "license", "policy_reasons",
        ]  # fmt: skip
        read_only_fields = fields

    def get_policy_reasons(self, run: FineTuneRun) -> list[dict[str, str]]:
        return run.policy_check.reasons if run.policy_check else []

    def get_eta_seconds(self, run: FineTuneRun) -> float | None:
        return eta_seconds(run, timezone.now())


class RunMetricsSerializer(serializers.Serializer):
    series = serializers.DictField(
        child=serializers.ListField(child=serializers.ListField(child=serializers.FloatField())),
        help_text="Metric name → [[step, value], …], down-sampled to at most max_points points "
        "(each bucket's lowest and highest value).",
    )


class RunMetricsQuerySerializer(serializers.Serializer):
    name = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        help_text="Only these metrics (repeat the parameter for several, e.g. name=loss).",
    )
    max_points = serializers.IntegerField(
        required=False,
        min_value=3,
        max_value=MAX_POINTS_LIMIT,
        default=MAX_POINTS_PER_SERIES,
        help_text=f"At most this many points per series ({MAX_POINTS_PER_SERIES} by default).",
    )


class PoolSerializer(serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    shared_with = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    own_seconds = serializers.SerializerMethodField(help_text="Accelerator-seconds on the owner's runs.")
    other_seconds = serializers.SerializerMethodField(help_text="Accelerator-seconds on other orgs' runs.")

    class Meta:
        model = ComputePool
        fields = [
            "id", "organization", "slug", "name", "queue", "shared_with_all", "shared_with",
            "own_seconds", "other_seconds", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    def _usage(self, pool: ComputePool):
        # A list passes every pool's usage, summed in one query, in the context.
        usages = self.context.get("pool_usages") or {}
        return usages.get(pool.pk) or pool_usage(pool)

    def get_own_seconds(self, pool: ComputePool) -> float:
        return self._usage(pool).own_seconds

    def get_other_seconds(self, pool: ComputePool) -> float:
        return self._usage(pool).other_seconds


class PoolShareSerializer(serializers.Serializer):
    shared_with_all = serializers.BooleanField(default=False, help_text="Every organization may use it.")
    shared_with = serializers.SlugRelatedField(
        slug_field="slug", queryset=Organization.objects.all(), many=True, required=False,
        help_text="Organizations (slugs) that may run on the pool.",
    )  # fmt: skip


class PoolCreateSerializer(PoolShareSerializer):
    organization = serializers.SlugRelatedField(
        slug_field="slug", queryset=Organization.objects.all(), help_text="Organization that owns the pool."
    )
    slug = serializers.SlugField(max_length=50)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class EvaluationCreateSerializer(serializers.Serializer):
    model_version = VisiblePrimaryKeyRelatedField(
        queryset=ModelVersion.objects.all(),
        visible_to=model_versions_visible_to,
        missing="no such model version, or you may not read it",
        help_text="Model version to evaluate (a classifier).",
    )
    dataset_version = VisiblePrimaryKeyRelatedField(
        queryset=DatasetVersion.objects.all(),
        visible_to=dataset_versions_visible_to,
        missing="no such dataset version, or you may not read it",
        help_text="Dataset version whose split is scored.",
    )
    split = serializers.ChoiceField(choices=["test", "validation", "train"], default="test")
