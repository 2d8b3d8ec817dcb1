"""Publishing a model version: request → publish-check → review when required → published, immutable.

A reviewer (the hub-wide ``reviewers`` group) decides in the admin. Published versions are never
edited or deleted (ModelVersion refuses it); they may be deprecated with a reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from governance import cards
from governance import policy_engine as engine
from governance.models import PolicyCheck, PublicationRequest
from governance.selectors import current_policy_version, headline_evaluation
from governance.services.policy_checks import lineage_inputs, record_check, terms_of
from hub import audit
from hub.models import REVIEWERS_GROUP, ModelVersion
from hub.permissions import can_administer, can_write
from hub.services.blobs import BlobIntegrityError, iter_verified

REQUESTABLE = (ModelVersion.Status.DRAFT, ModelVersion.Status.REJECTED)


def is_reviewer(user: User | AnonymousUser) -> bool:
    return user.is_authenticated and (user.is_superuser or user.groups.filter(name=REVIEWERS_GROUP).exists())


def _scores(report) -> engine.Scores | None:
    if report is None:
        return None
    return engine.Scores(
        delta=report.delta, epsilon=report.epsilon, theta=report.theta, objective=report.objective
    )


def publish_check(
    version: ModelVersion, *, user: User | None, intended_use: Sequence[str] = ()
) -> tuple[PolicyCheck, list[dict], object]:
    """Run the engine on the version (thresholds, card completeness, licence flow, access, uses).

    Returns the stored check, the list of checks for the review page, and the report it used.
    """
    model = version.model
    organization = model.organization
    report = headline_evaluation(version)
    completeness = cards.completeness_of(version)
    own_terms = terms_of(current_policy_version(model))
    request = engine.Request(
        context="publication",
        requester=organization.slug,
        inputs=lineage_inputs(
            organization,
            dataset=version.dataset_version.dataset if version.dataset_version else None,
            base_model=version.base_version.model if version.base_version else None,
        ),
        intended_use=tuple(intended_use),
        proposed_license=model.license,
        own_terms=own_terms,
        scores=_scores(report),
        card_completeness=completeness.score,
        min_card_completeness=settings.AGORA_MIN_CARD_COMPLETENESS,
    )
    decision = engine.decide(request)
    reasons = list(decision.reasons)
    if report is None:
        # Thresholds cannot be shown to hold without a report: publication waits for one.
        reasons.append(
            engine.Reason(
                "evaluation_missing", f"{version} has no succeeded evaluation report; evaluate it first"
            )
        )
    if own_terms is None and settings.AGORA_REVIEW_WITHOUT_POLICY:
        reasons.append(
            engine.Reason("review_required", f"{model.full_name} has no policy: a reviewer decides")
        )
    outcome = decision.outcome
    if report is None:
        outcome = engine.OUTCOME_REFUSED
    elif outcome == engine.OUTCOME_ALLOWED and any(r.code == "review_required" for r in reasons):
        outcome = engine.OUTCOME_REVIEW
    decision = engine.Decision(
        outcome=outcome,
        reasons=tuple(reasons),
        obligations=decision.obligations,
        allowed_licenses=decision.allowed_licenses,
        commercial_allowed=decision.commercial_allowed,
    )
    check = record_check(
        request,
        decision,
        context=PolicyCheck.Context.PUBLICATION,
        user=user,
        organization=organization,
        model_version=version,
    )
    minimum_percent = round(100 * settings.AGORA_MIN_CARD_COMPLETENESS)
    refused_codes = {r["code"] for r in check.reasons} if outcome == engine.OUTCOME_REFUSED else set()
    summary = [
        {
            "name": "Evaluation report",
            "passed": report is not None,
            "detail": f"report {report.pk}: 1 − F = {report.governance_score}"
            if report
            else "none succeeded",
        },
        {
            "name": "Thresholds on δ, ε, θ, F",
            "passed": not refused_codes & {"threshold_exceeded", "score_unavailable"},
            "detail": _reasons_for(check, ("threshold_exceeded", "score_unavailable"))
            or "within every maximum",
        },
        {
            "name": "Card completeness",
            "passed": "card_incomplete" not in refused_codes,
            "detail": f"{completeness.percent}% (at least {minimum_percent}%)",
        },
        {
            "name": "Licence rule",
            "passed": not refused_codes & {"license_conflict", "restrictions_not_carried"},
            "detail": _reasons_for(
                check, ("license_conflict", "license_undecidable", "restrictions_not_carried")
            )
            or f"{model.license} is allowed by every input",
        },
        {
            "name": "Access and uses",
            "passed": not refused_codes
            & {"missing_access", "prohibited_use", "use_not_allowed", "commercial_use"},
            "detail": _reasons_for(
                check, ("missing_access", "prohibited_use", "use_not_allowed", "commercial_use")
            )
            or "the organization may use every input for the declared uses",
        },
    ]
    return check, summary, report


def _reasons_for(check: PolicyCheck, codes: Sequence[str]) -> str:
    return "; ".join(r["message"] for r in check.reasons if r["code"] in codes)


def request_publication(
    *, user: User, version: ModelVersion, intended_use: Sequence[str] = (), note: str = ""
) -> PublicationRequest:
    """Ask to publish a version. Refused at once when a check fails; else published, or sent to review."""
    organization = version.model.organization
    if not can_write(user, organization):
        raise PermissionDenied(f"You may not publish models of {organization.slug}.")
    unknown = sorted(set(intended_use) - set(engine.USE_TAGS))
    if unknown:
        raise ValidationError({"intended_use": f"unknown use tags: {', '.join(unknown)}"})
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if version.status not in REQUESTABLE:
            raise ValidationError(
                {
                    "model_version": f"{version} is {version.get_status_display().lower()}; only drafts and "
                    "rejected versions can be put forward for publication"
                }
            )
        check, summary, report = publish_check(version, user=user, intended_use=intended_use)
        publication = PublicationRequest.objects.create(
            model_version=version,
            status=PublicationRequest.Status.REFUSED,
            intended_use=list(intended_use),
            note=note,
            policy_check=check,
            checks=summary,
            report=report,
            card_completeness=cards.completeness_of(version).score,
            review_required=check.outcome == PolicyCheck.Outcome.REVIEW,
            requested_by=user,
        )
        audit.record(
            "publication.request",
            actor=user,
            organization=organization,
            target=publication,
            after={
                "version": str(version),
                "outcome": check.outcome,
                "reasons": [r["code"] for r in check.reasons],
            },
        )
        if check.outcome == PolicyCheck.Outcome.REVIEW:
            publication.status = PublicationRequest.Status.IN_REVIEW
            publication.review_deadline = timezone.now() + timedelta(days=settings.AGORA_REVIEW_DEADLINE_DAYS)
            publication.save(update_fields=["status", "review_deadline"])
            _set_status(version, ModelVersion.Status.IN_REVIEW, user)
        elif check.outcome == PolicyCheck.Outcome.ALLOWED:
            _publish(version, publication, user)
    return publication


def decide_publication(
    *, reviewer: User, publication: PublicationRequest, approve: bool, reason: str
) -> PublicationRequest:
    """A reviewer's decision, with its reason: publish the version, or reject it."""
    if not is_reviewer(reviewer):
        raise PermissionDenied("Only reviewers decide publications.")
    if not reason.strip():
        raise ValidationError({"reason": "a reviewer's decision needs a reason"})
    with transaction.atomic():
        publication = PublicationRequest.objects.select_for_update().get(pk=publication.pk)
        if publication.status != PublicationRequest.Status.IN_REVIEW:
            raise ValidationError({"status": f"this request is {publication.get_status_display().lower()}"})
        version = ModelVersion.objects.select_for_update().get(pk=publication.model_version_id)
        publication.reviewer, publication.decided_at = reviewer, timezone.now()
        publication.decision_reason = reason.strip()
        organization = version.model.organization
        if approve:
            audit.record(
                "publication.approve",
                actor=reviewer,
                organization=organization,
                target=publication,
                before={"status": publication.status},
                after={"status": "published", "reason": reason},
            )
            _publish(version, publication, reviewer)
        else:
            audit.record(
                "publication.reject",
                actor=reviewer,
                organization=organization,
                target=publication,
                before={"status": publication.status},
                after={"status": "rejected", "reason": reason},
            )
            publication.status = PublicationRequest.Status.REJECTED
            publication.save()
            _set_status(version, ModelVersion.Status.REJECTED, reviewer)
    return publication


