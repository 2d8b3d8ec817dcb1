"""Reads for the scores' drill-down: the records behind each factor, as far as the viewer may see them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone

from governance.models import (
    AuditEvent,
    PolicyAttachment,
    PolicyCheck,
    PublicationRequest,
)
from governance.scores import (
    PUBLISHED,
    Window,
    _runs,
    consumed_dataset_versions,
    datasets_annotated,
    finished_runs,
    published_models_annotated,
    published_versions_annotated,
)
from hub.models import (
    Dataset,
    DatasetVersion,
    Download,
    Membership,
    ModelVersion,
    Organization,
    RegisteredModel,
)
from hub.permissions import (
    Viewer,
    artifact_visible_q,
)
from hub.selectors import organizations_of

# Scores: the records behind each factor -----------------------------------------------------------

# The windows pages and the API accept as ?days=.
SCORE_WINDOW_MIN_DAYS = 7
SCORE_WINDOW_MAX_DAYS = 365
FACTOR_RECORDS_LIMIT = 500


@dataclass(frozen=True)
class FactorRecord:
    """One record behind a factor: what it is, the facts that decide whether it counts, and how it
    counts: yes or no for a ratio, the amount it adds for a mean or a sum, None when left out."""

    label: str
    url: str
    facts: tuple[Any, ...]
    counts: bool | float | None


@dataclass(frozen=True)
class FactorRecords:
    """The records behind one factor of E or C, in the hub or in one organization."""

    factor: str
    description: str
    columns: tuple[str, ...]  # headings of ``facts``
    counts_column: str
    rows: list[FactorRecord]
    total: int  # records behind the factor in this scope
    hidden: int  # of those, the ones the viewer may not see (named nowhere)

    @property
    def listable(self) -> int:
        return self.total - self.hidden

    @property
    def truncated(self) -> bool:
        return len(self.rows) < self.listable


def factor_records(
    factor: str, window: Window, user: Viewer, organization: Organization | None = None
) -> FactorRecords:
    """The records behind ``factor`` (a key of SCORE_FACTOR_KEYS; KeyError otherwise) in the window.

    For an organization: its records, which its members may all see (the caller checks that the
    viewer may view the organization). For the hub: every organization's records, of which only
    those the viewer may see are listed; the others are counted in ``hidden``. At most
    FACTOR_RECORDS_LIMIT rows.
    """
    return _FACTOR_RECORDS[factor](window, user, organization)


def _viewer_organization_ids(user: Viewer) -> set[int]:
    return set(organizations_of(user).values_list("pk", flat=True))


def _in_scope(
    records: QuerySet, organization: Organization | None, owner_field: str, visible: Q
) -> tuple[QuerySet, int, int]:
    """One organization's records (its members see them all), or the hub's split by what the viewer
    may see: the records shown, how many there are in all, and how many are hidden."""
    if organization is not None:
        return _split_visible(records.filter(**{owner_field: organization}), None)
    return _split_visible(records, visible)


def _split_visible(records: QuerySet, visible: Q | None) -> tuple[QuerySet, int, int]:
    """The records the viewer may see, how many there are in all, and how many are hidden."""
    total = records.count()
    if visible is None:
        return records, total, 0
    shown = records.filter(visible)
    return shown, total, total - shown.count()


def _visible_datasets_q(user: Viewer, field: str = "pk") -> Q:
    return Q(**{f"{field}__in": Dataset.objects.filter(artifact_visible_q(user, Dataset)).values("pk")})


def _visible_models_q(user: Viewer, field: str = "pk") -> Q:
    return Q(
        **{
            f"{field}__in": RegisteredModel.objects.filter(artifact_visible_q(user, RegisteredModel)).values(
                "pk"
            )
        }
    )


def _card_url(version: ModelVersion) -> str:
    return reverse(
        "governance:card", args=[version.model.organization.slug, version.model.slug, version.number]
    )


def _reason_messages(reasons: list) -> str | None:
    return "; ".join(str(reason.get("message", "")) for reason in reasons if isinstance(reason, dict)) or None


def _run_url(run, viewer_organizations: set[int]) -> str:
    # Runs are private to the organization that started them: link only those the viewer may open.
    return (
        reverse("training:run", kwargs={"pk": run.pk}) if run.organization_id in viewer_organizations else ""
    )


def _dataset_scale_records(window: Window, user: Viewer, organization: Organization | None) -> FactorRecords:
    datasets = datasets_annotated(window).select_related("organization")
    shown, total, hidden = _in_scope(datasets, organization, "organization", _visible_datasets_q(user))
    rows = [
        FactorRecord(
            dataset.full_name,
            dataset.get_absolute_url(),
            (dataset.get_visibility_display(), dataset.granted),
            dataset.shared,
        )
        for dataset in shown.order_by("organization__slug", "slug")[:FACTOR_RECORDS_LIMIT]
    ]
    return FactorRecords(
        "D_scale",
        "Every dataset; it is shared when it is visible beyond its organization: public, internal to the "
        "hub, or granted to another organization.",
        ("Visibility", "Granted to another organization"),
        "Shared",
        rows,
        total,
        hidden,
    )


def _dataset_use_records(window: Window, user: Viewer, organization: Organization | None) -> FactorRecords:
    datasets = datasets_annotated(window).filter(shared=True).select_related("organization")
    shown, total, hidden = _in_scope(datasets, organization, "organization", _visible_datasets_q(user))
    rows = [
        FactorRecord(
            dataset.full_name,
            dataset.get_absolute_url(),
            (dataset.cross_run, dataset.cross_download),
            dataset.used,
        )
        for dataset in shown.order_by("organization__slug", "slug")[:FACTOR_RECORDS_LIMIT]
    ]
    return FactorRecords(
        "D_use",
        "The shared datasets; one is in use when another organization started a run on it (not refused) "
        "or downloaded it in the window.",
        ("Run by another organization", "Downloaded by another organization"),
        "Used",
        rows,
        total,
        hidden,
    )


def _card_records(window: Window, user: Viewer, organization: Organization | None) -> FactorRecords:
    datasets = Dataset.objects.filter(window.q("updated_at"), card_completeness__isnull=False).select_related(
        "organization"
    )
    versions = ModelVersion.objects.filter(
        window.q("card_touched_at"), card_completeness__isnull=False
    ).select_related("model__organization")
    if organization is not None:
        datasets = datasets.filter(organization=organization)
        versions = versions.filter(model__organization=organization)
    shown_datasets, dataset_total, datasets_hidden = _split_visible(
        datasets, None if organization else _visible_datasets_q(user)
    )
    shown_versions, version_total, versions_hidden = _split_visible(
        versions, None if organization else _visible_models_q(user, "model")
    )
    rows = [
        (
            dataset.updated_at,
            FactorRecord(
                dataset.full_name,
                dataset.get_absolute_url(),
                ("datasheet", dataset.updated_at),
                dataset.card_completeness,
            ),
        )
        for dataset in shown_datasets.order_by("-updated_at", "-pk")[:FACTOR_RECORDS_LIMIT]
    ] + [
        (
            version.card_touched_at,
            FactorRecord(
                str(version),
                _card_url(version),
                ("model card", version.card_touched_at),
                version.card_completeness,
            ),
        )
        for version in shown_versions.order_by("-card_touched_at", "-pk")[:FACTOR_RECORDS_LIMIT]
    ]
    rows.sort(key=lambda pair: pair[0], reverse=True)
    return FactorRecords(
        "T",
        "Dataset and model cards touched in the window, with their stored completeness (filled required "
        "fields / required fields); T is their mean.",
        ("Card", "Touched"),
        "Completeness",
        [row for _, row in rows[:FACTOR_RECORDS_LIMIT]],
        dataset_total + version_total,
        datasets_hidden + versions_hidden,
    )


def _policy_cover_records(window: Window, user: Viewer, organization: Organization | None) -> FactorRecords:
    versions = (
        ModelVersion.objects.filter(status__in=PUBLISHED)
        .annotate(
            policy_name=Subquery(
                PolicyAttachment.objects.filter(model=OuterRef("model")).values("policy__name")[:1]
            )
        )
        .select_related("model__organization")
    )
    datasets = (
        datasets_annotated(window)
        .filter(shared=True)
        .annotate(
            policy_name=Subquery(
                PolicyAttachment.objects.filter(dataset=OuterRef("pk")).values("policy__name")[:1]
            )
        )
        .select_related("organization")
    )
    if organization is not None:
        versions = versions.filter(model__organization=organization)
        datasets = datasets.filter(organization=organization)
    shown_versions, version_total, versions_hidden = _split_visible(
        versions, None if organization else _visible_models_q(user, "model")
    )
    shown_datasets, dataset_total, datasets_hidden = _split_visible(
        datasets, None if organization else _visible_datasets_q(user)
    )
    rows = [
        FactorRecord(
            str(version),
            version.get_absolute_url(),
            ("published model version", version.policy_name),
            version.policy_name is not None,
        )
        for version in shown_versions.order_by("model__organization__slug", "model__slug", "number")[
            :FACTOR_RECORDS_LIMIT
        ]
    ] + [
        FactorRecord(
            dataset.full_name,
            dataset.get_absolute_url(),
            ("shared dataset", dataset.policy_name),
            dataset.policy_name is not None,
        )
        for dataset in shown_datasets.order_by("organization__slug", "slug")[:FACTOR_RECORDS_LIMIT]
    ]
    return FactorRecords(
        "N_cover",
        "Published artifacts: model versions published (or since deprecated) and shared datasets; one is "
        "covered when a usage policy is attached to it (to its model, for a version).",
        ("Artifact", "Usage policy"),
        "Under a policy",
        rows[:FACTOR_RECORDS_LIMIT],
        version_total + dataset_total,
        versions_hidden + datasets_hidden,
    )


def _policy_check_records(window: Window, user: Viewer, organization: Organization | None) -> FactorRecords:
    viewer_organizations = _viewer_organization_ids(user)
    checks = PolicyCheck.objects.filter(window.q("created_at"), organization__isnull=False).select_related(
        "organization", "model_version__model__organization"
    )
    shown, total, hidden = _in_scope(
        checks, organization, "organization", Q(organization_id__in=viewer_organizations)
    )
    rows = [
        FactorRecord(
            f"{check.get_context_display()} check {check.pk} · {check.organization.slug}",
            check.model_version.get_absolute_url() if check.model_version else "",
            (check.get_outcome_display(), _reason_messages(check.reasons), check.created_at),
            check.passed,
        )
        for check in shown.order_by("-created_at", "-pk")[:FACTOR_RECORDS_LIMIT]
    ]
    return FactorRecords(
        "N_pass",
        "Policy checks the policy engine ran in the window for the organization (runs, publications, "
        "access requests); every outcome but a refusal passes.",
        ("Outcome", "Reasons", "When"),
        "Passed",
        rows,
        total,
        hidden,
    )


def _review_records(window: Window, user: Viewer, organization: Organization | None) -> FactorRecords:
    reviews = (
        PublicationRequest.objects.filter(window.q("created_at"), review_required=True)
        .filter(Q(decided_at__isnull=False) | Q(review_deadline__lt=timezone.now()))
        .select_related("model_version__model__organization")
    )
    shown, total, hidden = _in_scope(
        reviews,
        organization,
        "model_version__model__organization",
        _visible_models_q(user, "model_version__model"),
    )
    rows = [
        FactorRecord(
            str(review.model_version),
            review.model_version.get_absolute_url(),
            (review.created_at, review.review_deadline, review.decided_at, review.get_status_display()),
            review.decided_at is not None
            and review.review_deadline is not None
            and review.decided_at <= review.review_deadline,
        )
        for review in shown.order_by("-created_at", "-pk")[:FACTOR_RECORDS_LIMIT]
    ]
    return FactorRecords(
        "N_review",
        "Publication requests of the window that needed a review and were decided or are past their "
        "deadline; one is on time when it was decided by its deadline.",
        ("Requested", "Deadline", "Decided", "Status"),
        "On time",
        rows,
        total,
        hidden,
    )


def _run_organizations(run) -> list[str]:
    """Why a run involves two organizations: whose dataset, base model or compute pool it used."""
    why = []
    dataset_owner = run.dataset_version.dataset.organization
    base_owner = run.base_version.model.organization
    if dataset_owner.pk != run.organization_id:
        why.append(f"dataset of {dataset_owner.slug}")
    if base_owner.pk != run.organization_id:
        why.append(f"base of {base_owner.slug}")
    if run.pool is not None and run.pool.organization_id != run.organization_id:
        why.append(f"pool of {run.pool.organization.slug}")
    return why


def _multi_organization_records(
    window: Window, user: Viewer, organization: Organization | None
) -> FactorRecords:
    viewer_organizations = _viewer_organization_ids(user)
    runs = finished_runs(window).select_related(
        "organization",
        "dataset_version__dataset__organization",
        "base_version__model__organization",
        "pool__organization",
    )
    shown, total, hidden = _in_scope(
        runs, organization, "organization", Q(organization_id__in=viewer_organizations)
    )
    rows = []
    for run in shown.order_by("-finished_at", "-pk")[:FACTOR_RECORDS_LIMIT]:
        why = _run_organizations(run)
        rows.append(
            FactorRecord(
                f"run {run.pk} · {run.organization.slug}",
                _run_url(run, viewer_organizations),
                (run.get_status_display(), run.finished_at, ", ".join(why) or None),
                bool(why),
            )
        )
    return FactorRecords(
        "M_multi",
        "Runs that finished in the window (succeeded, failed or cancelled); one involves two organizations "
        "when its dataset, its base model or its compute pool belongs to another organization.",
        ("Status", "Finished", "Draws on"),
        "Multi-organization",
        rows,
        total,
        hidden,
    )


def _activity_records(window: Window, user: Viewer, organization: Organization | None) -> FactorRecords:
    if organization is None:
        events = AuditEvent.objects.filter(organization=OuterRef("pk"), at__lt=window.end)
        organizations = Organization.objects.annotate(
            last_activity=Subquery(events.order_by("-at").values("at")[:1]),
            active=Exists(events.filter(window.q("at"))),
        )
        rows = [
            FactorRecord(item.slug, item.get_absolute_url(), (item.last_activity,), item.active)
            for item in organizations.order_by("slug")[:FACTOR_RECORDS_LIMIT]
        ]
        return FactorRecords(
            "M_active",
            "Organizations of the hub; one is active when its audit log has an event in the window.",
            ("Last activity",),
            "Active",
            rows,
            organizations.count(),
            0,
        )
    events = AuditEvent.objects.filter(
        actor=OuterRef("user"), organization=OuterRef("organization"), at__lt=window.end
    )
    members = (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .annotate(
            last_activity=Subquery(events.order_by("-at").values("at")[:1]),
            active=Exists(events.filter(window.q("at"))),
        )
    )
    rows = [
        FactorRecord(
            member.user.get_username(), "", (member.get_role_display(), member.last_activity), member.active
        )
        for member in members.order_by("user__username")[:FACTOR_RECORDS_LIMIT]
    ]
    return FactorRecords(
        "M_active",
        "Members of the organization; one is active when the audit log records them acting in the "
        "organization in the window.",
        ("Role", "Last activity"),
        "Active",
        rows,
        members.count(),
        0,
    )


def _published_versions(window: Window, user: Viewer, organization: Organization | None):
    versions = published_versions_annotated(window).select_related(
        "model__organization", "dataset_version__dataset__organization"
    )
    return _in_scope(versions, organization, "model__organization", _visible_models_q(user, "model"))


def _gain_records(window: Window, user: Viewer, organization: Organization | None) -> FactorRecords:
    shown, total, hidden = _published_versions(window, user, organization)
    rows = [
        FactorRecord(
            str(version), version.get_absolute_url(), (version.published_at, version.gain), version.gain
        )
        for version in shown.order_by("-published_at", "-pk")[:FACTOR_RECORDS_LIMIT]
    ]
    return FactorRecords(
        "A",
        "Model versions published in the window, with the relative gain of the evaluation their "
        "publication cited: clip((s_ft − s_base) / (1 − s_base), 0, 1) against the stronger of the base "
        "model and the majority class. A is the mean over the versions with a gain; the others are left out.",
        ("Published", "Relative gain"),
        "Adds to A",
        rows,
        total,
        hidden,
    )


def _new_best_records(window: Window, user: Viewer, organization: Organization | None) -> FactorRecords:
    shown, total, hidden = _published_versions(window, user, organization)
    rows = [
        FactorRecord(
            str(version),
            version.get_absolute_url(),
            (version.published_at, version.dataset_version and str(version.dataset_version)),
            version.new_best,
        )
        for version in shown.order_by("-published_at", "-pk")[:FACTOR_RECORDS_LIMIT]
    ]
    return FactorRecords(
        "S",
        "Model versions published in the window; one sets a new best when it has a test-split report that "
        "no earlier report on the same dataset version's test split equalled or beat.",
        ("Published", "Trained on"),
        "New best",
        rows,
        total,
        hidden,
    )


def _consumed_records(window: Window, user: Viewer, organization: Organization | None) -> FactorRecords:
    records: dict[int, int] = {}
    for pair in consumed_dataset_versions(window):
        if organization is None or pair["organization"] == organization.pk:
            # The hub counts each dataset version once, whichever organizations consumed it.
            records[pair["dataset_version"]] = pair["records"] or 0
    versions = DatasetVersion.objects.filter(pk__in=records).select_related("dataset__organization")
    shown, total, hidden = _split_visible(
        versions, None if organization else _visible_datasets_q(user, "dataset")
    )
    rows = [
        FactorRecord(
            str(version),
            version.dataset.get_absolute_url(),
            (version.dataset.organization.slug,),
            records[version.pk],
        )
        for version in shown.order_by("dataset__organization__slug", "dataset__slug", "number")[
            :FACTOR_RECORDS_LIMIT
        ]
    ]
    return FactorRecords(
        "B",
        "Versions of shared datasets that runs created in the window consumed (refused runs aside), each "
        "once, with its training records; V is their sum and B = sat(V; V0).",
        ("Owner",),
        "Training records",
        rows,
        total,
        hidden,
    )


def _model_use_records(window: Window, user: Viewer, organization: Organization | None) -> FactorRecords:
    models = published_models_annotated(window).select_related("organization")
    shown, total, hidden = _in_scope(models, organization, "organization", _visible_models_q(user))
    listed = list(shown.order_by("organization__slug", "slug")[:FACTOR_RECORDS_LIMIT])
    based_on: dict[int, list[str]] = {}
    for model_id, slug in (
        _runs()
        .filter(window.q("created_at"), base_version__model__in=listed)
        .exclude(status="rejected")
        .exclude(organization=F("base_version__model__organization"))
        .values_list("base_version__model", "organization__slug")
        .distinct()
        .order_by("organization__slug")
    ):
        based_on.setdefault(model_id, []).append(slug)
    downloads = dict(
        Download.objects.filter(window.q("at"), model__in=listed, cross_organization=True)
        .values("model")
        .annotate(count=Count("pk"))
        .values_list("model", "count")
    )
    rows = [
        FactorRecord(
            model.full_name,
            model.get_absolute_url(),
            (", ".join(based_on.get(model.pk, [])) or None, downloads.get(model.pk, 0)),
            model.used_as_base or model.downloaded,
        )
        for model in listed
    ]
    return FactorRecords(
        "K",
        "Models with a published version; one is used when another organization based a run on it or "
        "downloaded it in the window.",
        ("Base of runs by", "Downloads by other organizations"),
        "Used",
        rows,
        total,
        hidden,
    )


def _pool_records(window: Window, user: Viewer, organization: Organization | None) -> FactorRecords:
    viewer_organizations = _viewer_organization_ids(user)
    runs = (
        finished_runs(window).filter(pool__isnull=False).select_related("organization", "pool__organization")
    )
    if organization is not None:
        runs = runs.filter(pool__organization=organization)
    visible = Q(organization_id__in=viewer_organizations) | Q(pool__organization_id__in=viewer_organizations)
    shown, total, hidden = _split_visible(runs, None if organization else visible)
    rows = [
        FactorRecord(
            f"run {run.pk} · {run.organization.slug}",
            _run_url(run, viewer_organizations),
            (str(run.pool), run.accelerator_seconds),
            run.organization_id != run.pool.organization_id,
        )
        for run in shown.order_by("-finished_at", "-pk")[:FACTOR_RECORDS_LIMIT]
    ]
    return FactorRecords(
        "R",
        "Runs that finished in the window on a compute pool, with the accelerator-seconds they spent; R is "
        "the share of the pool's seconds spent on other organizations' runs.",
        ("Pool", "Accelerator-seconds"),
        "For another organization",
        rows,
        total,
        hidden,
    )


_FACTOR_RECORDS = {
    "D_scale": _dataset_scale_records,
    "D_use": _dataset_use_records,
    "T": _card_records,
    "N_cover": _policy_cover_records,
    "N_pass": _policy_check_records,
    "N_review": _review_records,
    "M_multi": _multi_organization_records,
    "M_active": _activity_records,
    "A": _gain_records,
    "B": _consumed_records,
    "S": _new_best_records,
    "K": _model_use_records,
    "R": _pool_records,
}
SCORE_FACTOR_KEYS: tuple[str, ...] = tuple(_FACTOR_RECORDS)
