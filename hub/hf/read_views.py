"""The read side of the Hugging Face Hub protocol: repository information, file listings and file downloads,
for models and datasets, through the hub's permission layer.

Every error answers with ``X-Error-Code`` and ``X-Error-Message`` (hub.hf.errors), which is what the clients
read to raise RepositoryNotFoundError, GatedRepoError, RevisionNotFoundError or EntryNotFoundError.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import wraps

from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    JsonResponse,
    StreamingHttpResponse,
)
from django.utils.cache import patch_vary_headers
from django.utils.http import content_disposition_header
from django.views.decorators.common import no_append_slash
from django.views.decorators.csrf import csrf_exempt

from hub import permissions
from hub.access import hf_caller, public
from hub.hf import read_repos
from hub.hf.auth import Caller, authenticate
from hub.hf.errors import (
    HubError,
    bad_request,
    entry_not_found,
    error_response,
    gated_repository,
    range_not_satisfiable,
    repository_not_found,
    revision_not_found,
)
from hub.hf.read_repos import RepoFile, Snapshot
from hub.hf.revisions import (
    MAIN,
    RevisionNotFound,
    commit_ids,
    latest_published_version,
    resolve_dataset_revision,
    resolve_model_revision,
    served_versions,
)
from hub.models import Dataset, RegisteredModel
from hub.paths import validate_file_name
from hub.services import blobs

logger = logging.getLogger(__name__)
REPOSITORY_CLASSES = {"model": RegisteredModel, "dataset": Dataset}
TRUE_VALUES = {"1", "true", "yes", "on"}


def hub_endpoint(*methods: str) -> Callable:
    """Answer a Hugging Face client: only these methods (HEAD with GET), every failure as a coded error."""

    allowed = (*methods, "HEAD") if "GET" in methods and "HEAD" not in methods else methods

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            try:
                if request.method not in allowed:
                    raise HubError(
                        405,
                        "MethodNotAllowed",
                        f"{request.method} is not allowed here; use {', '.join(allowed)}.",
                        headers={"Allow": ", ".join(allowed)},
                    )
                response = view(request, *args, **kwargs)
            except HubError as error:
                response = error_response(error, request)
            except Exception:
                logger.exception("Hugging Face endpoint %s failed", request.path)
                response = error_response(
                    HubError(
                        500, "InternalError", "The hub failed to answer this request; it has been logged."
                    ),
                    request,
                )
            patch_vary_headers(response, ["Authorization"])
            return response

        return no_append_slash(csrf_exempt(wrapper))

    return decorate


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in TRUE_VALUES


# Finding the repository and its revision --------------------------------------------------------------


def _find_repository(caller: Caller, repo_type: str, org: str, name: str) -> RegisteredModel | Dataset:
    model_class = REPOSITORY_CLASSES[repo_type]
    repository = (
        model_class.objects.filter(permissions.artifact_visible_q(caller.user, model_class))
        .select_related("organization")
        .filter(organization__slug=org, slug=name)
        .first()
    )
    if repository is None:
        raise repository_not_found(
            f"{org}/{name}", authenticated=caller.is_authenticated, repo_type=repo_type
        )
    return repository


def _snapshot(repository: RegisteredModel | Dataset, revision: str) -> Snapshot:
    try:
        if isinstance(repository, RegisteredModel):
            return read_repos.model_snapshot(resolve_model_revision(repository, revision))
        return read_repos.dataset_snapshot(resolve_dataset_revision(repository, revision))
    except RevisionNotFound:
        raise revision_not_found(revision, repository.full_name) from None


def _refuse_if_gated(caller: Caller, repository: RegisteredModel | Dataset) -> None:
    """Seeing a gated repository is not using it: its files need access granted to the caller's orgs."""
    reason = permissions.use_refusal(caller.user, repository)
    if reason:
        raise gated_repository(repository.full_name, reason, authenticated=caller.is_authenticated)


# Repository information and listings ------------------------------------------------------------------


@hf_caller
@hub_endpoint("GET")
def repository_info(request: HttpRequest, repo_type: str, org: str, name: str, revision: str | None = None):
    """GET /api/{models,datasets}/{org}/{name}[/revision/{revision}]: what model_info / dataset_info read."""
    caller = authenticate(request)
    repository = _find_repository(caller, repo_type, org, name)
    try:
        snapshot = _snapshot(repository, revision or MAIN)
    except HubError:
        if revision is not None:
            raise
        snapshot = None  # nothing published yet: the repository exists, without a commit
    with_blobs = _is_true(request.GET.get("blobs"))
    if repo_type == "model":
        info = read_repos.model_info(repository, snapshot, with_blobs=with_blobs)
    else:
        info = read_repos.dataset_info(repository, snapshot, with_blobs=with_blobs)
    expand = request.GET.getlist("expand") + request.GET.getlist("expand[]")
    if expand:
        # Like the Hub: only the properties asked for, besides the identity.
        info = {key: value for key, value in info.items() if key in {"_id", "id", *expand}}
    return JsonResponse(info)