def _set_status(version: ModelVersion, status: str, user: User | None) -> None:
    before = version.status
    version.status = status
    version.save(update_fields=["status"])
    audit.record(
        f"version.{status}",
        actor=user,
        organization=version.model.organization,
        target=version,
        before={"status": before},
        after={"status": status},
    )


def _publish(version: ModelVersion, publication: PublicationRequest, user: User) -> None:
    """Check every file against its hash, then freeze the version."""
    for model_file in version.files.select_related("blob"):
        try:
            for _ in iter_verified(model_file.blob):
                pass
        except (BlobIntegrityError, OSError) as exc:
            raise ValidationError({"files": f"{model_file.path} does not match its hash: {exc}"}) from exc
    before = version.status
    version.status = ModelVersion.Status.PUBLISHED
    version.published_at, version.published_by = timezone.now(), user
    version.save(update_fields=["status", "published_at", "published_by"])
    publication.status = PublicationRequest.Status.PUBLISHED
    publication.save()
    audit.record(
        "version.publish",
        actor=user,
        organization=version.model.organization,
        target=version,
        before={"status": before},
        after={"status": version.status, "files": version.files.count()},
    )


def deprecate_version(*, user: User, version: ModelVersion, reason: str) -> ModelVersion:
    """Mark a published version deprecated, with the reason. Its files stay downloadable."""
    if not can_administer(user, version.model.organization):
        raise PermissionDenied("Only the organization's admins deprecate versions.")
    if not reason.strip():
        raise ValidationError({"reason": "say why the version is deprecated"})
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if version.status != ModelVersion.Status.PUBLISHED:
            raise ValidationError(
                {"status": f"{version} is {version.status}; only published versions are deprecated"}
            )
        version.status = ModelVersion.Status.DEPRECATED
        version.deprecated_at, version.deprecation_reason = timezone.now(), reason.strip()
        version.save(update_fields=["status", "deprecated_at", "deprecation_reason"])
        audit.record(
            "version.deprecate",
            actor=user,
            organization=version.model.organization,
            target=version,
            before={"status": "published"},
            after={"status": "deprecated", "reason": reason.strip()},
        )
    return version
