"""Reads of governance records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import F, Q, QuerySet
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
    PolicyVersion,
)
from hub.models import (
    WRITER_ROLES,
    Dataset,
    ModelVersion,
    Organization,
    RegisteredModel,
    Split,
)
from hub.permissions import (
    ADMIN_ROLES,
    acts_as_superuser,
    artifact_visible_q,
    can_administer,
    memberships_of,
)
from hub.selectors import dataset_versions_visible_to, model_versions_visible_to


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
