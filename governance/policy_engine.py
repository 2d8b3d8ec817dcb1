"""The policy engine: may a fine-tuning run, a publication or an access request go ahead?

``decide(request)`` is a pure function of plain data (no Django, no database): the caller gathers the
policies and licences of the artifacts involved into a ``Request`` and records the ``Decision``. The rule
follows the conservative reading of the licence-flow matrix in the project's reference
(``../shared/spec/policies.md``) and is documented with examples in ``docs/policies.md``.

The licence rule is data: ``LICENSE_FAMILIES`` maps licence ids to families, ``COLUMN_LICENSES`` maps the
licences a new model may be given to the matrix's columns, and ``FLOW`` holds the matrix itself. Anything
the tables do not decide goes to a human reviewer, never silently through.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

CONTEXTS = ("run", "publication", "access")
ROLES = ("dataset", "base_model")
ACCESS_MODES = ("open", "on_request", "listed")

OUTCOME_ALLOWED = "allowed"
OUTCOME_REVIEW = "review"
OUTCOME_REFUSED = "refused"

# Use tags ---------------------------------------------------------------------------------------

# The use restrictions of the BigScience OpenRAIL-M attachment A, as tags. They bind every derivative, so an
# input under an OpenRAIL-M family licence prohibits them even when no policy is attached.
OPENRAIL_M_RESTRICTIONS: tuple[str, ...] = (
    "illegal",
    "harm-minors",
    "disinformation",
    "personal-data-harm",
    "undisclosed-machine-output",
    "defamation-harassment",
    "impersonation",
    "automated-legal-decisions",
    "social-scoring",
    "exploit-vulnerabilities",
    "discrimination-protected",
    "medical-advice",
    "justice-law-enforcement-immigration",
)

# The vocabulary forms offer for intended, allowed and prohibited uses (tag → title). Other tags are accepted:
# a policy may name a use this list lacks.
USE_TAGS: dict[str, str] = {
    "research": "Research",
    "education": "Education and teaching",
    "commercial": "Commercial use (selling it, or using it in a paid product or service)",
    "internal-evaluation": "Internal evaluation and benchmarking",
    "production": "Production deployment",
    "content-moderation": "Content moderation",
    "sentiment-analysis": "Sentiment analysis",
    "text-classification": "Text classification",
    "customer-support": "Customer support",
    "search-recommendation": "Search and recommendation",
    "fine-tuning": "Fine-tuning further models",
    "redistribution": "Redistribution to third parties",
    "illegal": "Breaking the law",
    "harm-minors": "Exploiting, harming or attempting to harm minors",
    "disinformation": "Generating or spreading verifiably false information to harm others",
    "personal-data-harm": "Generating or spreading personal information that can harm someone",
    "undisclosed-machine-output": "Presenting machine-generated output as human-made without disclosure",
    "defamation-harassment": "Defaming, disparaging or harassing others",
    "impersonation": "Impersonating someone without their consent",
    "automated-legal-decisions": "Fully automated decisions that adversely affect legal rights",
    "social-scoring": "Discrimination based on social behaviour or personal characteristics",
    "exploit-vulnerabilities": "Exploiting the vulnerabilities of a group of people",
    "discrimination-protected": "Discrimination on legally protected characteristics",
    "medical-advice": "Medical advice or interpretation of medical results",
    "justice-law-enforcement-immigration": "Predictions for justice, law enforcement, immigration or asylum",
}

COMMERCIAL = "commercial"

# Licence families -------------------------------------------------------------------------------

PERMISSIVE = "permissive"
CC_BY = "cc-by"
CC0 = "cc0"
CC_BY_SA = "cc-by-sa"
CC_BY_NC = "cc-by-nc"
OPENRAIL_M = "openrail-m"
LLAMA = "llama"

# Licence ids (canonical spelling; matched case-insensitively) by family. BSD-2-Clause, BSD-3-Clause and ISC
# are permissive notice licences like MIT, so they share its family. CC-BY-4.0 and CC0-1.0 have families of
# their own: the matrix rules on them for datasets only, so a base model under them goes to review.
LICENSE_FAMILIES: dict[str, tuple[str, ...]] = {
    PERMISSIVE: ("Apache-2.0", "MIT", "BSD-2-Clause", "BSD-3-Clause", "ISC"),
    CC_BY: ("CC-BY-4.0",),
    CC0: ("CC0-1.0",),
    CC_BY_SA: ("CC-BY-SA-4.0",),
    CC_BY_NC: ("CC-BY-NC-4.0",),
    OPENRAIL_M: (
        "LicenseRef-openrail",
        "LicenseRef-openrail-m",
        "LicenseRef-bigscience-openrail-m",
        "LicenseRef-creativeml-openrail-m",
        "LicenseRef-bigcode-openrail-m",
        "LicenseRef-openrail++",
    ),
    LLAMA: (
        "LicenseRef-llama2",
        "LicenseRef-llama3",
        "LicenseRef-llama3.1",
        "LicenseRef-llama3.2",
        "LicenseRef-llama3.3",
        "LicenseRef-llama4",
    ),
}
NON_COMMERCIAL_FAMILIES = frozenset({CC_BY_NC})
# Uses a licence itself prohibits, whatever policy is attached.
LICENSE_PROHIBITED_USES: dict[str, tuple[str, ...]] = {OPENRAIL_M: OPENRAIL_M_RESTRICTIONS}

# The matrix ---------------------------------------------------------------------------------------

MARK_ALLOWED = "✓"
MARK_REFUSED = "✗"
MARK_ATTRIBUTION = "A"  # allowed, crediting the input in the model card
MARK_RESTRICTIONS = "R"  # allowed only with the input's use restrictions carried into the new model's terms
MARK_SAME_LICENSE = "S"  # allowed only under the input's very licence, with its naming and attribution rules
PERMITTING_MARKS = frozenset({MARK_ALLOWED, MARK_ATTRIBUTION, MARK_RESTRICTIONS, MARK_SAME_LICENSE})

# Columns: the licences a new model may be proposed under, grouped as in the matrix.
COLUMN_LICENSES: dict[str, tuple[str, ...]] = {
    "Apache-2.0": ("Apache-2.0",),
    "MIT": ("MIT",),
    "CC-BY-4.0": ("CC-BY-4.0",),
    "CC-BY-SA-4.0": ("CC-BY-SA-4.0",),
    "CC-BY-NC-4.0": ("CC-BY-NC-4.0",),
    "OpenRAIL-M": LICENSE_FAMILIES[OPENRAIL_M],
    "Llama-style": LICENSE_FAMILIES[LLAMA],
}
COLUMNS: tuple[str, ...] = tuple(COLUMN_LICENSES)


def _row(*marks: str) -> dict[str, str]:
    return dict(zip(COLUMNS, marks, strict=True))


# Rows: (role of the input, family of its licence). A pair that is not here is undecidable: review.
# fmt: off
FLOW: dict[tuple[str, str], dict[str, str]] = {
    # columns in order: Apache-2.0, MIT, CC-BY-4.0, CC-BY-SA-4.0, CC-BY-NC-4.0, OpenRAIL-M, Llama-style
    ("dataset", PERMISSIVE):    _row("A", "A", "A", "A", "A", "A", "A"),
    ("dataset", CC_BY):         _row("A", "A", "A", "A", "A", "A", "A"),
    ("dataset", CC0):           _row("A", "A", "A", "A", "A", "A", "A"),
    ("dataset", CC_BY_SA):      _row("✗", "✗", "✗", "✓", "✗", "✗", "✗"),
    ("dataset", CC_BY_NC):      _row("✗", "✗", "✗", "✗", "✓", "✗", "✗"),
    ("base_model", PERMISSIVE): _row("✓", "✓", "✓", "✓", "✓", "✓", "✗"),
    ("base_model", OPENRAIL_M): _row("R", "R", "R", "✗", "R", "✓", "✗"),
    ("base_model", LLAMA):      _row("✗", "✗", "✗", "✗", "✗", "✗", "S"),
}
# fmt: on

_FAMILY_BY_ID = {lid.lower(): family for family, ids in LICENSE_FAMILIES.items() for lid in ids}
_COLUMN_BY_ID = {lid.lower(): column for column, ids in COLUMN_LICENSES.items() for lid in ids}

SCORES = ("delta", "epsilon", "theta", "objective")
SCORE_LABELS = {
    "delta": "fairness gap δ",
    "epsilon": "calibration error ε",
    "theta": "leakage risk θ",
    "objective": "governance objective F",
}


def license_family(license_id: str | None) -> str | None:
    """The family of a licence id (case-insensitive), or None when the tables do not know it."""
    return _FAMILY_BY_ID.get((license_id or "").strip().lower())


def license_column(license_id: str | None) -> str | None:
    """The matrix column a licence proposed for a new model falls in, or None when it has none."""
    return _COLUMN_BY_ID.get((license_id or "").strip().lower())


def flow_row(role: str, license_id: str) -> dict[str, str] | None:
    """The matrix row of an input: column → mark, or None when the matrix does not decide it."""
    family = license_family(license_id)
    return FLOW.get((role, family)) if family else None


def normalize_use_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Tags trimmed and lower-cased, empty ones dropped, first occurrence kept."""
    seen: dict[str, None] = {}
    for tag in tags:
        tag = str(tag).strip().lower()
        if tag:
            seen.setdefault(tag)
    return tuple(seen)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


