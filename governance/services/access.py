"""Access between organizations: requests, the owner's decisions, grants and their revocation.

Visibility (public, internal, private) says who sees an artifact; its policy's access mode says who may
use it (download its files, fine-tune on it). Under ``open`` anyone who sees it may; under ``on_request``
an organization asks, stating its intended use and accepting the conditions, and the owner's admins
decide with a reason; under ``listed`` only the organizations the policy names may. Either way the
permission is an ``AccessGrant``, which also lets the grantee's members see a private artifact.

Every grant, refusal and revocation is an audit event and a ``PolicyCheck`` in the ``access`` context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Model, Q
from django.urls import reverse
from django.utils import timezone

from governance import policy_engine as engine
from governance.models import AccessGrant, AccessMode, AccessRequest, PolicyCheck, PolicyVersion
from governance.selectors import ask_again_from, current_policy_version
from governance.services.policy_checks import record_check, terms_of
from hub import audit, permissions
from hub.models import Dataset, Organization, RegisteredModel
from hub.permissions import Viewer, acts_as_superuser, can_administer, can_write, memberships_of
from hub.selectors import datasets_visible_to, models_visible_to

Artifact = Dataset | RegisteredModel


@dataclass(frozen=True)
class ListedSync:
    """What bringing the grants of an artifact in line with its policy's list changed."""

    granted: list[AccessGrant] = field(default_factory=list)
    revoked: list[AccessGrant] = field(default_factory=list)


def kind_of(artifact: Artifact) -> str:
    """ "dataset" or "model": the artifact's field on requests and grants, and its kind in URLs."""
    return "dataset" if isinstance(artifact, Dataset) else "model"


def access_request_url(artifact: Artifact) -> str:
    return reverse(
        f"governance:{kind_of(artifact)}-access-request",
        kwargs={"org": artifact.organization.slug, "slug": artifact.slug},
    )


def active_grants_of(artifact: Artifact):
    return AccessGrant.objects.filter(revoked_at__isnull=True, **{kind_of(artifact): artifact})


# The use check ------------------------------------------------------------------------------------


def use_refusal(organization: Organization | None, artifact: Artifact) -> str | None:
    """None when the organization may use the artifact (its owner; no policy; open access; an active
    grant), else why not, in words. Whether it can see the artifact is the caller's check."""
    if organization is not None and organization.pk == artifact.organization_id:
        return None
    version = current_policy_version(artifact)
    if version is None or version.access_mode == AccessMode.OPEN:
        return None
    if organization is not None and active_grants_of(artifact).filter(organization=organization).exists():
        return None
    return _refusal_text(artifact, version, organization)


def user_use_refusal(user: Viewer, artifact: Artifact) -> str | None:
    """None when one of the user's organizations (those its token allows) may use the artifact."""
    if acts_as_superuser(user):
        return None
    memberships = memberships_of(user)
    if memberships.filter(organization_id=artifact.organization_id).exists():
        return None
    version = current_policy_version(artifact)
    if version is None or version.access_mode == AccessMode.OPEN:
        return None
    granted = active_grants_of(artifact).filter(organization_id__in=memberships.values("organization_id"))
    if granted.exists():
        return None
    return _refusal_text(artifact, version, None)


def _refusal_text(artifact: Artifact, version: PolicyVersion, organization: Organization | None) -> str:
    who = f"{organization.slug} has no access to {artifact.full_name}: " if organization else ""
    if version.access_mode == AccessMode.LISTED:
        return (
            f"{who}{artifact.full_name} may be used only by the organizations its policy {version} lists; "
            f"ask {artifact.organization.slug} to list yours"
        )
    subject = "it" if organization else artifact.full_name
    return f"{who}{subject} is available on request: ask for access at {access_request_url(artifact)}"


def granted_artifacts_q(user: Viewer, model_class: type[Model]) -> Q | None:
    """Datasets or models an active grant to one of the user's organizations lets it see."""
    field_name = {Dataset: "dataset", RegisteredModel: "model"}.get(model_class)
    if field_name is None:
        return None
    granted = AccessGrant.objects.filter(
        organization_id__in=memberships_of(user).values("organization_id"),
        revoked_at__isnull=True,
        **{f"{field_name}__isnull": False},
    ).values(field_name)
    return Q(pk__in=granted)  # a subquery, not a join: a join would multiply the lists' version counts


def register_permission_rules() -> None:
    """Make the hub's permission layer honour grants: in lists, details, downloads and runs."""
    permissions.register_visibility_rule(granted_artifacts_q)
    permissions.register_use_rule(user_use_refusal)


# Requests and decisions -----------------------------------------------------------------------------


