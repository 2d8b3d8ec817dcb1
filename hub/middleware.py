"""Request middleware: where a request's changes come from, for the audit log."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from hub import audit


def request_channel(path: str) -> str:
    """The audit channel of a request path (without the script prefix)."""
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/admin/"):
        return "admin"
    return "web"


def client_address(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or behind proxies the settings say to trust, the address the outermost of them saw.

    Each proxy appends the address it received the request from to X-Forwarded-For, so only the last
    AGORA_TRUSTED_PROXY_COUNT entries were written by trusted hands: the entry that many places from the
    right is the client. Anything to its left is the client's own to forge, and is never read.
    """
    if settings.AGORA_TRUST_X_FORWARDED_FOR:
        forwarded = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [entry for entry in forwarded if entry]
        if len(forwarded) >= settings.AGORA_TRUSTED_PROXY_COUNT:
            return forwarded[-settings.AGORA_TRUSTED_PROXY_COUNT]
    return request.META.get("REMOTE_ADDR") or None


class AuditOriginMiddleware:
    """Attribute the changes a request makes to its channel (api, admin or web), address and user agent."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        channel = request_channel(request.path_info)
        user_agent = request.META.get("HTTP_USER_AGENT", "")
        with audit.origin(channel, client_address(request), user_agent):
            return self.get_response(request)
