"""The write side of the Hugging Face Hub protocol, as huggingface_hub's create_repo, upload_folder and
``hf upload`` use it: repository creation, card validation, preupload, commits and Git LFS uploads.

Writes need an Agora access token with the write scope (Bearer); a browser session does not count, since
these endpoints take no CSRF token. Every failure answers with ``X-Error-Code`` and ``X-Error-Message``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.models import User
from django.core import signing
from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from hub import permissions
from hub.access import hf_caller, hf_write_token, public, signed_upload_url
from hub.hf import lfs
from hub.hf.auth import authenticate
from hub.hf.errors import (
    HubError,
    bad_request,
    error_response,
    header_safe,
    invalid_credentials,
    repository_not_found,
)
from hub.hf.read_views import hub_endpoint
from hub.hf.revisions import MAIN, commit_id
from hub.models import AccessToken, RegisteredModel
from hub.paths import validate_file_name
from hub.services import blobs, hf_uploads

XET_REFUSAL = (
    "Agora stores files through Git LFS, not Xet: set HF_HUB_DISABLE_XET=1 in the environment of the "
    "uploading client."
)


def write_endpoint(*methods: str) -> Callable:
    """hub_endpoint, with the registry's refusals (ValidationError, PermissionDenied) as coded errors."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def translated(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except ValidationError as error:
                raise bad_request(_messages(error)) from None
            except PermissionDenied as error:
                # huggingface_hub ends the message with its own full stop.
                raise HubError(403, "Forbidden", str(error).rstrip(".") or "You may not do this") from None
            except RequestDataTooBig:
                raise HubError(413, "PayloadTooLarge", "The request body is too large.") from None

        return hub_endpoint(*methods)(translated)

    return decorate


