"""Personal access tokens: generated here, shown once, stored as a SHA-256 digest."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from hub import audit
from hub.models import AccessToken, Organization
from hub.permissions import can_view_organization

TOKEN_PREFIX = "agora_"  # noqa: S105 (a public marker, not a secret)
# last_used_at is written at most this often per token, so reads do not each cost a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(Exception):
    pass


@dataclass(frozen=True)
class IssuedToken:
    token: AccessToken
    secret: str  # the only time the plain token exists: show it, then forget it


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(
    *,
    user: User,
    name: str,
    scope: str = AccessToken.Scope.READ,
    organization: Organization | None = None,
    expires_at: datetime | None = None,
) -> IssuedToken:
    if organization is not None and not can_view_organization(user, organization):
        raise ValidationError({"organization": f"you are not a member of {organization.slug}"})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "the expiry must be in the future"})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = AccessToken.objects.create(
            user=user,
            name=name,
            prefix=secret[: len(TOKEN_PREFIX) + 6],
            digest=_digest(secret),
            scope=scope,
            organization=organization,
            expires_at=expires_at,
        )
        # The prefix is what lists show; the secret and its digest never reach the log.
        audit.record(
            "token.issue", actor=user, organization=organization, target=token,
            after={"name": name, "prefix": token.prefix, "scope": scope, "expires_at": expires_at},
        )  # fmt: skip
    return IssuedToken(token=token, secret=secret)


def authenticate_token(secret: str) -> AccessToken:
    token = AccessToken.objects.select_related("user").filter(digest=_digest(secret)).first()
    if token is None:
        raise TokenError("Invalid token.")
    now = timezone.now()
    if token.revoked_at is not None:
        raise TokenError("This token has been revoked.")
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenError("This token has expired.")
    if not token.user.is_active:
        raise TokenError("The token's user is inactive.")
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def revoke_token(token: AccessToken) -> None:
    if token.revoked_at is None:
        with transaction.atomic():
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit.record(
                "token.revoke", actor=token.user, organization=token.organization, target=token,
                before={"revoked_at": None}, after={"revoked_at": token.revoked_at},
            )  # fmt: skip
