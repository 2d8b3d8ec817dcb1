"""Reads of governance records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone

from governance.metrics.objective import Weights
from governance.models import (
    AccessGrant,
    AccessMode,
    AccessRequest,
    AuditEvent,
    EvaluationReport,
    JobStatus,
    Policy,
    PolicyAttachment,
    PolicyCheck,
    PolicyVersion,
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
    WRITER_ROLES,
    Dataset,
    DatasetVersion,
    Download,
    Membership,
    ModelVersion,
    Organization,
    RegisteredModel,
    Split,
)
from hub.permissions import (
    ADMIN_ROLES,
    Viewer,
    acts_as_superuser,
    artifact_visible_q,
    can_administer,
    memberships_of,
)
from hub.selectors import dataset_versions_visible_to, model_versions_visible_to, organizations_of


def reports_visible_to(user: User | AnonymousUser) -> QuerySet[EvaluationReport]:
    """Reports on a model version and a dataset version that the user can both see."""
    return EvaluationReport.objects.filter(
        model_version__in=model_versions_visible_to(user),
        dataset_version__in=dataset_versions_visible_to(user),
    ).select_related(
        "model_version__model__organization", "dataset_version__dataset__organization", "requested_by"
    )


def evaluations_of(version: ModelVersion) -> QuerySet[EvaluationReport]:
    """All the version's evaluation reports, whatever their status, newest first."""
    return version.evaluations.select_related("dataset_version__dataset__organization").order_by(
        "-created_at", "-pk"
    )


def headline_evaluation(version: ModelVersion) -> EvaluationReport | None:
    """The version's latest succeeded report, preferring the test split of its own training dataset
    version when one exists."""
    succeeded = evaluations_of(version).filter(status=JobStatus.SUCCEEDED)
    if version.dataset_version_id is not None:
        own_test = succeeded.filter(dataset_version_id=version.dataset_version_id, split=Split.TEST).first()
        if own_test is not None:
            return own_test
    return succeeded.first()


def attached_policy(artifact: Dataset | RegisteredModel) -> Policy | None:
    """The policy attached to a dataset or a model, if any."""
    field = "dataset" if isinstance(artifact, Dataset) else "model"
    attachment = (
        PolicyAttachment.objects.select_related("policy__organization").filter(**{field: artifact}).first()
    )
    return attachment.policy if attachment else None


def current_policy_version(artifact: Dataset | RegisteredModel) -> PolicyVersion | None:
    """The terms that govern a dataset or a model now: the latest version of its attached policy."""
    policy = attached_policy(artifact)
    return policy.versions.order_by("-number").first() if policy else None


def audit_organizations_of(user: User | AnonymousUser) -> QuerySet[Organization]:
    """The organizations whose audit log the user may read: those they own or administer (all for
    a superuser)."""
    if acts_as_superuser(user):
        return Organization.objects.all()
    administered = memberships_of(user).filter(role__in=ADMIN_ROLES).values("organization_id")
    return Organization.objects.filter(pk__in=administered)


def audit_events_visible_to(user: User | AnonymousUser) -> QuerySet[AuditEvent]:
    """Audit events of the organizations the user administers; a superuser reads every event."""
    if acts_as_superuser(user):
        return AuditEvent.objects.all()
    return AuditEvent.objects.filter(organization_id__in=audit_organizations_of(user).values("pk"))


