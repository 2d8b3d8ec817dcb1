"""REST endpoints for models and their versions."""

from __future__ import annotations

from rest_framework import viewsets

from hub import selectors
from hub.api import serializers


class RegisteredModelViewSet(viewsets.ReadOnlyModelViewSet):
    """Models visible to you, with their versions."""

    filterset_fields = {"organization__slug": ["exact"], "visibility": ["exact"], "task": ["exact"]}
    search_fields = ["slug", "name", "description"]
    ordering_fields = ["created_at", "updated_at", "slug"]

    def get_queryset(self):
        queryset = selectors.models_visible_to(self.request.user).order_by("-updated_at")
        if self.action != "list":
            queryset = queryset.prefetch_related("versions")
        return queryset

    def get_serializer_class(self):
        if self.action == "list":
            return serializers.RegisteredModelListSerializer
        return serializers.RegisteredModelSerializer


class ModelVersionViewSet(viewsets.ReadOnlyModelViewSet):
    """Model versions visible to you: lineage, metrics and files."""

    serializer_class = serializers.ModelVersionSerializer
    filterset_fields = {"model": ["exact"], "origin": ["exact"], "status": ["exact"]}
    ordering_fields = ["created_at", "number"]

    def get_queryset(self):
        return selectors.model_versions_visible_to(self.request.user).order_by("-created_at")
