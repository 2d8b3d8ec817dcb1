"""REST endpoints for access between organizations: requests for gated datasets and models, the owner's
decisions, and the grants that follow."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from governance.models import AccessGrant, AccessRequest
from governance.policy_engine import USE_TAGS
from governance.selectors import access_grants_visible_to, access_requests_visible_to
from governance.services.access import (
    decide_access_request,
    request_access,
    revoke_grant,
    withdraw_access_request,
)
from hub.api.permissions import TokenScope, require_token_organization
from hub.models import Organization
from hub.selectors import datasets_visible_to, models_visible_to

# Serializers --------------------------------------------------------------------------------------


class _ArtifactFields(serializers.Serializer):
    artifact_kind = serializers.SerializerMethodField(help_text="“dataset” or “model”.")
    artifact = serializers.SerializerMethodField(help_text="org/slug of the dataset or model.")

    def get_artifact_kind(self, obj) -> str:
        return "dataset" if obj.dataset_id is not None else "model"

    def get_artifact(self, obj) -> str:
        return (obj.dataset or obj.model).full_name


class AccessRequestSerializer(_ArtifactFields, serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, help_text="The organization that asks."
    )
    policy_version = serializers.StringRelatedField(
        help_text="The policy version whose conditions it accepted."
    )
    intended_use = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Declared use tags."
    )
    requested_by = serializers.StringRelatedField(allow_null=True, help_text="Username of who asked.")
    decided_by = serializers.StringRelatedField(
        allow_null=True,
        help_text="Username of who approved, refused or withdrew it; null for an automatic refusal.",
    )
    reason = serializers.CharField(
        read_only=True, help_text="Why it was approved or refused (the policy's reasons when automatic)."
    )
    grant = serializers.SerializerMethodField(help_text="Id of the grant an approval created, if any.")

    class Meta:
        model = AccessRequest
        fields = [
            "id", "organization", "artifact_kind", "artifact", "dataset", "model", "policy_version",
            "intended_use", "purpose", "accepted_conditions", "status", "requested_by", "created_at",
            "decided_by", "decided_at", "reason", "grant",
        ]  # fmt: skip
        read_only_fields = fields

    def get_grant(self, obj: AccessRequest) -> int | None:
        grant = getattr(obj, "grant", None)
        return grant.pk if grant is not None else None


class AccessRequestCreateSerializer(serializers.Serializer):
    organization = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Organization.objects.all(),
        help_text="Slug of your organization that asks (you must be able to write it).",
    )
    dataset = serializers.IntegerField(
        required=False, allow_null=True, help_text="Id of the dataset; give a dataset or a model."
    )
    model = serializers.IntegerField(
        required=False, allow_null=True, help_text="Id of the model; give a dataset or a model."
    )
    intended_use = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(USE_TAGS)),
        allow_empty=False,
        help_text="Every use the organization will make of it; one the policy does not allow is refused.",
    )
    purpose = serializers.CharField(max_length=5000, help_text="What the organization will do with it.")
    accept_conditions = serializers.BooleanField(
        help_text="True: the organization accepts the conditions of the artifact's policy (required)."
    )

    def validate(self, data: dict) -> dict:
        user = self.context["request"].user
        given = [name for name in ("dataset", "model") if data.get(name) is not None]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"dataset": "give the id of a dataset or of a model (one of them)"}
            )
        kind = given[0]
        visible = datasets_visible_to(user) if kind == "dataset" else models_visible_to(user)
        artifact = visible.filter(pk=data[kind]).first()
        if artifact is None:
            raise serializers.ValidationError({kind: f"no such {kind}, or it is not visible to you"})
        data["artifact"] = artifact
        return data


class ApproveSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=5000, help_text="Optional note kept with the decision."
    )


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000, help_text="Required; the other organization reads it.")


class AccessGrantSerializer(_ArtifactFields, serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, help_text="The organization that may use the artifact."
    )
    granted_by = serializers.StringRelatedField(
        allow_null=True, help_text="Username of who approved or listed it."
    )
    revoked_by = serializers.StringRelatedField(allow_null=True, help_text="Username of who revoked it.")
    active = serializers.BooleanField(read_only=True, help_text="False once revoked.")

    class Meta:
        model = AccessGrant
        fields = [
            "id", "organization", "artifact_kind", "artifact", "dataset", "model", "source", "request",
            "active", "granted_by", "granted_at", "revoked_by", "revoked_at", "revoke_reason",
        ]  # fmt: skip
        read_only_fields = fields


# Views --------------------------------------------------------------------------------------------


class AccessRequestFilter(django_filters.FilterSet):
    organization = django_filters.CharFilter(
        field_name="organization__slug", help_text="Slug of the organization that asked."
    )
    owner = django_filters.CharFilter(method="filter_owner", help_text="Slug of the artifact's organization.")

    class Meta:
        model = AccessRequest
        fields = ["organization", "owner", "status", "dataset", "model"]

    def filter_owner(self, queryset, name, value):
        return queryset.filter(Q(dataset__organization__slug=value) | Q(model__organization__slug=value))


class AccessRequestViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Requests made by your organizations, or for their datasets and models; newest first.

    POST asks for access to a gated dataset or model (access mode “on request”) for one of your
    organizations. A declared use the policy does not allow is refused at once (status “refused”, the
    reasons in ``reason``); otherwise the owner's admins approve or refuse it.
    """

    permission_classes = [IsAuthenticated, TokenScope]
    serializer_class = AccessRequestSerializer
    filterset_class = AccessRequestFilter
    search_fields = ["purpose", "reason", "organization__slug", "dataset__slug", "model__slug"]
    ordering_fields = ["created_at", "decided_at"]

    def get_queryset(self):
        return (
            access_requests_visible_to(self.request.user)
            .select_related("grant")
            .order_by("-created_at", "-pk")
        )

    def _body(self, access_request: AccessRequest) -> dict:
        return AccessRequestSerializer(self.get_queryset().get(pk=access_request.pk)).data

    @extend_schema(request=AccessRequestCreateSerializer, responses={201: AccessRequestSerializer})
    def create(self, request, *args, **kwargs):
        incoming = AccessRequestCreateSerializer(data=request.data, context=self.get_serializer_context())
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        require_token_organization(request, data["organization"])
        access_request = request_access(
            user=request.user,
            organization=data["organization"],
            artifact=data["artifact"],
            intended_use=data["intended_use"],
            purpose=data["purpose"],
            accept_conditions=data["accept_conditions"],
        )
        return Response(self._body(access_request), status=status.HTTP_201_CREATED)

    def _decide(self, request, *, approve: bool, incoming: serializers.Serializer) -> Response:
        access_request = self.get_object()
        require_token_organization(request, access_request.artifact.organization)
        incoming.is_valid(raise_exception=True)
        decide_access_request(
            user=request.user,
            access_request=access_request,
            approve=approve,
            reason=incoming.validated_data.get("reason", ""),
        )
        return Response(self._body(access_request))

    @extend_schema(request=ApproveSerializer, responses={200: AccessRequestSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve a pending request (owners and admins of the artifact's organization): a grant follows."""
        return self._decide(request, approve=True, incoming=ApproveSerializer(data=request.data))

    @extend_schema(request=ReasonSerializer, responses={200: AccessRequestSerializer})
    @action(detail=True, methods=["post"])
    def refuse(self, request, pk=None):
        """Refuse a pending request, with the reason (owners and admins of the artifact's organization)."""
        return self._decide(request, approve=False, incoming=ReasonSerializer(data=request.data))

    @extend_schema(request=None, responses={200: AccessRequestSerializer})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        """Withdraw a pending request of your organization."""
        access_request = self.get_object()
        require_token_organization(request, access_request.organization)
        withdraw_access_request(user=request.user, access_request=access_request)
        return Response(self._body(access_request))


class AccessGrantFilter(django_filters.FilterSet):
    organization = django_filters.CharFilter(
        field_name="organization__slug", help_text="Slug of the organization holding the grant."
    )
    owner = django_filters.CharFilter(method="filter_owner", help_text="Slug of the artifact's organization.")
    active = django_filters.BooleanFilter(
        field_name="revoked_at", lookup_expr="isnull", help_text="True: grants not revoked."
    )

    class Meta:
        model = AccessGrant
        fields = ["organization", "owner", "active", "source", "dataset", "model"]

    def filter_owner(self, queryset, name, value):
        return queryset.filter(Q(dataset__organization__slug=value) | Q(model__organization__slug=value))


class AccessGrantViewSet(viewsets.ReadOnlyModelViewSet):
    """Grants held by your organizations or given on their datasets and models; newest first. A grant
    lets every member of the organization see and use the artifact (download it, fine-tune on it)."""

    permission_classes = [IsAuthenticated, TokenScope]
    serializer_class = AccessGrantSerializer
    filterset_class = AccessGrantFilter
    search_fields = ["organization__slug", "dataset__slug", "model__slug", "revoke_reason"]
    ordering_fields = ["granted_at", "revoked_at"]

    def get_queryset(self):
        return access_grants_visible_to(self.request.user).order_by("-granted_at", "-pk")

    @extend_schema(request=ReasonSerializer, responses={200: AccessGrantSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """Revoke a grant, with the reason (owners and admins of the artifact's organization)."""
        grant = self.get_object()
        require_token_organization(request, (grant.dataset or grant.model).organization)
        incoming = ReasonSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        revoke_grant(user=request.user, grant=grant, reason=incoming.validated_data["reason"])
        return Response(AccessGrantSerializer(self.get_queryset().get(pk=grant.pk)).data)