# The request --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    """A policy version's terms, as plain data."""

    policy: str  # "acme/research-only@v2", named in reasons
    license: str
    allowed_uses: tuple[str, ...] = ()  # empty: any use not prohibited
    prohibited_uses: tuple[str, ...] = ()
    commercial_use: bool = True
    attribution_required: bool = True
    share_alike: bool = False
    access_mode: str = "open"
    requires_review: bool = False  # publication needs a reviewer
    conflicts_go_to_review: bool = False  # a licence conflict goes to review instead of refusal
    max_delta: float | None = None
    max_epsilon: float | None = None
    max_theta: float | None = None
    max_objective: float | None = None

    def __post_init__(self) -> None:
        _check_choice("access_mode", self.access_mode, ACCESS_MODES)
        object.__setattr__(self, "allowed_uses", normalize_use_tags(self.allowed_uses))
        object.__setattr__(self, "prohibited_uses", normalize_use_tags(self.prohibited_uses))
        for score in SCORES:
            maximum = getattr(self, f"max_{score}")
            if maximum is not None:
                object.__setattr__(self, f"max_{score}", float(maximum))

    def maximum(self, score: str) -> float | None:
        return getattr(self, f"max_{score}")

    def to_dict(self) -> dict:
        return {
            "policy": self.policy,
            "license": self.license,
            "allowed_uses": list(self.allowed_uses),
            "prohibited_uses": list(self.prohibited_uses),
            "commercial_use": self.commercial_use,
            "attribution_required": self.attribution_required,
            "share_alike": self.share_alike,
            "access_mode": self.access_mode,
            "requires_review": self.requires_review,
            "conflicts_go_to_review": self.conflicts_go_to_review,
            **{f"max_{score}": self.maximum(score) for score in SCORES},
        }


