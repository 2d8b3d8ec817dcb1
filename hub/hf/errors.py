"""Errors as the Hugging Face Hub sends them: a status, ``X-Error-Code`` and ``X-Error-Message`` headers
and a JSON body ``{"error": message}``. huggingface_hub turns the codes into its exceptions
(RepositoryNotFoundError, GatedRepoError, RevisionNotFoundError, EntryNotFoundError), so the code decides
what the client raises.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse

# huggingface_hub recognises this exact message: a bad token, not a missing repository.
INVALID_CREDENTIALS_MESSAGE = "Invalid credentials in Authorization header"


class HubError(Exception):
    """An error answered to a Hugging Face client."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def repository_not_found(repo_id: str, *, authenticated: bool, repo_type: str = "model") -> HubError:
    # Like the Hub: the same answer whether the repository is missing or hidden from the caller,
    # 401 when no credentials were sent (signing in might help), 404 otherwise.
    return HubError(
        404 if authenticated else 401,
        "RepoNotFound",
        f"Repository not found: {repo_type} {repo_id} does not exist or is not visible to you.",
    )


def gated_repository(repo_id: str, reason: str, *, authenticated: bool) -> HubError:
    return HubError(
        403 if authenticated else 401,
        "GatedRepo",
        f"Access to {repo_id} is restricted: {reason}",
    )


def revision_not_found(revision: str, repo_id: str) -> HubError:
    return HubError(
        404,
        "RevisionNotFound",
        f"Invalid rev id: {revision} is not a published revision of {repo_id} "
        "(use main, v<number>, an alias or a commit id).",
    )


def entry_not_found(path: str, revision: str, commit: str) -> HubError:
    # The commit lets the client remember that the file is absent at this commit.
    return HubError(
        404,
        "EntryNotFound",
        f"Entry not found: {path} does not exist at revision {revision}.",
        headers={"X-Repo-Commit": commit},
    )


def invalid_credentials(detail: str) -> HubError:
    return HubError(401, "InvalidCredentials", detail, headers={"WWW-Authenticate": 'Bearer realm="agora"'})


def bad_request(message: str) -> HubError:
    return HubError(400, "BadRequest", message)


def range_not_satisfiable(size: int) -> HubError:
    return HubError(
        416,
        "RangeNotSatisfiable",
        f"The requested range is not satisfiable: the file has {size} bytes.",
        headers={"Content-Range": f"bytes */{size}"},
    )


def header_safe(text: str) -> str:
    """One line of printable ASCII: header values may carry nothing else."""
    flattened = " ".join(text.split())
    return "".join(char if 32 <= ord(char) < 127 else "?" for char in flattened)[:1000]


def error_response(error: HubError, request: HttpRequest | None = None) -> HttpResponse:
    body = b"" if request is not None and request.method == "HEAD" else json.dumps({"error": error.message})
    response = HttpResponse(body, status=error.status, content_type="application/json")
    # An authentication failure carries the message the client recognises; the detail stays in the body.
    message = INVALID_CREDENTIALS_MESSAGE if error.code == "InvalidCredentials" else error.message
    response["X-Error-Code"] = error.code
    response["X-Error-Message"] = header_safe(message)
    for name, value in error.headers.items():
        response[name] = value
    return response
