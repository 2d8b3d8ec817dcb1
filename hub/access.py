"""Who may reach a view, declared on the view itself so that no route is left to a default.

Every function view carries one of these decorators; ``tests/security/test_route_coverage.py`` walks the
root URLconf and fails on any route without a decision. REST API views decide with ``permission_classes``
declared on the view class, and admin views with ``AdminSite.admin_view``.

Reaching a view is not seeing everything behind it: what a view shows is always read through
``hub.selectors``, and hidden artifacts answer 404.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from django.contrib.auth.decorators import login_required

View = TypeVar("View", bound=Callable)

# The attribute a decision is recorded under; functools.wraps copies it onto any outer decorator.
DECISION_ATTRIBUTE = "access_decision"


class Decision(StrEnum):
    PUBLIC = "public"  # anyone, anonymous included; what is shown is filtered by hub.selectors
    SIGNED_IN = "signed_in"  # a signed-in user (login_required); the view still checks roles
    HF_CALLER = "hf_caller"  # a Hugging Face client: a Bearer token, the session or nobody, filtered
    # A Hugging Face client with an access token of the write scope.
    HF_WRITE_TOKEN = "hf_write_token"  # noqa: S105 (the name of a decision, not a secret)
    SIGNED_UPLOAD_URL = "signed_upload_url"  # the holder of a signed, expiring URL from the LFS batch API


def decision_of(view: Callable) -> Decision | None:
    value = getattr(view, DECISION_ATTRIBUTE, None)
    return Decision(value) if value is not None else None


def _decide(view: View, decision: Decision) -> View:
    setattr(view, DECISION_ATTRIBUTE, decision)
    return view


def public(view: View) -> View:
    """Anyone may call the view: it shows only what ``hub.selectors`` lets the viewer see."""
    return _decide(view, Decision.PUBLIC)


def signed_in(view: View) -> View:
    """``login_required``: an anonymous visitor is sent to the sign-in page."""
    return _decide(login_required(view), Decision.SIGNED_IN)


def hf_caller(view: View) -> View:
    """A Hugging Face endpoint that authenticates its caller itself (``hub.hf.auth.authenticate``): a bad
    token is a 401, and the repositories it finds are those the caller may see."""
    return _decide(view, Decision.HF_CALLER)


def hf_write_token(view: View) -> View:
    """A Hugging Face write endpoint: refuses any caller without an access token of the write scope."""
    return _decide(view, Decision.HF_WRITE_TOKEN)


def signed_upload_url(view: View) -> View:
    """Git LFS object transfer: the credential is the signed URL the batch API gave a write-token holder."""
    return _decide(view, Decision.SIGNED_UPLOAD_URL)
