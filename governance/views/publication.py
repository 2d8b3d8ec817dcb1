"""Publishing from the version page: request publication, and deprecate a published version."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from governance.models import PublicationRequest
from governance.services.publication import deprecate_version, request_publication
from hub import selectors as hub_selectors
from hub.access import signed_in


def _version(request: HttpRequest, org: str, slug: str, number: int):
    model = hub_selectors.get_model(request.user, org, slug)
    return get_object_or_404(
        hub_selectors.model_versions_visible_to(request.user), model=model, number=number
    )


def _errors(error: ValidationError) -> str:
    return "; ".join(f"{field}: {', '.join(texts)}" for field, texts in error.message_dict.items())


@signed_in
@require_POST
def publication_request(request: HttpRequest, org: str, slug: str, number: int) -> HttpResponse:
    version = _version(request, org, slug, number)
    uses = [use for use in request.POST.getlist("intended_use") if use]
    try:
        publication = request_publication(
            user=request.user, version=version, intended_use=uses, note=request.POST.get("note", "")
        )
    except PermissionDenied as error:
        messages.error(request, str(error))
    except ValidationError as error:
        messages.error(request, _errors(error))
    else:
        if publication.status == PublicationRequest.Status.PUBLISHED:
            messages.success(request, f"{version} is published.")
        elif publication.status == PublicationRequest.Status.IN_REVIEW:
            messages.info(request, f"{version} passed the checks and waits for a reviewer.")
        else:
            reasons = "; ".join(reason["message"] for reason in publication.policy_check.reasons)
            messages.error(request, f"Publication refused: {reasons}")
    return redirect(version)


@signed_in
@require_POST
def version_deprecate(request: HttpRequest, org: str, slug: str, number: int) -> HttpResponse:
    version = _version(request, org, slug, number)
    try:
        deprecate_version(user=request.user, version=version, reason=request.POST.get("reason", ""))
    except PermissionDenied as error:
        messages.error(request, str(error))
    except ValidationError as error:
        messages.error(request, _errors(error))
    else:
        messages.success(request, f"{version} is deprecated.")
    return redirect(version)
