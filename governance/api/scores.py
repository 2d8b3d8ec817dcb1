"""The scores over REST: E and C of the hub and of an organization with every factor and the counts
behind it (so anyone can recompute them), F of a model version, and the daily snapshots."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.models import ScoreSnapshot
from governance.score_records import SCORE_WINDOW_MAX_DAYS, SCORE_WINDOW_MIN_DAYS
from governance.scores import (
    Scores,
    Window,
    recent_scores,
    version_objective,
    window_ending,
)
from governance.selectors import reports_visible_to
from hub.models import Organization
from hub.permissions import Viewer, can_view_organization
from hub.selectors import model_versions_visible_to, organizations_of

# Request and response shapes --------------------------------------------------------------------


class WindowQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(
        required=False,
        min_value=SCORE_WINDOW_MIN_DAYS,
        max_value=SCORE_WINDOW_MAX_DAYS,
        help_text="Length of the window ending now, in days (default AGORA_SCORE_WINDOW_DAYS).",
    )


DAYS_PARAMETER = OpenApiParameter(
    "days",
    OpenApiTypes.INT,
    description=f"Length of the window ending now, {SCORE_WINDOW_MIN_DAYS} to {SCORE_WINDOW_MAX_DAYS} days "
    "(default AGORA_SCORE_WINDOW_DAYS, 90).",
)


class WindowSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    days = serializers.IntegerField()


class SubFactorSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="D_scale, D_use, N_cover, N_pass, N_review, M_multi, M_active, …")
    name = serializers.CharField()
    value = serializers.FloatField(allow_null=True, help_text="In [0, 1]; null is n/a (a zero denominator).")
    formula = serializers.CharField()
    inputs = serializers.DictField(
        child=serializers.FloatField(),
        help_text="The counts behind the value: numerator and denominator of a ratio; for T the sum of "
        "completeness over the cards touched; for A the sum of gains over the versions with a gain; "
        "for B the records V and the saturation constant V0 (B = V / (V + V0)).",
    )
    parts = serializers.ListField(child=serializers.DictField(), help_text="Empty for a sub-factor.")


class FactorSerializer(SubFactorSerializer):
    key = serializers.CharField(help_text="D, T, N, M of E; A, B, S, K, R of C.")
    parts = SubFactorSerializer(
        many=True,
        help_text="A composite's sub-factors; its value is their geometric mean (D = sqrt(D_scale × D_use)).",
    )


class ScoreSerializer(serializers.Serializer):
    score = serializers.CharField(help_text="E or C.")
    name = serializers.CharField()
    value = serializers.FloatField(
        allow_null=True, help_text="The product of the factors, as the source defines the score; null: n/a."
    )
    geometric_mean = serializers.FloatField(
        allow_null=True, help_text="The headline index (Π factors)^(1/n); null when a factor is n/a."
    )
    bottleneck = serializers.CharField(allow_null=True, help_text="Key of the smallest computable factor.")
    missing = serializers.ListField(child=serializers.CharField(), help_text="Keys of the n/a factors.")
    factors = FactorSerializer(many=True)


class ScoresSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=["hub", "organization"])
    organization = serializers.CharField(allow_null=True, help_text="Slug; null for the hub.")
    window = WindowSerializer()
    E = ScoreSerializer(help_text="Collaboration effect E = D × T × N × M.")
    C = ScoreSerializer(help_text="Collaborative capability C = A × B × S × K × R.")


class ObjectiveTermsSerializer(serializers.Serializer):
    delta = serializers.FloatField(allow_null=True, help_text="Fairness gap δ; null: n/a.")
    epsilon = serializers.FloatField(allow_null=True, help_text="Calibration error ε; null: n/a.")
    theta = serializers.FloatField(allow_null=True, help_text="Leakage risk θ; null: n/a.")


class ObjectiveSerializer(serializers.Serializer):
    model_version = serializers.IntegerField()
    name = serializers.CharField(help_text="org/model@vN")
    score = serializers.CharField(help_text="F")
    value = serializers.FloatField(
        allow_null=True, help_text="F = α·δ + β·ε + γ·θ (lower is better); null: n/a or no evaluation."
    )
    governance_score = serializers.FloatField(allow_null=True, help_text="1 − F.")
    terms = ObjectiveTermsSerializer()
    weights = serializers.DictField(
        child=serializers.FloatField(), allow_null=True, help_text="alpha, beta, gamma (they sum to 1)."
    )
    weights_source = serializers.CharField(allow_null=True, help_text="“default” or the policy version.")
    missing = serializers.ListField(child=serializers.CharField(), help_text="The n/a terms.")
    report = serializers.IntegerField(
        allow_null=True, help_text="The headline evaluation report, when you may read it."
    )


class ScoreSnapshotSerializer(serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    factors = serializers.JSONField(
        help_text="The score as computed that day: every factor with its inputs (for F: terms and weights)."
    )

    class Meta:
        model = ScoreSnapshot
        fields = [
            "id", "date", "scope", "organization", "model_version", "score", "value", "geometric_mean",
            "window_days", "factors", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


# Views -------------------------------------------------------------------------------------------


def _window(request: Request) -> Window:
    """The window ending now; a bad ?days= is a 400 that names it."""
    query = WindowQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return window_ending(days=query.validated_data.get("days"))


def _scores_payload(scores: Scores, organization: Organization | None) -> dict[str, Any]:
    return {
        "scope": "hub" if organization is None else "organization",
        "organization": organization.slug if organization is not None else None,
        **scores.to_dict(),
    }


class HubScoresView(APIView):
    """E and C of the whole hub in the window, with every factor, its sub-factors and their inputs."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[DAYS_PARAMETER], responses={200: ScoresSerializer}, operation_id="scores_hub")
    def get(self, request: Request) -> Response:
        scores = recent_scores(_window(request))[1]
        return Response(_scores_payload(scores, None))


