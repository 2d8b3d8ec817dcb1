"""Access pages: asking for access to a gated dataset or model, and an organization's access inbox
(requests for its artifacts to decide, grants to revoke, its own requests)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from governance.models import AccessGrant, AccessRequest
from governance.policy_engine import declarable_uses
from governance.selectors import (
    access_grants_given_by,
    access_grants_held_by,
    access_panel,
    access_requests_from,
    access_requests_to,
)
from governance.services.access import (
    decide_access_request,
    request_access,
    revoke_grant,
    withdraw_access_request,
)
from hub import selectors as hub_selectors
from hub.access import signed_in
from hub.forms import add_service_errors, preselect_single
from hub.models import Dataset, Organization, RegisteredModel
from hub.permissions import can_administer, can_view_organization, can_write

HISTORY_LENGTH = 50

# Forms ------------------------------------------------------------------------------------------


class AccessRequestForm(forms.Form):
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.none(), to_field_name="slug", help_text="The organization that asks."
    )
    intended_use = forms.MultipleChoiceField(
        choices=declarable_uses(),
        widget=forms.CheckboxSelectMultiple,
        label="Intended use",
        help_text="Every use your organization will make of it; a use the policy does not allow is refused.",
    )
    purpose = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=5000,
        help_text="What your organization will do with it, for the owner's admins who decide.",
    )
    accept_conditions = forms.BooleanField(label="I accept the conditions of the policy")

    def __init__(self, *args, organizations, policy_version=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations
        preselect_single(self.fields["organization"])
        if policy_version is not None and policy_version.conditions.strip():
            self.fields["accept_conditions"].error_messages["required"] = (
                f"accept the conditions of the policy {policy_version}: “{policy_version.conditions.strip()}”"
            )


class DecisionForm(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required to refuse; the requesting organization reads it.",
    )


class RevokeForm(forms.Form):
    reason = forms.CharField(
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why access ends; the organization reads it.",
    )


# Asking -------------------------------------------------------------------------------------------


def _visible_artifact(request: HttpRequest, org: str, slug: str, kind: str) -> Dataset | RegisteredModel:
    if kind == "dataset":
        return hub_selectors.get_dataset(request.user, org, slug)
    return hub_selectors.get_model(request.user, org, slug)


@signed_in
def request_access_page(request: HttpRequest, org: str, slug: str, kind: str) -> HttpResponse:
    artifact = _visible_artifact(request, org, slug, kind)
    organizations = hub_selectors.writable_organizations(request.user).exclude(pk=artifact.organization_id)
    panel = access_panel(request.user, artifact)
    form = AccessRequestForm(request.POST or None, organizations=organizations, policy_version=panel.version)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            access_request = request_access(
                user=request.user,
                organization=data["organization"],
                artifact=artifact,
                intended_use=data["intended_use"],
                purpose=data["purpose"],
                accept_conditions=data["accept_conditions"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            if access_request.status == AccessRequest.Status.REFUSED:
                messages.error(request, f"The request was refused at once: {access_request.reason}.")
            else:
                messages.success(
                    request,
                    f"{access_request.organization.slug} asked for access to {artifact.full_name}; "
                    f"the admins of {artifact.organization.slug} decide.",
                )
            return redirect(artifact)
    context = {
        "artifact": artifact,
        "kind": kind,
        "form": form,
        "panel": panel,
    }
    return render(request, "governance/access_request_form.html", context)


# The inbox ----------------------------------------------------------------------------------------


def _member_organization(request: HttpRequest, org: str) -> Organization:
    organization = get_object_or_404(Organization, slug=org)
    if not can_view_organization(request.user, organization):
        raise PermissionDenied(f"Only members of {organization.slug} see its access requests and grants.")
    return organization


def _inbox(
    request: HttpRequest,
    organization: Organization,
    *,
    decision_forms: dict[int, DecisionForm] | None = None,
    revoke_forms: dict[int, RevokeForm] | None = None,
) -> HttpResponse:
    decision_forms = decision_forms or {}
    revoke_forms = revoke_forms or {}
    incoming = access_requests_to(organization)
    given = access_grants_given_by(organization)
    pending = incoming.filter(status=AccessRequest.Status.PENDING).order_by("created_at", "pk")
    active = given.filter(revoked_at__isnull=True)
    context = {
        "organization": organization,
        "can_administer": can_administer(request.user, organization),
        "can_write": can_write(request.user, organization),
        "pending": [
            (item, decision_forms.get(item.pk) or DecisionForm(prefix=f"request-{item.pk}"))
            for item in pending
        ],
        "active_grants": [
            (grant, revoke_forms.get(grant.pk) or RevokeForm(prefix=f"grant-{grant.pk}")) for grant in active
        ],
        "decided": incoming.exclude(status=AccessRequest.Status.PENDING)[:HISTORY_LENGTH],
        "revoked": given.filter(revoked_at__isnull=False).order_by("-revoked_at")[:HISTORY_LENGTH],
        "outgoing": access_requests_from(organization)[:HISTORY_LENGTH],
        "held": access_grants_held_by(organization)[:HISTORY_LENGTH],
    }
    return render(request, "governance/access_inbox.html", context)


@signed_in
def access_inbox(request: HttpRequest, org: str) -> HttpResponse:
    return _inbox(request, _member_organization(request, org))


@signed_in
@require_POST
def access_decide(request: HttpRequest, org: str, pk: int) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=org)
    access_request = get_object_or_404(access_requests_to(organization), pk=pk)
    form = DecisionForm(request.POST, prefix=f"request-{pk}")
    decision = request.POST.get("decision")
    if decision not in ("approve", "refuse"):
        form.add_error(None, "choose approve or refuse")
    elif form.is_valid():
        try:
            decide_access_request(
                user=request.user,
                access_request=access_request,
                approve=decision == "approve",
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            verb = "approved: it may now use" if decision == "approve" else "refused access to"
            messages.success(request, f"{access_request.organization.slug} {verb} {access_request.artifact}.")
            return redirect("governance:access-inbox", org=organization.slug)
    _member_organization(request, org)
    return _inbox(request, organization, decision_forms={pk: form})


@signed_in
@require_POST
def access_withdraw(request: HttpRequest, org: str, pk: int) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=org)
    access_request = get_object_or_404(access_requests_from(organization), pk=pk)
    try:
        withdraw_access_request(user=request.user, access_request=access_request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"The request for {access_request.artifact} is withdrawn.")
    return redirect("governance:access-inbox", org=organization.slug)


@signed_in
@require_POST
def grant_revoke(request: HttpRequest, org: str, pk: int) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=org)
    grant: AccessGrant = get_object_or_404(access_grants_given_by(organization), pk=pk)
    form = RevokeForm(request.POST, prefix=f"grant-{pk}")
    if form.is_valid():
        try:
            revoke_grant(user=request.user, grant=grant, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request, f"{grant.organization.slug} may no longer use {grant.dataset or grant.model}."
            )
            return redirect("governance:access-inbox", org=organization.slug)
    elif not can_administer(request.user, organization):
        raise PermissionDenied(f"Only the owners and admins of {organization.slug} revoke access.")
    _member_organization(request, org)
    return _inbox(request, organization, revoke_forms={pk: form})
