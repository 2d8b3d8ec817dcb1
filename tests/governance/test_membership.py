"""Loss-threshold membership inference (Yeom et al. 2018) against hand counts and scikit-learn's ROC curve."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import log_loss, roc_curve

from governance.metrics.membership import balanced_indices, cross_entropy_losses, loss_threshold_attack


def test_hand_example():
    # Members' mean loss (the threshold) = (0.125 + 0.25 + 0.375 + 1.25) / 4 = 0.5.
    # Members at or under 0.5: 3 of 4 -> TPR 0.75.  Non-members at or under 0.5: 0.375 and 0.5 -> FPR 0.5.
    report = loss_threshold_attack(np.array([0.125, 0.25, 0.375, 1.25]), np.array([0.375, 0.5, 0.75, 2.0]))
    assert report.threshold == 0.5
    assert (report.tpr, report.fpr, report.advantage) == (0.75, 0.5, 0.25)
    assert (report.members, report.nonmembers) == (4, 4)
    assert report.mean_member_loss == 0.5 and report.mean_nonmember_loss == pytest.approx(3.625 / 4)


def test_advantage_is_never_negative():
    # Non-members with lower losses than members: TPR 0.5 (threshold 1.5), FPR 1 -> TPR - FPR < 0 -> 0.
    report = loss_threshold_attack(np.array([1.0, 2.0]), np.array([0.1, 0.2]))
    assert (report.tpr, report.fpr, report.advantage) == (0.5, 1.0, 0.0)


def test_given_threshold():
    report = loss_threshold_attack(np.array([0.1, 0.2, 0.9]), np.array([0.3, 1.0]), threshold=0.25)
    assert report.threshold == 0.25 and report.tpr == pytest.approx(2 / 3) and report.fpr == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_matches_roc_curve_point(seed):
    rng = np.random.default_rng(seed)
    members = np.round(rng.gamma(1.0, 0.3, size=500), 3)  # rounding creates ties with the threshold side
    nonmembers = np.round(rng.gamma(1.5, 0.4, size=500), 3)
    report = loss_threshold_attack(members, nonmembers)
    # "Member" is the positive class and a lower loss a higher score: member <=> score >= -threshold.
    labels = np.r_[np.ones(members.size), np.zeros(nonmembers.size)]
    fpr, tpr, thresholds = roc_curve(labels, -np.r_[members, nonmembers], drop_intermediate=False)
    point = np.flatnonzero(thresholds >= -report.threshold)[-1]
    assert report.tpr == pytest.approx(tpr[point], abs=1e-12)
    assert report.fpr == pytest.approx(fpr[point], abs=1e-12)
    assert report.advantage == pytest.approx(max(0.0, tpr[point] - fpr[point]), abs=1e-12)


def test_same_distribution_gives_no_advantage():
    rng = np.random.default_rng(1)
    report = loss_threshold_attack(rng.exponential(0.5, 5000), rng.exponential(0.5, 5000))
    assert report.advantage < 0.03


def test_overfit_model_gives_a_large_advantage():
    rng = np.random.default_rng(2)
    members = rng.exponential(0.01, 1000)  # memorised: nearly zero loss on the training records
    nonmembers = rng.exponential(0.7, 1000)
    report = loss_threshold_attack(members, nonmembers)
    assert report.advantage > 0.6


def test_cross_entropy_losses():
    probs = np.array([[0.7, 0.2, 0.1], [0.25, 0.5, 0.25], [1.0, 0.0, 0.0]])
    losses = cross_entropy_losses(probs, np.array([0, 1, 1]))
    # -ln 0.7, -ln 0.5, and -ln(1e-12) for the probability 0 (clipped rather than infinite).
    np.testing.assert_allclose(
        losses, [0.35667494393873245, 0.6931471805599453, 27.631021115928547], rtol=1e-12
    )

    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(5), size=300)
    truth = rng.integers(0, 5, size=300)
    assert cross_entropy_losses(probs, truth).mean() == pytest.approx(log_loss(truth, probs, labels=range(5)))


def test_balanced_indices():
    members, nonmembers = balanced_indices(5000, 300, limit=1000, seed=4)
    assert members.size == nonmembers.size == 300
    np.testing.assert_array_equal(nonmembers, np.arange(300))  # all of the smaller side
    assert np.all(np.diff(members) > 0) and members.min() >= 0 and members.max() < 5000  # sorted, distinct
    again = balanced_indices(5000, 300, limit=1000, seed=4)
    np.testing.assert_array_equal(members, again[0])
    assert not np.array_equal(members, balanced_indices(5000, 300, limit=1000, seed=5)[0])

    members, nonmembers = balanced_indices(5000, 4000, limit=1000)
    assert members.size == nonmembers.size == 1000 and np.unique(nonmembers).size == 1000
    assert [a.size for a in balanced_indices(0, 10)] == [0, 0]


def test_rejects_empty_sides_and_json_ready():
    with pytest.raises(ValueError, match="at least one member"):
        loss_threshold_attack(np.array([]), np.array([0.1]))
    with pytest.raises(ValueError, match="at least one member"):
        loss_threshold_attack(np.array([0.1]), np.array([]))
    data = loss_threshold_attack(np.array([0.1, 0.4]), np.array([0.3])).to_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert all(type(v) in (int, float) for v in data.values())
