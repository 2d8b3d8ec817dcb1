"""REST endpoints for datasets and their versions."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, parsers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.response import Response

from hub import selectors
from hub.api import serializers
from hub.api.permissions import TokenScope, require_token_organization
from hub.services.datasets import add_dataset_version, create_dataset, dataset_arguments, version_arguments


class DatasetViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Datasets visible to you. Create one by uploading a CSV/TSV file (multipart)."""

    permission_classes = [IsAuthenticatedOrReadOnly, TokenScope]
    parser_classes = [parsers.MultiPartParser, parsers.FormParser]
    filterset_fields = {"organization__slug": ["exact"], "visibility": ["exact"], "license": ["exact"]}
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


class DatasetVersionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.DatasetVersionSerializer
    filterset_fields = {"dataset": ["exact"], "dataset__organization__slug": ["exact"]}

    def get_queryset(self):
        return selectors.dataset_versions_visible_to(self.request.user).order_by("-created_at")
