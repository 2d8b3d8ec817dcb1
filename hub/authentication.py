"""``Authorization: Bearer <token>`` with personal access tokens (``Token <token>`` is accepted too).

A client address that has failed too many token authentications is answered 429 before any lookup.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from hub import ratelimit
from hub.services.tokens import TokenError, authenticate_token


class AccessTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        try:
            ratelimit.check_token_failures(request)
        except ratelimit.TooManyFailedTokens as exc:
            raise exceptions.Throttled(wait=exc.retry_after, detail=str(exc)) from None
        try:
            token = authenticate_token(header[1].decode())
        except (TokenError, UnicodeDecodeError) as exc:
            ratelimit.record_token_failure(request)
            raise exceptions.AuthenticationFailed(str(exc)) from None
        # Carry the token's organization restriction to the permission layer (hub.permissions).
        token.user.token_organization_id = token.organization_id
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class AccessTokenScheme(OpenApiAuthenticationExtension):
    """Describes the Bearer scheme in the OpenAPI schema."""

    target_class = "hub.authentication.AccessTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A personal access token (agora_…)."}
