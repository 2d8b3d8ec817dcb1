"""Usage policy pages: an organization's policies, one policy with its versions, creating a policy or a
new version, and attaching a policy to a dataset or a model."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from governance.models import AccessMode, Policy, PolicyVersion
from governance.selectors import (
    POLICY_TERM_FIELDS,
    governed_artifacts,
    policies_visible_to,
    policy_history,
    policy_terms,
)
from governance.services.policies import (
    add_policy_version,
    attach_policy,
    create_policy,
    default_terms,
    detach_policy,
)
from hub import selectors as hub_selectors
from hub.access import public, signed_in
from hub.forms import add_service_errors
from hub.models import Dataset, Organization, RegisteredModel
from hub.permissions import can_administer

# Forms ------------------------------------------------------------------------------------------


def use_tag_choices() -> list[tuple[str, str]]:
    from governance.policy_engine import USE_TAGS

    return [(tag, f"{tag}: {title}") for tag, title in USE_TAGS.items()]


def _help(name: str) -> str:
    return str(PolicyVersion._meta.get_field(name).help_text)


class PolicyTermsForm(forms.Form):
    """The terms of a policy version; the service checks them and names the field of each problem."""

    license = forms.CharField(
        max_length=100, help_text="SPDX id such as CC-BY-4.0 or Apache-2.0, or LicenseRef-<name>."
    )
    allowed_uses = forms.MultipleChoiceField(
        choices=use_tag_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any use that is not prohibited.",
    )
    prohibited_uses = forms.MultipleChoiceField(
        choices=use_tag_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Refused for fine-tuning runs, publications and access requests that declare them.",
    )
    commercial_use = forms.BooleanField(required=False, label="Commercial use allowed")
    attribution_required = forms.BooleanField(required=False, label="Attribution required")
    share_alike = forms.BooleanField(
        required=False, label="Share-alike", help_text="Derivatives keep the same licence."
    )
    access_mode = forms.ChoiceField(choices=AccessMode.choices, label="Access")
    listed_organizations = forms.CharField(
        required=False,
        max_length=2000,
        help_text="With listed access: the slugs of the organizations that may use the artifacts, "
        "separated by commas.",
    )
    conditions = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text=_help("conditions")
    )
    request_cooldown_days = forms.IntegerField(
        label="Cool-down after a refusal (days)", help_text=_help("request_cooldown_days")
    )
    requires_review = forms.BooleanField(required=False, label="Publication needs a reviewer's approval")
    conflicts_go_to_review = forms.BooleanField(
        required=False, label="Licence conflicts go to review", help_text=_help("conflicts_go_to_review")
    )
    max_delta = forms.FloatField(required=False, label="Maximum δ", help_text="Fairness gap; empty: none.")
    max_epsilon = forms.FloatField(
        required=False, label="Maximum ε", help_text="Calibration error; empty: none."
    )
    max_theta = forms.FloatField(required=False, label="Maximum θ", help_text="Leakage risk; empty: none.")
    max_objective = forms.FloatField(
        required=False, label="Maximum F", help_text="Objective F = αδ + βε + γθ; empty: none."
    )
    alpha = forms.FloatField(label="α", help_text="Weight of δ in F, in [0, 1].")
    beta = forms.FloatField(label="β", help_text="Weight of ε in F, in [0, 1].")
    gamma = forms.FloatField(label="γ", help_text="Weight of θ in F; α + β + γ = 1.")

    def terms(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in POLICY_TERM_FIELDS}


def terms_initial(terms: dict[str, Any]) -> dict[str, Any]:
    """Form initial values from terms (the listed organizations as one text)."""
    return {**terms, "listed_organizations": ", ".join(terms["listed_organizations"])}


class PolicyCreateForm(PolicyTermsForm):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=100, help_text="Short identifier used in URLs, e.g. research-only.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    field_order = ["name", "slug", "description"]


class PolicyVersionForm(PolicyTermsForm):
    change_note = forms.CharField(
        required=False, max_length=300, help_text="What changes, and why (kept with the version)."
    )

    field_order = ["change_note"]


# Pages ------------------------------------------------------------------------------------------


def _visible_policy(request: HttpRequest, org: str, slug: str) -> Policy:
    return get_object_or_404(policies_visible_to(request.user), organization__slug=org, slug=slug)


def _require_admin(request: HttpRequest, organization: Organization) -> None:
    if not can_administer(request.user, organization):
        raise PermissionDenied(f"Only owners and admins of {organization.slug} manage its policies.")


def _error_text(error: ValidationError) -> str:
    return " ".join(
        f"{field.replace('_', ' ').capitalize()}: {' '.join(texts)}"
        for field, texts in error.message_dict.items()
    )


@public
def policy_list(request: HttpRequest, org: str) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=org)
    policies = (
        policies_visible_to(request.user).filter(organization=organization).prefetch_related("versions")
    )
    context = {
        "organization": organization,
        "policies": [(policy, max(policy.versions.all(), key=lambda v: v.number)) for policy in policies],
        "can_administer": can_administer(request.user, organization),
    }
    return render(request, "governance/policy_list.html", context)


@signed_in
def policy_create(request: HttpRequest, org: str) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=org)
    _require_admin(request, organization)
    form = PolicyCreateForm(request.POST or None, initial=terms_initial(default_terms()))
    if request.method == "POST" and form.is_valid():
        try:
            policy = create_policy(
                user=request.user,
                organization=organization,
                slug=form.cleaned_data["slug"],
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                terms=form.terms(),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Policy {policy} created as version 1.")
            return redirect(policy)
    context = {"organization": organization, "form": form, "policy": None}
    return render(request, "governance/policy_form.html", context)


@public
def policy_detail(request: HttpRequest, org: str, slug: str) -> HttpResponse:
    policy = _visible_policy(request, org, slug)
    history = policy_history(policy)
    datasets, models = governed_artifacts(policy, request.user)
    may_administer = can_administer(request.user, policy.organization)
    attachable: list[tuple[str, str]] = []
    if may_administer:
        for kind, artifacts in (("dataset", Dataset.objects), ("model", RegisteredModel.objects)):
            others = artifacts.filter(organization=policy.organization).exclude(
                policy_attachment__policy=policy
            )
            attachable += [(f"{kind}:{artifact.slug}", f"{kind} {artifact.slug}") for artifact in others]
    context = {
        "policy": policy,
        "organization": policy.organization,
        "latest": history[0][0] if history else None,
        "history": history,
        "datasets": datasets,
        "models": models,
        "governed_count": len(datasets) + len(models),
        "can_administer": may_administer,
        "attachable": attachable,
    }
    return render(request, "governance/policy_detail.html", context)


@signed_in
def policy_version_create(request: HttpRequest, org: str, slug: str) -> HttpResponse:
    policy = _visible_policy(request, org, slug)
    _require_admin(request, policy.organization)
    latest = policy.latest_version
    initial = terms_initial(policy_terms(latest) if latest else default_terms())
    form = PolicyVersionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            version = add_policy_version(
                user=request.user,
                policy=policy,
                terms=form.terms(),
                change_note=form.cleaned_data["change_note"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Version {version.number} of {policy} saved; it applies now.")
            return redirect(policy)
    context = {"organization": policy.organization, "form": form, "policy": policy, "latest": latest}
    return render(request, "governance/policy_form.html", context)


@signed_in
@require_POST
def policy_attach(request: HttpRequest, org: str, slug: str) -> HttpResponse:
    """Attach the policy to one of its organization's datasets or models ("dataset:<slug>")."""
    policy = _visible_policy(request, org, slug)
    _require_admin(request, policy.organization)
    kind, _, artifact_slug = request.POST.get("artifact", "").partition(":")
    artifacts = {"dataset": Dataset.objects, "model": RegisteredModel.objects}.get(kind)
    artifact = (
        artifacts.filter(organization=policy.organization, slug=artifact_slug).first() if artifacts else None
    )
    if artifact is None:
        messages.error(request, f"Artifact: choose a dataset or a model of {policy.organization.slug}.")
        return redirect(policy)
    try:
        attach_policy(user=request.user, policy=policy, artifact=artifact)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, f"{policy} now governs {artifact}.")
    return redirect(policy)


@signed_in
@require_POST
def artifact_policy(request: HttpRequest, org: str, slug: str, kind: str) -> HttpResponse:
    """Attach one of the organization's policies to a dataset or a model, or detach its policy."""
    if kind == "dataset":
        artifact = hub_selectors.get_dataset(request.user, org, slug)
    else:
        artifact = hub_selectors.get_model(request.user, org, slug)
    _require_admin(request, artifact.organization)
    try:
        if request.POST.get("action") == "detach":
            policy = detach_policy(user=request.user, artifact=artifact)
            messages.success(request, f"{policy} no longer governs {artifact}; its licence alone applies.")
        else:
            policy = Policy.objects.filter(
                organization=artifact.organization, slug=request.POST.get("policy", "")
            ).first()
            if policy is None:
                raise ValidationError({"policy": f"choose one of {artifact.organization.slug}'s policies"})
            attach_policy(user=request.user, policy=policy, artifact=artifact)
            messages.success(request, f"{policy} now governs {artifact}.")
    except ValidationError as error:
        messages.error(request, _error_text(error))
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(next_url)
    return redirect(artifact)
