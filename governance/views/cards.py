"""Model card pages: the card, its edit form, and its README.md."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from governance import cards
from governance.forms import ModelCardForm
from governance.services import update_model_card
from hub.access import public, signed_in
from hub.forms import add_service_errors
from hub.models import ModelVersion
from hub.permissions import can_write
from hub.selectors import model_versions_visible_to


def _visible_version(request: HttpRequest, org: str, slug: str, number: int) -> ModelVersion:
    visible = model_versions_visible_to(request.user)
    return get_object_or_404(visible, model__organization__slug=org, model__slug=slug, number=number)


def site_url(request: HttpRequest) -> str:
    """The site's absolute root without the trailing slash, so that the card's links work outside it."""
    return request.build_absolute_uri("/").rstrip("/")


@public
def card_page(request: HttpRequest, org: str, slug: str, number: int) -> HttpResponse:
    version = _visible_version(request, org, slug, number)
    context = {
        "version": version,
        "model": version.model,
        "card": cards.card_of(version, request.user, base_url=site_url(request)),
        "can_edit": can_write(request.user, version.model.organization),
    }
    return render(request, "governance/card.html", context)


@signed_in
def card_edit(request: HttpRequest, org: str, slug: str, number: int) -> HttpResponse:
    version = _visible_version(request, org, slug, number)
    if not can_write(request.user, version.model.organization):
        raise PermissionDenied(f"You may not edit the model card of {version}.")
    card = cards.card_of(version, request.user, base_url=site_url(request))
    form = ModelCardForm(request.POST or None, initial=card.owner_sections)
    if request.method == "POST" and form.is_valid():
        try:
            update_model_card(request.user, version, form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Model card saved.")
            return redirect("governance:card", org=org, slug=slug, number=number)
    context = {"version": version, "model": version.model, "card": card, "form": form}
    return render(request, "governance/card_form.html", context)


@public
def card_readme(request: HttpRequest, org: str, slug: str, number: int) -> HttpResponse:
    version = _visible_version(request, org, slug, number)
    card = cards.card_of(version, request.user, base_url=site_url(request))
    response = HttpResponse(card.readme, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="README.md"'
    return response
