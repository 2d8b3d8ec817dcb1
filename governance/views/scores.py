"""The scores pages: E and C of the hub and of each organization (headline, product, factor bars,
bottleneck, trends from the daily snapshots) and the records behind each factor."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from governance.metrics.scores import Factor, Score
from governance.models import ScoreSnapshot
from governance.score_records import (
    SCORE_FACTOR_KEYS,
    SCORE_WINDOW_MAX_DAYS,
    SCORE_WINDOW_MIN_DAYS,
    FactorRecords,
    factor_records,
)
from governance.scores import Scores, Window, hub_scores, organization_scores, recent_scores, window_ending
from hub.access import signed_in
from hub.models import Organization
from hub.permissions import Viewer, can_view_organization
from hub.selectors import organizations_of

TREND_DAYS = 365

FORMULAS = {"E": "E = D × T × N × M", "C": "C = A × B × S × K × R"}

# Why a factor is n/a: the denominator that is zero.
NA_REASONS = {
    "D_scale": "no datasets",
    "D_use": "no shared datasets",
    "T": "no dataset or model cards touched in the window",
    "N_cover": "no published artifacts",
    "N_pass": "no policy checks in the window",
    "N_review": "no reviews due or decided in the window",
    "M_multi": "no runs finished in the window",
    "M_active": "no members",
    "A": "no version published in the window with a measured gain",
    "S": "no versions published in the window",
    "K": "no published models",
    "R": "no compute-pool time spent in the window",
}
HUB_NA_REASONS = {**NA_REASONS, "M_active": "no organizations"}

# The counts behind a factor in words: {n} the numerator (or sum), {d} the denominator (or count).
COUNT_PHRASES = {
    "D_scale": "{n} of {d} datasets shared",
    "D_use": "{n} of {d} shared datasets used",
    "T": "completeness {n} summed over {d} cards",
    "N_cover": "{n} of {d} published artifacts under a policy",
    "N_pass": "{n} of {d} policy checks passed",
    "N_review": "{n} of {d} reviews on time",
    "M_multi": "{n} of {d} finished runs multi-organization",
    "M_active": "{n} of {d} members active",
    "A": "gain {n} summed over {d} versions",
    "B": "V = {n} records, V0 = {d}",
    "S": "{n} of {d} versions set a new best",
    "K": "{n} of {d} published models used",
    "R": "{n} of {d} pool accelerator-seconds for other organizations",
}
HUB_COUNT_PHRASES = {**COUNT_PHRASES, "M_active": "{n} of {d} organizations active"}

# Which inputs are the numerator and the denominator of the factors that are not plain ratios.
INPUT_PAIRS = {
    "T": ("card_completeness_sum", "cards_touched"),
    "A": ("gain_sum", "versions_with_gain"),
    "B": ("shared_records", "V0"),
}


class WindowForm(forms.Form):
    days = forms.IntegerField(
        required=False, min_value=SCORE_WINDOW_MIN_DAYS, max_value=SCORE_WINDOW_MAX_DAYS
    )


def number_text(value: float | None) -> str:
    """A count with thousands separators, anything else to at most three decimals."""
    if value is None:
        return "n/a"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3f}".rstrip("0").rstrip(".")


# What the templates read -----------------------------------------------------------------------


@dataclass(frozen=True)
class FactorView:
    key: str
    name: str
    value: float | None
    formula: str
    counts: str  # the inputs in words; empty for a composite
    na_reason: str  # empty unless the value is n/a
    records_url: str  # empty for a composite: its parts have the records
    bottleneck: bool
    parts: tuple[FactorView, ...]

    @property
    def percent(self) -> float | None:
        return None if self.value is None else 100 * self.value


@dataclass(frozen=True)
class ScoreView:
    symbol: str
    name: str
    formula: str
    value: float | None  # the product, as the source defines the score
    geometric_mean: float | None  # the headline
    factors: tuple[FactorView, ...]
    bottleneck: FactorView | None

    @property
    def percent(self) -> float | None:
        return None if self.geometric_mean is None else 100 * self.geometric_mean

    @property
    def missing(self) -> list[FactorView]:
        return [factor for factor in self.factors if factor.value is None]

    def chart(self) -> dict[str, Any]:
        """The factor bars, as AgoraCharts.intervalBars draws them."""
        return {
            "title": f"Factors of {self.symbol}",
            "xLabel": "factor value (0 to 1)",
            "domain": [0, 1],
            "bars": [
                {
                    "label": f"{factor.key} (bottleneck)" if factor.bottleneck else factor.key,
                    "value": factor.value,
                    "muted": factor.value is None,
                    "note": factor.name,
                }
                for factor in self.factors
            ],
        }


def _inputs(factor: Factor) -> tuple[float, float] | None:
    if factor.key in INPUT_PAIRS:
        numerator, denominator = INPUT_PAIRS[factor.key]
        return factor.inputs[numerator], factor.inputs[denominator]
    if "numerator" in factor.inputs:
        return factor.inputs["numerator"], factor.inputs["denominator"]
    return None


def factor_view(
    factor: Factor, *, hub: bool, records_url: Callable[[str], str], bottleneck: Factor | None = None
) -> FactorView:
    parts = tuple(factor_view(part, hub=hub, records_url=records_url) for part in factor.parts)
    inputs = _inputs(factor)
    phrases = HUB_COUNT_PHRASES if hub else COUNT_PHRASES
    counts = ""
    if inputs is not None and factor.key in phrases:
        counts = phrases[factor.key].format(n=number_text(inputs[0]), d=number_text(inputs[1]))
    na_reason = ""
    if factor.value is None:
        if parts:
            missing = [part for part in parts if part.value is None]
            na_reason = "; ".join(f"{part.key} is n/a ({part.na_reason})" for part in missing)
        else:
            na_reason = (HUB_NA_REASONS if hub else NA_REASONS).get(factor.key, "its denominator is zero")
    return FactorView(
        key=factor.key,
        name=factor.name,
        value=factor.value,
        formula=factor.formula,
        counts=counts,
        na_reason=na_reason,
        records_url=records_url(factor.key) if factor.key in SCORE_FACTOR_KEYS else "",
        bottleneck=bottleneck is not None and bottleneck.key == factor.key,
        parts=parts,
    )


def score_view(score: Score, *, hub: bool, records_url: Callable[[str], str]) -> ScoreView:
    bottleneck = score.bottleneck
    factors = tuple(
        factor_view(factor, hub=hub, records_url=records_url, bottleneck=bottleneck)
        for factor in score.factors
    )
    return ScoreView(
        symbol=score.symbol,
        name=score.name,
        formula=FORMULAS.get(score.symbol, ""),
        value=score.value,
        geometric_mean=score.geometric_mean,
        factors=factors,
        bottleneck=next((factor for factor in factors if factor.bottleneck), None),
    )


def find_factor(scores: Scores, key: str) -> tuple[Score, Factor]:
    for score in (scores.effect, scores.capability):
        for factor in score.factors:
            for candidate in (factor, *factor.parts):
                if candidate.key == key:
                    return score, candidate
    raise KeyError(key)


# Trends from the daily snapshots ----------------------------------------------------------------


def _snapshot_factors(snapshot: ScoreSnapshot) -> Iterable[Mapping[str, Any]]:
    factors = snapshot.factors.get("factors", []) if isinstance(snapshot.factors, Mapping) else []
    return [factor for factor in factors if isinstance(factor, Mapping) and "key" in factor]


def trends(snapshots: Iterable[ScoreSnapshot], today: Date) -> dict[str, dict[str, Any]]:
    """Per score, the series of the headline, the product and each factor over the snapshots' days
    (x: days from today, 0 today), and the rows of the table beside the charts."""
    result: dict[str, dict[str, Any]] = {}
    for snapshot in snapshots:
        trend = result.setdefault(snapshot.score, {"headline": [], "product": [], "factors": {}, "rows": []})
        x = (snapshot.date - today).days
        trend["headline"].append([x, snapshot.geometric_mean])
        trend["product"].append([x, snapshot.value])
        for factor in _snapshot_factors(snapshot):
            trend["factors"].setdefault(factor["key"], []).append([x, factor.get("value")])
        trend["rows"].append(
            {
                "date": snapshot.date,
                "geometric_mean": snapshot.geometric_mean,
                "value": snapshot.value,
                "bottleneck": (snapshot.factors or {}).get("bottleneck"),
                "window_days": snapshot.window_days,
            }
        )
    return result


def _trend_charts(trend: Mapping[str, Any] | None) -> dict[str, Any]:
    if trend is None:
        return {"headline": [], "factors": []}
    return {
        "headline": [
            {"label": "geometric mean (headline)", "points": trend["headline"]},
            {"label": "product", "points": trend["product"], "dashed": True},
        ],
        "factors": [{"label": key, "points": points} for key, points in trend["factors"].items()],
    }


# Pages -------------------------------------------------------------------------------------------


def _window(request: HttpRequest) -> tuple[Window, int | None]:
    """The window ending now; its length from ?days= (7 to 365) or the default, with a message when
    the value given cannot be used."""
    form = WindowForm(request.GET)
    days = None
    if form.is_valid():
        days = form.cleaned_data["days"]
    else:
        messages.warning(
            request,
            f"The window must be a whole number of days from {SCORE_WINDOW_MIN_DAYS} to "
            f"{SCORE_WINDOW_MAX_DAYS}; showing the default of {settings.AGORA_SCORE_WINDOW_DAYS} days.",
        )
    return window_ending(days=days), days


def _viewable_organization(user: Viewer, slug: str) -> Organization:
    organization = get_object_or_404(Organization, slug=slug)
    if not can_view_organization(user, organization):
        raise Http404("No such organization.")
    return organization


def _records_url(organization: Organization | None, days: int | None) -> Callable[[str], str]:
    query = f"?days={days}" if days else ""

    def url(factor: str) -> str:
        if organization is None:
            return reverse("governance:score-factor", args=[factor]) + query
        return reverse("governance:organization-score-factor", args=[organization.slug, factor]) + query

    return url


def _scores_context(scores: Scores, organization: Organization | None, days: int | None) -> dict[str, Any]:
    hub = organization is None
    records_url = _records_url(organization, days)
    panels = [
        score_view(score, hub=hub, records_url=records_url) for score in (scores.effect, scores.capability)
    ]
    snapshots = ScoreSnapshot.objects.filter(
        scope=ScoreSnapshot.Scope.HUB if hub else ScoreSnapshot.Scope.ORGANIZATION,
        date__gte=timezone.localdate() - timedelta(days=TREND_DAYS),
    ).order_by("date", "score")
    if not hub:
        snapshots = snapshots.filter(organization=organization)
    series = trends(snapshots, timezone.localdate())
    return {
        "organization": organization,
        "window": scores.window,
        "days": days or scores.window.days,
        "panels": panels,
        "trends": [(panel, series.get(panel.symbol)) for panel in panels],
        "has_snapshots": bool(series),
        "chart_data": {
            panel.symbol: {
                "bars": panel.chart(),
                "trend": _trend_charts(series.get(panel.symbol)),
            }
            for panel in panels
        },
        "api_url": reverse("scores-hub")
        if hub
        else reverse("scores-organization", kwargs={"slug": organization.slug}),
    }


@signed_in
def hub_scores_page(request: HttpRequest) -> HttpResponse:
    window, days = _window(request)
    per_organization, scores = recent_scores(window)
    context = _scores_context(scores, None, days)
    records_url = _records_url(None, days)
    context["organizations"] = [
        (
            organization,
            score_view(per_organization[organization.pk].effect, hub=False, records_url=records_url),
            score_view(per_organization[organization.pk].capability, hub=False, records_url=records_url),
        )
        for organization in organizations_of(request.user).order_by("slug")
        if organization.pk in per_organization
    ]
    return render(request, "governance/scores.html", context)


@signed_in
def organization_scores_page(request: HttpRequest, org: str) -> HttpResponse:
    organization = _viewable_organization(request.user, org)
    window, days = _window(request)
    scores = recent_scores(window)[0][organization.pk]
    return render(request, "governance/scores.html", _scores_context(scores, organization, days))


@dataclass(frozen=True)
class RecordRow:
    label: str
    url: str
    facts: list[str]
    counts: bool | float | None


def fact_text(value: Any) -> str:
    """A fact of a record as the drill-down table shows it."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return date_format(timezone.localtime(value), "Y-m-d H:i")
    if isinstance(value, int | float):
        return number_text(value)
    return str(value)


@signed_in
def factor_records_page(request: HttpRequest, factor: str, org: str | None = None) -> HttpResponse:
    if factor not in SCORE_FACTOR_KEYS:
        raise Http404("No such factor.")
    organization = _viewable_organization(request.user, org) if org is not None else None
    window, days = _window(request)
    scores = hub_scores(window) if organization is None else organization_scores(window)[organization.pk]
    score, item = find_factor(scores, factor)
    records: FactorRecords = factor_records(factor, window, request.user, organization)
    records_url = _records_url(organization, days)
    view = factor_view(item, hub=organization is None, records_url=records_url, bottleneck=score.bottleneck)
    context = {
        "organization": organization,
        "window": window,
        "days": days or window.days,
        "score": score,
        "factor": view,
        "records": records,
        "rows": [
            RecordRow(row.label, row.url, [fact_text(fact) for fact in row.facts], row.counts)
            for row in records.rows
        ],
        "factor_links": [(key, records_url(key)) for key in SCORE_FACTOR_KEYS],
        "scores_url": reverse("governance:scores")
        if organization is None
        else reverse("governance:organization-scores", args=[organization.slug]),
    }
    return render(request, "governance/scores.html", context)
