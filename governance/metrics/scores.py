"""The collaboration scores of scores.md §1 and §2, from counts: E = D × T × N × M and C = A × B × S × K × R.

Pure arithmetic on the counts the hub's records give (governance/scores.py gathers them in SQL).
Every factor lies in [0, 1]; a ratio whose denominator is zero is n/a (None), never 0, and a
composite with an n/a factor is n/a. Each factor keeps its inputs so anyone can recompute it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None (n/a) when the denominator is zero."""
    if not denominator:
        return None
    return min(max(numerator / denominator, 0.0), 1.0)


def saturation(x: float, x0: float) -> float:
    """sat(x; x0) = x / (x + x0): 0 for nothing, ½ at x0, towards 1 beyond."""
    if x0 <= 0:
        raise ValueError("the saturation constant must be positive")
    return max(x, 0.0) / (max(x, 0.0) + x0)


def product(values: Sequence[float | None]) -> float | None:
    if any(value is None for value in values):
        return None
    return math.prod(values)


def geometric_mean(values: Sequence[float | None]) -> float | None:
    """(Π values)^(1/n): stays on the factors' scale; n/a with any n/a value."""
    total = product(values)
    if total is None or not values:
        return None
    return total ** (1 / len(values))


@dataclass(frozen=True)
class Factor:
    key: str  # "D", "D_scale", …
    name: str
    value: float | None
    inputs: Mapping[str, float] = field(default_factory=dict)  # the counts behind it
    formula: str = ""
    parts: tuple[Factor, ...] = ()  # sub-factors of a composite factor (D = sqrt(D_scale × D_use))

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "value": self.value,
            "formula": self.formula,
            "inputs": dict(self.inputs),
            "parts": [part.to_dict() for part in self.parts],
        }


def ratio_factor(key: str, name: str, numerator: float, denominator: float, formula: str) -> Factor:
    return Factor(
        key,
        name,
        ratio(numerator, denominator),
        {"numerator": numerator, "denominator": denominator},
        formula,
    )


def composite(key: str, name: str, parts: Sequence[Factor], formula: str) -> Factor:
    """A factor that is the geometric mean of its parts (sqrt of two, cube root of three)."""
    return Factor(key, name, geometric_mean([part.value for part in parts]), {}, formula, tuple(parts))


@dataclass(frozen=True)
class Score:
    symbol: str  # "E", "C" or "F"
    name: str
    factors: tuple[Factor, ...]

    @property
    def value(self) -> float | None:
        """The product of the factors, as the source defines the score."""
        return product([factor.value for factor in self.factors])

    @property
    def geometric_mean(self) -> float | None:
        """The headline index: (Π factors)^(1/n)."""
        return geometric_mean([factor.value for factor in self.factors])

    @property
    def bottleneck(self) -> Factor | None:
        """The smallest factor that could be computed: the one holding the score back."""
        known = [factor for factor in self.factors if factor.value is not None]
        return min(known, key=lambda factor: factor.value) if known else None

    @property
    def missing(self) -> list[str]:
        return [factor.key for factor in self.factors if factor.value is None]

    def to_dict(self) -> dict[str, Any]:
        bottleneck = self.bottleneck
        return {
            "score": self.symbol,
            "name": self.name,
            "value": self.value,
            "geometric_mean": self.geometric_mean,
            "bottleneck": bottleneck.key if bottleneck else None,
            "missing": self.missing,
            "factors": [factor.to_dict() for factor in self.factors],
        }


@dataclass(frozen=True)
class EffectCounts:
    """The counts behind E for one organization (or the whole hub) in one window."""

    datasets: int = 0
    shared_datasets: int = 0  # visible beyond the organization: public, internal or granted
    shared_datasets_used: int = 0  # by a cross-organization run or download in the window
    cards_touched: int = 0  # dataset and model cards touched in the window
    card_completeness_sum: float = 0.0
    published_artifacts: int = 0
    published_with_policy: int = 0
    policy_checks: int = 0  # in the window
    policy_checks_passed: int = 0
    reviews_requested: int = 0  # due or decided, requested in the window
    reviews_on_time: int = 0
    finished_runs: int = 0  # in the window
    multi_organization_runs: int = 0
    members: int = 0  # hub: organizations
    active_members: int = 0  # hub: active organizations