def _messages(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(message for messages in error.message_dict.values() for message in messages)
    return "; ".join(error.messages)


def _writer(request: HttpRequest) -> tuple[User, AccessToken]:
    caller = authenticate(request)
    if caller.token is None:
        raise invalid_credentials(
            "Uploading needs an Agora access token with the write scope: set HF_TOKEN or pass token=."
        )
    if caller.token.scope != AccessToken.Scope.WRITE:
        raise HubError(
            403, "Forbidden", "This access token has the read scope; uploading needs the write scope"
        )
    return caller.token.user, caller.token


def _json_body(request: HttpRequest) -> dict:
    try:
        payload = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise bad_request("The request body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise bad_request("The request body must be a JSON object.")
    return payload


def _writable_model(user: User, org: str, name: str) -> RegisteredModel:
    model = (
        RegisteredModel.objects.filter(permissions.artifact_visible_q(user, RegisteredModel))
        .select_related("organization")
        .filter(organization__slug=org, slug=name)
        .first()
    )
    if model is None:
        raise repository_not_found(f"{org}/{name}", authenticated=True)
    if not permissions.can_write(user, model.organization):
        raise HubError(403, "Forbidden", f"You may not upload to {model.full_name}")
    return model


def _commits_to_main(request: HttpRequest, revision: str) -> None:
    if request.GET.get("create_pr", "").lower() in ("1", "true"):
        raise bad_request(
            "Agora has no pull requests: a commit becomes a draft version, published after review on Agora."
        )
    if revision not in (MAIN, f"refs/heads/{MAIN}"):
        raise bad_request(
            f"Commits go to {MAIN}, where each becomes the model's next version; {revision!r} cannot be "
            "committed to (versions and aliases are managed on Agora)."
        )


def _repo_url(request: HttpRequest, model: RegisteredModel) -> str:
    return request.build_absolute_uri(f"/{model.organization.slug}/{model.slug}")


def _error_with(error: HubError, **extra: Any) -> HttpResponse:
    response = error_response(error)
    response.content = json.dumps({"error": error.message, **extra})
    return response


# Repositories and cards --------------------------------------------------------------------------------


@hf_write_token
@write_endpoint("POST")
def create_repository(request: HttpRequest) -> HttpResponse:
    """POST /api/repos/create: what create_repo sends. 409 with the repository's url when it exists."""
    user, _ = _writer(request)
    payload = _json_body(request)
    repo_type = payload.get("type") or "model"
    if repo_type != "model":
        raise bad_request(
            f"Agora creates model repositories here, not {repo_type} ones: datasets are registered on Agora "
            "with their schema."
        )
    name, organization = payload.get("name"), payload.get("organization")
    if isinstance(name, str) and "/" in name and not organization:
        organization, name = name.split("/", 1)
    if not isinstance(name, str) or not (organization is None or isinstance(organization, str)):
        raise bad_request("name (and organization) must be strings.")
    private = payload.get("visibility") == "private" or payload.get("private") is True
    try:
        model = hf_uploads.create_repository(
            user=user, organization_slug=organization, name=name, private=private
        )
    except hf_uploads.RepositoryExists as exists:
        return _error_with(
            HubError(409, "RepoExists", "You already created this model repo"),
            url=_repo_url(request, exists.model),
        )
    return JsonResponse({"url": _repo_url(request, model), "name": model.full_name, "id": str(model.pk)})


@public
@write_endpoint("POST")
def validate_yaml(request: HttpRequest) -> HttpResponse:
    """POST /api/validate-yaml: check a README.md's metadata as a commit will (licence, model-index)."""
    authenticate(request)  # a bad token is refused; none is needed
    payload = _json_body(request)
    content = payload.get("content")
    if not isinstance(content, str):
        raise bad_request("content must be the text of README.md.")
    check = hf_uploads.check_card(content)
    warnings = [{"message": warning} for warning in check.warnings]
    status = 400 if check.errors else 200
    if "text/plain" in request.headers.get("Accept", ""):
        response = HttpResponse("\n".join(check.errors), status=status, content_type="text/plain")
    else:
        errors = [{"message": error} for error in check.errors]
        response = JsonResponse({"errors": errors, "warnings": warnings}, status=status)
    if check.errors:
        response["X-Error-Code"] = "InvalidMetadata"
        response["X-Error-Message"] = header_safe("; ".join(check.errors))
    return response


# Preupload and commit ----------------------------------------------------------------------------------


@hf_write_token
@write_endpoint("POST")
def preupload(request: HttpRequest, org: str, name: str, revision: str) -> HttpResponse:
    """POST /api/models/{org}/{name}/preupload/{revision}: which files go through LFS."""
    user, _ = _writer(request)
    _writable_model(user, org, name)  # refuses before anything else is read
    _commits_to_main(request, revision)
    files = _json_body(request).get("files")
    if not isinstance(files, list):
        raise bad_request("files must be a list of {path, sample, size}.")
    answers = []
    for entry in files:
        path = entry.get("path") if isinstance(entry, dict) else None
        size = entry.get("size") if isinstance(entry, dict) else None
        if not isinstance(path, str) or not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise bad_request("each file needs a path (a string) and a size (a non-negative integer).")
        try:
            validate_file_name(path, allow_folders=True)
        except ValueError as exc:
            raise bad_request(f"path {path!r}: {exc}") from None
        try:
            sample = lfs.decode_sample(entry.get("sample", ""))
        except ValueError as exc:
            raise bad_request(f"{path}: {exc}") from None
        answers.append(
            {"path": path, "uploadMode": lfs.upload_mode(path, size, sample), "shouldIgnore": False}
        )
    hf_uploads.refuse_pickles(answer["path"] for answer in answers)
    return JsonResponse({"files": answers})


@hf_write_token
@write_endpoint("POST")
def commit(request: HttpRequest, org: str, name: str, revision: str) -> HttpResponse:
    """POST /api/models/{org}/{name}/commit/{revision}: an NDJSON commit, which becomes the next version."""
    user, _ = _writer(request)
    model = _writable_model(user, org, name)
    _commits_to_main(request, revision)
    try:
        result = hf_uploads.commit(
            user=user, model=model, lines=hf_uploads.read_lines(request), commit_id=commit_id
        )
    except hf_uploads.StaleParent as stale:
        raise HubError(412, "PreconditionFailed", str(stale)) from None
    oid = commit_id(result.version)
    return JsonResponse(
        {
            "success": True,
            "commitOid": oid,
            "commitUrl": f"{_repo_url(request, model)}/commit/{oid}",
            "hookOutput": "",
            "pullRequestUrl": None,
        }
    )


@public
@write_endpoint("GET", "POST")
def xet_write_token(request: HttpRequest, org: str, name: str, revision: str = MAIN) -> HttpResponse:
    """Xet is not spoken here; say so in words the uploading user can act on."""
    raise HubError(501, "XetNotSupported", XET_REFUSAL)


@public
@write_endpoint("GET", "POST")
def unsupported_repo_type(request: HttpRequest, repo_type: str, **kwargs: str) -> HttpResponse:
    raise bad_request(
        f"Agora accepts uploads of models through this API, not of {repo_type}: datasets are registered "
        "on Agora with their schema."
    )


@hf_caller
@write_endpoint("GET", "HEAD")
def commit_page(request: HttpRequest, org: str, name: str, oid: str) -> HttpResponse:
    """/{org}/{name}/commit/{oid}, the commitUrl of a commit: the version's page."""
    user = authenticate(request).user
    model = (
        RegisteredModel.objects.filter(permissions.artifact_visible_q(user, RegisteredModel))
        .filter(organization__slug=org, slug=name)
        .first()
    )
    version = next((v for v in model.versions.all() if commit_id(v) == oid), None) if model else None
    if version is None:
        raise repository_not_found(f"{org}/{name}", authenticated=user.is_authenticated)
    return redirect(version.get_absolute_url())


# Git LFS -----------------------------------------------------------------------------------------------


@hf_write_token
@write_endpoint("POST")
def lfs_batch(request: HttpRequest, org: str, name: str) -> HttpResponse:
    """POST /{org}/{name}.git/info/lfs/objects/batch: the Git LFS batch API, for uploads."""
    user, token = _writer(request)
    model = _writable_model(user, org, name)
    payload = _json_body(request)
    if payload.get("operation") != "upload":
        raise HubError(
            422, "UnsupportedOperation", "Only uploads go through LFS here; download from /resolve/."
        )
    transfers = payload.get("transfers") or ["basic"]
    if not isinstance(transfers, list) or "basic" not in transfers:
        raise HubError(422, "UnsupportedTransfer", "Only the basic transfer is supported.")
    if payload.get("hash_algo", "sha256") != "sha256":
        raise HubError(422, "UnsupportedHashAlgorithm", "Objects are addressed by their SHA-256.")
    objects = payload.get("objects")
    if not isinstance(objects, list) or len(objects) > lfs.MAX_BATCH_OBJECTS:
        raise bad_request(f"objects must be a list of at most {lfs.MAX_BATCH_OBJECTS} {{oid, size}}.")

    def hrefs(oid: str, signature: str) -> tuple[str, str]:
        kwargs = {"org": model.organization.slug, "name": model.slug, "oid": oid}
        query = f"?signature={signature}"
        return (
            request.build_absolute_uri(reverse("hf-lfs-upload", kwargs=kwargs) + query),
            request.build_absolute_uri(reverse("hf-lfs-verify", kwargs=kwargs) + query),
        )

    answer = lfs.batch_answer(objects, model=model, token=token, hrefs=hrefs)
    return JsonResponse(answer, content_type=lfs.LFS_MEDIA_TYPE)


def _granted(request: HttpRequest, org: str, name: str, oid: str) -> tuple[lfs.UploadGrant, RegisteredModel]:
    refused = HubError(
        403,
        "InvalidUploadUrl",
        "This upload URL is invalid or has expired: ask the LFS batch API for a new one.",
    )
    try:
        grant = lfs.read_grant(request.GET.get("signature", ""))
    except signing.BadSignature:
        raise refused from None
    model = RegisteredModel.objects.select_related("organization").filter(pk=grant.model_id).first()
    if grant.oid != oid or model is None or (model.organization.slug, model.slug) != (org, name):
        raise refused
    return grant, model


@signed_upload_url
@write_endpoint("PUT")
def lfs_upload(request: HttpRequest, org: str, name: str, oid: str) -> HttpResponse:
    """PUT to a signed upload URL: the object's bytes, streamed to the blob storage while hashed."""
    grant, model = _granted(request, org, name, oid)
    user = lfs.grant_user(grant)
    length = request.META.get("CONTENT_LENGTH") or ""
    if not length.isdigit():
        raise HubError(411, "LengthRequired", "Send the object with a Content-Length header.")
    if int(length) != grant.size:
        raise bad_request(f"The body has {length} bytes; the object announced has {grant.size}.")
    chunks = iter(lambda: request.read(blobs.CHUNK_SIZE), b"")
    try:
        hf_uploads.receive_object(user=user, model=model, oid=oid, size=grant.size, chunks=chunks)
    except hf_uploads.ObjectMismatch as mismatch:
        raise bad_request(f"The upload does not match its object: {mismatch}.") from None
    return HttpResponse(status=200)


@signed_upload_url
@write_endpoint("POST")
def lfs_verify(request: HttpRequest, org: str, name: str, oid: str) -> HttpResponse:
    """POST to a signed verify URL: whether the object arrived whole."""
    grant, model = _granted(request, org, name, oid)
    payload = _json_body(request)
    if payload.get("oid", oid) != oid or payload.get("size", grant.size) != grant.size:
        raise HubError(422, "ObjectMismatch", "The object to verify is not the one this URL is for.")
    if not hf_uploads.object_uploaded(model, oid):
        raise HubError(404, "ObjectNotFound", f"The object {oid} has not been uploaded to {model.full_name}.")
    return JsonResponse({"oid": oid, "size": grant.size}, content_type=lfs.LFS_MEDIA_TYPE)
