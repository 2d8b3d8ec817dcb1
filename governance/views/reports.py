"""Evaluation report pages: what a reviewer reads before publishing a version."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from governance.metrics.pii import PII_TITLES
from governance.selectors import reports_visible_to
from hub.access import signed_in


@signed_in
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(reports_visible_to(request.user), pk=pk)
    body = report.report or {}
    findings = ((body.get("leakage") or {}).get("data") or {}).get("by_type") or {}
    context = {
        "report": report,
        "body": body,
        "version": report.model_version,
        "pii_rows": [(PII_TITLES.get(kind, kind), count) for kind, count in findings.items()],
        "baselines": reports_visible_to(request.user).filter(baseline_of=report),
        "siblings": reports_visible_to(request.user)
        .filter(model_version=report.model_version)
        .exclude(pk=report.pk)[:10],
    }
    return render(request, "governance/report.html", context)
