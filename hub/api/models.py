"""REST endpoints for models and their versions."""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError
from django.http.multipartparser import MultiPartParserError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, parsers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.response import Response

from hub import selectors
from hub.api import serializers
from hub.api.permissions import TokenScope, require_token_organization
from hub.models import ModelVersion
from hub.services.models import add_uploaded_version, checkpoint_upload, create_model_from_upload, move_alias
from hub.upload_handlers import RelativePathMultiPartParser

ARTIFACT_FIELDS = ("organization", "slug", "name", "description", "license", "visibility", "task")


class CheckpointMultiPartParser(parsers.MultiPartParser):
    """Multipart parsing that keeps each file's relative path (``tokenizer/vocab.txt``) as sent."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        encoding = parsers.get_encoding(parser_context)
        try:
            data, files = RelativePathMultiPartParser(meta, stream, request.upload_handlers, encoding).parse()
        except MultiPartParserError as exc:
            raise ParseError(f"Multipart form parse error - {exc}") from None
        return parsers.DataAndFiles(data, files)


class RegisteredModelViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Models visible to you, with their versions. Create one by uploading a checkpoint (multipart)."""

    permission_classes = [IsAuthenticatedOrReadOnly, TokenScope]
    parser_classes = [CheckpointMultiPartParser]
    filterset_fields = {"organization__slug": ["exact"], "visibility": ["exact"], "task": ["exact"]}
    search_fields = ["slug", "name", "description"]
    ordering_fields = ["created_at", "updated_at", "slug"]

    def get_queryset(self):
        queryset = selectors.models_visible_to(self.request.user).order_by("-updated_at")
        if self.action != "list":
            queryset = queryset.prefetch_related("versions")
        return queryset

    def get_serializer_class(self):
        return {
            "list": serializers.RegisteredModelListSerializer,
            "create": serializers.RegisteredModelCreateSerializer,
            "add_version": serializers.ModelUploadSerializer,
        }.get(self.action, serializers.RegisteredModelSerializer)

    @extend_schema(responses={201: serializers.ModelVersionSerializer})
    def create(self, request, *args, **kwargs):
        """Create a model and its version 1 from the files of a Hugging Face model directory.

        Send the files (``files``, each with its relative path as filename or in ``paths``) or one
        ``archive``. The checkpoint is validated fully before anything is stored.
        """
        incoming = serializers.RegisteredModelCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        require_token_organization(request, data["organization"])
        version = create_model_from_upload(
            user=request.user,
            upload=checkpoint_upload(data),
            **{field: data[field] for field in ARTIFACT_FIELDS},
        )
        return self._version_response(version)

    @extend_schema(
        request=serializers.ModelUploadSerializer, responses={201: serializers.ModelVersionSerializer}
    )
    @action(detail=True, methods=["post"], url_path="versions")
    def add_version(self, request, pk=None):
        """Upload a checkpoint as the model's next version (same fields as creating a model)."""
        model = self.get_object()
        require_token_organization(request, model.organization)
        incoming = serializers.ModelUploadSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        version = add_uploaded_version(
            user=request.user, model=model, upload=checkpoint_upload(incoming.validated_data)
        )
        return self._version_response(version)

    @extend_schema(
        methods=["GET"], request=None, responses={200: serializers.ModelAliasSerializer(many=True)}
    )
    @extend_schema(
        methods=["POST"],
        request=serializers.ModelAliasMoveSerializer,
        responses={200: serializers.ModelAliasSerializer},
    )
    # The aliases come as one list: neither paginated nor filtered.
    @action(
        detail=True,
        methods=["get", "post"],
        parser_classes=[parsers.JSONParser, parsers.FormParser, parsers.MultiPartParser],
        pagination_class=None,
        filter_backends=[],
    )
    def aliases(self, request, pk=None):
        """The model's aliases (e.g. production). POST moves one to a published version (org admins)."""
        model = self.get_object()
        if request.method == "GET":
            return Response(serializers.ModelAliasSerializer(model.aliases.all(), many=True).data)
        require_token_organization(request, model.organization)
        incoming = serializers.ModelAliasMoveSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        version = model.versions.filter(number=data["version"]).first()
        if version is None:
            raise ValidationError({"version": f"{model.full_name} has no version {data['version']}"})
        alias = move_alias(user=request.user, model=model, name=data["name"], version=version)
        return Response(serializers.ModelAliasSerializer(alias).data)

    def _version_response(self, version):
        version = selectors.model_versions_visible_to(self.request.user).get(pk=version.pk)
        body = serializers.ModelVersionSerializer(version, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)


class ModelVersionFilter(django_filters.FilterSet):
    # By id, without looking the model up first: a model that does not exist or is hidden from you
    # both give an empty list, and listing one model's versions costs no extra query.
    model = django_filters.NumberFilter(field_name="model_id", help_text="Versions of this model (its id).")

    class Meta:
        model = ModelVersion
        fields = {"origin": ["exact"], "status": ["exact"]}


class ModelVersionViewSet(viewsets.ReadOnlyModelViewSet):
    """Model versions visible to you: lineage, metrics and files."""

    serializer_class = serializers.ModelVersionSerializer
    permission_classes = [IsAuthenticatedOrReadOnly, TokenScope]
    filterset_class = ModelVersionFilter
    ordering_fields = ["created_at", "number"]

    def get_queryset(self):
        return selectors.model_versions_visible_to(self.request.user).order_by("-created_at")
