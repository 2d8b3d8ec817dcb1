from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.urls import reverse
from rest_framework import serializers

from hub import datasheets
from hub.models import (
    Dataset,
    DatasetFile,
    DatasetVersion,
    ModelAlias,
    ModelFile,
    ModelVersion,
    Organization,
    RegisteredModel,
    Visibility,
)


class OrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "slug", "name", "description", "created_at"]


class BlobFileFields(serializers.Serializer):
    size = serializers.IntegerField(source="blob.size", read_only=True)
    sha256 = serializers.CharField(source="blob.sha256", read_only=True)


class DatasetFileSerializer(BlobFileFields, serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = DatasetFile
        fields = ["split", "path", "format", "rows", "size", "sha256", "download_url"]

    def get_download_url(self, obj: DatasetFile) -> str:
        return self.context["request"].build_absolute_uri(reverse("hub:dataset-file", args=[obj.pk]))


class DatasetVersionSerializer(serializers.ModelSerializer):
    dataset = serializers.CharField(source="dataset.full_name", read_only=True)
    files = DatasetFileSerializer(many=True, read_only=True)

    class Meta:
        model = DatasetVersion
        fields = [
            "id", "dataset", "number", "text_field", "label_field", "group_field", "labels", "split_seed",
            "split_proportions", "row_counts", "label_distribution", "statistics_status", "statistics",
            "files", "created_at",
        ]  # fmt: skip


class DatasetSerializer(serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    full_name = serializers.CharField(read_only=True)
    versions = DatasetVersionSerializer(many=True, read_only=True)

    class Meta:
        model = Dataset
        fields = [
            "id", "organization", "slug", "full_name", "name", "description", "visibility", "license",
            "datasheet", "created_at", "updated_at", "versions",
        ]  # fmt: skip


class DatasetListSerializer(DatasetSerializer):
    latest_version = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta(DatasetSerializer.Meta):
        fields = [f for f in DatasetSerializer.Meta.fields if f not in ("versions", "datasheet")] + [
            "latest_version"
        ]


class DatasetMissingItemSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()


class DatasetDatasheetSerializer(serializers.Serializer):
    """The datasheet's sections (PUT replaces them all; an absent section becomes empty)."""

    completeness = serializers.FloatField(read_only=True, help_text="Filled required items / required items.")
    missing = DatasetMissingItemSerializer(many=True, read_only=True)

    def get_fields(self):
        fields = super().get_fields()
        for section in datasheets.SECTIONS:
            fields[section.key] = serializers.CharField(
                required=False, allow_blank=True, max_length=datasheets.MAX_SECTION_CHARS,
                trim_whitespace=True, help_text=f"{section.title}: {' '.join(section.questions)}",
            )  # fmt: skip
        return fields


class SplitFields(serializers.Serializer):
    file = serializers.FileField(
        required=False,
        help_text="One .csv, .tsv, .jsonl or .parquet file for the server to split (or the split files).",
    )
    train_file = serializers.FileField(required=False, help_text="Given splits: the train file.")
    validation_file = serializers.FileField(
        required=False, help_text="Given splits: the validation file (required with train_file)."
    )
    test_file = serializers.FileField(required=False, help_text="Given splits: the optional test file.")
    text_field = serializers.CharField(max_length=100, help_text="Column holding the text.")
    label_field = serializers.CharField(max_length=100, help_text="Column holding the label.")
    group_field = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="Optional column for fairness.",
    )
    validation_fraction = serializers.FloatField(min_value=0.0, max_value=0.5, default=0.1)
    test_fraction = serializers.FloatField(min_value=0.0, max_value=0.5, default=0.1)
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=42)


class DatasetCreateSerializer(SplitFields):
    organization = serializers.SlugRelatedField(slug_field="slug", queryset=Organization.objects.all())
    slug = serializers.SlugField(max_length=100)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.PRIVATE)
    license = serializers.CharField(max_length=100, help_text="SPDX id, or LicenseRef-<name>.")


