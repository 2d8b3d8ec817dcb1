"""File downloads, through the same permission layer as pages and the API.

Every file is served verified: hashed as it streams, or, when its blob was verified recently and its
file is unchanged since (hub.services.blobs.open_verified_file), sent as it is with sendfile.
"""

from __future__ import annotations

import itertools
import logging

from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from hub import permissions, selectors
from hub.access import public
from hub.models import DatasetFile, Download, FileFormat, ModelFile
from hub.services import blobs

CONTENT_TYPES = {
    FileFormat.CSV: "text/csv; charset=utf-8",
    FileFormat.TSV: "text/tab-separated-values; charset=utf-8",
    FileFormat.JSONL: "application/jsonl",
    FileFormat.PARQUET: "application/vnd.apache.parquet",
}
logger = logging.getLogger(__name__)


def _refuse_unless_usable(user, artifact) -> None:
    """Seeing a gated artifact is not using it: its files need access (the owner's members always have it)."""
    refusal = permissions.use_refusal(user, artifact)
    if refusal:
        raise PermissionDenied(refusal)


def _stream(blob, filename: str, content_type: str) -> HttpResponse:
    verified = blobs.open_verified_file(blob)
    if verified is not None:
        # Verified before and unchanged since: the server sends the file itself (sendfile, no copy
        # through Python, no hashing).
        response = FileResponse(verified, content_type=content_type)
        response.block_size = blobs.CHUNK_SIZE  # servers without sendfile read it in these pieces
    else:
        chunks = blobs.iter_verified(blob)
        try:
            # Reading the first chunk of a one-chunk blob checks its hash before any byte is sent.
            first = next(chunks, b"")
        except blobs.BlobIntegrityError:
            logger.error("refused to serve %s: its bytes do not match sha256 %s", filename, blob.sha256)
            return HttpResponse(
                "The stored file failed its integrity check and is not served; the operators have been told.",
                status=500,
                content_type="text/plain",
            )
        response = StreamingHttpResponse(itertools.chain([first], chunks), content_type=content_type)
    response["Content-Length"] = str(blob.size)
    response["Content-Disposition"] = f'attachment; filename="{filename.rsplit("/", 1)[-1]}"'
    response["ETag"] = f'"{blob.sha256}"'
    return response


# Downloads are DRF views: API clients authenticate with a Bearer token, browsers with their session.
def _record_download(user, path: str, *, dataset=None, model=None) -> None:
    """Count the use: a download by someone outside the owning organization is cross-organization."""
    owner = (dataset or model).organization
    Download.objects.create(
        user=user if user.is_authenticated else None,
        dataset=dataset,
        model=model,
        path=path,
        cross_organization=permissions.role_in(user, owner) is None,
    )


@public
@extend_schema(
    responses={
        (200, content_type.split(";")[0]): OpenApiTypes.BINARY for content_type in CONTENT_TYPES.values()
    }
)
@api_view(["GET"])
@permission_classes([AllowAny])
def dataset_file(request, pk):
    dataset_file = (
        DatasetFile.objects.select_related("blob", "version__dataset__organization")
        .filter(version__dataset__in=selectors.datasets_visible_to(request.user))
        .filter(pk=pk)
        .first()
    )
    if dataset_file is None:
        raise Http404("No such file, or it is not visible to you.")
    _refuse_unless_usable(request.user, dataset_file.version.dataset)
    _record_download(request.user, dataset_file.path, dataset=dataset_file.version.dataset)
    return _stream(dataset_file.blob, dataset_file.path, CONTENT_TYPES.get(dataset_file.format, "text/plain"))


@public
@extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
@api_view(["GET"])
@permission_classes([AllowAny])
def model_file(request, pk):
    model_file = (
        ModelFile.objects.select_related("blob", "version__model__organization")
        .filter(version__model__in=selectors.models_visible_to(request.user))
        .filter(pk=pk)
        .first()
    )
    if model_file is None:
        raise Http404("No such file, or it is not visible to you.")
    _refuse_unless_usable(request.user, model_file.version.model)
    _record_download(request.user, model_file.path, model=model_file.version.model)
    return _stream(model_file.blob, model_file.path, "application/octet-stream")
