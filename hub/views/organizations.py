"""Organization pages: the organization, its members, and creating one."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from hub import selectors
from hub.access import public, signed_in
from hub.forms import MemberForm, OrganizationForm, add_service_errors
from hub.models import Membership, Organization, Role
from hub.permissions import can_administer, can_view_organization, can_write
from hub.services import organizations as services


@public
def organization(request, org, member_form=None):
    organization = get_object_or_404(Organization, slug=org)
    context = {
        "organization": organization,
        "memberships": selectors.members_of(organization)
        if can_view_organization(request.user, organization)
        else [],
        "datasets": selectors.datasets_visible_to(request.user).filter(organization=organization),
        "models": selectors.models_visible_to(request.user).filter(organization=organization),
        "can_write": can_write(request.user, organization),
        "can_administer": can_administer(request.user, organization),
        "member_form": member_form or MemberForm(),
        "roles": Role.choices,
    }
    return render(request, "hub/organization.html", context)


@signed_in
def organization_create(request):
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organization = services.create_organization(owner=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Organization {organization.slug} created; you are its owner.")
            return redirect(organization)
    return render(request, "hub/organization_form.html", {"form": form})


@signed_in
@require_POST
def member_add(request, org):
    organization = get_object_or_404(selectors.organizations_of(request.user), slug=org)
    form = MemberForm(request.POST)
    if form.is_valid():
        try:
            services.add_member(actor=request.user, organization=organization, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request, f"{form.cleaned_data['username']} added as {form.cleaned_data['role']}."
            )
            return redirect(organization)
    return organization_page_with_errors(request, org, form)


def organization_page_with_errors(request, org, form):
    response = organization(request, org, member_form=form)
    response.status_code = 400
    return response


@signed_in
@require_POST
def member_change(request, org, username):
    organization = get_object_or_404(selectors.organizations_of(request.user), slug=org)
    membership = get_object_or_404(Membership, organization=organization, user__username=username)
    try:
        if request.POST.get("action") == "remove":
            services.remove_member(actor=request.user, membership=membership)
            messages.success(request, f"{username} is no longer a member of {organization.slug}.")
            if membership.user_id == request.user.pk:
                return redirect("training:dashboard")
        else:
            services.change_role(actor=request.user, membership=membership, role=request.POST.get("role", ""))
            messages.success(request, f"{username} is now {request.POST.get('role')}.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect(organization)
