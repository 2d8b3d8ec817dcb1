"""The review desk: reviewers read a publication request's report, checks, lineage and card, then
approve or reject it with a mandatory reason (on its page, or as an action over several)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from governance import cards
from governance.models import PolicyCheck, PublicationRequest
from governance.services.publication import decide_publication, is_reviewer


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve and publish"), ("reject", "Reject")])
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Required: the requester and the audit log see it.",
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), help_text="Required.")


@admin.register(PublicationRequest)
class PublicationRequestAdmin(admin.ModelAdmin):
    list_display = [
        "id", "model_version", "status", "review_required", "requested_by", "created_at", "review_deadline",
        "reviewer", "decided_at",
    ]  # fmt: skip
    list_filter = ["status", "review_required"]
    search_fields = ["model_version__model__slug", "model_version__model__organization__slug"]
    list_select_related = ["model_version__model__organization", "requested_by", "reviewer"]
    readonly_fields = [field.name for field in PublicationRequest._meta.fields]
    actions = ["approve_selected", "reject_selected"]
    change_form_template = "admin/governance/publicationrequest/review.html"

    # Reviewers (the hub-wide group, staff) read and decide; nobody adds, edits or deletes requests.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_reviewer(request.user) and request.user.is_staff

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        if not is_reviewer(request.user):
            return {}
        return actions

    def get_urls(self):
        decide = self.admin_site.admin_view(self.decide_view)
        return [
            path("<int:pk>/decide/", decide, name="governance_publicationrequest_decide"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        publication = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), **self._review_context(request, publication)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _review_context(self, request: HttpRequest, publication: PublicationRequest | None) -> dict:
        if publication is None:
            return {}
        version = publication.model_version
        check: PolicyCheck = publication.policy_check
        return {
            "publication": publication,
            "version": version,
            "report": publication.report,
            "check": check,
            "obligations": check.inputs.get("obligations", []),
            "completeness": cards.completeness_of(version),
            "decision_form": DecisionForm(),
            "decide_url": reverse("admin:governance_publicationrequest_decide", args=[publication.pk]),
            "can_decide": is_reviewer(request.user)
            and publication.status == PublicationRequest.Status.IN_REVIEW,
        }

    def decide_view(self, request: HttpRequest, pk: int):
        publication = get_object_or_404(PublicationRequest, pk=pk)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:governance_publicationrequest_change", args=[pk]))
        form = DecisionForm(request.POST)
        if form.is_valid():
            approve = form.cleaned_data["decision"] == "approve"
            if self._decide(request, publication, approve, form.cleaned_data["reason"]):
                return HttpResponseRedirect(reverse("admin:governance_publicationrequest_change", args=[pk]))
        else:
            self.message_user(request, "Choose a decision and give a reason.", messages.ERROR)
        return HttpResponseRedirect(reverse("admin:governance_publicationrequest_change", args=[pk]))

    def _decide(
        self, request: HttpRequest, publication: PublicationRequest, approve: bool, reason: str
    ) -> bool:
        try:
            decide_publication(reviewer=request.user, publication=publication, approve=approve, reason=reason)
        except PermissionDenied as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return False
        except ValidationError as exc:
            self.message_user(request, f"{publication}: {'; '.join(exc.messages)}", messages.ERROR)
            return False
        verb = "published" if approve else "rejected"
        self.message_user(request, f"{publication.model_version} {verb}.", messages.SUCCESS)
        return True

    def _bulk_decision(self, request: HttpRequest, queryset, approve: bool):
        """An action over several requests: ask for the reason first, then decide each."""
        if "apply" in request.POST:
            form = ReasonForm(request.POST)
            if form.is_valid():
                for publication in queryset:
                    self._decide(request, publication, approve, form.cleaned_data["reason"])
                return None
        else:
            form = ReasonForm()
        return TemplateResponse(
            request,
            "admin/governance/publicationrequest/decide_selected.html",
            {
                **self.admin_site.each_context(request),
                "title": ("Approve" if approve else "Reject") + " publication requests",
                "queryset": queryset,
                "form": form,
                "action": "approve_selected" if approve else "reject_selected",
                "approve": approve,
                "opts": self.model._meta,
            },
        )

    @admin.action(description="Approve and publish the selected requests (asks for a reason)")
    def approve_selected(self, request: HttpRequest, queryset):
        return self._bulk_decision(request, queryset, approve=True)

    @admin.action(description="Reject the selected requests (asks for a reason)")
    def reject_selected(self, request: HttpRequest, queryset):
        return self._bulk_decision(request, queryset, approve=False)


@admin.register(PolicyCheck)
class PolicyCheckAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "context",
        "outcome",
        "organization",
        "model_version",
        "created_by",
        "created_at",
        "codes",
    ]
    list_filter = ["context", "outcome"]
    readonly_fields = [field.name for field in PolicyCheck._meta.fields]

    @admin.display(description="reasons")
    def codes(self, check: PolicyCheck) -> str:
        return format_html("{}", ", ".join(reason["code"] for reason in check.reasons) or "—")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
