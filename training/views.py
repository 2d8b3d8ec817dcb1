"""Pages for runs, and the dashboard (it shows every app, so it lives at the top of the imports)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from hub import selectors as hub_selectors
from hub.access import signed_in
from hub.forms import add_service_errors
from hub.models import Organization
from hub.permissions import can_administer, can_view_organization
from training import selectors, services
from training.forms import EvaluationForm, PoolForm, PoolShareForm, RunForm
from training.models import ComputePool


@signed_in
def dashboard(request):
    user = request.user
    context = {
        "organizations": hub_selectors.organizations_of(user),
        "runs": selectors.runs_visible_to(user)[:10],
        "datasets": hub_selectors.datasets_visible_to(user).order_by("-updated_at")[:8],
        "models": hub_selectors.models_visible_to(user).order_by("-updated_at")[:8],
    }
    return render(request, "training/dashboard.html", context)


@signed_in
def run_list(request):
    runs = selectors.runs_visible_to(request.user)
    status = request.GET.get("status", "")
    if status:
        runs = runs.filter(status=status)
    organization = request.GET.get("organization", "").strip()
    if organization:
        runs = runs.filter(organization__slug=organization)
    context = {"runs": runs[:200], "status": status, "organization": organization}
    return render(request, "training/run_list.html", context)


@signed_in
def run_create(request):
    user = request.user
    form = RunForm(
        request.POST or None,
        initial={key: request.GET[key] for key in ("base_version", "dataset_version") if key in request.GET},
        organizations=hub_selectors.writable_organizations(user),
        base_versions=hub_selectors.model_versions_visible_to(user),
        dataset_versions=hub_selectors.dataset_versions_visible_to(user),
        pools=selectors.pools_visible_to(user),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            run = services.submit_run(
                user=user,
                organization=data["organization"],
                base_version=data["base_version"],
                dataset_version=data["dataset_version"],
                hyperparameters=form.hyperparameters(),
                queue=data["queue"],
                pool=data.get("pool"),
                priority=data["priority"] if data.get("priority") is not None else 5,
                output_model_slug=data["output_model"],
                intended_use=data["intended_use"],
                license=data["license"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            if run.status == run.Status.REJECTED:
                messages.error(request, f"Run {run.pk} was rejected by the policy check: {run.error}")
            else:
                messages.success(request, f"Run {run.pk} queued on {run.queue}.")
            return redirect(run)
    return render(request, "training/run_form.html", {"form": form})


@signed_in
def evaluation_create(request):
    user = request.user
    form = EvaluationForm(
        request.POST or None,
        initial={
            key: request.GET[key]
            for key in ("model_version", "dataset_version", "split")
            if key in request.GET
        },
        # Only classifiers can be scored; checkpoints without a head are fine-tuned first.
        model_versions=hub_selectors.model_versions_visible_to(user).exclude(labels=[]),
        dataset_versions=hub_selectors.dataset_versions_visible_to(user),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            report = services.request_evaluation(
                user=user,
                version=data["model_version"],
                dataset_version=data["dataset_version"],
                split=data["split"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Evaluation of {report.model_version} queued on {report.queue}.")
            return redirect(report)
    return render(request, "training/evaluation_form.html", {"form": form})


@signed_in
def run_detail(request, pk):
    run = get_object_or_404(selectors.runs_visible_to(request.user), pk=pk)
    context = {"run": run, "max_attempts": settings.AGORA_RUN_MAX_ATTEMPTS}
    return render(request, "training/run_detail.html", context)


@signed_in
@require_POST
def run_cancel(request, pk):
    run = get_object_or_404(selectors.runs_visible_to(request.user), pk=pk)
    try:
        services.cancel_run(user=request.user, run=run)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.info(request, f"Run {run.pk} is being cancelled.")
    return redirect(run)


@signed_in
def pool_list(request, org):
    """The organization's compute pools and what they spent, with forms to add and share them."""
    organization = get_object_or_404(Organization, slug=org)
    if not can_view_organization(request.user, organization):
        raise PermissionDenied
    may_administer = can_administer(request.user, organization)
    form = PoolForm(request.POST or None)
    if request.method == "POST":
        if not may_administer:
            raise PermissionDenied
        if form.is_valid():
            try:
                pool = services.create_pool(user=request.user, organization=organization, **form.cleaned_data)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, f"Pool {pool} added: start its workers with --queues {pool.queue}.")
                return redirect(pool)
    pools = ComputePool.objects.filter(organization=organization).prefetch_related("shared_with")
    pools = list(pools)
    usages = selectors.pool_usages(pools)
    others = list(Organization.objects.exclude(pk=organization.pk).order_by("slug"))
    rows = [
        {"pool": pool, "usage": usages[pool.pk], "share_form": _share_form(pool, others=others)}
        for pool in pools
    ]
    usable = selectors.pools_usable_by(organization).exclude(organization=organization)
    context = {
        "organization": organization,
        "rows": rows,
        "usable": usable,
        "form": form,
        "may_administer": may_administer,
    }
    return render(request, "training/pool_list.html", context)


def _share_form(pool: ComputePool, data=None, others: list[Organization] | None = None) -> PoolShareForm:
    """``others``: the organizations it may be shared with, read once for a list of forms."""
    initial = {"shared_with_all": pool.shared_with_all, "shared_with": list(pool.shared_with.all())}
    form = PoolShareForm(data, initial=initial, prefix=f"pool-{pool.pk}")
    field = form.fields["shared_with"]
    field.queryset = Organization.objects.exclude(pk=pool.organization_id).order_by("slug")
    if others is not None:  # the choices to render, without a query per form
        field.choices = [(other.slug, field.label_from_instance(other)) for other in others]
    return form


@signed_in
@require_POST
def pool_share(request, org, slug):
    # Pools are the organization's business: to anyone else an existing one answers like a missing one.
    own_pools = ComputePool.objects.filter(organization__in=hub_selectors.organizations_of(request.user))
    pool = get_object_or_404(own_pools, organization__slug=org, slug=slug)
    form = _share_form(pool, request.POST)
    if form.is_valid():
        services.share_pool(user=request.user, pool=pool, **form.cleaned_data)
        messages.success(request, f"Sharing of {pool} updated.")
    else:
        messages.error(request, "The sharing could not be saved.")
    return redirect(pool)