@dataclass(frozen=True)
class Input:
    """An artifact a run or a publication draws on."""

    role: str  # "dataset" | "base_model"
    name: str  # "acme/reviews"
    owner: str  # owning organization slug
    license: str  # the artifact's licence id
    terms: Terms | None  # its policy; None: no policy attached
    access: bool  # the requesting organization may use it (owner, open access, or an active grant)

    def __post_init__(self) -> None:
        _check_choice("role", self.role, ROLES)

    @property
    def label(self) -> str:
        return f"{self.role.replace('_', ' ')} {self.name}"

    def to_dict(self) -> dict:
        return {
            "role": self.role,
            "name": self.name,
            "owner": self.owner,
            "license": self.license,
            "terms": self.terms.to_dict() if self.terms else None,
            "access": self.access,
        }


@dataclass(frozen=True)
class Scores:
    """The scores of the version being published; None: n/a."""

    delta: float | None = None
    epsilon: float | None = None
    theta: float | None = None
    objective: float | None = None

    def value(self, score: str) -> float | None:
        value = getattr(self, score)
        if value is None or math.isnan(value):
            return None
        return float(value)

    def to_dict(self) -> dict:
        return {score: self.value(score) for score in SCORES}


@dataclass(frozen=True)
class Request:
    context: str  # "run" | "publication" | "access"
    requester: str  # acting organization slug
    inputs: tuple[Input, ...]
    intended_use: tuple[str, ...] = ()  # declared use tags; "commercial" among them = commercial use
    proposed_license: str | None = None  # licence of the new model (runs and publications)
    own_terms: Terms | None = None  # the policy of the model being published
    scores: Scores | None = None  # publication only
    card_completeness: float | None = None  # publication only
    min_card_completeness: float = 0.0

    def __post_init__(self) -> None:
        _check_choice("context", self.context, CONTEXTS)
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "intended_use", normalize_use_tags(self.intended_use))

    @property
    def new_model_license(self) -> str | None:
        """The proposed licence or, for a publication that names none, its own policy's licence."""
        if self.proposed_license:
            return self.proposed_license.strip()
        if self.context == "publication" and self.own_terms is not None:
            return self.own_terms.license
        return None

    def to_dict(self) -> dict:
        return {
            "context": self.context,
            "requester": self.requester,
            "inputs": [item.to_dict() for item in self.inputs],
            "intended_use": list(self.intended_use),
            "proposed_license": self.proposed_license,
            "own_terms": self.own_terms.to_dict() if self.own_terms else None,
            "scores": self.scores.to_dict() if self.scores else None,
            "card_completeness": self.card_completeness,
            "min_card_completeness": self.min_card_completeness,
        }


