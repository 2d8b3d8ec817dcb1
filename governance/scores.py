"""Gathering the counts behind the scores from the records, in SQL, for every organization at once.

One grouped query per input (about a dozen in all, whatever the number of organizations), then
``governance.metrics.scores`` does the arithmetic. The hub's figures are the sums of the
organizations' counts, except where the spec defines them otherwise (active organizations, distinct
records over the whole hub).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import (
    Count,
    Exists,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from governance.metrics.scores import (
    CapabilityCounts,
    EffectCounts,
    Score,
    collaboration_effect,
    collaborative_capability,
)
from governance.models import (
    AccessGrant,
    AuditEvent,
    EvaluationReport,
    JobStatus,
    PolicyAttachment,
    PolicyCheck,
    PublicationRequest,
)
from hub.models import (
    Dataset,
    Download,
    Membership,
    ModelVersion,
    Organization,
    RegisteredModel,
    Split,
    Visibility,
)

RUN_FINISHED = ("succeeded", "failed", "cancelled")
PUBLISHED = (ModelVersion.Status.PUBLISHED, ModelVersion.Status.DEPRECATED)

# Governance does not import training: the training app registers where its runs are (a queryset with
# organization, status, created_at, finished_at, dataset_version, base_version, pool and
# accelerator_seconds) when it starts.
_run_source: list[Callable[[], QuerySet]] = []


def register_runs(source: Callable[[], QuerySet]) -> None:
    _run_source[:] = [source]


def _runs() -> QuerySet:
    if not _run_source:
        raise RuntimeError("no run records registered (the training app registers them when it starts)")
    return _run_source[0]()


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @property
    def days(self) -> int:
        return round((self.end - self.start).total_seconds() / 86400)

    def q(self, field: str) -> Q:
        return Q(**{f"{field}__gte": self.start, f"{field}__lt": self.end})

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "days": self.days}


def window_ending(end: datetime | None = None, days: int | None = None) -> Window:
    end = end or timezone.now()
    return Window(end - timedelta(days=days or settings.AGORA_SCORE_WINDOW_DAYS), end)


# Which records count -------------------------------------------------------------------------------


def shared_dataset_q(prefix: str = "") -> Q:
    """A dataset visible beyond its organization: public, internal to the hub, or granted to another."""
    granted = AccessGrant.objects.filter(
        dataset=OuterRef(f"{prefix}pk" if prefix else "pk"), revoked_at__isnull=True
    )
    return Q(**{f"{prefix}visibility__in": [Visibility.PUBLIC, Visibility.INTERNAL]}) | Q(Exists(granted))


def datasets_annotated(window: Window) -> QuerySet[Dataset]:
    """Datasets with ``shared`` and ``used`` (by a cross-organization run or download in the window)."""
    cross_run = (
        _runs()
        .filter(window.q("created_at"), dataset_version__dataset=OuterRef("pk"))
        .exclude(status="rejected")
        .exclude(organization=OuterRef("organization"))
    )
    cross_download = Download.objects.filter(window.q("at"), dataset=OuterRef("pk"), cross_organization=True)
    granted = AccessGrant.objects.filter(dataset=OuterRef("pk"), revoked_at__isnull=True)
    return Dataset.objects.annotate(
        granted=Exists(granted), cross_run=Exists(cross_run), cross_download=Exists(cross_download)
    ).annotate(
        shared=Q(visibility__in=[Visibility.PUBLIC, Visibility.INTERNAL]) | Q(granted=True),
        used=Q(cross_run=True) | Q(cross_download=True),
    )


def multi_organization_q() -> Q:
    """A run that draws on another organization: its dataset, its base model or its compute pool."""
    return (
        ~Q(dataset_version__dataset__organization=F("organization"))
        | ~Q(base_version__model__organization=F("organization"))
        | (Q(pool__isnull=False) & ~Q(pool__organization=F("organization")))
    )


def finished_runs(window: Window) -> QuerySet:
    return _runs().filter(window.q("finished_at"), status__in=RUN_FINISHED)


def published_versions_annotated(window: Window) -> QuerySet[ModelVersion]:
    """Versions published in the window, with their gain and whether they set a new best."""
    gain = (
        PublicationRequest.objects.filter(
            model_version=OuterRef("pk"), status=PublicationRequest.Status.PUBLISHED
        )
        .order_by("-created_at")
        .values("report__relative_gain")[:1]
    )
    beaten_earlier = EvaluationReport.objects.filter(
        dataset_version=OuterRef("dataset_version"),
        split=Split.TEST,
        status=JobStatus.SUCCEEDED,
        created_at__lt=OuterRef("created_at"),
        accuracy__gte=OuterRef("accuracy"),
    )
    best_report = (
        EvaluationReport.objects.filter(
            model_version=OuterRef("pk"), split=Split.TEST, status=JobStatus.SUCCEEDED
        )
        .exclude(trigger=EvaluationReport.Trigger.BASELINE)
        .filter(~Exists(beaten_earlier))
    )
    return ModelVersion.objects.filter(window.q("published_at")).annotate(
        gain=Subquery(gain, output_field=FloatField()), new_best=Exists(best_report)
    )


def published_models_annotated(window: Window) -> QuerySet[RegisteredModel]:
    published = ModelVersion.objects.filter(model=OuterRef("pk"), status__in=PUBLISHED)
    used_as_base = (
        _runs()
        .filter(window.q("created_at"), base_version__model=OuterRef("pk"))
        .exclude(status="rejected")
        .exclude(organization=OuterRef("organization"))
    )
    downloaded = Download.objects.filter(window.q("at"), model=OuterRef("pk"), cross_organization=True)
    return RegisteredModel.objects.annotate(
        published=Exists(published), used_as_base=Exists(used_as_base), downloaded=Exists(downloaded)
    ).filter(published=True)


# Grouped counts -----------------------------------------------------------------------------------


def _grouped(rows: Iterable[dict], key: str, into: dict[int, dict[str, float]]) -> None:
    for row in rows:
        organization = row.pop(key)
        for name, value in row.items():
            into[organization][name] = (into[organization].get(name) or 0) + (value or 0)


def effect_counts(window: Window) -> dict[int, EffectCounts]:
    """The counts behind E for every organization, keyed by organization id."""
    counts: dict[int, dict[str, float]] = defaultdict(dict)
    _grouped(
        datasets_annotated(window)
        .values("organization")
        .annotate(
            datasets=Count("pk"),
            shared_datasets=Count("pk", filter=Q(shared=True)),
            shared_datasets_used=Count("pk", filter=Q(shared=True, used=True)),
            published_artifacts=Count("pk", filter=Q(shared=True)),
            published_with_policy=Count("pk", filter=Q(shared=True, policy_attachment__isnull=False)),
        )
        .order_by(),
        "organization",
        counts,
    )
    _grouped(
        Dataset.objects.filter(window.q("updated_at"), card_completeness__isnull=False)
        .values("organization")
        .annotate(cards_touched=Count("pk"), card_completeness_sum=Sum("card_completeness"))
        .order_by(),
        "organization",
        counts,
    )
    _grouped(
        ModelVersion.objects.filter(window.q("card_touched_at"), card_completeness__isnull=False)
        .values(organization=F("model__organization"))
        .annotate(cards_touched=Count("pk"), card_completeness_sum=Sum("card_completeness"))
        .order_by(),
        "organization",
        counts,
    )
    governed = PolicyAttachment.objects.filter(model=OuterRef("model"))
    _grouped(
        ModelVersion.objects.filter(status__in=PUBLISHED)
        .annotate(governed=Exists(governed))
        .values(organization=F("model__organization"))
        .annotate(published_artifacts=Count("pk"), published_with_policy=Count("pk", filter=Q(governed=True)))
        .order_by(),
        "organization",
        counts,
    )
    _grouped(
        PolicyCheck.objects.filter(window.q("created_at"), organization__isnull=False)
        .values("organization")
        .annotate(
            policy_checks=Count("pk"),
            policy_checks_passed=Count("pk", filter=~Q(outcome=PolicyCheck.Outcome.REFUSED)),
        )
        .order_by(),
        "organization",
        counts,
    )
    now = timezone.now()
    _grouped(
        PublicationRequest.objects.filter(window.q("created_at"), review_required=True)
        .filter(Q(decided_at__isnull=False) | Q(review_deadline__lt=now))
        .values(organization=F("model_version__model__organization"))
        .annotate(
            reviews_requested=Count("pk"),
            reviews_on_time=Count(
                "pk", filter=Q(decided_at__isnull=False, decided_at__lte=F("review_deadline"))
            ),
        )
        .order_by(),
        "organization",
        counts,
    )
    _grouped(
        finished_runs(window)
        .values("organization")
        .annotate(
            finished_runs=Count("pk"), multi_organization_runs=Count("pk", filter=multi_organization_q())
        )
        .order_by(),
        "organization",
        counts,
    )
    active = AuditEvent.objects.filter(
        window.q("at"), actor=OuterRef("user"), organization=OuterRef("organization")
    )
    _grouped(
        Membership.objects.annotate(active=Exists(active))
        .values("organization")
        .annotate(members=Count("pk"), active_members=Count("pk", filter=Q(active=True)))
        .order_by(),
        "organization",
        counts,
    )
    return {organization: _counts(EffectCounts, values) for organization, values in counts.items()}


def capability_counts(window: Window) -> dict[int, CapabilityCounts]:
    """The counts behind C for every organization, keyed by organization id."""
    counts: dict[int, dict[str, float]] = defaultdict(dict)
    _grouped(
        published_versions_annotated(window)
        .values(organization=F("model__organization"))
        .annotate(
            published_versions=Count("pk"),
            gain_sum=Coalesce(Sum("gain"), Value(0.0)),
            versions_with_gain=Count("gain"),
            new_best_versions=Count("pk", filter=Q(new_best=True)),
        )
        .order_by(),
        "organization",
        counts,
    )
    for organization, records in _shared_records(window).items():
        counts[organization]["shared_records"] = records
    _grouped(
        published_models_annotated(window)
        .values("organization")
        .annotate(
            published_models=Count("pk"),
            published_models_used=Count("pk", filter=Q(used_as_base=True) | Q(downloaded=True)),
        )
        .order_by(),
        "organization",
        counts,
    )
    _grouped(
        finished_runs(window)
        .filter(pool__isnull=False)
        .values(pool_owner=F("pool__organization"))
        .annotate(
            pool_seconds=Coalesce(Sum("accelerator_seconds"), Value(0.0)),
            pool_seconds_for_others=Coalesce(
                Sum("accelerator_seconds", filter=~Q(organization=F("pool__organization"))), Value(0.0)
            ),
        )
        .order_by(),
        "pool_owner",
        counts,
    )
    return {organization: _counts(CapabilityCounts, values) for organization, values in counts.items()}


def _train_rows(prefix: str = "") -> Cast:
    return Cast(KeyTextTransform(Split.TRAIN, f"{prefix}row_counts"), IntegerField())


def consumed_dataset_versions(window: Window) -> QuerySet:
    """(organization, dataset version, its training records) for each shared dataset version an
    organization's runs consumed in the window, once per pair."""
    shared = Dataset.objects.filter(shared_dataset_q()).values("pk")
    return (
        _runs()
        .filter(window.q("created_at"), dataset_version__dataset__in=shared)
        .exclude(status="rejected")
        .values("organization", "dataset_version")
        .annotate(records=_train_rows("dataset_version__"))
        .order_by()
        .distinct()
    )


