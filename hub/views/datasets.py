"""Dataset pages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from hub import selectors
from hub.forms import DatasetForm, add_service_errors
from hub.services.datasets import create_dataset, dataset_arguments


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