def _viewable_organization(user: Viewer, slug: str) -> Organization:
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None or not can_view_organization(user, organization):
        raise NotFound("No such organization, or you may not view it.")
    return organization


class OrganizationScoresView(APIView):
    """E and C of one organization (you must be a member), with every factor and its inputs."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[DAYS_PARAMETER],
        responses={200: ScoresSerializer, 404: OpenApiResponse(description="No such organization.")},
        operation_id="scores_organization",
    )
    def get(self, request: Request, slug: str) -> Response:
        organization = _viewable_organization(request.user, slug)
        scores = recent_scores(_window(request))[0][organization.pk]
        return Response(_scores_payload(scores, organization))


class ModelVersionObjectiveView(APIView):
    """F of a model version, from its headline evaluation: the terms δ, ε, θ, the weights and 1 − F."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={200: ObjectiveSerializer, 404: OpenApiResponse(description="No such model version.")},
        operation_id="scores_model_version",
    )
    def get(self, request: Request, pk: int) -> Response:
        version = get_object_or_404(model_versions_visible_to(request.user), pk=pk)
        objective = version_objective(version) or {
            "score": "F",
            "value": None,
            "governance_score": None,
            "terms": {"delta": None, "epsilon": None, "theta": None},
            "weights": None,
            "weights_source": None,
            "missing": ["evaluation"],
            "report": None,
        }
        report = objective.get("report")
        if report is not None and not reports_visible_to(request.user).filter(pk=report).exists():
            objective = {**objective, "report": None}
        return Response({"model_version": version.pk, "name": str(version), **objective})


MAX_ID = 2**63 - 1


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.NumberFilter):
    """A record id: a whole number the database can hold (a decimal such as 1e46 reached the query and
    failed there with a 500)."""

    field_class = forms.IntegerField


class ScoreSnapshotFilter(django_filters.FilterSet):
    organization = django_filters.CharFilter(field_name="organization__slug", help_text="Organization slug.")
    score = django_filters.ChoiceFilter(choices=[("E", "E"), ("C", "C"), ("F", "F")])
    scope = django_filters.ChoiceFilter(choices=ScoreSnapshot.Scope.choices)
    model_version = IdFilter(
        field_name="model_version_id", min_value=1, max_value=MAX_ID, help_text="Model version id."
    )
    since = django_filters.DateFilter(
        field_name="date", lookup_expr="gte", help_text="On or after, YYYY-MM-DD."
    )
    until = django_filters.DateFilter(
        field_name="date", lookup_expr="lte", help_text="On or before, YYYY-MM-DD."
    )

    class Meta:
        model = ScoreSnapshot
        fields = ["organization", "score", "scope", "model_version", "since", "until"]


class ScoreSnapshotViewSet(viewsets.ReadOnlyModelViewSet):
    """The daily snapshots of the scores, oldest first: the hub's, those of your organizations, and F
    of the model versions you can see. `manage.py compute_scores` takes the day's snapshots."""

    permission_classes = [IsAuthenticated]
    serializer_class = ScoreSnapshotSerializer
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = ScoreSnapshotFilter
    ordering_fields = ["date"]

    def get_queryset(self):
        user = self.request.user
        visible = (
            Q(scope=ScoreSnapshot.Scope.HUB)
            | Q(scope=ScoreSnapshot.Scope.ORGANIZATION, organization__in=organizations_of(user))
            | Q(scope=ScoreSnapshot.Scope.MODEL_VERSION, model_version__in=model_versions_visible_to(user))
        )
        return (
            ScoreSnapshot.objects.filter(visible)
            .select_related("organization")
            .order_by("date", "scope", "score", "pk")
        )