def request_access(
    *,
    user: User,
    organization: Organization,
    artifact: Artifact,
    intended_use: Sequence[str],
    purpose: str,
    accept_conditions: bool,
) -> AccessRequest:
    """Ask, for ``organization``, to use a gated artifact. A declared use the policy does not allow is
    refused at once (the request is kept, refused, with the reasons); otherwise it waits for the owner."""
    if not can_write(user, organization):
        raise PermissionDenied(f"You may not ask for access on behalf of {organization.slug}.")
    if not _visible(user, artifact):
        raise ValidationError(
            {kind_of(artifact): f"no such {kind_of(artifact)}, or it is not visible to you"}
        )
    version = current_policy_version(artifact)
    _check_gated(artifact, version, organization)
    tags = engine.normalize_use_tags(intended_use)
    errors = _request_errors(version, tags, purpose, accept_conditions)
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        Organization.objects.select_for_update().filter(pk=organization.pk).first()  # one request at a time
        _check_no_open_request(organization, artifact, version)
        access_request = AccessRequest.objects.create(
            organization=organization,
            policy_version=version,
            intended_use=list(tags),
            purpose=purpose.strip(),
            accepted_conditions=True,
            requested_by=user,
            **{kind_of(artifact): artifact},
        )
        audit.record(
            "access.request", actor=user, organization=organization, target=access_request,
            after={"artifact": artifact.full_name, "policy": str(version), "intended_use": list(tags),
                   "purpose": access_request.purpose},
        )  # fmt: skip
        engine_request = engine.Request(
            context="access",
            requester=organization.slug,
            inputs=(_engine_input(artifact, version),),
            intended_use=tags,
        )
        decision = engine.decide(engine_request)
        if decision.outcome == engine.OUTCOME_REFUSED:
            access_request.status = AccessRequest.Status.REFUSED
            access_request.decided_at = timezone.now()
            access_request.reason = "; ".join(reason.message for reason in decision.reasons)
            access_request.save(update_fields=["status", "decided_at", "reason"])
            audit.record(
                "access.refuse", actor=None, organization=organization, target=access_request,
                before={"status": AccessRequest.Status.PENDING},
                after={"status": access_request.status, "reason": access_request.reason, "automatic": True},
            )  # fmt: skip
            record_check(
                engine_request,
                decision,
                context=PolicyCheck.Context.ACCESS,
                user=user,
                organization=organization,
            )
    return access_request


def _visible(user: Viewer, artifact: Artifact) -> bool:
    visible = datasets_visible_to(user) if isinstance(artifact, Dataset) else models_visible_to(user)
    return visible.filter(pk=artifact.pk).exists()


def _check_gated(artifact: Artifact, version: PolicyVersion | None, organization: Organization) -> None:
    kind = kind_of(artifact)
    if organization.pk == artifact.organization_id:
        raise ValidationError(
            {"organization": f"{organization.slug} owns {artifact.full_name}: no request needed"}
        )
    if version is None or version.access_mode == AccessMode.OPEN:
        raise ValidationError(
            {kind: f"no request needed: {artifact.full_name} is open to anyone who can see it"}
        )
    if version.access_mode == AccessMode.LISTED:
        raise ValidationError(
            {kind: f"only listed organizations may use {artifact.full_name} (policy {version}); "
                   f"ask {artifact.organization.slug} to list {organization.slug}"}
        )  # fmt: skip


def _request_errors(
    version: PolicyVersion, tags: tuple[str, ...], purpose: str, accept_conditions: bool
) -> dict[str, str]:
    errors = {}
    if not tags:
        errors["intended_use"] = "declare at least one intended use"
    elif unknown := [tag for tag in tags if tag not in engine.USE_TAGS]:
        errors["intended_use"] = (
            f"unknown use tags: {', '.join(unknown)}; choose among {', '.join(engine.USE_TAGS)}"
        )
    if not (purpose or "").strip():
        errors["purpose"] = "say what your organization will do with it"
    if not accept_conditions:
        conditions = version.conditions.strip()
        errors["accept_conditions"] = (
            f"accept the conditions of the policy {version}: “{conditions}”"
            if conditions
            else f"accept the terms of the policy {version}"
        )
    return errors