@dataclass(frozen=True)
class CapabilityCounts:
    """The counts behind C for one organization (or the whole hub) in one window."""

    published_versions: int = 0  # published in the window
    gain_sum: float = 0.0  # Σ clip((s_ft − s_base) / (1 − s_base), 0, 1) over those with a gain
    versions_with_gain: int = 0
    shared_records: int = 0  # distinct records of shared datasets consumed by runs in the window
    new_best_versions: int = 0  # of those published in the window
    published_models: int = 0
    published_models_used: int = 0  # by another organization in the window
    pool_seconds: float = 0.0  # accelerator-seconds of the organization's pools in the window
    pool_seconds_for_others: float = 0.0


def collaboration_effect(counts: EffectCounts) -> Score:
    """E = D × T × N × M (scores.md §1)."""
    c = counts
    d_scale = ratio_factor(
        "D_scale",
        "shared datasets",
        c.shared_datasets,
        c.datasets,
        "datasets visible beyond the organization / datasets",
    )
    d_use = ratio_factor(
        "D_use",
        "shared datasets in use",
        c.shared_datasets_used,
        c.shared_datasets,
        "shared datasets used by a cross-organization run or download / shared datasets",
    )
    t = Factor(
        "T",
        "technical standardization",
        ratio(c.card_completeness_sum, c.cards_touched),
        {"card_completeness_sum": c.card_completeness_sum, "cards_touched": c.cards_touched},
        "mean completeness of the dataset and model cards touched in the window",
    )
    n_cover = ratio_factor(
        "N_cover",
        "artifacts under a policy",
        c.published_with_policy,
        c.published_artifacts,
        "published artifacts with a usage policy / published artifacts",
    )
    n_pass = ratio_factor(
        "N_pass",
        "policy checks passed",
        c.policy_checks_passed,
        c.policy_checks,
        "policy checks passed / policy checks run",
    )
    n_review = ratio_factor(
        "N_review",
        "reviews on time",
        c.reviews_on_time,
        c.reviews_requested,
        "reviews decided within the deadline / reviews requested",
    )
    m_multi = ratio_factor(
        "M_multi",
        "multi-organization runs",
        c.multi_organization_runs,
        c.finished_runs,
        "finished runs involving two organizations or more / finished runs",
    )
    m_active = ratio_factor(
        "M_active", "active members", c.active_members, c.members, "members active in the window / members"
    )
    return Score(
        "E",
        "Collaboration effect",
        (
            composite("D", "data-sharing efficiency", (d_scale, d_use), "sqrt(D_scale × D_use)"),
            t,
            composite(
                "N",
                "ethics-norm compliance",
                (n_cover, n_pass, n_review),
                "cbrt(N_cover × N_pass × N_review)",
            ),
            composite("M", "mechanism execution", (m_multi, m_active), "sqrt(M_multi × M_active)"),
        ),
    )


def collaborative_capability(counts: CapabilityCounts, records_saturation: float) -> Score:
    """C = A × B × S × K × R (scores.md §2)."""
    c = counts
    a = Factor(
        "A",
        "AI: quality gained",
        ratio(c.gain_sum, c.versions_with_gain),
        {
            "gain_sum": c.gain_sum,
            "versions_with_gain": c.versions_with_gain,
            "published_versions": c.published_versions,
        },
        "mean of clip((s_ft − s_base) / (1 − s_base), 0, 1) over versions published in the window",
    )
    b = Factor(
        "B",
        "big data",
        saturation(c.shared_records, records_saturation),
        {"shared_records": c.shared_records, "V0": records_saturation},
        "sat(V; V0), V = distinct records of shared datasets consumed by the runs",
    )
    s = ratio_factor(
        "S",
        "research innovation",
        c.new_best_versions,
        c.published_versions,
        "versions that set a new best on a test split / versions published in the window",
    )
    k = ratio_factor(
        "K",
        "technology sharing",
        c.published_models_used,
        c.published_models,
        "published models used by another organization / published models",
    )
    r = ratio_factor(
        "R",
        "resource sharing",
        c.pool_seconds_for_others,
        c.pool_seconds,
        "pool accelerator-seconds spent on other organizations' runs / pool accelerator-seconds",
    )
    return Score("C", "Collaborative capability", (a, b, s, k, r))