def _shared_records(window: Window) -> dict[int, int]:
    # Distinct (organization, dataset version) pairs come from SQL; only their sums are added here.
    totals: dict[int, int] = defaultdict(int)
    for row in consumed_dataset_versions(window):
        totals[row["organization"]] += row["records"] or 0
    return totals


def _counts(kind, values: dict[str, float]):
    names = {f.name for f in fields(kind)}
    return kind(**{name: value for name, value in values.items() if name in names})


# Scores ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    window: Window
    effect: Score
    capability: Score
    effect_counts: EffectCounts
    capability_counts: CapabilityCounts

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window.to_dict(),
            "E": self.effect.to_dict(),
            "C": self.capability.to_dict(),
        }


def _scores(window: Window, effect: EffectCounts, capability: CapabilityCounts) -> Scores:
    saturation = settings.AGORA_SCORE_RECORDS_SATURATION
    return Scores(
        window,
        collaboration_effect(effect),
        collaborative_capability(capability, saturation),
        effect,
        capability,
    )


def organization_scores(window: Window | None = None) -> dict[int, Scores]:
    """E and C of every organization, keyed by organization id (about a dozen queries in all)."""
    window = window or window_ending()
    effect, capability = effect_counts(window), capability_counts(window)
    return {
        organization: _scores(
            window, effect.get(organization, EffectCounts()), capability.get(organization, CapabilityCounts())
        )
        for organization in Organization.objects.values_list("pk", flat=True)
    }


