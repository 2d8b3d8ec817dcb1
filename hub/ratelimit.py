"""Rate limits: failed token authentications per client address, anonymous API calls per client address,
and the page answered while sign-in is locked out (django-axes counts the sign-in failures).

Counters live in Django's cache (CACHE_URL): local memory counts per process, Redis across processes and
hosts. Addresses are read as the audit log reads them (``hub.middleware.client_address``), so an
X-Forwarded-For header counts only behind a proxy the settings say to trust.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from axes.helpers import get_cool_off, get_failure_limit
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.throttling import AnonRateThrottle

from hub.middleware import client_address

UNKNOWN_CLIENT = "unknown"


@dataclass(frozen=True)
class FixedWindow:
    """At most ``limit`` events per ``seconds``-long window (aligned on the clock) for each identity."""

    scope: str
    limit: int
    seconds: int

    def _key(self, identity: str, window: int) -> str:
        # Hashed: any address fits every cache backend's key rules.
        digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
        return f"agora:ratelimit:{self.scope}:{window}:{digest}"

    def retry_after(self, identity: str) -> int | None:
        """Seconds until the current window ends if the identity has used up its limit, else None."""
        now = time.time()
        window = int(now // self.seconds)
        if cache.get(self._key(identity, window), 0) < self.limit:
            return None
        return max(1, math.ceil((window + 1) * self.seconds - now))

    def hit(self, identity: str) -> None:
        """Count one event in the current window."""
        key = self._key(identity, int(time.time() // self.seconds))
        # add() creates the counter only if absent; incr() is atomic in Redis and in the local-memory cache.
        cache.add(key, 0, timeout=self.seconds + 1)
        try:
            cache.incr(key)
        except ValueError:  # the counter expired between add() and incr()
            cache.set(key, 1, timeout=self.seconds + 1)


class TooManyFailedTokens(Exception):
    def __init__(self, retry_after: int):
        super().__init__(
            f"Too many failed token authentications from this address; try again in {retry_after} s."
        )
        self.retry_after = retry_after


def _token_failures() -> FixedWindow:
    return FixedWindow(
        "token-failures", settings.AGORA_TOKEN_FAILURE_LIMIT, settings.AGORA_TOKEN_FAILURE_WINDOW_SECONDS
    )


def check_token_failures(request: HttpRequest) -> None:
    """Raise TooManyFailedTokens when the client has failed too often; call before looking a token up."""
    retry_after = _token_failures().retry_after(client_address(request) or UNKNOWN_CLIENT)
    if retry_after is not None:
        raise TooManyFailedTokens(retry_after)


def record_token_failure(request: HttpRequest) -> None:
    _token_failures().hit(client_address(request) or UNKNOWN_CLIENT)


class AnonymousClientThrottle(AnonRateThrottle):
    """DRF's anonymous throttle, per client address as ``client_address`` reads it.

    DRF's own reading takes any X-Forwarded-For header at its word, so a client could pick a fresh
    identity per request and never be throttled.
    """

    def get_ident(self, request) -> str:
        return client_address(request) or UNKNOWN_CLIENT


def sign_in_lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """The answer to a sign-in while django-axes has locked the username out from this address."""
    cool_off = get_cool_off(request)
    context = {
        "failure_limit": get_failure_limit(request, credentials),
        "cool_off_minutes": math.ceil(cool_off.total_seconds() / 60) if cool_off else None,
    }
    response = render(request, "registration/locked_out.html", context, status=429)
    if cool_off:
        response["Retry-After"] = str(math.ceil(cool_off.total_seconds()))
    return response
