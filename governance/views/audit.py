"""An organization's audit log page, for its owners and admins."""

from __future__ import annotations

import datetime

from django import forms
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from governance import audit
from governance.selectors import audit_events_visible_to, filter_audit_events
from hub.access import signed_in
from hub.models import Organization
from hub.permissions import can_administer, can_view_organization

PAGE_SIZE = 50


class AuditFilterForm(forms.Form):
    action = forms.CharField(
        required=False, max_length=64, help_text="A prefix: run. for every run event, member.add for one."
    )
    actor = forms.CharField(required=False, max_length=150, help_text="A username, or system.")
    target = forms.CharField(required=False, max_length=300, label="Target contains")
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    channel = forms.ChoiceField(
        required=False, choices=[("", "Any channel"), *((channel, channel) for channel in audit.CHANNELS)]
    )

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            self.add_error("until", "must be on or after the From date")
        return cleaned


def _start_of(day: datetime.date | None) -> datetime.datetime | None:
    """The first instant of the day in the site's time zone; None when none, or beyond the calendar."""
    if day is None:
        return None
    try:
        return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
    except (OverflowError, ValueError):
        return None


def _after(day: datetime.date | None) -> datetime.date | None:
    try:
        return day + datetime.timedelta(days=1) if day else None
    except OverflowError:  # the last day of the calendar: nothing comes after it
        return None


@signed_in
def audit_log(request: HttpRequest, org: str) -> HttpResponse:
    """Every change recorded in the organization, newest first; filters that fail to parse are shown
    as form errors and left out."""
    organization = get_object_or_404(Organization, slug=org)
    if not can_view_organization(request.user, organization):
        raise Http404("No such organization.")
    if not can_administer(request.user, organization):
        raise PermissionDenied(f"Only owners and admins of {organization.slug} read its audit log.")
    form = AuditFilterForm(request.GET)
    form.is_valid()  # errors show on the form; the filters that parsed still apply
    chosen = form.cleaned_data
    events = filter_audit_events(
        audit_events_visible_to(request.user).filter(organization_id=organization.pk),
        action=chosen.get("action", ""),
        actor=chosen.get("actor", ""),
        target=chosen.get("target", ""),
        channel=chosen.get("channel", ""),
        since=_start_of(chosen.get("since")),
        until=_start_of(_after(chosen.get("until"))),
    )
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    kept = request.GET.copy()
    kept.pop("page", None)
    context = {
        "organization": organization,
        "form": form,
        "page": page,
        "rows": [(event, audit.changes(event.before, event.after)) for event in page],
        "kept_query": kept.urlencode(),
        "filtered": any(value for name, value in request.GET.items() if name != "page"),
    }
    return render(request, "governance/audit_log.html", context)