class ModelFileSerializer(BlobFileFields, serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ModelFile
        fields = ["path", "size", "sha256", "download_url"]

    def get_download_url(self, obj: ModelFile) -> str:
        return self.context["request"].build_absolute_uri(reverse("hub:model-file", args=[obj.pk]))


class ModelVersionSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.full_name", read_only=True)
    base_version = serializers.StringRelatedField(read_only=True, allow_null=True)
    base_version_id = serializers.IntegerField(read_only=True, allow_null=True)
    dataset_version = serializers.StringRelatedField(read_only=True, allow_null=True)
    dataset_version_id = serializers.IntegerField(read_only=True, allow_null=True)
    files = ModelFileSerializer(many=True, read_only=True)

    class Meta:
        model = ModelVersion
        fields = [
            "id", "model", "number", "origin", "status", "base_version", "base_version_id",
            "dataset_version", "dataset_version_id", "architecture", "labels", "num_parameters",
            "tensor_summary", "metrics", "library_versions", "files", "created_at", "published_at",
            "deprecated_at", "deprecation_reason", "aliases",
        ]  # fmt: skip

    aliases = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")


class ModelVersionSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = ["id", "number", "origin", "status", "metrics", "created_at"]


class RegisteredModelSerializer(serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    full_name = serializers.CharField(read_only=True)
    versions = ModelVersionSummarySerializer(many=True, read_only=True)

    class Meta:
        model = RegisteredModel
        fields = [
            "id", "organization", "slug", "full_name", "name", "description", "task", "visibility",
            "license", "created_at", "updated_at", "versions",
        ]  # fmt: skip


class RegisteredModelListSerializer(RegisteredModelSerializer):
    latest_version = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta(RegisteredModelSerializer.Meta):
        fields = [f for f in RegisteredModelSerializer.Meta.fields if f != "versions"] + ["latest_version"]


class ModelUploadSerializer(serializers.Serializer):
    """The files of a Hugging Face model directory, or one archive of it (multipart)."""

    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        required=False,
        help_text="The files of the model directory, several in one request. Each file's relative path "
        "(e.g. 1_Pooling/config.json) is its filename, or the matching entry of paths.",
    )
    paths = serializers.ListField(
        child=serializers.CharField(trim_whitespace=False, allow_blank=True),
        required=False,
        help_text="Optional: one relative path per file, in the order of files (overrides the filenames).",
    )
    archive = serializers.FileField(
        required=False,
        help_text="Instead of files: one .tar, .tar.gz or .zip archive of the model directory.",
    )


class RegisteredModelCreateSerializer(ModelUploadSerializer):
    organization = serializers.SlugRelatedField(slug_field="slug", queryset=Organization.objects.all())
    slug = serializers.SlugField(max_length=100)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    license = serializers.CharField(max_length=100, help_text="SPDX id, or LicenseRef-<name>.")
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.PRIVATE)
    task = serializers.CharField(max_length=64, default="text-classification")


class ModelAliasSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="version.number", read_only=True)
    version_id = serializers.IntegerField(read_only=True)
    updated_by = serializers.StringRelatedField(allow_null=True)

    class Meta:
        model = ModelAlias
        fields = ["name", "version", "version_id", "updated_by", "updated_at"]
        read_only_fields = fields


class ModelAliasMoveSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=50, help_text="Alias name, e.g. production.")
    version = serializers.IntegerField(min_value=1, help_text="Number of a published version of this model.")


class VisiblePrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """The primary key of an object the requesting user may see (``visible_to(user)``, a selector). A
    hidden object is refused in the words of a missing one, so no answer tells whether it exists. The
    serializer needs the request in its context; without it, only what anonymous may see is accepted."""

    def __init__(self, *, visible_to: Callable[..., QuerySet], missing: str, **kwargs) -> None:
        self.visible_to = visible_to
        kwargs["error_messages"] = {"does_not_exist": missing}  # the words the service uses for a hidden one
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet:
        request = self.context.get("request")
        return self.visible_to(request.user if request is not None else AnonymousUser())