# The decision -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    artifact: str = ""

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "artifact": self.artifact}


@dataclass(frozen=True)
class Decision:
    outcome: str  # "allowed" | "review" | "refused"
    reasons: tuple[Reason, ...]  # every refusal first, then every reason for review
    obligations: tuple[Reason, ...]  # what the new model or its user must do: credit, carry restrictions
    allowed_licenses: tuple[str, ...]  # matrix columns every input allows for the new model
    commercial_allowed: bool

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(reason.code for reason in self.reasons)

    def to_dict(self) -> dict:
        return {
            "outcome": self.outcome,
            "reasons": [reason.to_dict() for reason in self.reasons],
            "obligations": [obligation.to_dict() for obligation in self.obligations],
            "allowed_licenses": list(self.allowed_licenses),
            "commercial_allowed": self.commercial_allowed,
        }


@dataclass
class _Findings:
    refusals: list[Reason] = field(default_factory=list)
    reviews: list[Reason] = field(default_factory=list)
    obligations: list[Reason] = field(default_factory=list)

    def refuse(self, code: str, message: str, artifact: str = "") -> None:
        self.refusals.append(Reason(code, message, artifact))

    def review(self, code: str, message: str, artifact: str = "") -> None:
        self.reviews.append(Reason(code, message, artifact))

    def oblige(self, code: str, message: str, artifact: str = "") -> None:
        self.obligations.append(Reason(code, message, artifact))


def decide(request: Request) -> Decision:
    """Decide a run, a publication or an access request, giving every reason, not just the first.

    - run: access to every input, declared uses against each input's policy and licence, and, when a licence
      is proposed for the new model, the licence flow;
    - publication: the same, plus the new model's carried restrictions, the score maxima, the card's
      completeness and the model policy's review flag;
    - access: the declared uses of an organization asking for access (it has none yet, so access itself is
      not checked).
    """
    findings = _Findings()
    if request.context != "access":
        _check_access(request, findings)
    _check_uses(request, findings)
    commercial_allowed = _check_commercial(request, findings)
    allowed_licenses = _check_license_flow(request, findings)
    if request.context == "publication":
        _check_thresholds(request, findings)
        _check_card(request, findings)
        if request.own_terms is not None and request.own_terms.requires_review:
            findings.review(
                "review_required", f"the policy {request.own_terms.policy} requires a reviewer's approval"
            )
    if findings.refusals:
        outcome = OUTCOME_REFUSED
    elif findings.reviews:
        outcome = OUTCOME_REVIEW
    else:
        outcome = OUTCOME_ALLOWED
    return Decision(
        outcome=outcome,
        reasons=tuple(findings.refusals + findings.reviews),
        obligations=tuple(findings.obligations),
        allowed_licenses=allowed_licenses,
        commercial_allowed=commercial_allowed,
    )


def _check_access(request: Request, findings: _Findings) -> None:
    for item in request.inputs:
        if item.access:
            continue
        mode = item.terms.access_mode if item.terms else "open"
        how = {
            "on_request": f"request access from {item.owner}, stating the intended use",
            "listed": f"only organizations {item.owner} lists may use it: ask {item.owner} to list you",
        }.get(mode, f"ask {item.owner}, its owner, for access")
        findings.refuse(
            "missing_access", f"{request.requester} has no access to the {item.label}: {how}", item.name
        )


