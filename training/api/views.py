"""REST endpoints for fine-tuning runs and compute pools."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from governance.api.serializers import EvaluationReportSerializer
from governance.selectors import reports_visible_to
from hub.api.pagination import DeferredJoinPagination
from hub.api.permissions import TokenScope, require_token_organization
from training import selectors, services
from training.api import serializers


class RunViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Fine-tuning runs of your organizations. POST queues a run; it trains on a Celery worker."""

    permission_classes = [IsAuthenticated, TokenScope]
    serializer_class = serializers.RunSerializer
    filterset_fields = {"organization__slug": ["exact"], "status": ["exact"], "queue": ["exact"]}
    ordering_fields = ["created_at", "finished_at"]
    pagination_class = DeferredJoinPagination

    def get_queryset(self):
        runs = selectors.runs_listed_to(self.request.user).order_by("-created_at", "-id")
        if self.action == "metrics":  # only the run's visibility matters, not its related rows
            runs = runs.select_related(None).prefetch_related(None)
        return runs

    @extend_schema(request=serializers.RunCreateSerializer, responses={201: serializers.RunSerializer})
    def create(self, request, *args, **kwargs):
        incoming = serializers.RunCreateSerializer(data=request.data, context={"request": request})
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
            pool=data.get("pool"),
            priority=data["priority"],
            output_model_slug=data.get("output_model", ""),
            intended_use=data["intended_use"],
            license=data["license"],
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

    @extend_schema(
        parameters=[serializers.RunMetricsQuerySerializer], responses={200: serializers.RunMetricsSerializer}
    )
    @action(detail=True, methods=["get"])
    def metrics(self, request, pk=None):
        """The run's metric series (loss, learning rate, throughput) for charts."""
        run = self.get_object()
        query = serializers.RunMetricsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        series = selectors.metric_series(
            run, names=query.validated_data.get("name"), max_points=query.validated_data["max_points"]
        )
        return Response({"series": series})


class PoolViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Compute pools your organizations own or may use. POST registers one (organization admins)."""

    permission_classes = [IsAuthenticated, TokenScope]
    serializer_class = serializers.PoolSerializer
    filterset_fields = {"organization__slug": ["exact"]}

    def get_queryset(self):
        return selectors.pools_visible_to(self.request.user)

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        pools = list(page if page is not None else queryset)
        context = {**self.get_serializer_context(), "pool_usages": selectors.pool_usages(pools)}
        data = serializers.PoolSerializer(pools, many=True, context=context).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    @extend_schema(request=serializers.PoolCreateSerializer, responses={201: serializers.PoolSerializer})
    def create(self, request, *args, **kwargs):
        incoming = serializers.PoolCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        require_token_organization(request, data["organization"])
        pool = services.create_pool(
            user=request.user,
            organization=data["organization"],
            slug=data["slug"],
            name=data.get("name", ""),
            shared_with_all=data["shared_with_all"],
            shared_with=data.get("shared_with", []),
        )
        return Response(self.get_serializer(pool).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=serializers.PoolShareSerializer, responses={200: serializers.PoolSerializer})
    @action(detail=True, methods=["post"])
    def share(self, request, pk=None):
        """Replace who may run on the pool besides its owner."""
        pool = self.get_object()
        require_token_organization(request, pool.organization)
        incoming = serializers.PoolShareSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        services.share_pool(
            user=request.user,
            pool=pool,
            shared_with_all=data["shared_with_all"],
            shared_with=data.get("shared_with", []),
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=pool.pk)).data)


class EvaluationViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Evaluation reports you can read. POST scores a model version on a dataset split, on a worker."""

    permission_classes = [IsAuthenticated, TokenScope]
    serializer_class = EvaluationReportSerializer
    filterset_fields = {
        "model_version": ["exact"],
        "dataset_version": ["exact"],
        "split": ["exact"],
        "status": ["exact"],
        "trigger": ["exact"],
    }
    ordering_fields = ["created_at", "accuracy", "objective"]

    def get_queryset(self):
        return reports_visible_to(self.request.user).order_by("-created_at", "-pk")

    @extend_schema(
        request=serializers.EvaluationCreateSerializer, responses={201: EvaluationReportSerializer}
    )
    def create(self, request, *args, **kwargs):
        incoming = serializers.EvaluationCreateSerializer(data=request.data, context={"request": request})
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        report = services.request_evaluation(
            user=request.user,
            version=data["model_version"],
            dataset_version=data["dataset_version"],
            split=data["split"],
        )
        return Response(self.get_serializer(report).data, status=status.HTTP_201_CREATED)