def organization_score(organization: Organization, window: Window | None = None) -> Scores:
    return organization_scores(window)[organization.pk]


def hub_scores(window: Window | None = None, per_organization: dict[int, Scores] | None = None) -> Scores:
    """E and C of the whole hub: the organizations' counts summed, with the hub's own definitions of
    activity (active organizations / organizations) and of distinct records."""
    window = window or window_ending()
    per_organization = per_organization or organization_scores(window)
    effect = _summed(EffectCounts, [s.effect_counts for s in per_organization.values()])
    active = AuditEvent.objects.filter(window.q("at"), organization=OuterRef("pk"))
    organizations = Organization.objects.aggregate(
        members=Count("pk"), active_members=Count("pk", filter=Q(Exists(active)))
    )
    effect = EffectCounts(**{**effect.__dict__, **organizations})
    capability = _summed(CapabilityCounts, [s.capability_counts for s in per_organization.values()])
    records = (
        consumed_dataset_versions(window)
        .values("dataset_version")
        .annotate(records=_train_rows("dataset_version__"))
        .order_by()
        .distinct()
    )
    capability = CapabilityCounts(
        **{**capability.__dict__, "shared_records": sum(r["records"] or 0 for r in records)}
    )
    return _scores(window, effect, capability)


def _summed(kind, items: list):
    return kind(**{f.name: sum(getattr(item, f.name) for item in items) for f in fields(kind)})


