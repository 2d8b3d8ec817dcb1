"""Governance objective F = alpha·δ + beta·ε + gamma·θ of a model version (lower is better).

δ is the fairness gap, ε the calibration error, θ = 1 - (1 - θ_data)(1 - θ_model) the data-leakage
risk; each lies in [0, 1] and alpha + beta + gamma = 1, so F does too and ``1 - F`` is shown as the
governance score.
A factor that cannot be computed is n/a (None), never 0, and makes F n/a, with one exception: a term whose
weight is 0 takes no part in F, so a policy that sets a weight to 0 does not need that factor.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field

WEIGHT_SUM_TOLERANCE = 1e-9
TERMS = ("delta", "epsilon", "theta")


def _is_unit_number(value: object) -> bool:
    # numbers.Real admits numpy scalars; bool is an int but never a meaningful weight or factor.
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and 0.0 <= value <= 1.0


def _check_unit(name: str, value: float) -> None:
    if not _is_unit_number(value):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")


def leakage_risk(theta_data: float | None, theta_model: float | None) -> float | None:
    """θ = 1 - (1 - θ_data)(1 - θ_model): the chance that either the data or the model leaks,
    treating the two as independent. n/a (None) when either is n/a."""
    if theta_data is None or theta_model is None:
        return None
    _check_unit("theta_data", theta_data)
    _check_unit("theta_model", theta_model)
    return 1.0 - (1.0 - float(theta_data)) * (1.0 - float(theta_model))


@dataclass(frozen=True)
class Weights:
    """alpha, beta, gamma: the weights of δ, ε and θ; each in [0, 1] and summing to 1."""

    alpha: float = 1 / 3
    beta: float = 1 / 3
    gamma: float = 1 / 3

    def __post_init__(self) -> None:
        for name, value in self.to_dict().items():
            if not _is_unit_number(value):
                raise ValueError(f"weight {name} must be a number in [0, 1], got {value!r}")
            object.__setattr__(self, name, float(value))  # numpy scalars become plain floats for JSON
        total = self.alpha + self.beta + self.gamma
        if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
            raise ValueError(f"weights alpha + beta + gamma must sum to 1, got {total:.12g}")

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, float] | None) -> Weights:
        """Weights from ``{"alpha": a, "beta": b, "gamma": c}``; None or an empty mapping: the defaults."""
        if not mapping:
            return cls()
        names = {"alpha", "beta", "gamma"}
        unknown = sorted(set(mapping) - names)
        if unknown:
            raise ValueError(f"unknown weight(s): {', '.join(unknown)}")
        missing = sorted(names - set(mapping))
        if missing:
            raise ValueError(f"missing weight(s): {', '.join(missing)}")
        values = {}
        for name in sorted(names):
            try:
                values[name] = float(mapping[name])
            except (TypeError, ValueError):
                raise ValueError(f"weight {name} must be a number, got {mapping[name]!r}") from None
        return cls(**values)

    def to_dict(self) -> dict[str, float]:
        return {"alpha": self.alpha, "beta": self.beta, "gamma": self.gamma}


@dataclass(frozen=True)
class ObjectiveResult:
    value: float | None
    governance_score: float | None
    terms: dict[str, float | None]
    weights: Weights
    missing: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "value": self.value,
            "governance_score": self.governance_score,
            "terms": dict(self.terms),
            "weights": self.weights.to_dict(),
            "missing": list(self.missing),
        }


def objective(
    delta: float | None, epsilon: float | None, theta: float | None, weights: Weights = Weights()
) -> ObjectiveResult:
    """F = alpha·δ + beta·ε + gamma·θ and the governance score 1 - F.

    ``missing`` lists every n/a term. F is n/a when a term with a positive weight is n/a; a term whose
    weight is 0 contributes nothing, so its being n/a does not make F n/a.
    """
    terms = {"delta": delta, "epsilon": epsilon, "theta": theta}
    for name, value in terms.items():
        if value is not None:
            _check_unit(name, value)
    terms = {name: None if value is None else float(value) for name, value in terms.items()}
    weight_of = dict(zip(TERMS, (weights.alpha, weights.beta, weights.gamma), strict=True))
    missing = [name for name in TERMS if terms[name] is None]
    if any(weight_of[name] > 0 for name in missing):
        return ObjectiveResult(None, None, terms, weights, missing)
    value = sum(weight_of[name] * terms[name] for name in TERMS if weight_of[name] > 0)
    # Weights sum to 1 only within a tolerance; keep F on [0, 1] regardless.
    value = min(1.0, max(0.0, float(value)))
    return ObjectiveResult(value, 1.0 - value, terms, weights, missing)
