"""Model pages, and uploading a checkpoint as a new model or a new version."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from hub import selectors
from hub.access import public, signed_in
from hub.forms import CheckpointUploadForm, ModelCreateForm, add_service_errors
from hub.hf.read_repos import download_count
from hub.listing import artifact_list_context
from hub.models import ModelVersion
from hub.permissions import can_administer, can_write
from hub.services.models import add_uploaded_version, checkpoint_upload, create_model_from_upload, move_alias

ARTIFACT_FIELDS = ("organization", "slug", "name", "description", "license", "visibility", "task")


@public
def model_list(request):
    visible = selectors.models_visible_to(request.user)
    context = artifact_list_context(request, visible, selectors.filter_models, extra_filters=("task",))
    tasks = visible.model.objects.filter(pk__in=visible.values("pk")).values_list("task", flat=True)
    context.update(models=context["page"].object_list, tasks=sorted(set(tasks)))
    return render(request, "hub/model_list.html", context)


@signed_in
def model_create(request):
    organizations = selectors.writable_organizations(request.user)
    form = ModelCreateForm(request.POST or None, request.FILES or None, organizations=organizations)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            version = create_model_from_upload(
                user=request.user,
                upload=checkpoint_upload(data),
                **{field: data[field] for field in ARTIFACT_FIELDS},
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Model {version} registered.")
            return redirect(version)
    return render(request, "hub/model_upload.html", {"form": form})


@signed_in
def model_version_create(request, org, slug):
    model = selectors.get_model(request.user, org, slug)
    if not can_write(request.user, model.organization):
        raise PermissionDenied(f"You may not add versions to {model.full_name}.")
    form = CheckpointUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            version = add_uploaded_version(
                user=request.user, model=model, upload=checkpoint_upload(form.cleaned_data)
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Version {version} uploaded.")
            return redirect(version)
    return render(request, "hub/model_upload.html", {"form": form, "model": model})


@public
def model_detail(request, org, slug):
    model = selectors.get_model(request.user, org, slug)
    versions = model.versions.select_related(
        "base_version__model__organization", "dataset_version__dataset__organization"
    )
    context = {
        "model": model,
        "versions": versions,
        "can_upload": can_write(request.user, model.organization),
        "can_move_aliases": can_administer(request.user, model.organization),
        "aliases": model.aliases.select_related("version", "updated_by"),
        "published_versions": [v for v in versions if v.status == ModelVersion.Status.PUBLISHED],
        "downloads": download_count(model),
    }
    return render(request, "hub/model_detail.html", context)


@signed_in
@require_POST
def alias_move(request, org, slug):
    model = selectors.get_model(request.user, org, slug)
    name = request.POST.get("name", "").strip()
    raw = request.POST.get("version", "")
    version = model.versions.filter(number=int(raw)).first() if raw.isdigit() else None
    try:
        if version is None:
            raise ValidationError({"version": "choose a published version"})
        move_alias(user=request.user, model=model, name=name, version=version)
    except ValidationError as error:
        messages.error(
            request, "; ".join(f"{field}: {', '.join(texts)}" for field, texts in error.message_dict.items())
        )
    except PermissionDenied as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{model.full_name}:{name} now points at v{version.number}.")
    return redirect(model)


@public
def model_version_detail(request, org, slug, number):
    model = selectors.get_model(request.user, org, slug)
    version = get_object_or_404(selectors.model_versions_visible_to(request.user), model=model, number=number)
    return render(request, "hub/model_version.html", {"model": model, "version": version})