def _check_no_open_request(organization: Organization, artifact: Artifact, version: PolicyVersion) -> None:
    """One pending request and one active grant per organization and artifact; a cool-down after a
    refusal by the owner's admins (an automatic refusal names the use to drop, so it starts none)."""
    kind = kind_of(artifact)
    if active_grants_of(artifact).filter(organization=organization).exists():
        raise ValidationError(
            {"organization": f"{organization.slug} already has access to {artifact.full_name}"}
        )
    requests = AccessRequest.objects.filter(organization=organization, **{kind: artifact})
    pending = requests.filter(status=AccessRequest.Status.PENDING).first()
    if pending is not None:
        raise ValidationError(
            {"organization": f"{organization.slug} already asked on {pending.created_at:%Y-%m-%d}; "
                             "the request is pending"}
        )  # fmt: skip
    again_from = ask_again_from(organization, artifact, version)
    if again_from is not None:
        refused = (
            requests.filter(status=AccessRequest.Status.REFUSED, decided_by__isnull=False)
            .order_by("-decided_at")
            .first()
        )
        message = (
            f"{artifact.organization.slug} refused the request of {organization.slug} on "
            f"{refused.decided_at:%Y-%m-%d}; it may ask again from {again_from:%Y-%m-%d}"
        )
        raise ValidationError({"organization": message})


def _engine_input(artifact: Artifact, version: PolicyVersion | None) -> engine.Input:
    return engine.Input(
        role="dataset" if isinstance(artifact, Dataset) else "base_model",
        name=artifact.full_name,
        owner=artifact.organization.slug,
        license=artifact.license,
        terms=terms_of(version),
        access=False,  # the requester has none yet; an access check looks at its declared uses only
    )


def decide_access_request(
    *, user: User, access_request: AccessRequest, approve: bool, reason: str = ""
) -> AccessRequest:
    """The owner's admins approve (creating the grant) or refuse (with a reason) a pending request."""
    artifact = access_request.artifact
    owner = artifact.organization
    if not can_administer(user, owner):
        raise PermissionDenied(
            f"Only the owners and admins of {owner.slug} decide who may use {artifact.full_name}."
        )
    reason = (reason or "").strip()
    if not approve and not reason:
        raise ValidationError(
            {"reason": "give the reason for the refusal: the requesting organization reads it"}
        )

    with transaction.atomic():
        access_request = AccessRequest.objects.select_for_update().get(pk=access_request.pk)
        if access_request.status != AccessRequest.Status.PENDING:
            raise ValidationError(
                {"status": f"the request is already {access_request.get_status_display().lower()}"}
            )
        if approve:
            _check_still_allowed(access_request, artifact)
        access_request.status = AccessRequest.Status.APPROVED if approve else AccessRequest.Status.REFUSED
        access_request.decided_by = user
        access_request.decided_at = timezone.now()
        access_request.reason = reason
        access_request.save(update_fields=["status", "decided_by", "decided_at", "reason"])
        grant = None
        if approve:
            grant = active_grants_of(artifact).filter(organization=access_request.organization).first()
            if grant is None:
                grant = AccessGrant.objects.create(
                    organization=access_request.organization,
                    source=AccessGrant.Source.REQUEST,
                    request=access_request,
                    granted_by=user,
                    **{kind_of(artifact): artifact},
                )
        audit.record(
            "access.approve" if approve else "access.refuse", actor=user, organization=owner,
            target=access_request, before={"status": AccessRequest.Status.PENDING},
            after={"status": access_request.status, "reason": reason, "grant": grant.pk if grant else None},
        )  # fmt: skip
        _record_people_check(
            user,
            access_request.organization,
            artifact,
            allowed=approve,
            reasons=[] if approve else [("access_refused", f"{owner.slug} refused access: {reason}")],
            access_request=access_request,
            grant=grant,
        )
    return access_request


def _check_still_allowed(access_request: AccessRequest, artifact: Artifact) -> None:
    """The policy may have changed since the request: a use it now refuses cannot be approved."""
    version = current_policy_version(artifact)
    if version is None:
        return
    decision = engine.decide(
        engine.Request(
            context="access",
            requester=access_request.organization.slug,
            inputs=(_engine_input(artifact, version),),
            intended_use=tuple(access_request.intended_use),
        )
    )
    if decision.outcome == engine.OUTCOME_REFUSED:
        reasons = "; ".join(reason.message for reason in decision.reasons)
        message = (
            f"the current policy refuses the declared use, so the request can only be refused: {reasons}"
        )
        raise ValidationError({"intended_use": message})


def withdraw_access_request(*, user: User, access_request: AccessRequest) -> AccessRequest:
    """The requesting organization's writers take back a pending request."""
    organization = access_request.organization
    if not can_write(user, organization):
        raise PermissionDenied(f"Only members of {organization.slug} may withdraw its requests.")
    with transaction.atomic():
        access_request = AccessRequest.objects.select_for_update().get(pk=access_request.pk)
        if access_request.status != AccessRequest.Status.PENDING:
            raise ValidationError(
                {"status": f"the request is already {access_request.get_status_display().lower()}"}
            )
        access_request.status = AccessRequest.Status.WITHDRAWN
        access_request.decided_by = user
        access_request.decided_at = timezone.now()
        access_request.save(update_fields=["status", "decided_by", "decided_at"])
        audit.record(
            "access.withdraw", actor=user, organization=organization, target=access_request,
            before={"status": AccessRequest.Status.PENDING}, after={"status": access_request.status},
        )  # fmt: skip
    return access_request


