"""Usage policies in the admin: versions are read-only, and a new version is a new row written by the
policy service (numbered, checked and audited). Policies are created on the organization's pages or
through the API, where their first version comes with them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from governance.models import Policy, PolicyAttachment, PolicyVersion
from governance.selectors import POLICY_TERM_FIELDS, policy_changes, policy_terms
from governance.services.policies import add_policy_version, validate_terms
from hub.permissions import can_administer


class PolicyVersionForm(forms.ModelForm):
    """The terms of a new version, checked by the policy service before anything is saved."""

    class Meta:
        model = PolicyVersion
        fields = [*POLICY_TERM_FIELDS, "change_note"]

    def terms(self) -> dict[str, Any]:
        terms = {name: self.cleaned_data.get(name) for name in POLICY_TERM_FIELDS}
        terms["listed_organizations"] = [
            organization.slug for organization in terms["listed_organizations"] or []
        ]
        return terms

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not self.instance._state.adding or not self.has_changed() or self.errors:
            return cleaned
        clean_terms = validate_terms(self.terms())  # its ValidationError names the form's fields
        latest = self.instance.policy.latest_version
        if latest is not None and not policy_changes(policy_terms(latest), clean_terms):
            raise ValidationError(f"These are the terms of {latest}; a new version must change one.")
        return cleaned


class PolicyVersionInline(admin.StackedInline):
    """Existing versions are shown read-only; the blank form, prefilled with the latest terms, adds one."""

    model = PolicyVersion
    form = PolicyVersionForm
    extra = 1
    can_delete = False
    readonly_fields = ["number", "created_by", "created_at"]
    fields = ["number", *POLICY_TERM_FIELDS, "change_note", "created_by", "created_at"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request, obj=None) -> bool:
        return obj is not None and can_administer(request.user, obj.organization)


class PolicyAttachmentInline(admin.TabularInline):
    """Attached on the dataset's or the model's page, the policy's page or through the API (audited)."""

    model = PolicyAttachment
    fields = readonly_fields = ["dataset", "model", "attached_by", "attached_at"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    list_display = ["__str__", "name", "current_version", "created_at", "page"]
    list_filter = ["organization"]
    search_fields = ["slug", "name", "organization__slug"]
    list_select_related = ["organization"]
    readonly_fields = ["organization", "slug", "name", "description", "created_by", "created_at", "page"]
    inlines = [PolicyVersionInline, PolicyAttachmentInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Version in force")
    def current_version(self, policy: Policy) -> str:
        latest = policy.latest_version
        return f"v{latest.number}" if latest else "—"

    @admin.display(description="Page")
    def page(self, policy: Policy) -> str:
        return format_html('<a href="{}">open</a>', policy.get_absolute_url())

    def get_formset_kwargs(self, request, obj, inline, prefix) -> dict[str, Any]:
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        latest = obj.latest_version if obj is not None and obj.pk else None
        # The same initial on POST: a blank form left as prefilled is then unchanged, and adds nothing.
        if isinstance(inline, PolicyVersionInline) and latest is not None:
            initial = {**policy_terms(latest), "change_note": ""}
            initial["listed_organizations"] = list(latest.listed_organizations.values_list("pk", flat=True))
            kwargs["initial"] = [initial]
        return kwargs

    def save_model(self, request, obj, form, change) -> None:
        """Nothing of the policy itself is edited here: its fields are read-only."""

    def save_formset(self, request, form, formset, change) -> None:
        if formset.model is not PolicyVersion:
            formset.save()
            return
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for version_form in formset.extra_forms:
            if version_form.has_changed():
                version = add_policy_version(
                    user=request.user,
                    policy=form.instance,
                    terms=version_form.terms(),
                    change_note=version_form.cleaned_data.get("change_note") or "",
                )
                formset.new_objects.append(version)


@admin.register(PolicyAttachment)
class PolicyAttachmentAdmin(admin.ModelAdmin):
    """Which policy governs which dataset or model; changed on the pages or through the API (audited)."""

    list_display = ["policy", "dataset", "model", "attached_by", "attached_at"]
    list_select_related = ["policy__organization", "dataset__organization", "model__organization"]
    search_fields = ["policy__slug", "dataset__slug", "model__slug"]
    readonly_fields = ["policy", "dataset", "model", "attached_by", "attached_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
