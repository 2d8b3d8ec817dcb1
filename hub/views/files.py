"""File downloads, through the same permission layer as pages and the API."""

from __future__ import annotations

from django.http import Http404, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from hub import selectors
from hub.models import DatasetFile, ModelFile
from hub.services import blobs


def _stream(blob, filename: str, content_type: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(blobs.iter_verified(blob), content_type=content_type)
    response["Content-Length"] = str(blob.size)
    response["Content-Disposition"] = f'attachment; filename="{filename.rsplit("/", 1)[-1]}"'
    response["ETag"] = f'"{blob.sha256}"'
    return response


# Downloads are DRF views: API clients authenticate with a Bearer token, browsers with their session.
@extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
@api_view(["GET"])
@permission_classes([AllowAny])
def dataset_file(request, pk):
    dataset_file = (
        DatasetFile.objects.select_related("blob", "version__dataset")
        .filter(version__dataset__in=selectors.datasets_visible_to(request.user))
        .filter(pk=pk)
        .first()
    )
    if dataset_file is None:
        raise Http404("No such file, or it is not visible to you.")
    return _stream(dataset_file.blob, dataset_file.path, "text/csv")


@extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
@api_view(["GET"])
@permission_classes([AllowAny])
def model_file(request, pk):
    model_file = (
        ModelFile.objects.select_related("blob")
        .filter(version__model__in=selectors.models_visible_to(request.user))
        .filter(pk=pk)
        .first()
    )
    if model_file is None:
        raise Http404("No such file, or it is not visible to you.")
    return _stream(model_file.blob, model_file.path, "application/octet-stream")