def revoke_grant(*, user: User, grant: AccessGrant, reason: str) -> AccessGrant:
    """The owner's admins end a grant, with a reason the grantee reads."""
    artifact = grant.dataset or grant.model
    owner = artifact.organization
    if not can_administer(user, owner):
        raise PermissionDenied(
            f"Only the owners and admins of {owner.slug} revoke access to {artifact.full_name}."
        )
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "give the reason for the revocation: the organization reads it"})
    with transaction.atomic():
        grant = AccessGrant.objects.select_for_update().get(pk=grant.pk)
        if not grant.active:
            raise ValidationError({"status": f"the grant was already revoked on {grant.revoked_at:%Y-%m-%d}"})
        _revoke(grant, user, reason)
    return grant


def _revoke(grant: AccessGrant, user: User | None, reason: str) -> None:
    artifact = grant.dataset or grant.model
    grant.revoked_by = user if user is not None and user.is_authenticated else None
    grant.revoked_at = timezone.now()
    grant.revoke_reason = reason
    grant.save(update_fields=["revoked_by", "revoked_at", "revoke_reason"])
    audit.record(
        "grant.revoke", actor=user, organization=artifact.organization, target=grant,
        before={"active": True}, after={"active": False, "reason": reason},
    )  # fmt: skip
    _record_people_check(
        user,
        grant.organization,
        artifact,
        allowed=False,
        reasons=[("access_revoked", f"{artifact.organization.slug} revoked access: {reason}")],
        grant=grant,
    )


def sync_listed_grants(policy_version: PolicyVersion, artifact: Artifact, user: User | None) -> ListedSync:
    """Grant the organizations a ``listed`` policy version names, and revoke the listed grants of those it
    no longer names (any grant, when the version is not ``listed``). Grants from approved requests stay.

    Called when a policy is attached to the artifact or given a new version; the caller has checked that
    the user may change the artifact's policy.
    """
    listed: set[int] = set()
    if policy_version.access_mode == AccessMode.LISTED:
        listed = set(policy_version.listed_organizations.values_list("pk", flat=True))
    listed.discard(artifact.organization_id)
    result = ListedSync()
    with transaction.atomic():
        active = list(active_grants_of(artifact).select_for_update())
        holders = {grant.organization_id for grant in active}
        for grant in active:
            if grant.source == AccessGrant.Source.LISTED and grant.organization_id not in listed:
                _revoke(grant, user, f"no longer listed by the policy {policy_version}")
                result.revoked.append(grant)
        for organization in Organization.objects.filter(pk__in=listed - holders):
            grant = AccessGrant.objects.create(
                organization=organization,
                source=AccessGrant.Source.LISTED,
                granted_by=user if user is not None and user.is_authenticated else None,
                **{kind_of(artifact): artifact},
            )
            audit.record(
                "grant.create", actor=user, organization=artifact.organization, target=grant,
                after={"organization": organization.slug, "source": grant.source,
                       "policy": str(policy_version)},
            )  # fmt: skip
            _record_people_check(user, organization, artifact, allowed=True, reasons=[], grant=grant)
            result.granted.append(grant)
    return result


def _record_people_check(
    user: User | None,
    organization: Organization,
    artifact: Artifact,
    *,
    allowed: bool,
    reasons: list[tuple[str, str]],
    access_request: AccessRequest | None = None,
    grant: AccessGrant | None = None,
) -> PolicyCheck:
    """An access decision taken by people (or by the policy's list), kept beside the engine's checks."""
    version = access_request.policy_version if access_request else current_policy_version(artifact)
    return PolicyCheck.objects.create(
        context=PolicyCheck.Context.ACCESS,
        outcome=PolicyCheck.Outcome.ALLOWED if allowed else PolicyCheck.Outcome.REFUSED,
        organization=organization,
        reasons=[
            {"code": code, "message": message, "artifact": artifact.full_name} for code, message in reasons
        ],
        inputs={
            "requester": organization.slug,
            "artifact": artifact.full_name,
            "policy": str(version) if version else None,
            "intended_use": list(access_request.intended_use) if access_request else [],
            "access_request": access_request.pk if access_request else None,
            "grant": grant.pk if grant else None,
            "source": grant.source if grant else AccessGrant.Source.REQUEST,
        },
        created_by=user if user is not None and user.is_authenticated else None,
    )
