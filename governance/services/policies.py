"""Usage policies: create one, change it, attach it to the organization's datasets and models.

The terms live in immutable versions: a change is a new version, never an edit. Only the owners and
admins of the policy's organization write its policies and their attachments, and every write is an
audit event.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from governance.models import AccessGrant, AccessMode, Policy, PolicyAttachment, PolicyVersion
from governance.selectors import POLICY_TERM_FIELDS, policy_changes, policy_terms
from hub import audit
from hub.licenses import normalize_license
from hub.models import Dataset, Organization, RegisteredModel
from hub.permissions import can_administer

Artifact = Dataset | RegisteredModel

# "new" is the path of the creation form, next to the policies' own paths.
RESERVED_SLUGS = frozenset({"new"})
WEIGHT_SUM_TOLERANCE = 1e-6
MAX_COOLDOWN_DAYS = 365
MAX_CHANGE_NOTE = PolicyVersion._meta.get_field("change_note").max_length
MAX_NAME = Policy._meta.get_field("name").max_length
MAX_SLUG = Policy._meta.get_field("slug").max_length
BOOLEAN_TERMS = ("commercial_use", "attribution_required", "share_alike", "requires_review",
                 "conflicts_go_to_review")  # fmt: skip
MAXIMUM_TERMS = ("max_delta", "max_epsilon", "max_theta", "max_objective")
WEIGHT_TERMS = ("alpha", "beta", "gamma")


# Terms ------------------------------------------------------------------------------------------


def default_terms() -> dict[str, Any]:
    """The terms of a version that gives nothing but its licence (the model's field defaults)."""
    terms = {
        name: PolicyVersion._meta.get_field(name).get_default()
        for name in POLICY_TERM_FIELDS
        if name != "listed_organizations"
    }
    terms["listed_organizations"] = []
    return terms


def _words(value: Any) -> list[str]:
    """A list of words from a list or from a text separated by commas or spaces."""
    if isinstance(value, str):
        return value.replace(",", " ").split()
    items = list(value) if isinstance(value, Iterable) and not isinstance(value, Mapping) else None
    if items is not None and all(isinstance(item, str) for item in items):
        return items
    raise ValueError("must be a list of strings")


def _unit_number(value: Any) -> float | None:
    """A number in [0, 1], or None for an empty value; ValueError otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real | str):
        raise ValueError(f"must be a number in [0, 1], got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"must be a number in [0, 1], got {value!r}") from None
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise ValueError(f"must be a number in [0, 1], got {value!r}")
    return number


def _clean_uses(values: Mapping[str, Any], clean: dict[str, Any], errors: dict[str, str]) -> None:
    # Imported here: the engine is a pure module the rest of governance may import at any time.
    from governance.policy_engine import USE_TAGS, normalize_use_tags

    for name in ("allowed_uses", "prohibited_uses"):
        try:
            tags = list(normalize_use_tags(_words(values[name])))
        except ValueError as error:
            errors[name] = str(error)
            continue
        unknown = [tag for tag in tags if tag not in USE_TAGS]
        if unknown:
            errors[name] = (
                f"unknown use tags: {', '.join(unknown)}; use tags of the hub's vocabulary, "
                "e.g. research, commercial, medical-advice"
            )
        clean[name] = tags
    both = [tag for tag in clean.get("allowed_uses", []) if tag in clean.get("prohibited_uses", [])]
    if both and "allowed_uses" not in errors:
        errors["allowed_uses"] = f"allowed and prohibited at once: {', '.join(both)}"


def _clean_access(values: Mapping[str, Any], clean: dict[str, Any], errors: dict[str, str]) -> None:
    mode = values["access_mode"]
    if mode not in AccessMode.values:
        errors["access_mode"] = f"must be one of {', '.join(AccessMode.values)}, not {mode!r}"
    clean["access_mode"] = mode
    try:
        slugs = sorted(set(_words(values["listed_organizations"] or [])))
    except ValueError as error:
        errors["listed_organizations"] = str(error)
        slugs = []
    if mode != AccessMode.LISTED:
        slugs = []  # the list means something only in listed mode
    elif not slugs:
        errors["listed_organizations"] = "name at least one organization when access is listed"
    else:
        found = set(Organization.objects.filter(slug__in=slugs).values_list("slug", flat=True))
        missing = [slug for slug in slugs if slug not in found]
        if missing:
            errors["listed_organizations"] = f"no organization {', '.join(missing)}"
    clean["listed_organizations"] = slugs
    conditions = values["conditions"]
    if not isinstance(conditions, str):
        errors["conditions"] = "must be a text"
    clean["conditions"] = conditions.strip() if isinstance(conditions, str) else ""
    days = values["request_cooldown_days"]
    if isinstance(days, str) and days.strip().isdigit():
        days = int(days)
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_COOLDOWN_DAYS:
        errors["request_cooldown_days"] = f"must be a whole number of days from 0 to {MAX_COOLDOWN_DAYS}"
    clean["request_cooldown_days"] = days


def _clean_scores(values: Mapping[str, Any], clean: dict[str, Any], errors: dict[str, str]) -> None:
    for name in MAXIMUM_TERMS:
        try:
            clean[name] = _unit_number(values[name])
        except ValueError as error:
            errors[name] = f"{error} (or empty for no maximum)"
    weights = {}
    for name in WEIGHT_TERMS:
        try:
            weights[name] = _unit_number(values[name])
        except ValueError as error:
            errors[name] = str(error)
        else:
            if weights[name] is None:
                errors[name] = "a weight is required"
    if len([weight for weight in weights.values() if weight is not None]) < len(WEIGHT_TERMS):
        return
    total = sum(weights.values())
    if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
        errors["alpha"] = f"the weights α + β + γ must sum to 1, not {total:.6g}"
        return
    # Stored exactly normalised, so the objective's own stricter check always accepts them.
    clean.update({name: weight / total for name, weight in weights.items()})


def validate_terms(terms: Mapping[str, Any]) -> dict[str, Any]:
    """The terms of a policy version, checked and normalised; absent terms take the defaults.

    Raises ValidationError naming every bad field: an unknown licence id, use tags outside the
    vocabulary (or both allowed and prohibited), maxima outside [0, 1], weights that do not sum to 1
    (on "alpha"), an unknown access mode, listed organizations missing or unknown, a cool-down outside
    0 to 365 days, or a term that does not exist.
    """
    errors: dict[str, str] = {
        name: f"not a policy term; the terms are {', '.join(POLICY_TERM_FIELDS)}"
        for name in terms
        if name not in POLICY_TERM_FIELDS
    }
    values = {**default_terms(), **{name: terms[name] for name in terms if name in POLICY_TERM_FIELDS}}
    clean: dict[str, Any] = {}
    try:
        clean["license"] = normalize_license(values["license"] if isinstance(values["license"], str) else "")
    except ValueError as error:
        errors["license"] = str(error)
    _clean_uses(values, clean, errors)
    for name in BOOLEAN_TERMS:
        if not isinstance(values[name], bool):
            errors[name] = "must be true or false"
        clean[name] = values[name]
    _clean_access(values, clean, errors)
    _clean_scores(values, clean, errors)
    if errors:
        raise ValidationError(errors)
    return {name: clean[name] for name in POLICY_TERM_FIELDS}


# Writes -----------------------------------------------------------------------------------------


def _require_admin(user: User | AnonymousUser, organization: Organization) -> None:
    if not can_administer(user, organization):
        raise PermissionDenied(f"Only owners and admins of {organization.slug} manage its policies.")


def _artifact_kind(artifact: Artifact) -> str:
    if isinstance(artifact, Dataset):
        return "dataset"
    if isinstance(artifact, RegisteredModel):
        return "model"
    raise TypeError(f"a policy governs datasets and models, not {type(artifact).__name__}")


def _create_version(
    policy: Policy, terms: Mapping[str, Any], *, user: User | AnonymousUser, number: int, change_note: str
) -> PolicyVersion:
    fields = {name: value for name, value in terms.items() if name != "listed_organizations"}
    version = PolicyVersion.objects.create(
        policy=policy,
        number=number,
        change_note=change_note,
        created_by=user if user.is_authenticated else None,
        **fields,
    )
    if terms["listed_organizations"]:
        version.listed_organizations.set(Organization.objects.filter(slug__in=terms["listed_organizations"]))
    return version


def _sync_listed_grants(version: PolicyVersion, artifact: Artifact, user: User | AnonymousUser) -> None:
    """Grants follow the organizations listed by the terms now in force."""
    # Imported here so that the access services may read policies in turn without an import cycle.
    from governance.services.access import sync_listed_grants

    sync_listed_grants(version, artifact, user)


def _revoke_listed_grants(policy: Policy, artifact: Artifact, user: User | AnonymousUser) -> None:
    """Organizations the detached policy listed lose their grant; approved requests keep theirs."""
    from governance.services.access import active_grants_of, revoke_grant

    for grant in active_grants_of(artifact).filter(source=AccessGrant.Source.LISTED):
        revoke_grant(user=user, grant=grant, reason=f"the policy {policy} no longer governs {artifact}")


def _governed_artifacts(policy: Policy) -> list[Artifact]:
    attachments = policy.attachments.select_related("dataset__organization", "model__organization")
    return [attachment.dataset or attachment.model for attachment in attachments]


@transaction.atomic
def create_policy(
    *,
    user: User | AnonymousUser,
    organization: Organization,
    slug: str,
    name: str,
    description: str = "",
    terms: Mapping[str, Any],
) -> Policy:
    """A new policy of the organization, with ``terms`` as its version 1."""
    _require_admin(user, organization)
    errors: dict[str, Any] = {}
    if not isinstance(name, str) or not name.strip():
        errors["name"] = "a name is required"
    elif len(name.strip()) > MAX_NAME:
        errors["name"] = f"at most {MAX_NAME} characters"
    if not isinstance(slug, str) or not slug or slug != slugify(slug):
        errors["slug"] = "use lower-case letters, digits, hyphens and underscores"
    elif len(slug) > MAX_SLUG:
        errors["slug"] = f"at most {MAX_SLUG} characters"
    elif slug in RESERVED_SLUGS:
        errors["slug"] = f"{slug!r} is reserved; choose another slug"
    elif Policy.objects.filter(organization=organization, slug=slug).exists():
        errors["slug"] = f"{organization.slug} already has a policy {slug!r}"
    try:
        clean = validate_terms(terms)
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            policy = Policy.objects.create(
                organization=organization,
                slug=slug,
                name=name.strip(),
                description=(description or "").strip(),
                created_by=user if user.is_authenticated else None,
            )
    except IntegrityError:
        raise ValidationError({"slug": f"{organization.slug} already has a policy {slug!r}"}) from None
    _create_version(policy, clean, user=user, number=1, change_note="")
    audit.record(
        "policy.create",
        actor=user,
        organization=organization,
        target=policy,
        after={"slug": policy.slug, "name": policy.name, "version": 1, **clean},
    )
    return policy


@transaction.atomic
def add_policy_version(
    *, user: User | AnonymousUser, policy: Policy, terms: Mapping[str, Any], change_note: str = ""
) -> PolicyVersion:
    """The policy's next version: the latest terms with ``terms`` changed. It must change something.

    The attached datasets and models are governed by it at once.
    """
    _require_admin(user, policy.organization)
    # Locking the policy row numbers concurrent versions one after the other.
    policy = Policy.objects.select_for_update().select_related("organization").get(pk=policy.pk)
    latest = policy.latest_version
    before = policy_terms(latest) if latest is not None else default_terms()
    errors: dict[str, Any] = {}
    change_note = change_note.strip() if isinstance(change_note, str) else ""
    if len(change_note) > MAX_CHANGE_NOTE:
        errors["change_note"] = f"at most {MAX_CHANGE_NOTE} characters"
    try:
        clean = validate_terms({**before, **terms})
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    changes = policy_changes(before, clean)
    if latest is not None and not changes:
        raise ValidationError({"terms": f"these are the terms of {latest}; a new version must change one"})
    number = latest.number + 1 if latest is not None else 1
    version = _create_version(policy, clean, user=user, number=number, change_note=change_note)
    audit.record(
        "policy.version",
        actor=user,
        organization=policy.organization,
        target=version,
        before={"version": latest.number, **{c.field: c.before for c in changes}} if latest else None,
        after={"version": number, "change_note": change_note, **{c.field: c.after for c in changes}},
    )
    for artifact in _governed_artifacts(policy):
        _sync_listed_grants(version, artifact, user)
    return version


@transaction.atomic
def attach_policy(*, user: User | AnonymousUser, policy: Policy, artifact: Artifact) -> PolicyAttachment:
    """Let the policy govern a dataset or a model of its organization, in place of any other policy."""
    kind = _artifact_kind(artifact)
    _require_admin(user, policy.organization)
    if artifact.organization_id != policy.organization_id:
        raise ValidationError(
            {
                kind: f"{artifact} belongs to {artifact.organization.slug}: a policy of "
                f"{policy.organization.slug} governs only {policy.organization.slug}'s datasets and models"
            }
        )
    # Locking the artifact serialises two attachments racing for it.
    type(artifact).objects.select_for_update().filter(pk=artifact.pk).first()
    attachment = PolicyAttachment.objects.select_related("policy").filter(**{kind: artifact}).first()
    if attachment is not None and attachment.policy_id == policy.pk:
        return attachment
    previous = attachment.policy if attachment is not None else None
    attachment = attachment or PolicyAttachment()
    setattr(attachment, kind, artifact)  # also the caller's artifact.policy_attachment
    attachment.policy = policy
    attachment.attached_by = user if user.is_authenticated else None
    attachment.save()
    version = policy.latest_version
    audit.record(
        "policy.attach",
        actor=user,
        organization=policy.organization,
        target=artifact,
        before={"policy": str(previous)} if previous is not None else None,
        after={"policy": str(policy), "version": version.number},
    )
    _sync_listed_grants(version, artifact, user)
    return attachment


@transaction.atomic
def detach_policy(*, user: User | AnonymousUser, artifact: Artifact) -> Policy:
    """Stop the attached policy governing a dataset or a model; its licence alone applies again, and
    the organizations the policy listed lose their grant. Returns the policy that was attached."""
    kind = _artifact_kind(artifact)
    _require_admin(user, artifact.organization)
    attachment = (
        PolicyAttachment.objects.select_for_update()
        .select_related("policy__organization")
        .filter(**{kind: artifact})
        .first()
    )
    if attachment is None:
        raise ValidationError({kind: f"{artifact} has no policy attached"})
    policy = attachment.policy
    attachment.delete()
    audit.record(
        "policy.detach",
        actor=user,
        organization=policy.organization,
        target=artifact,
        before={"policy": str(policy)},
        after=None,
    )
    _revoke_listed_grants(policy, artifact, user)
    return policy
