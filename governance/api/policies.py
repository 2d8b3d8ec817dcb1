"""REST endpoints for usage policies: list, read with every version, create, add a version, attach to a
dataset or a model and detach. Versions are immutable: there is no endpoint that changes one."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response

from governance.models import AccessMode, Policy, PolicyVersion
from governance.selectors import (
    POLICY_TERM_FIELDS,
    attached_policy,
    governed_artifacts,
    governed_artifacts_of,
    latest_policy_versions,
    policies_visible_to,
    policy_history,
)
from governance.services.policies import (
    MAX_COOLDOWN_DAYS,
    add_policy_version,
    attach_policy,
    create_policy,
    detach_policy,
)
from hub import selectors as hub_selectors
from hub.api.permissions import TokenScope, require_token_organization
from hub.models import Dataset, RegisteredModel
from hub.permissions import can_administer

USES_HELP = (
    "Use tags of the hub's vocabulary (GET /api/v1/policies/use-tags/), e.g. research, medical-advice."
)

# Serializers ------------------------------------------------------------------------------------


class PolicyTermsSerializer(serializers.Serializer):
    """The terms of a policy version. The service checks them together and names each bad field."""

    license = serializers.CharField(
        max_length=100,
        required=False,
        help_text="SPDX id such as Apache-2.0 or CC-BY-4.0, or LicenseRef-<name>.",
    )
    allowed_uses = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        help_text=f"Uses explicitly allowed; empty: any use that is not prohibited. {USES_HELP}",
    )
    prohibited_uses = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        help_text=f"Uses refused to runs, publications and access requests that declare them. {USES_HELP}",
    )
    commercial_use = serializers.BooleanField(required=False, help_text="Commercial use is allowed.")
    attribution_required = serializers.BooleanField(required=False, help_text="Derivatives must credit it.")
    share_alike = serializers.BooleanField(required=False, help_text="Derivatives keep the same licence.")
    access_mode = serializers.ChoiceField(
        choices=AccessMode.choices,
        required=False,
        help_text="open: anyone who can see it may use it; on_request: organizations ask and the owner's "
        "admins decide; listed: only the listed organizations.",
    )
    listed_organizations = serializers.ListField(
        child=serializers.SlugField(max_length=64),
        required=False,
        help_text="Slugs of the organizations that may use the artifacts; required when access_mode is "
        "listed and ignored otherwise.",
    )
    conditions = serializers.CharField(
        required=False, allow_blank=True, help_text="What a requesting organization accepts."
    )
    request_cooldown_days = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_COOLDOWN_DAYS,
        help_text="After a refusal, days before the same organization may ask again.",
    )
    requires_review = serializers.BooleanField(
        required=False, help_text="Publishing a model version needs a reviewer's approval."
    )
    conflicts_go_to_review = serializers.BooleanField(
        required=False, help_text="A licence conflict sends publication to review instead of refusing it."
    )
    max_delta = serializers.FloatField(
        required=False, allow_null=True, help_text="Highest fairness gap δ to publish, in [0, 1]; null: none."
    )
    max_epsilon = serializers.FloatField(
        required=False,
        allow_null=True,
        help_text="Highest calibration error ε to publish, in [0, 1]; null: none.",
    )
    max_theta = serializers.FloatField(
        required=False, allow_null=True, help_text="Highest leakage risk θ to publish, in [0, 1]; null: none."
    )
    max_objective = serializers.FloatField(
        required=False, allow_null=True, help_text="Highest objective F to publish, in [0, 1]; null: none."
    )
    alpha = serializers.FloatField(required=False, help_text="Weight of δ in F, in [0, 1]; α + β + γ = 1.")
    beta = serializers.FloatField(required=False, help_text="Weight of ε in F, in [0, 1].")
    gamma = serializers.FloatField(required=False, help_text="Weight of θ in F, in [0, 1].")

    def terms(self) -> dict[str, Any]:
        return {name: value for name, value in self.validated_data.items() if name in POLICY_TERM_FIELDS}


class PolicyCreateSerializer(PolicyTermsSerializer):
    """A new policy; its terms become version 1 (absent terms take the defaults)."""

    organization = serializers.SlugField(help_text="Slug of the organization; you must be an owner or admin.")
    slug = serializers.SlugField(max_length=100, help_text="Identifier in URLs, unique in the organization.")
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    license = serializers.CharField(
        max_length=100, help_text="SPDX id such as Apache-2.0 or CC-BY-4.0, or LicenseRef-<name>."
    )


class PolicyVersionCreateSerializer(PolicyTermsSerializer):
    """The next version: the terms given replace those of the latest version, the others carry over."""

    change_note = serializers.CharField(
        required=False, allow_blank=True, max_length=300, default="", help_text="What changes, and why."
    )


class PolicyVersionSerializer(serializers.ModelSerializer):
    """One immutable version of a policy's terms."""

    allowed_uses = serializers.ListField(child=serializers.CharField(), read_only=True)
    prohibited_uses = serializers.ListField(child=serializers.CharField(), read_only=True)
    listed_organizations = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    created_by = serializers.StringRelatedField(allow_null=True)

    class Meta:
        model = PolicyVersion
        fields = ["number", *POLICY_TERM_FIELDS, "change_note", "created_by", "created_at"]
        read_only_fields = fields


class TermChangeSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The term that changed.")
    before = serializers.JSONField(help_text="Its value in the version before.")
    after = serializers.JSONField(help_text="Its value in this version.")


class PolicyHistoryEntrySerializer(PolicyVersionSerializer):
    changes = TermChangeSerializer(
        many=True, read_only=True, help_text="What this version changed in the one before (empty for v1)."
    )

    class Meta(PolicyVersionSerializer.Meta):
        fields = [*PolicyVersionSerializer.Meta.fields, "changes"]
        read_only_fields = fields


class PolicySerializer(serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    created_by = serializers.StringRelatedField(allow_null=True)
    url = serializers.SerializerMethodField(help_text="The policy's page.")
    current_version = serializers.SerializerMethodField(help_text="The version in force: the latest.")
    datasets = serializers.SerializerMethodField(help_text="Datasets it governs that you can see (org/slug).")
    models = serializers.SerializerMethodField(help_text="Models it governs that you can see (org/slug).")

    class Meta:
        model = Policy
        fields = ["id", "organization", "slug", "name", "description", "url", "current_version", "datasets",
                  "models", "created_by", "created_at"]  # fmt: skip
        read_only_fields = fields

    def get_url(self, policy: Policy) -> str:
        request = self.context.get("request")
        path = policy.get_absolute_url()
        return request.build_absolute_uri(path) if request else path

    @extend_schema_field(PolicyVersionSerializer)
    def get_current_version(self, policy: Policy) -> dict:
        # A list passes every policy's latest version, read in one query, in the context.
        latest = self.context.get("latest_versions")
        version = latest.get(policy.pk) if latest is not None else policy.latest_version
        return PolicyVersionSerializer(version).data

    def _governed(self, policy: Policy) -> tuple:
        governed = self.context.get("governed")
        if governed is not None:
            return governed[policy.pk]
        request = self.context.get("request")
        return governed_artifacts(policy, request.user)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_datasets(self, policy: Policy) -> list[str]:
        return [dataset.full_name for dataset in self._governed(policy)[0]]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_models(self, policy: Policy) -> list[str]:
        return [model.full_name for model in self._governed(policy)[1]]


class PolicyDetailSerializer(PolicySerializer):
    versions = serializers.SerializerMethodField(
        help_text="Every version, newest first, with what it changed."
    )

    class Meta(PolicySerializer.Meta):
        fields = [*PolicySerializer.Meta.fields, "versions"]
        read_only_fields = fields

    @extend_schema_field(PolicyHistoryEntrySerializer(many=True))
    def get_versions(self, policy: Policy) -> list[dict]:
        entries = []
        for version, changes in policy_history(policy):
            entry = PolicyVersionSerializer(version).data
            entry["changes"] = [
                {"field": change.field, "before": change.before, "after": change.after} for change in changes
            ]
            entries.append(entry)
        return entries


class ArtifactReferenceSerializer(serializers.Serializer):
    """Exactly one of dataset and model, as org/slug."""

    dataset = serializers.CharField(required=False, max_length=200, help_text="A dataset, as org/slug.")
    model = serializers.CharField(required=False, max_length=200, help_text="A model, as org/slug.")

    def validate(self, attrs: dict) -> dict:
        if len(attrs) != 1:
            raise serializers.ValidationError("Give exactly one of dataset and model, as org/slug.")
        return attrs

    def artifact(self, user) -> Dataset | RegisteredModel:
        """The dataset or the model named, if the user can see it."""
        (kind, reference), *_ = self.validated_data.items()
        org, _, slug = reference.partition("/")
        visible = hub_selectors.datasets_visible_to if kind == "dataset" else hub_selectors.models_visible_to
        artifact = visible(user).filter(organization__slug=org, slug=slug).first() if slug else None
        if artifact is None:
            raise serializers.ValidationError({kind: f"no {kind} {reference!r} that you can see (org/slug)"})
        return artifact


class UseTagSerializer(serializers.Serializer):
    tag = serializers.CharField()
    title = serializers.CharField(help_text="What the use is, in words.")


# Endpoints --------------------------------------------------------------------------------------


class PolicyViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Usage policies: those of your organizations, and those governing a dataset or a model you can see.

    A policy's terms live in immutable versions; a change is a new version (POST …/versions/). Owners
    and admins of the organization create policies, add versions and attach them to its datasets and
    models.
    """

    permission_classes = [IsAuthenticatedOrReadOnly, TokenScope]
    serializer_class = PolicySerializer
    search_fields = ["slug", "name", "organization__slug"]
    ordering_fields = ["slug", "created_at"]

    def get_queryset(self):
        return (
            policies_visible_to(self.request.user)
            .select_related("created_by")
            .order_by("organization__slug", "slug")
        )

    def list(self, request: Request, *args, **kwargs) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        policies = list(page if page is not None else queryset)
        context = {
            **self.get_serializer_context(),
            "latest_versions": latest_policy_versions(policies),
            "governed": governed_artifacts_of(policies, request.user),
        }
        data = PolicySerializer(policies, many=True, context=context).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def get_serializer_class(self):
        return PolicyDetailSerializer if self.action == "retrieve" else PolicySerializer

    def _detail(self, policy: Policy, code: int = status.HTTP_200_OK) -> Response:
        return Response(
            PolicyDetailSerializer(policy, context=self.get_serializer_context()).data, status=code
        )

    @extend_schema(request=PolicyCreateSerializer, responses={201: PolicyDetailSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:
        """Create a policy of one of your organizations, its terms as version 1."""
        incoming = PolicyCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        organization = hub_selectors.organizations_of(request.user).filter(slug=data["organization"]).first()
        if organization is None:
            raise serializers.ValidationError(
                {"organization": f"you are not a member of {data['organization']!r}"}
            )
        require_token_organization(request, organization)
        policy = create_policy(
            user=request.user,
            organization=organization,
            slug=data["slug"],
            name=data["name"],
            description=data["description"],
            terms=incoming.terms(),
        )
        return self._detail(policy, status.HTTP_201_CREATED)

    @extend_schema(request=PolicyVersionCreateSerializer, responses={201: PolicyVersionSerializer})
    @action(detail=True, methods=["post"])
    def versions(self, request: Request, pk=None) -> Response:
        """Add a version: the terms given change those of the latest version. Versions are never edited."""
        policy = self.get_object()
        require_token_organization(request, policy.organization)
        incoming = PolicyVersionCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        version = add_policy_version(
            user=request.user,
            policy=policy,
            terms=incoming.terms(),
            change_note=incoming.validated_data["change_note"],
        )
        return Response(PolicyVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ArtifactReferenceSerializer, responses={200: PolicyDetailSerializer})
    @action(detail=True, methods=["post"])
    def attach(self, request: Request, pk=None) -> Response:
        """Let the policy govern a dataset or a model of its organization (replacing any other policy)."""
        policy = self.get_object()
        require_token_organization(request, policy.organization)
        incoming = ArtifactReferenceSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        attach_policy(user=request.user, policy=policy, artifact=incoming.artifact(request.user))
        return self._detail(policy)

    @extend_schema(request=ArtifactReferenceSerializer, responses={200: PolicyDetailSerializer})
    @action(detail=True, methods=["post"])
    def detach(self, request: Request, pk=None) -> Response:
        """Stop the policy governing a dataset or a model; its licence alone applies again."""
        policy = self.get_object()
        require_token_organization(request, policy.organization)
        if not can_administer(request.user, policy.organization):
            raise PermissionDenied(
                f"Only owners and admins of {policy.organization.slug} manage its policies."
            )
        incoming = ArtifactReferenceSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        artifact = incoming.artifact(request.user)
        if attached_policy(artifact) != policy:
            kind = "dataset" if isinstance(artifact, Dataset) else "model"
            raise serializers.ValidationError({kind: f"{artifact} is not governed by {policy}"})
        detach_policy(user=request.user, artifact=artifact)
        return self._detail(policy)

    @extend_schema(responses={200: UseTagSerializer(many=True)})
    @action(detail=False, methods=["get"], url_path="use-tags", pagination_class=None, filter_backends=[])
    def use_tags(self, request: Request) -> Response:
        """The vocabulary of use tags that policies allow and prohibit and requests declare."""
        from governance.policy_engine import USE_TAGS

        return Response([{"tag": tag, "title": title} for tag, title in USE_TAGS.items()])
