"""Who calls the Hugging Face endpoints: ``Authorization: Bearer <Agora access token>`` (as ``HF_TOKEN`` sends
it), the browser session, or nobody. A bad token is refused outright rather than read as anonymous, so that a
client learns its token is wrong instead of seeing a private repository vanish. A client address that has
failed too many token authentications is answered 429 before any lookup.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from hub import ratelimit
from hub.hf.errors import HubError, invalid_credentials
from hub.models import AccessToken
from hub.permissions import Viewer
from hub.services.tokens import TokenError, authenticate_token

AUTHORIZATION_SCHEMES = ("bearer", "token")


@dataclass(frozen=True)
class Caller:
    user: Viewer
    token: AccessToken | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.user.is_authenticated

    @property
    def may_write(self) -> bool:
        """Writes need a session or a token with the write scope (a read token only reads)."""
        return self.user.is_authenticated and (
            self.token is None or self.token.scope == AccessToken.Scope.WRITE
        )


def authenticate(request: HttpRequest) -> Caller:
    """The caller of a request; raises HubError: 401 for a malformed, unknown, expired or revoked token,
    429 while the client address has failed too many token authentications."""
    header = request.META.get("HTTP_AUTHORIZATION", "").strip()
    if not header:
        return Caller(user=getattr(request, "user", None) or AnonymousUser())
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() not in AUTHORIZATION_SCHEMES:
        raise invalid_credentials(
            "The Authorization header must be 'Bearer <token>' with an Agora access token."
        )
    try:
        ratelimit.check_token_failures(request)
    except ratelimit.TooManyFailedTokens as error:
        raise HubError(
            429, "TooManyRequests", str(error), headers={"Retry-After": str(error.retry_after)}
        ) from None
    try:
        token = authenticate_token(parts[1])
    except TokenError as error:
        ratelimit.record_token_failure(request)
        raise invalid_credentials(str(error)) from None
    # The permission layer narrows everything to the token's organization when it has one.
    token.user.token_organization_id = token.organization_id
    return Caller(user=token.user, token=token)