@hf_caller
@hub_endpoint("GET")
def repository_tree(request: HttpRequest, repo_type: str, org: str, name: str, revision: str, path: str = ""):
    """GET /api/{models,datasets}/{org}/{name}/tree/{revision}[/{path}]?recursive=&expand="""
    if path:
        _check_path(path)
    caller = authenticate(request)
    snapshot = _snapshot(_find_repository(caller, repo_type, org, name), revision)
    try:
        entries = read_repos.tree_entries(
            snapshot,
            path or "",
            recursive=_is_true(request.GET.get("recursive")),
            expand=_is_true(request.GET.get("expand")),
        )
    except KeyError:
        raise entry_not_found(path, revision, snapshot.commit) from None
    return JsonResponse(entries, safe=False)


@hf_caller
@hub_endpoint("POST")
def repository_paths_info(request: HttpRequest, repo_type: str, org: str, name: str, revision: str):
    """POST /api/{models,datasets}/{org}/{name}/paths-info/{revision} (form fields: paths, expand)."""
    caller = authenticate(request)
    snapshot = _snapshot(_find_repository(caller, repo_type, org, name), revision)
    entries = read_repos.paths_info(
        snapshot, request.POST.getlist("paths"), expand=_is_true(request.POST.get("expand"))
    )
    return JsonResponse(entries, safe=False)


def _ref(name: str, kind: str, commit: str) -> dict:
    return {"name": name, "ref": f"refs/{kind}/{name}", "targetCommit": commit}


@hf_caller
@hub_endpoint("GET")
def repository_refs(request: HttpRequest, repo_type: str, org: str, name: str):
    """GET /api/{models,datasets}/{org}/{name}/refs: main and aliases as branches, versions as tags."""
    caller = authenticate(request)
    repository = _find_repository(caller, repo_type, org, name)
    if isinstance(repository, RegisteredModel):
        versions = list(served_versions(repository).order_by("number"))
        aliases = [(alias.name, alias.version) for alias in repository.aliases.select_related("version")]
        latest = latest_published_version(repository)
    else:
        versions = list(repository.versions.order_by("number"))
        aliases = []
        latest = versions[-1] if versions else None
    commits = commit_ids(versions)
    branches = [_ref(MAIN, "heads", commits[latest.pk])] if latest is not None else []
    branches += [_ref(alias, "heads", commits[v.pk]) for alias, v in aliases if v.pk in commits]
    tags = [_ref(f"v{version.number}", "tags", commits[version.pk]) for version in versions]
    refs = {"branches": branches, "converts": [], "tags": tags}
    if _is_true(request.GET.get("include_prs")):
        refs["pullRequests"] = []
    return JsonResponse(refs)


@hf_caller
@hub_endpoint("GET")
def repository_commits(request: HttpRequest, repo_type: str, org: str, name: str, revision: str):
    """GET /api/{models,datasets}/{org}/{name}/commits/{revision}: versions up to this one, newest first."""
    caller = authenticate(request)
    repository = _find_repository(caller, repo_type, org, name)
    head = _snapshot(repository, revision)
    if isinstance(repository, RegisteredModel):
        earlier = served_versions(repository).filter(number__lte=head.version.number)
    else:
        earlier = repository.versions.filter(number__lte=head.version.number)
    versions = list(earlier.select_related("created_by").order_by("-number"))
    ids = commit_ids(versions)
    commits = []
    for version in versions:
        author = version.created_by.username if version.created_by else repository.organization.slug
        committed_at = getattr(version, "published_at", None) or version.created_at
        commits.append(
            {
                "id": ids[version.pk],
                "title": f"v{version.number}",
                "message": f"{repository.full_name} version {version.number}",
                "authors": [{"user": author}],
                "date": read_repos.iso(committed_at),
            }
        )
    return JsonResponse(commits, safe=False)


@public
@hub_endpoint("GET", "POST", "PUT", "PATCH", "DELETE")
def unknown_endpoint(request: HttpRequest, repo_type: str = "") -> HttpResponse:
    """Hub API routes Agora does not serve answer a coded 404, not a page."""
    if repo_type == "spaces":
        raise HubError(404, "RepoNotFound", "Agora hosts models and datasets, not Spaces.")
    raise HubError(404, "NotFound", f"Agora does not serve {request.path} of the Hugging Face Hub API.")


# Files ----------------------------------------------------------------------------------------------


def _check_path(path: str) -> None:
    """A path no stored file can have (``..``, encoded or look-alike separators) is a bad request."""
    try:
        validate_file_name(path.rstrip("/"), allow_folders=True)
    except ValueError as exc:
        raise bad_request(f"path: {exc}") from None


