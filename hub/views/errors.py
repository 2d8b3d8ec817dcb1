"""The site's error page for uncaught exceptions: a full storage volume is a 507, not a 500."""

from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape
from django.views import defaults

from hub.middleware import request_channel
from hub.services.blobs import STORAGE_FULL_MESSAGE, is_storage_full

INSUFFICIENT_STORAGE = 507


def server_error(request: HttpRequest) -> HttpResponse:
    """Django calls this while it handles the exception, so ``sys.exc_info`` still holds it.

    A full disk can surface anywhere an upload is written, even while the CSRF check reads the
    request body, before any view runs; only this handler sees every one of them.
    """
    if not is_storage_full(sys.exc_info()[1]):
        return defaults.server_error(request)
    if request_channel(request.path_info) == "api":
        return JsonResponse({"detail": STORAGE_FULL_MESSAGE}, status=INSUFFICIENT_STORAGE)
    # Plain HTML: the site's templates read the database, which may be what is out of space.
    body = (
        "<!doctype html><title>Storage full</title><h1>Storage full</h1>"
        f"<p>{escape(STORAGE_FULL_MESSAGE)}</p>"
    )
    return HttpResponse(body, status=INSUFFICIENT_STORAGE)