def filter_audit_events(
    events: QuerySet[AuditEvent],
    *,
    organization: str = "",
    action: str = "",
    actor: str = "",
    target: str = "",
    channel: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """Narrow audit events: ``action`` is a prefix ("run." for every run event), ``target`` a
    case-insensitive part of what changed, ``since`` inclusive and ``until`` exclusive."""
    if organization:
        events = events.filter(organization_slug=organization)
    if action:
        events = events.filter(action__startswith=action)
    if actor:
        events = events.filter(actor_name=actor)
    if target:
        events = events.filter(target__icontains=target)
    if channel:
        events = events.filter(channel=channel)
    if since is not None:
        events = events.filter(at__gte=since)
    if until is not None:
        events = events.filter(at__lt=until)
    return events


# Policies ---------------------------------------------------------------------------------------

# The terms of a policy version, in the order pages and the API show them.
POLICY_TERM_FIELDS: tuple[str, ...] = (
    "license", "allowed_uses", "prohibited_uses", "commercial_use", "attribution_required", "share_alike",
    "access_mode", "listed_organizations", "conditions", "request_cooldown_days", "requires_review",
    "conflicts_go_to_review", "max_delta", "max_epsilon", "max_theta", "max_objective", "alpha", "beta",
    "gamma",
)  # fmt: skip
POLICY_TERM_LABELS: dict[str, str] = {
    "license": "Licence",
    "allowed_uses": "Allowed uses",
    "prohibited_uses": "Prohibited uses",
    "commercial_use": "Commercial use",
    "attribution_required": "Attribution required",
    "share_alike": "Share-alike",
    "access_mode": "Access",
    "listed_organizations": "Listed organizations",
    "conditions": "Conditions",
    "request_cooldown_days": "Days before asking again after a refusal",
    "requires_review": "Publication needs review",
    "conflicts_go_to_review": "Licence conflicts go to review",
    "max_delta": "Maximum fairness gap δ",
    "max_epsilon": "Maximum calibration error ε",
    "max_theta": "Maximum leakage risk θ",
    "max_objective": "Maximum objective F",
    "alpha": "Weight α of δ",
    "beta": "Weight β of ε",
    "gamma": "Weight γ of θ",
}


def policy_terms(version: PolicyVersion) -> dict[str, Any]:
    """A policy version's terms as plain data, listed organizations as sorted slugs."""
    terms: dict[str, Any] = {}
    for name in POLICY_TERM_FIELDS:
        if name == "listed_organizations":
            terms[name] = sorted(organization.slug for organization in version.listed_organizations.all())
        else:
            value = getattr(version, name)
            terms[name] = list(value) if isinstance(value, list) else value
    return terms


@dataclass(frozen=True)
class TermChange:
    """One term that differs between two versions; for a list, the items added and removed."""

    field: str
    before: Any
    after: Any

    @property
    def label(self) -> str:
        return POLICY_TERM_LABELS.get(self.field, self.field)

    @property
    def is_list(self) -> bool:
        return isinstance(self.after, list)

    @property
    def added(self) -> list:
        return [item for item in self.after if item not in (self.before or [])] if self.is_list else []

    @property
    def removed(self) -> list:
        return [item for item in (self.before or []) if item not in self.after] if self.is_list else []

    @property
    def before_text(self) -> str:
        return term_text(self.before)

    @property
    def after_text(self) -> str:
        return term_text(self.after)


def term_text(value: Any) -> str:
    """A term's value in words: yes or no, a number to 4 significant digits, none for an empty one."""
    if value is None or value == [] or value == "":
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def policy_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[TermChange]:
    """The terms that differ from ``before`` to ``after``, in display order."""
    return [
        TermChange(name, before.get(name), after.get(name))
        for name in POLICY_TERM_FIELDS
        if before.get(name) != after.get(name)
    ]


def policy_history(policy: Policy) -> list[tuple[PolicyVersion, list[TermChange]]]:
    """The policy's versions, newest first, each with what it changed in the version before it
    (nothing for version 1)."""
    versions = list(policy.versions.order_by("number").prefetch_related("listed_organizations"))
    history, previous = [], None
    for version in versions:
        terms = policy_terms(version)
        history.append((version, policy_changes(previous, terms) if previous is not None else []))
        previous = terms
    return history[::-1]


def policies_visible_to(user: User | AnonymousUser) -> QuerySet[Policy]:
    """Policies of the user's organizations, and those governing a dataset or a model the user can see."""
    policies = Policy.objects.select_related("organization")
    if acts_as_superuser(user):
        return policies
    governing_visible = PolicyAttachment.objects.filter(
        Q(dataset__in=Dataset.objects.filter(artifact_visible_q(user, Dataset)))
        | Q(model__in=RegisteredModel.objects.filter(artifact_visible_q(user, RegisteredModel)))
    ).values("policy_id")
    return policies.filter(
        Q(organization__in=memberships_of(user).values("organization_id")) | Q(pk__in=governing_visible)
    )


def governed_artifacts(
    policy: Policy, user: User | AnonymousUser
) -> tuple[QuerySet[Dataset], QuerySet[RegisteredModel]]:
    """The datasets and the models the policy governs that the user can see."""
    datasets = Dataset.objects.filter(artifact_visible_q(user, Dataset), policy_attachment__policy=policy)
    models = RegisteredModel.objects.filter(
        artifact_visible_q(user, RegisteredModel), policy_attachment__policy=policy
    )
    return (
        datasets.select_related("organization").order_by("slug"),
        models.select_related("organization").order_by("slug"),
    )


def governed_artifacts_of(
    policies: list[Policy], user: User | AnonymousUser
) -> dict[int, tuple[list[Dataset], list[RegisteredModel]]]:
    """``governed_artifacts`` of many policies (by pk) in two queries, for lists."""
    governed: dict[int, tuple[list[Dataset], list[RegisteredModel]]] = {p.pk: ([], []) for p in policies}
    datasets = Dataset.objects.filter(
        artifact_visible_q(user, Dataset), policy_attachment__policy__in=policies
    )
    for dataset in (
        datasets.select_related("organization")
        .annotate(policy=F("policy_attachment__policy"))
        .order_by("slug")
    ):
        governed[dataset.policy][0].append(dataset)
    models = RegisteredModel.objects.filter(
        artifact_visible_q(user, RegisteredModel), policy_attachment__policy__in=policies
    )
    for model in (
        models.select_related("organization").annotate(policy=F("policy_attachment__policy")).order_by("slug")
    ):
        governed[model.policy][1].append(model)
    return governed


def latest_policy_versions(policies: list[Policy]) -> dict[int, PolicyVersion]:
    """The latest version of each policy (by pk) in one query, with what its serializer reads."""
    versions = (
        PolicyVersion.objects.filter(policy__in=policies)
        .select_related("created_by")
        .prefetch_related("listed_organizations")
        .order_by("policy_id", "-number")
    )
    latest: dict[int, PolicyVersion] = {}
    for version in versions:
        latest.setdefault(version.policy_id, version)
    return latest


def objective_weights_for(version: ModelVersion) -> tuple[Weights, str]:
    """The weights α, β, γ of F for a model version: its model's current policy version's, else the
    defaults; with where they come from ("policy acme/research@v2" or "default")."""
    policy_version = current_policy_version(version.model)
    if policy_version is None:
        return Weights(), "default"
    # Stored weights sum to 1 within 1e-6; F needs them to sum to 1 within float rounding.
    total = policy_version.alpha + policy_version.beta + policy_version.gamma
    alpha, beta, gamma = (getattr(policy_version, name) / total for name in ("alpha", "beta", "gamma"))
    return Weights(alpha=alpha, beta=beta, gamma=gamma), f"policy {policy_version}"


# Access between organizations ---------------------------------------------------------------------


def _access_organization_ids(user: User | AnonymousUser):
    return memberships_of(user).values("organization_id")


def access_requests_visible_to(user: User | AnonymousUser) -> QuerySet[AccessRequest]:
    """Requests made by the user's organizations or for their artifacts (all of them for a superuser)."""
    requests = AccessRequest.objects.select_related(
        "organization", "dataset__organization", "model__organization",
        "policy_version__policy__organization", "requested_by", "decided_by",
    )  # fmt: skip
    if acts_as_superuser(user):
        return requests
    ids = _access_organization_ids(user)
    return requests.filter(
        Q(organization_id__in=ids) | Q(dataset__organization_id__in=ids) | Q(model__organization_id__in=ids)
    )


def access_grants_visible_to(user: User | AnonymousUser) -> QuerySet[AccessGrant]:
    """Grants held by the user's organizations or given on their artifacts (all for a superuser)."""
    grants = AccessGrant.objects.select_related(
        "organization", "dataset__organization", "model__organization", "request", "granted_by", "revoked_by"
    )
    if acts_as_superuser(user):
        return grants
    ids = _access_organization_ids(user)
    return grants.filter(
        Q(organization_id__in=ids) | Q(dataset__organization_id__in=ids) | Q(model__organization_id__in=ids)
    )


def _on_artifacts_of(organization: Organization) -> Q:
    return Q(dataset__organization=organization) | Q(model__organization=organization)


def access_requests_to(organization: Organization) -> QuerySet[AccessRequest]:
    """Requests for the organization's datasets and models, newest first."""
    return AccessRequest.objects.filter(_on_artifacts_of(organization)).select_related(
        "organization", "dataset__organization", "model__organization",
        "policy_version__policy__organization", "requested_by", "decided_by",
    )  # fmt: skip


def access_requests_from(organization: Organization) -> QuerySet[AccessRequest]:
    """The organization's own requests for others' artifacts, newest first."""
    return AccessRequest.objects.filter(organization=organization).select_related(
        "dataset__organization", "model__organization", "policy_version__policy__organization",
        "requested_by", "decided_by",
    )  # fmt: skip


def access_grants_given_by(organization: Organization) -> QuerySet[AccessGrant]:
    """Grants on the organization's datasets and models, newest first."""
    return AccessGrant.objects.filter(_on_artifacts_of(organization)).select_related(
        "organization", "dataset__organization", "model__organization", "granted_by", "revoked_by"
    )


def access_grants_held_by(organization: Organization) -> QuerySet[AccessGrant]:
    return AccessGrant.objects.filter(organization=organization).select_related(
        "dataset__organization", "model__organization", "granted_by", "revoked_by"
    )


def access_requests_for(artifact: Dataset | RegisteredModel) -> QuerySet[AccessRequest]:
    field = "dataset" if isinstance(artifact, Dataset) else "model"
    return AccessRequest.objects.filter(**{field: artifact}).select_related("organization")


def access_grants_for(artifact: Dataset | RegisteredModel) -> QuerySet[AccessGrant]:
    field = "dataset" if isinstance(artifact, Dataset) else "model"
    return AccessGrant.objects.filter(**{field: artifact}).select_related("organization")


def ask_again_from(
    organization: Organization, artifact: Dataset | RegisteredModel, version: PolicyVersion
) -> datetime | None:
    """When an organization the owner's admins refused may ask again, if that is still to come (an
    automatic refusal names the use to drop, so it starts no cool-down)."""
    field = "dataset" if isinstance(artifact, Dataset) else "model"
    refused = (
        AccessRequest.objects.filter(
            organization=organization,
            status=AccessRequest.Status.REFUSED,
            decided_by__isnull=False,
            decided_at__isnull=False,
            **{field: artifact},
        )
        .order_by("-decided_at")
        .first()
    )
    if refused is None:
        return None
    again_from = refused.decided_at + timedelta(days=version.request_cooldown_days)
    return again_from if timezone.now() < again_from else None


@dataclass(frozen=True)
class OrganizationAccess:
    """Where one of the viewer's organizations stands with a gated artifact."""

    organization: Organization
    owner: bool
    grant: AccessGrant | None
    pending: AccessRequest | None
    last_refusal: AccessRequest | None
    ask_again_from: datetime | None
    can_request: bool


@dataclass(frozen=True)
class AccessPanel:
    """What the access card of a dataset or model page shows the viewer."""

    version: PolicyVersion | None
    gated: bool
    organizations: list[OrganizationAccess]
    can_request: bool
    can_decide: bool
    pending_count: int
    active_grants: int


def access_panel(user: User | AnonymousUser, artifact: Dataset | RegisteredModel) -> AccessPanel:
    version = current_policy_version(artifact)
    gated = version is not None and version.access_mode != AccessMode.OPEN
    requests = access_requests_for(artifact)
    grants = access_grants_for(artifact).filter(revoked_at__isnull=True)
    rows = []
    if gated and user.is_authenticated:
        for membership in memberships_of(user).select_related("organization").order_by("organization__slug"):
            organization = membership.organization
            owner = organization.pk == artifact.organization_id
            mine = requests.filter(organization=organization)
            grant = grants.filter(organization=organization).first()
            pending = mine.filter(status=AccessRequest.Status.PENDING).first()
            last_refusal = mine.filter(status=AccessRequest.Status.REFUSED).order_by("-decided_at").first()
            again_from = ask_again_from(organization, artifact, version) if not owner else None
            can_request = (
                version.access_mode == AccessMode.ON_REQUEST
                and not owner
                and grant is None
                and pending is None
                and again_from is None
                and membership.role in WRITER_ROLES
            )
            rows.append(
                OrganizationAccess(organization, owner, grant, pending, last_refusal, again_from, can_request)
            )
    can_decide = can_administer(user, artifact.organization)
    return AccessPanel(
        version=version,
        gated=gated,
        organizations=rows,
        can_request=any(row.can_request for row in rows),
        can_decide=can_decide,
        pending_count=requests.filter(status=AccessRequest.Status.PENDING).count() if can_decide else 0,
        active_grants=grants.count() if can_decide else 0,
    )


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
    if organization is not None:
        datasets = datasets.filter(organization=organization)
    shown, total, hidden = _split_visible(datasets, None if organization else _visible_datasets_q(user))
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
    if organization is not None:
        datasets = datasets.filter(organization=organization)
    shown, total, hidden = _split_visible(datasets, None if organization else _visible_datasets_q(user))
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
    if organization is not None:
        checks = checks.filter(organization=organization)
    shown, total, hidden = _split_visible(
        checks, None if organization else Q(organization_id__in=viewer_organizations)
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
    if organization is not None:
        reviews = reviews.filter(model_version__model__organization=organization)
    shown, total, hidden = _split_visible(
        reviews, None if organization else _visible_models_q(user, "model_version__model")
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
    if organization is not None:
        runs = runs.filter(organization=organization)
    shown, total, hidden = _split_visible(
        runs, None if organization else Q(organization_id__in=viewer_organizations)
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
    if organization is not None:
        versions = versions.filter(model__organization=organization)
    return _split_visible(versions, None if organization else _visible_models_q(user, "model"))


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
    if organization is not None:
        models = models.filter(organization=organization)
    shown, total, hidden = _split_visible(models, None if organization else _visible_models_q(user))
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
