"""REST endpoints for fine-tuning runs."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from hub.api.permissions import TokenScope, require_token_organization
from training import selectors, services
from training.api import serializers


class RunViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Fine-tuning runs of your organizations. POST queues a run; it trains on a Celery worker."""

    permission_classes = [IsAuthenticated, TokenScope]
    serializer_class = serializers.RunSerializer
    filterset_fields = {"organization__slug": ["exact"], "status": ["exact"], "queue": ["exact"]}
    ordering_fields = ["created_at", "finished_at"]

    def get_queryset(self):
        return selectors.runs_visible_to(self.request.user).order_by("-created_at")

    @extend_schema(request=serializers.RunCreateSerializer, responses={201: serializers.RunSerializer})
    def create(self, request, *args, **kwargs):
        incoming = serializers.RunCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        require_token_organization(request, data["organization"])
        run = services.submit_run(
            user=request.user,
            organization=data["organization"],
            base_version=data["base_version"],
            dataset_version=data["dataset_version"],
            hyperparameters=data.get("hyperparameters"),
            queue=data["queue"],
            output_model_slug=data.get("output_model", ""),
        )
        run = self.get_queryset().get(pk=run.pk)
        return Response(self.get_serializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: serializers.RunSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a queued or running run; a running one stops at its next step."""
        run = self.get_object()
        require_token_organization(request, run.organization)
        services.cancel_run(user=request.user, run=run)
        return Response(self.get_serializer(self.get_queryset().get(pk=run.pk)).data)

    @extend_schema(responses={200: serializers.RunMetricsSerializer})
    @action(detail=True, methods=["get"])
    def metrics(self, request, pk=None):
        """The run's metric series (loss, learning rate, throughput) for charts."""
        return Response({"series": selectors.metric_series(self.get_object())})
