"""Dataset pages."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render

from hub import datasheets, selectors
from hub.access import public, signed_in
from hub.forms import DatasetForm, DatasheetForm, add_service_errors
from hub.listing import artifact_list_context
from hub.models import FileFormat, Split, StatisticsStatus
from hub.permissions import can_write
from hub.services.datasets import (
    add_dataset_version,
    create_dataset,
    dataset_arguments,
    update_datasheet,
    version_arguments,
)

PAGE_SIZE = 25
FILTERS = ("q", "organization", "license", "visibility", "format")


@public
def dataset_list(request):
    visible = selectors.datasets_visible_to(request.user)
    context = artifact_list_context(request, visible, selectors.filter_datasets, extra_filters=("format",))
    context.update(datasets=context["page"].object_list, formats=FileFormat.choices)
    return render(request, "hub/dataset_list.html", context)


@signed_in
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


@public
def dataset_detail(request, org, slug):
    dataset = selectors.get_dataset(request.user, org, slug)
    versions = dataset.versions.prefetch_related("files__blob")
    latest = versions.first()
    statistics = []
    if latest and latest.statistics_status == StatisticsStatus.READY:
        statistics = [
            {"split": name, "stats": stats, "bars": _bars(stats["characters"]["histogram"])}
            for name, stats in latest.statistics.get("splits", {}).items()
        ]
    context = {
        "dataset": dataset,
        "versions": versions,
        "latest": latest,
        "statistics": statistics,
        "card": datasheets.dataset_completeness(dataset),
        "sections": [(s, dataset.datasheet.get(s.key, "")) for s in datasheets.SECTIONS],
        "can_write": can_write(request.user, dataset.organization),
        "source_split": Split.SOURCE,
    }
    return render(request, "hub/dataset_detail.html", context)


def _bars(histogram: dict) -> list[dict]:
    """Histogram bins as bars of an SVG 100 units high, the tallest bin full height."""
    counts, edges = histogram["counts"], histogram["edges"]
    tallest = max(counts, default=0) or 1
    bars = []
    for i, count in enumerate(counts):
        height = round(95 * count / tallest, 1)
        bars.append({"x": 5 * i, "y": 100 - height, "height": height, "count": count, "low": edges[i],
                     "high": edges[i + 1] - 1})  # fmt: skip
    return bars


def _writable_dataset(request, org, slug):
    dataset = selectors.get_dataset(request.user, org, slug)
    if not can_write(request.user, dataset.organization):
        raise PermissionDenied(f"You may not change {dataset.full_name}.")
    return dataset


@signed_in
def datasheet_edit(request, org, slug):
    dataset = _writable_dataset(request, org, slug)
    form = DatasheetForm(request.POST or None, initial=dataset.datasheet)
    if request.method == "POST" and form.is_valid():
        try:
            update_datasheet(request.user, dataset, form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Datasheet saved.")
            return redirect(dataset)
    card = datasheets.dataset_completeness(dataset)
    return render(request, "hub/datasheet_form.html", {"dataset": dataset, "form": form, "card": card})


@signed_in
def version_create(request, org, slug):
    dataset = _writable_dataset(request, org, slug)
    latest = dataset.versions.order_by("-number").first()
    initial = {f: getattr(latest, f) for f in ("text_field", "label_field", "group_field")} if latest else {}
    form = DatasetForm(request.POST or None, request.FILES or None, version_only=True, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            version = add_dataset_version(
                user=request.user, dataset=dataset, **version_arguments(form.cleaned_data)
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Version {version.number} of {dataset.full_name} registered.")
            return redirect(dataset)
    return render(request, "hub/dataset_version_form.html", {"dataset": dataset, "form": form})