@hf_caller
@hub_endpoint("GET")
def resolve_file(request: HttpRequest, repo_type: str, org: str, name: str, revision: str, path: str):
    """GET and HEAD /[datasets/]{org}/{name}/resolve/{revision}/{path}: the file's bytes and its identity."""
    _check_path(path)
    caller = authenticate(request)
    repository = _find_repository(caller, repo_type, org, name)
    _refuse_if_gated(caller, repository)
    snapshot = _snapshot(repository, revision)
    repo_file = snapshot.files.get(path)
    if repo_file is None:
        raise entry_not_found(path, revision, snapshot.commit)
    return _serve(request, caller, snapshot, repo_file)


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str, size: int) -> ByteRange | None:
    """One ``bytes=`` range of the Range header; None to send the whole file (no range, several ranges, or a
    header that is not a valid range, which HTTP says to ignore). Raises HubError 416 when unsatisfiable."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first or last) or not all(part.isdigit() for part in (first, last) if part):
        return None
    if not first:  # a suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise range_not_satisfiable(size)
        return ByteRange(max(size - length, 0), size - 1)
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise range_not_satisfiable(size)
    return ByteRange(start, min(int(last), size - 1) if last else size - 1)


def _etag_matches(header: str, etag: str) -> bool:
    candidates = [value.strip().removeprefix("W/") for value in header.split(",")]
    return "*" in candidates or f'"{etag}"' in candidates


def _file_headers(snapshot: Snapshot, repo_file: RepoFile, etag: str) -> dict[str, str]:
    filename = repo_file.path.rsplit("/", 1)[-1]
    return {
        "X-Repo-Commit": snapshot.commit,
        "ETag": f'"{etag}"',
        "X-Linked-Etag": f'"{etag}"',
        "X-Linked-Size": str(repo_file.size),
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition_header(False, filename),
    }


def _serve(request: HttpRequest, caller: Caller, snapshot: Snapshot, repo_file: RepoFile) -> HttpResponse:
    try:
        etag = repo_file.etag
    except (blobs.BlobIntegrityError, OSError) as error:
        raise _storage_error(repo_file, error) from None
    headers = _file_headers(snapshot, repo_file, etag)
    if _etag_matches(request.headers.get("If-None-Match", ""), etag):
        return _with_headers(HttpResponseNotModified(), headers)
    byte_range = None
    range_header, if_range = request.headers.get("Range"), request.headers.get("If-Range")
    # If-Range: the range only applies to the same file; a client holding part of another gets it all.
    if range_header and (if_range is None or if_range.strip() == f'"{etag}"'):
        byte_range = parse_range(range_header, repo_file.size)
    content_type = mimetypes.guess_type(repo_file.path)[0] or "application/octet-stream"
    if byte_range is not None:
        headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{repo_file.size}"
    length = byte_range.length if byte_range is not None else repo_file.size
    status = 206 if byte_range is not None else 200

    if request.method == "HEAD":
        response = HttpResponse(status=status, content_type=content_type)
    else:
        if byte_range is None or byte_range.start == 0:
            _count_download(caller, snapshot, repo_file.path)
        verified = blobs.open_verified_file(repo_file.blob) if byte_range is None else None
        if verified is not None:
            # Verified before and unchanged since: sent as it is (sendfile), not hashed again.
            response = FileResponse(verified, status=status, content_type=content_type)
            response.block_size = blobs.CHUNK_SIZE
        else:
            chunks = _full_content(repo_file) if byte_range is None else _range_content(repo_file, byte_range)
            response = StreamingHttpResponse(chunks, status=status, content_type=content_type)
    response["Content-Length"] = str(length)
    return _with_headers(response, headers)


def _with_headers(response: HttpResponse, headers: dict[str, str]) -> HttpResponse:
    for header, value in headers.items():
        response[header] = value
    return response


def _count_download(caller: Caller, snapshot: Snapshot, path: str) -> None:
    # A model counts once per load (its config); a dataset's files are each a use of the data.
    if snapshot.repo_type == "dataset" or read_repos.is_query_file(path):
        read_repos.record_download(caller.user, snapshot.artifact, path)


def _storage_error(repo_file: RepoFile, error: Exception) -> HubError:
    logger.error("refused to serve %s (sha256 %s): %s", repo_file.path, repo_file.blob.sha256, error)
    return HubError(
        500,
        "StorageIntegrityError",
        f"{repo_file.path} failed its integrity check in storage and is not served; the operators are told.",
    )


def _full_content(repo_file: RepoFile) -> Iterator[bytes]:
    """The whole file, hash-verified as it streams (a corrupted file is cut short, never completed)."""
    chunks = blobs.iter_verified(repo_file.blob)
    try:
        # A file of one chunk is checked before any byte leaves, so its error can still be answered cleanly.
        first = next(chunks, b"")
    except (blobs.BlobIntegrityError, OSError) as error:
        raise _storage_error(repo_file, error) from None

    def stream() -> Iterator[bytes]:
        yield first
        yield from chunks

    return stream()


def _range_content(repo_file: RepoFile, byte_range: ByteRange) -> Iterator[bytes]:
    """Part of the file, read from storage without reading what comes before it."""
    try:
        handle = blobs.blob_storage().open(repo_file.blob.storage_key, "rb")
        handle.seek(byte_range.start)
    except OSError as error:
        raise _storage_error(repo_file, error) from None

    def stream() -> Iterator[bytes]:
        remaining = byte_range.length
        try:
            while remaining > 0:
                chunk = handle.read(min(blobs.CHUNK_SIZE, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk
        finally:
            handle.close()

    return stream()