def _check_uses(request: Request, findings: _Findings) -> None:
    for item in request.inputs:
        by_policy = item.terms.prohibited_uses if item.terms else ()
        by_license = LICENSE_PROHIBITED_USES.get(license_family(item.license) or "", ())
        allowed = item.terms.allowed_uses if item.terms else ()
        for use in request.intended_use:
            if use in by_policy:
                findings.refuse(
                    "prohibited_use",
                    f"the use '{use}' is prohibited by the policy {item.terms.policy} of the {item.label}",
                    item.name,
                )
            elif use in by_license:
                findings.refuse(
                    "prohibited_use",
                    f"the use '{use}' is prohibited by the licence {item.license} of the {item.label} "
                    "(OpenRAIL-M use restrictions)",
                    item.name,
                )
            elif allowed and use not in allowed:
                findings.refuse(
                    "use_not_allowed",
                    f"the use '{use}' is not among the uses the policy {item.terms.policy} of the "
                    f"{item.label} allows ({', '.join(allowed)})",
                    item.name,
                )


def _check_commercial(request: Request, findings: _Findings) -> bool:
    """Whether every input allows commercial use; a declared commercial use it does not allow is refused."""
    declared = COMMERCIAL in request.intended_use
    allowed = True
    for item in request.inputs:
        family = license_family(item.license)
        why_not = []
        if item.terms is not None and not item.terms.commercial_use:
            why_not.append(f"its policy {item.terms.policy} does not allow commercial use")
        if family in NON_COMMERCIAL_FAMILIES:
            why_not.append(f"its licence {item.license} is non-commercial")
        if why_not:
            allowed = False
            if declared:
                findings.refuse(
                    "commercial_use",
                    f"commercial use is declared but the {item.label} does not allow it: "
                    + "; ".join(why_not),
                    item.name,
                )
        elif family is None:
            # Not shown to allow commercial use: say so, and let a reviewer read the licence.
            allowed = False
            if declared:
                findings.review(
                    "license_undecidable",
                    f"the licence {item.license} of the {item.label} is not in the licence table: "
                    "a reviewer decides whether it allows commercial use",
                    item.name,
                )
    return allowed


def _check_license_flow(request: Request, findings: _Findings) -> tuple[str, ...]:
    """The matrix columns every input allows; conflicts with the proposed licence, and the obligations."""
    allowed = set(COLUMNS)
    same_license_ids: dict[str, set[str]] = {}  # column → the licences inputs marked "S" there insist on
    rows: dict[int, dict[str, str]] = {}
    for index, item in enumerate(request.inputs):
        row = flow_row(item.role, item.license)
        if row is None:
            continue
        rows[index] = row
        allowed &= {column for column, mark in row.items() if mark in PERMITTING_MARKS}
        for column, mark in row.items():
            if mark == MARK_SAME_LICENSE:
                same_license_ids.setdefault(column, set()).add(item.license.strip().lower())
    # Two inputs that each insist on keeping their own, different licence leave no licence in that column.
    allowed -= {column for column, ids in same_license_ids.items() if len(ids) > 1}
    allowed_licenses = tuple(column for column in COLUMNS if column in allowed)

    proposed = request.new_model_license
    column = license_column(proposed)
    if proposed is None and request.context == "publication":
        findings.review(
            "license_undecidable",
            "the model has no licence: choose one of "
            + (", ".join(allowed_licenses) or "the table's columns"),
        )
    if proposed is not None:
        if column is None:
            findings.review(
                "license_undecidable",
                f"the proposed licence {proposed} is not a column of the licence table: a reviewer decides "
                "whether the inputs allow it",
            )
        for index, item in enumerate(request.inputs):
            if index not in rows:
                findings.review(
                    "license_undecidable",
                    f"the licence table has no rule for a {item.role.replace('_', ' ')} licensed "
                    f"{item.license}: a reviewer decides whether the {item.label} may flow into a model "
                    f"licensed {proposed}",
                    item.name,
                )

    conflicts: list[tuple[Input, str]] = []
    for index, item in enumerate(request.inputs):
        row = rows.get(index)
        if row is not None and column is not None:
            mark = row[column]
            if mark == MARK_SAME_LICENSE and proposed.lower() != item.license.strip().lower():
                conflicts.append((item, f"a model derived from it must keep its licence {item.license}"))
                mark = MARK_REFUSED
            elif mark == MARK_REFUSED:
                conflicts.append((item, f"its licence does not let a derived model be licensed {proposed}"))
            marks = {mark}
        else:
            # No proposed licence (or one the table does not know): say what any permitted choice entails.
            marks = {mark for mark in (row or {}).values() if mark in PERMITTING_MARKS}
        _add_obligations(request, item, marks, findings)

    if conflicts:
        to_review = all(item.terms is not None and item.terms.conflicts_go_to_review for item, _ in conflicts)
        for item, why in conflicts:
            message = f"the {item.label} is licensed {item.license} and {why}"
            if to_review:
                message += f" (sent to review: the policy {item.terms.policy} says so)"
                findings.review("license_conflict", message, item.name)
            else:
                findings.refuse("license_conflict", message, item.name)
    return allowed_licenses


