"""Governance objective F = alpha·δ + beta·ε + gamma·θ and the leakage risk θ."""

from __future__ import annotations

import json

import numpy as np
import pytest

from governance.metrics.objective import Weights, leakage_risk, objective


def test_leakage_risk():
    # 1 - (1 - 0.1)(1 - 0.2) = 1 - 0.72 = 0.28
    assert leakage_risk(0.1, 0.2) == pytest.approx(0.28, abs=1e-15)
    assert leakage_risk(0.0, 0.0) == 0.0
    assert leakage_risk(1.0, 0.3) == 1.0
    assert leakage_risk(0.0, 0.35) == pytest.approx(0.35)
    assert leakage_risk(None, 0.2) is None and leakage_risk(0.1, None) is None
    with pytest.raises(ValueError, match="theta_model"):
        leakage_risk(0.1, 1.2)


def test_default_weights_are_the_mean():
    # (0.12 + 0.06 + 0.28) / 3 = 0.46 / 3
    result = objective(0.12, 0.06, 0.28)
    assert result.value == pytest.approx(0.46 / 3, abs=1e-15)
    assert result.governance_score == pytest.approx(1 - 0.46 / 3, abs=1e-15)
    assert result.terms == {"delta": 0.12, "epsilon": 0.06, "theta": 0.28}
    assert result.missing == []


def test_policy_weights():
    # 0.5·0.2 + 0.3·0.1 + 0.2·0.5 = 0.1 + 0.03 + 0.1 = 0.23
    result = objective(0.2, 0.1, 0.5, Weights(alpha=0.5, beta=0.3, gamma=0.2))
    assert result.value == pytest.approx(0.23, abs=1e-15)
    assert result.to_dict()["weights"] == {"alpha": 0.5, "beta": 0.3, "gamma": 0.2}
    assert objective(1.0, 1.0, 1.0).value == pytest.approx(1.0) and objective(0, 0, 0).governance_score == 1.0


def test_a_missing_factor_makes_f_not_available():
    result = objective(None, 0.1, 0.2)
    assert result.value is None and result.governance_score is None
    assert result.missing == ["delta"]
    assert result.terms["delta"] is None and result.terms["epsilon"] == 0.1
    assert objective(None, None, None).missing == ["delta", "epsilon", "theta"]


def test_a_factor_with_weight_zero_takes_no_part():
    weights = Weights(alpha=0.0, beta=0.5, gamma=0.5)
    result = objective(None, 0.1, 0.3, weights)
    assert result.value == pytest.approx(0.2) and result.governance_score == pytest.approx(0.8)
    assert result.missing == ["delta"]  # still shown as n/a
    assert objective(None, None, 0.3, weights).value is None


@pytest.mark.parametrize("bad", [-0.01, 1.01, float("nan"), True, "0.2"])
def test_factors_must_lie_in_unit_interval(bad):
    with pytest.raises(ValueError, match="epsilon"):
        objective(0.1, bad, 0.1)


def test_weights_validation():
    with pytest.raises(ValueError, match="sum to 1"):
        Weights(alpha=0.5, beta=0.5, gamma=0.5)
    with pytest.raises(ValueError, match="weight beta"):
        Weights(alpha=0.6, beta=-0.1, gamma=0.5)
    with pytest.raises(ValueError, match="weight gamma"):
        Weights(alpha=0.5, beta=0.5, gamma=float("nan"))
    Weights(alpha=0.1, beta=0.2, gamma=0.7)  # 0.1 + 0.2 + 0.7 is 1 only within rounding: accepted


def test_weights_from_mapping():
    assert Weights.from_mapping(None) == Weights() == Weights.from_mapping({})
    weights = Weights.from_mapping({"alpha": "0.5", "beta": 0.25, "gamma": np.float32(0.25)})
    assert weights.to_dict() == {"alpha": 0.5, "beta": 0.25, "gamma": 0.25}
    assert all(type(v) is float for v in weights.to_dict().values())
    with pytest.raises(ValueError, match="unknown weight"):
        Weights.from_mapping({"alpha": 0.5, "beta": 0.5, "gamma": 0.0, "delta": 0.0})
    with pytest.raises(ValueError, match=r"missing weight.*gamma"):
        Weights.from_mapping({"alpha": 0.5, "beta": 0.5})
    with pytest.raises(ValueError, match="weight beta must be a number"):
        Weights.from_mapping({"alpha": 0.5, "beta": "half", "gamma": 0.0})


def test_json_ready():
    for result in (objective(0.12, np.float64(0.06), 0.28), objective(None, 0.1, 0.2)):
        data = result.to_dict()
        assert json.loads(json.dumps(data, allow_nan=False)) == data


def test_documented_examples():
    # docs/scores.md, section 3: δ = 0.2, ε = 0.25625, θ = 1 - 0.98 × 0.75 = 0.265.
    theta = leakage_risk(0.02, 0.25)
    assert theta == pytest.approx(0.265, abs=1e-15)
    assert objective(0.2, 0.25625, theta).value == pytest.approx(0.72125 / 3, abs=1e-15)
    assert objective(None, 0.25625, theta, Weights(0, 0.5, 0.5)).value == pytest.approx(0.260625, abs=1e-15)
    assert objective(None, 0.25625, theta).value is None
