"""Pages for runs, and the dashboard (it shows every app, so it lives at the top of the imports)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from hub import selectors as hub_selectors
from hub.forms import add_service_errors
from training import selectors, services
from training.forms import RunForm


@login_required
def dashboard(request):
    user = request.user
    context = {
        "organizations": hub_selectors.organizations_of(user),
        "runs": selectors.runs_visible_to(user)[:10],
        "datasets": hub_selectors.datasets_visible_to(user).order_by("-updated_at")[:8],
        "models": hub_selectors.models_visible_to(user).order_by("-updated_at")[:8],
    }
    return render(request, "training/dashboard.html", context)


@login_required
def run_list(request):
    runs = selectors.runs_visible_to(request.user)
    status = request.GET.get("status", "")
    if status:
        runs = runs.filter(status=status)
    return render(request, "training/run_list.html", {"runs": runs[:200], "status": status})


@login_required
def run_create(request):
    user = request.user
    form = RunForm(
        request.POST or None,
        initial={key: request.GET[key] for key in ("base_version", "dataset_version") if key in request.GET},
        organizations=hub_selectors.writable_organizations(user),
        base_versions=hub_selectors.model_versions_visible_to(user),
        dataset_versions=hub_selectors.dataset_versions_visible_to(user),
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
                output_model_slug=data["output_model"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Run {run.pk} queued on {run.queue}.")
            return redirect(run)
    return render(request, "training/run_form.html", {"form": form})


@login_required
def run_detail(request, pk):
    run = get_object_or_404(selectors.runs_visible_to(request.user), pk=pk)
    return render(request, "training/run_detail.html", {"run": run})


@login_required
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