def _add_obligations(request: Request, item: Input, marks: set[str], findings: _Findings) -> None:
    license_asks = marks & {MARK_ATTRIBUTION, MARK_SAME_LICENSE}
    policy_asks = item.terms is not None and item.terms.attribution_required
    if license_asks or policy_asks:
        sources = []
        if MARK_SAME_LICENSE in license_asks:
            sources.append(f"the licence {item.license} (keep its naming and attribution rules)")
        elif license_asks:
            sources.append(f"the licence {item.license}")
        if policy_asks:
            sources.append(f"the policy {item.terms.policy}")
        findings.oblige(
            "attribution",
            f"credit the {item.label} ({item.owner}, {item.license}) in the model card, as required by "
            + " and ".join(sources),
            item.name,
        )
    if MARK_RESTRICTIONS in marks:
        findings.oblige(
            "carry_restrictions",
            f"the new model's terms must prohibit the use restrictions of the {item.label} ({item.license}): "
            + ", ".join(OPENRAIL_M_RESTRICTIONS),
            item.name,
        )
        if request.context == "publication":
            carried = request.own_terms.prohibited_uses if request.own_terms else ()
            missing = [tag for tag in OPENRAIL_M_RESTRICTIONS if tag not in carried]
            if missing:
                findings.refuse(
                    "restrictions_not_carried",
                    f"the {item.label} is licensed {item.license}: the model's policy must prohibit its use "
                    f"restrictions, and does not prohibit {', '.join(missing)}",
                    item.name,
                )


def _check_thresholds(request: Request, findings: _Findings) -> None:
    """Every maximum set by the model's policy or an input's policy applies; the strictest wins."""
    sources = [(request.own_terms, "")] + [(item.terms, item.name) for item in request.inputs]
    for score in SCORES:
        limits = [
            (terms.maximum(score), terms.policy, artifact)
            for terms, artifact in sources
            if terms is not None and terms.maximum(score) is not None
        ]
        if not limits:
            continue
        maximum, policy, artifact = min(limits, key=lambda limit: limit[0])  # first of equal maxima
        value = request.scores.value(score) if request.scores else None
        label = SCORE_LABELS[score]
        if value is None:
            findings.refuse(
                "score_unavailable",
                f"the {label} is n/a, so the maximum {maximum:g} set by the policy {policy} cannot be "
                "shown to hold",
                artifact,
            )
        elif value > maximum:
            findings.refuse(
                "threshold_exceeded",
                f"the {label} is {value:.6g}, over the maximum {maximum:g} set by the policy {policy}",
                artifact,
            )


def _check_card(request: Request, findings: _Findings) -> None:
    minimum = request.min_card_completeness
    completeness = request.card_completeness
    if completeness is None and minimum > 0:
        findings.refuse(
            "card_incomplete", f"the model card's completeness is unknown; at least {minimum:.1%} is required"
        )
    elif completeness is not None and completeness < minimum:
        findings.refuse(
            "card_incomplete",
            f"the model card is {completeness:.1%} complete; at least {minimum:.1%} is required",
        )


def declarable_uses() -> list[tuple[str, str]]:
    """The use tags a run or a request declares: the vocabulary without the restriction tags, which
    exist for policies to prohibit, sorted by title."""
    return sorted(
        ((tag, title) for tag, title in USE_TAGS.items() if tag not in OPENRAIL_M_RESTRICTIONS),
        key=lambda item: item[1],
    )
