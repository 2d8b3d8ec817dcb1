"""Pages of the registry. Views stay thin: selectors read, services write."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from hub import selectors
from hub.forms import DatasetForm, TokenForm, add_service_errors
from hub.models import AccessToken, DatasetFile, ModelFile, Organization
from hub.permissions import can_view_organization, can_write
from hub.services import blobs
from hub.services.datasets import create_dataset, dataset_arguments
from hub.services.tokens import issue_token, revoke_token


def organization(request, org):
    organization = get_object_or_404(Organization, slug=org)
    members_visible = can_view_organization(request.user, organization)
    context = {
        "organization": organization,
        "memberships": organization.memberships.select_related("user").order_by("user__username")
        if members_visible
        else [],
        "datasets": selectors.datasets_visible_to(request.user).filter(organization=organization),
        "models": selectors.models_visible_to(request.user).filter(organization=organization),
        "can_write": can_write(request.user, organization),
    }
    return render(request, "hub/organization.html", context)


def dataset_list(request):
    datasets = selectors.datasets_visible_to(request.user).order_by("-updated_at")
    query = request.GET.get("q", "").strip()
    if query:
        datasets = datasets.filter(name__icontains=query) | datasets.filter(slug__icontains=query)
    return render(request, "hub/dataset_list.html", {"datasets": datasets, "query": query})


@login_required
def dataset_create(request):
    organizations = selectors.writable_organizations(request.user)
    form = DatasetForm(request.POST or None, request.FILES or None, organizations=organizations)
    if request.method == "POST" and form.is_valid():
        try:
            version = create_dataset(user=request.user, **dataset_arguments(form.cleaned_data))
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request, f"Dataset {version.dataset.full_name} registered with {version.total_rows} rows."
            )
            return redirect(version.dataset)
    return render(request, "hub/dataset_form.html", {"form": form})


def dataset_detail(request, org, slug):
    dataset = selectors.get_dataset(request.user, org, slug)
    versions = dataset.versions.prefetch_related("files__blob")
    return render(
        request,
        "hub/dataset_detail.html",
        {"dataset": dataset, "versions": versions, "latest": versions.first()},
    )


def model_list(request):
    models = selectors.models_visible_to(request.user).order_by("-updated_at")
    query = request.GET.get("q", "").strip()
    if query:
        models = models.filter(name__icontains=query) | models.filter(slug__icontains=query)
    return render(request, "hub/model_list.html", {"models": models, "query": query})


def model_detail(request, org, slug):
    model = selectors.get_model(request.user, org, slug)
    versions = model.versions.select_related(
        "base_version__model__organization", "dataset_version__dataset__organization"
    )
    return render(request, "hub/model_detail.html", {"model": model, "versions": versions})


def model_version_detail(request, org, slug, number):
    model = selectors.get_model(request.user, org, slug)
    version = get_object_or_404(selectors.model_versions_visible_to(request.user), model=model, number=number)
    return render(request, "hub/model_version.html", {"model": model, "version": version})


def _stream(blob, filename: str, content_type: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(blobs.iter_verified(blob), content_type=content_type)
    response["Content-Length"] = str(blob.size)
    response["Content-Disposition"] = f'attachment; filename="{filename.rsplit("/", 1)[-1]}"'
    response["ETag"] = f'"{blob.sha256}"'
    return response


# Downloads are DRF views: API clients authenticate with a Bearer token, browsers with their session.
@extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
@api_view(["GET"])
@permission_classes([AllowAny])
def dataset_file(request, pk):
    dataset_file = (
        DatasetFile.objects.select_related("blob", "version__dataset")
        .filter(version__dataset__in=selectors.datasets_visible_to(request.user))
        .filter(pk=pk)
        .first()
    )
    if dataset_file is None:
        raise Http404("No such file, or it is not visible to you.")
    return _stream(dataset_file.blob, dataset_file.path, "text/csv")


@extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
@api_view(["GET"])
@permission_classes([AllowAny])
def model_file(request, pk):
    model_file = (
        ModelFile.objects.select_related("blob")
        .filter(version__model__in=selectors.models_visible_to(request.user))
        .filter(pk=pk)
        .first()
    )
    if model_file is None:
        raise Http404("No such file, or it is not visible to you.")
    return _stream(model_file.blob, model_file.path, "application/octet-stream")


@login_required
def tokens(request):
    organizations = selectors.organizations_of(request.user)
    form = TokenForm(request.POST or None, organizations=organizations)
    new_secret = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            issued = issue_token(
                user=request.user,
                name=data["name"],
                scope=data["scope"],
                organization=data["organization"],
                expires_at=data["expires_at"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            new_secret = issued.secret
            form = TokenForm(organizations=organizations)
    context = {
        "form": form,
        "new_secret": new_secret,
        "tokens": AccessToken.objects.filter(user=request.user).select_related("organization"),
    }
    return render(request, "hub/tokens.html", context)


@login_required
@require_POST
def token_revoke(request, pk):
    token = get_object_or_404(AccessToken, pk=pk, user=request.user)
    revoke_token(token)
    messages.success(request, f"Token {token.prefix}… revoked.")
    return redirect("hub:tokens")
