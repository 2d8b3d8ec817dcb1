"""API errors: a service's Django ValidationError becomes a 400 that names each field."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from hub.access import public
from hub.services.blobs import STORAGE_FULL_MESSAGE, is_storage_full

NUL_MESSAGE = "Text may not contain NUL (0x00) characters."


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, exceptions.ValidationError) and not isinstance(exc.detail, dict):
        # A refusal of the request as a whole (a NUL in ?search=) keeps the shape of every other 400.
        exc = exceptions.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: exc.detail})
    elif is_storage_full(exc):  # the client may retry later: 507 Insufficient Storage, not a 500
        return Response({"detail": STORAGE_FULL_MESSAGE}, status=507)
    elif isinstance(exc, DataError) and "NUL (0x00)" in str(exc):
        # PostgreSQL refuses NUL in text, even in a lookup (a slug given as "a\x00"); nothing was
        # written: the request is refused as a whole, like any other NUL the fields catch themselves.
        exc = exceptions.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [NUL_MESSAGE]})
    return drf_exception_handler(exc, context)


@public
@csrf_exempt
def api_not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    """An address under /api/v1/ that matches no endpoint: a JSON 404 like the API's own, not the site's
    HTML page."""
    return JsonResponse({"detail": "Not found."}, status=404)
