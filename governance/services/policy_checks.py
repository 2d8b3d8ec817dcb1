"""Asking the policy engine about a run or a publication, and keeping its answer as a PolicyCheck.

The engine (governance/policy_engine.py) is a pure function of plain data; this module reads the
records it needs (policies, grants, scores, the card) and stores every decision with its reasons.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import User

from governance import policy_engine as engine
from governance.models import PolicyCheck, PolicyVersion
from governance.selectors import current_policy_version
from hub.models import Dataset, Organization, RegisteredModel


def terms_of(version: PolicyVersion | None) -> engine.Terms | None:
    """A policy version's terms as the engine's plain data."""
    if version is None:
        return None
    return engine.Terms(
        policy=str(version),
        license=version.license,
        allowed_uses=tuple(version.allowed_uses),
        prohibited_uses=tuple(version.prohibited_uses),
        commercial_use=version.commercial_use,
        attribution_required=version.attribution_required,
        share_alike=version.share_alike,
        access_mode=version.access_mode,
        requires_review=version.requires_review,
        conflicts_go_to_review=version.conflicts_go_to_review,
        max_delta=version.max_delta,
        max_epsilon=version.max_epsilon,
        max_theta=version.max_theta,
        max_objective=version.max_objective,
    )


def use_refusal(organization: Organization, artifact: Dataset | RegisteredModel) -> str | None:
    from governance.services.access import use_refusal as refusal

    return refusal(organization, artifact)


def engine_input(role: str, artifact: Dataset | RegisteredModel, requester: Organization) -> engine.Input:
    return engine.Input(
        role=role,
        name=artifact.full_name,
        owner=artifact.organization.slug,
        license=artifact.license,
        terms=terms_of(current_policy_version(artifact)),
        access=use_refusal(requester, artifact) is None,
    )


def lineage_inputs(
    requester: Organization, *, dataset: Dataset | None, base_model: RegisteredModel | None
) -> tuple[engine.Input, ...]:
    """The artifacts a new model draws on: its training dataset and its base model."""
    inputs = []
    if dataset is not None:
        inputs.append(engine_input("dataset", dataset, requester))
    if base_model is not None:
        inputs.append(engine_input("base_model", base_model, requester))
    return tuple(inputs)


def record_check(
    request: engine.Request,
    decision: engine.Decision,
    *,
    context: str,
    user: User | None,
    organization: Organization,
    model_version=None,
) -> PolicyCheck:
    """Store one decision: the record behind the policy-check factor of the scores."""
    return PolicyCheck.objects.create(
        context=context,
        outcome=decision.outcome,
        organization=organization,
        model_version=model_version,
        reasons=[_reason(r) for r in decision.reasons],
        inputs={
            "requester": request.requester,
            "intended_use": list(request.intended_use),
            "proposed_license": request.proposed_license,
            "inputs": [
                {
                    "role": i.role,
                    "name": i.name,
                    "license": i.license,
                    "policy": i.terms.policy if i.terms else None,
                    "access": i.access,
                }
                for i in request.inputs
            ],
            "obligations": [_reason(r) for r in decision.obligations],
            "allowed_licenses": list(decision.allowed_licenses),
            "commercial_allowed": decision.commercial_allowed,
        },
        created_by=user if user is not None and user.is_authenticated else None,
    )


def _reason(reason: engine.Reason) -> dict[str, str]:
    return {"code": reason.code, "message": reason.message, "artifact": reason.artifact}


def check_run(
    *,
    user: User,
    organization: Organization,
    dataset: Dataset,
    base_model: RegisteredModel,
    intended_use: Sequence[str],
    proposed_license: str,
) -> PolicyCheck:
    """The engine's pre-check of a run: access to its inputs, declared uses, the licence flow."""
    request = engine.Request(
        context="run",
        requester=organization.slug,
        inputs=lineage_inputs(organization, dataset=dataset, base_model=base_model),
        intended_use=tuple(intended_use),
        proposed_license=proposed_license,
    )
    decision = engine.decide(request)
    return record_check(
        request, decision, context=PolicyCheck.Context.RUN, user=user, organization=organization
    )


def reasons_text(check: PolicyCheck) -> str:
    return "; ".join(reason["message"] for reason in check.reasons)
