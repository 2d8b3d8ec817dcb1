"""Publication through the API: request it (the checks run at once), follow it, deprecate a version."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from governance.models import PublicationRequest
from governance.policy_engine import USE_TAGS
from governance.services.publication import deprecate_version, request_publication
from hub.api.permissions import TokenScope, require_token_organization
from hub.api.serializers import VisiblePrimaryKeyRelatedField
from hub.models import ModelVersion
from hub.selectors import model_versions_visible_to


class PublicationRequestSerializer(serializers.ModelSerializer):
    model_version = serializers.StringRelatedField()
    model_version_id = serializers.IntegerField()
    version_status = serializers.CharField(source="model_version.status")
    reasons = serializers.JSONField(source="policy_check.reasons", help_text="The policy engine's reasons.")
    obligations = serializers.SerializerMethodField(help_text="Attribution to give, restrictions to carry.")
    requested_by = serializers.StringRelatedField(allow_null=True)
    reviewer = serializers.StringRelatedField(allow_null=True)

    class Meta:
        model = PublicationRequest
        fields = [
            "id", "model_version", "model_version_id", "version_status", "status", "intended_use", "note",
            "checks", "reasons", "obligations", "report", "card_completeness", "review_required",
            "review_deadline", "requested_by", "created_at", "reviewer", "decided_at", "decision_reason",
        ]  # fmt: skip
        read_only_fields = fields

    def get_obligations(self, publication: PublicationRequest) -> list[dict[str, str]]:
        return publication.policy_check.inputs.get("obligations", [])


class PublicationCreateSerializer(serializers.Serializer):
    model_version = VisiblePrimaryKeyRelatedField(
        queryset=ModelVersion.objects.all(),
        visible_to=model_versions_visible_to,
        missing="no such model version, or you may not read it",
    )
    intended_use = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(USE_TAGS)), required=False, default=list
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")


class DeprecateSerializer(serializers.Serializer):
    model_version = VisiblePrimaryKeyRelatedField(
        queryset=ModelVersion.objects.all(),
        visible_to=model_versions_visible_to,
        missing="no such model version, or you may not read it",
    )
    reason = serializers.CharField(help_text="Why the version should no longer be used.")


class PublicationViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Publication requests on versions you can see. POST runs the checks: the version is published,
    sent to a reviewer, or refused with every reason."""

    permission_classes = [IsAuthenticated, TokenScope]
    serializer_class = PublicationRequestSerializer
    filterset_fields = {"model_version": ["exact"], "status": ["exact"]}

    def get_queryset(self):
        return PublicationRequest.objects.filter(
            model_version__in=model_versions_visible_to(self.request.user)
        ).select_related("model_version__model", "policy_check", "requested_by", "reviewer")

    def _visible_version(self, version: ModelVersion) -> ModelVersion:
        if not model_versions_visible_to(self.request.user).filter(pk=version.pk).exists():
            raise ValidationError({"model_version": "no such model version, or you may not read it"})
        require_token_organization(self.request, version.model.organization)
        return version

    @extend_schema(request=PublicationCreateSerializer, responses={201: PublicationRequestSerializer})
    def create(self, request, *args, **kwargs):
        incoming = PublicationCreateSerializer(data=request.data, context={"request": request})
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        version = self._visible_version(data["model_version"])
        publication = request_publication(
            user=request.user, version=version, intended_use=data["intended_use"], note=data["note"]
        )
        body = self.get_serializer(self.get_queryset().get(pk=publication.pk)).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=DeprecateSerializer, responses={200: PublicationRequestSerializer(many=True)})
    @action(detail=False, methods=["post"])
    def deprecate(self, request):
        """Deprecate a published version with a reason (organization admins); returns its requests."""
        incoming = DeprecateSerializer(data=request.data, context={"request": request})
        incoming.is_valid(raise_exception=True)
        version = self._visible_version(incoming.validated_data["model_version"])
        deprecate_version(user=request.user, version=version, reason=incoming.validated_data["reason"])
        requests = self.get_queryset().filter(model_version=version)
        return Response(self.get_serializer(requests, many=True).data)
