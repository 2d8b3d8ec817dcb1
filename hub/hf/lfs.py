"""Git LFS for uploads: the batch API (basic transfer) and the signed, expiring upload URLs it hands out,
which point at Agora itself.

huggingface_hub sends an object's bytes to the ``upload`` URL without its token, as it would to S3, so the
URL carries the authorization: a TimestampSigner signature over the model, the object's oid and size, and
the access token that asked for it (still checked, with its user's rights, when the bytes arrive).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from hub.hf.read_repos import LFS_SUFFIXES, LFS_THRESHOLD
from hub.models import AccessToken, Blob, RegisteredModel
from hub.services.hf_uploads import object_uploaded

SIGNING_SALT = "hub.hf.lfs.upload"
UPLOAD_URL_MAX_AGE = 3600  # seconds: an upload must start within the hour after the batch answer
OID = re.compile(r"^[0-9a-f]{64}$")
MAX_BATCH_OBJECTS = 1000
LFS_MEDIA_TYPE = "application/vnd.git-lfs+json"


@dataclass(frozen=True)
class UploadGrant:
    """What a signed upload URL allows: these bytes, to this model, on behalf of this token."""

    model_id: int
    oid: str
    size: int
    token_id: int


def sign_grant(grant: UploadGrant) -> str:
    return signing.TimestampSigner(salt=SIGNING_SALT).sign_object(asdict(grant))


def read_grant(signature: str) -> UploadGrant:
    """The grant a signature carries; raises signing.BadSignature when forged or expired."""
    value = signing.TimestampSigner(salt=SIGNING_SALT).unsign_object(signature, max_age=UPLOAD_URL_MAX_AGE)
    try:
        return UploadGrant(**value)
    except TypeError:
        raise signing.BadSignature("unexpected grant") from None


def grant_user(grant: UploadGrant) -> User:
    """The user an upload acts for, with the token's organization restriction; refuses a token revoked,
    expired or stripped of the write scope since the URL was signed."""
    token = AccessToken.objects.select_related("user").filter(pk=grant.token_id).first()
    if (
        token is None
        or token.revoked_at is not None
        or (token.expires_at is not None and token.expires_at <= timezone.now())
        or token.scope != AccessToken.Scope.WRITE
        or not token.user.is_active
    ):
        raise PermissionDenied("The access token that asked for this upload URL is no longer valid.")
    token.user.token_organization_id = token.organization_id
    return token.user


def upload_mode(path: str, size: int, sample: bytes) -> str:
    """``lfs`` for weights, binaries and files of 10 MiB or more (as the hub serves them); ``regular``,
    sent inside the commit, for small text files."""
    if size >= LFS_THRESHOLD or PurePosixPath(path).suffix.lower() in LFS_SUFFIXES:
        return "lfs"
    return "lfs" if _looks_binary(sample) else "regular"


def _looks_binary(sample: bytes) -> bool:
    if b"\0" in sample:
        return True
    # The sample is cut at 512 bytes, possibly inside a multi-byte character.
    for cut in range(4):
        try:
            sample[: len(sample) - cut].decode("utf-8")
            return False
        except UnicodeDecodeError:
            continue
    return True


def decode_sample(value: Any) -> bytes:
    """The base64 sample (the first 512 bytes) of a file announced to preupload; raises ValueError."""
    if not isinstance(value, str) or len(value) > 4096:
        raise ValueError("sample must be the base64 of the file's first 512 bytes")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("sample is not valid base64") from None


def _object_error(oid: Any, size: Any, code: int, message: str) -> dict:
    return {
        "oid": oid if isinstance(oid, str) else str(oid),
        "size": size if isinstance(size, int) and not isinstance(size, bool) else 0,
        "error": {"code": code, "message": message},
    }


def batch_answer(
    objects: list,
    *,
    model: RegisteredModel,
    token: AccessToken,
    hrefs: Callable[[str, str], tuple[str, str]],
) -> dict:
    """The batch API's answer to an upload request. Objects the model may use already need no action;
    the others get an upload and a verify URL. ``hrefs(oid, signature)`` builds those two URLs."""
    answers = []
    limit = settings.AGORA_ARCHIVE_MAX_BYTES
    for entry in objects:
        oid = entry.get("oid") if isinstance(entry, dict) else None
        size = entry.get("size") if isinstance(entry, dict) else None
        if not isinstance(oid, str) or not OID.match(oid):
            answers.append(
                _object_error(oid, size, 422, "oid must be the SHA-256 of the content (64 hex digits)")
            )
        elif not isinstance(size, int) or isinstance(size, bool) or size < 0:
            answers.append(_object_error(oid, size, 422, "size must be a non-negative integer"))
        elif size > limit:
            answers.append(
                _object_error(oid, size, 422, f"the object has {size} bytes, more than the {limit} allowed")
            )
        elif object_uploaded(model, oid):
            stored_size = Blob.objects.filter(sha256=oid).values_list("size", flat=True).first()
            if stored_size != size:
                answers.append(
                    _object_error(oid, size, 422, f"the object {oid} has {stored_size} bytes, not {size}")
                )
            else:
                answers.append({"oid": oid, "size": size, "authenticated": True})
        else:
            signature = sign_grant(UploadGrant(model_id=model.pk, oid=oid, size=size, token_id=token.pk))
            upload_href, verify_href = hrefs(oid, signature)
            answers.append(
                {
                    "oid": oid,
                    "size": size,
                    "authenticated": True,
                    "actions": {
                        "upload": {"href": upload_href, "expires_in": UPLOAD_URL_MAX_AGE},
                        "verify": {"href": verify_href, "expires_in": UPLOAD_URL_MAX_AGE},
                    },
                }
            )
    return {"transfer": "basic", "objects": answers, "hash_algo": "sha256"}