def version_objective(version: ModelVersion) -> dict[str, Any] | None:
    """F of a version: its headline evaluation's objective with the terms and weights, or None."""
    from governance.selectors import headline_evaluation

    report = headline_evaluation(version)
    if report is None:
        return None
    objective = report.report.get("objective", {})
    return {
        "score": "F",
        "value": report.objective,
        "governance_score": report.governance_score,
        "terms": {"delta": report.delta, "epsilon": report.epsilon, "theta": report.theta},
        "weights": objective.get("weights"),
        "weights_source": objective.get("weights_source"),
        "missing": objective.get("missing", []),
        "report": report.pk,
    }


# Window length in days → (monotonic time it expires, scores per organization, hub scores).
_recent: dict[int, tuple[float, dict[int, Scores], Scores]] = {}


def recent_scores(window: Window) -> tuple[dict[int, Scores], Scores]:
    """``organization_scores`` and ``hub_scores`` of ``window``. With AGORA_SCORES_CACHE_SECONDS, a result
    for a window of the same length computed that recently in this process is answered instead: the
    scores read every run, report and download of the hub (a second or more at full size), and they
    change little in a minute. Kept in the process, not the cache: unpickling a thousand organizations'
    scores on every request costs a tenth of a second."""
    seconds = settings.AGORA_SCORES_CACHE_SECONDS
    if seconds <= 0:
        _recent.clear()
    elif (kept := _recent.get(window.days)) is not None and kept[0] > time.monotonic():
        return kept[1], kept[2]
    per_organization = organization_scores(window)
    hub = hub_scores(window, per_organization=per_organization)
    if seconds > 0:
        _recent[window.days] = (time.monotonic() + seconds, per_organization, hub)
    return per_organization, hub
