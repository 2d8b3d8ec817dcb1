"""Template access to governance records from pages of other apps (hub code never imports governance),
filtered by what the viewer may see."""

from django import template
from django.conf import settings

from governance import cards
from governance.selectors import reports_visible_to
from hub.datasheets import Completeness
from hub.models import ModelVersion

register = template.Library()


@register.simple_tag
def evaluations_of(version: ModelVersion, user, limit: int = 20) -> list:
    """``{% evaluations_of version request.user as reports %}``: reports the user may read, newest first."""
    return list(reports_visible_to(user).filter(model_version=version)[:limit])


@register.simple_tag
def card_completeness(version: ModelVersion) -> Completeness:
    """``{% card_completeness version as card %}``, then ``{{ card.percent }}``."""
    return cards.completeness_of(version)


@register.inclusion_tag("governance/_publication.html", takes_context=True)
def publication_panel(context, version: ModelVersion) -> dict:
    """The version page's publication panel: status, requests with their checks, and the forms."""
    from governance.models import PublicationRequest
    from governance.policy_engine import declarable_uses
    from hub.permissions import can_administer, can_write

    user = context["request"].user
    organization = version.model.organization
    return {
        "request": context["request"],
        "version": version,
        "publications": PublicationRequest.objects.filter(model_version=version).select_related(
            "policy_check", "requested_by", "reviewer"
        )[:10],
        "can_request": can_write(user, organization)
        and version.status in (ModelVersion.Status.DRAFT, ModelVersion.Status.REJECTED),
        "can_deprecate": can_administer(user, organization)
        and version.status == ModelVersion.Status.PUBLISHED,
        "use_choices": declarable_uses(),
        "min_percent": round(100 * settings.AGORA_MIN_CARD_COMPLETENESS),
        "completeness": cards.completeness_of(version),
    }


@register.simple_tag
def artifact_policy(artifact, user) -> dict:
    """``{% artifact_policy dataset request.user as governing %}``: the policy governing a dataset or a
    model, its version in force, and for the organization's owners and admins the policies they may
    attach."""
    from governance.models import Policy
    from governance.selectors import attached_policy
    from hub.permissions import can_administer

    policy = attached_policy(artifact)
    may_attach = can_administer(user, artifact.organization)
    return {
        "policy": policy,
        "version": policy.latest_version if policy is not None else None,
        "can_attach": may_attach,
        "choices": list(Policy.objects.filter(organization=artifact.organization)) if may_attach else [],
    }


@register.filter
def use_title(tag: str) -> str:
    """``{{ tag|use_title }}``: what a use tag means, in words (the tag itself when unknown)."""
    from governance.policy_engine import USE_TAGS

    return USE_TAGS.get(tag, tag)


@register.inclusion_tag("governance/_score_badge.html", takes_context=True)
def organization_score_badge(context, organization) -> dict:
    """``{% organization_score_badge organization %}``: the headline E and C of the organization's latest
    daily snapshot, linking to its scores page (which computes them live); nothing for a viewer who
    may not see its scores. Reading the snapshot keeps the organization page to two queries more."""
    from governance.models import ScoreSnapshot
    from hub.permissions import can_view_organization

    if not can_view_organization(context["request"].user, organization):
        return {"visible": False}
    latest = list(
        ScoreSnapshot.objects.filter(
            scope=ScoreSnapshot.Scope.ORGANIZATION, organization=organization, score__in=("E", "C")
        ).order_by("-date", "score")[:2]
    )
    snapshots = {snapshot.score: snapshot for snapshot in latest if snapshot.date == latest[0].date}
    return {
        "visible": True,
        "organization": organization,
        "effect": snapshots.get("E"),
        "capability": snapshots.get("C"),
        "date": latest[0].date if latest else None,
    }


@register.inclusion_tag("governance/_score_objective_badge.html", takes_context=True)
def objective_badge(context, subject) -> dict:
    """``{% objective_badge version %}`` or ``{% objective_badge model %}`` (its latest version with a
    succeeded evaluation): the governance score 1 − F of the headline evaluation, linking to the report
    when the viewer may read it."""
    from governance.models import JobStatus
    from governance.scores import version_objective
    from hub.models import RegisteredModel

    version = subject
    if isinstance(subject, RegisteredModel):
        version = (
            subject.versions.filter(evaluations__status=JobStatus.SUCCEEDED)
            .order_by("-number")
            .distinct()
            .first()
        )
    objective = version_objective(version) if version is not None else None
    if objective is None:
        return {"objective": None}
    report = reports_visible_to(context["request"].user).filter(pk=objective["report"]).first()
    return {"objective": objective, "version": version, "report": report}
