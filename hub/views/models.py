"""Model pages."""

from __future__ import annotations

from django.shortcuts import get_object_or_404, render

from hub import selectors


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
