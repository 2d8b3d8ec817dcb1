"""REST endpoints for datasets and their versions."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, parsers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.response import Response

from hub import datasheets, selectors
from hub.api import serializers
from hub.api.permissions import TokenScope, require_token_organization
from hub.models import Dataset, FileFormat
from hub.services.datasets import (
    add_dataset_version,
    create_dataset,
    dataset_arguments,
    update_datasheet,
    version_arguments,
)


class DatasetFilter(django_filters.FilterSet):
    # Not ``format``: DRF reads that query parameter as the response format.
    file_format = django_filters.ChoiceFilter(
        choices=FileFormat.choices, method="filter_format", help_text="Datasets with a file in this format."
    )

    class Meta:
        model = Dataset
        fields = {"organization__slug": ["exact"], "visibility": ["exact"], "license": ["exact"]}

    def filter_format(self, queryset, name, value):
        return selectors.filter_datasets(queryset, format=value)


def datasheet_body(dataset: Dataset) -> dict:
    card = datasheets.dataset_completeness(dataset)
    return {
        **{key: dataset.datasheet.get(key, "") for key in datasheets.SECTION_KEYS},
        "completeness": card.score,
        "missing": [{"key": item.key, "title": item.title} for item in card.missing],
    }


class DatasetViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Datasets visible to you. Create one by uploading a CSV, TSV, JSONL or Parquet file (multipart),
    or its train / validation / test files."""

    permission_classes = [IsAuthenticatedOrReadOnly, TokenScope]
    parser_classes = [parsers.MultiPartParser, parsers.FormParser]
    filterset_class = DatasetFilter
    search_fields = ["slug", "name", "description"]
    ordering_fields = ["created_at", "updated_at", "slug"]

    def get_queryset(self):
        queryset = selectors.datasets_visible_to(self.request.user).order_by("-updated_at")
        if self.action != "list":
            queryset = queryset.prefetch_related("versions__files__blob")
        return queryset

    def get_serializer_class(self):
        return {
            "list": serializers.DatasetListSerializer,
            "create": serializers.DatasetCreateSerializer,
            "add_version": serializers.SplitFields,
            "datasheet": serializers.DatasetDatasheetSerializer,
        }.get(self.action, serializers.DatasetSerializer)

    @extend_schema(responses={201: serializers.DatasetSerializer})
    def create(self, request, *args, **kwargs):
        incoming = serializers.DatasetCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        require_token_organization(request, data["organization"])
        version = create_dataset(user=request.user, **dataset_arguments(data))
        dataset = self.get_queryset().get(pk=version.dataset_id)
        body = serializers.DatasetSerializer(dataset, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=serializers.SplitFields, responses={201: serializers.DatasetVersionSerializer})
    @action(detail=True, methods=["post"], url_path="versions")
    def add_version(self, request, pk=None):
        """Upload a new immutable version of the dataset."""
        dataset = self.get_object()
        require_token_organization(request, dataset.organization)
        incoming = serializers.SplitFields(data=request.data)
        incoming.is_valid(raise_exception=True)
        version = add_dataset_version(
            user=request.user, dataset=dataset, **version_arguments(incoming.validated_data)
        )
        body = serializers.DatasetVersionSerializer(version, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["get"], responses={200: serializers.DatasetDatasheetSerializer})
    @extend_schema(
        methods=["put"],
        request=serializers.DatasetDatasheetSerializer,
        responses={200: serializers.DatasetDatasheetSerializer},
    )
    @action(
        detail=True,
        methods=["get", "put"],
        parser_classes=[parsers.JSONParser, parsers.MultiPartParser, parsers.FormParser],
    )
    def datasheet(self, request, pk=None):
        """The dataset card (Datasheets for Datasets) and its completeness. PUT replaces every section."""
        dataset = self.get_object()
        if request.method == "PUT":
            require_token_organization(request, dataset.organization)
            incoming = serializers.DatasetDatasheetSerializer(data=request.data)
            incoming.is_valid(raise_exception=True)
            # Unknown keys are refused by the service rather than silently dropped.
            extra = {k: v for k, v in request.data.items() if k not in incoming.fields}
            dataset = update_datasheet(request.user, dataset, {**extra, **incoming.validated_data})
        return Response(serializers.DatasetDatasheetSerializer(datasheet_body(dataset)).data)


class DatasetVersionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.DatasetVersionSerializer
    permission_classes = [IsAuthenticatedOrReadOnly, TokenScope]
    filterset_fields = {"dataset": ["exact"], "dataset__organization__slug": ["exact"]}

    def get_queryset(self):
        return selectors.dataset_versions_visible_to(self.request.user).order_by("-created_at")
