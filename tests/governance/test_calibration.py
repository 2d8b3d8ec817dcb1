"""Calibration error ε and Brier score against hand arithmetic, torchmetrics and scikit-learn."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import brier_score_loss
from torchmetrics.functional.classification import binary_calibration_error, multiclass_calibration_error

from governance.metrics.calibration import N_BINS, calibration_report

# Bins are 1/15 wide: bin m = [m/15, (m+1)/15); a confidence c falls in bin floor(15·c).
HAND_PROBS = np.array(
    [
        [0.45, 0.30, 0.25],  # true 0: conf .45 (bin 6), right
        [0.45, 0.35, 0.20],  # true 1: conf .45 (bin 6), wrong
        [0.50, 0.50, 0.00],  # true 1: tie -> first column, conf .5 (bin 7), wrong
        [0.20, 0.70, 0.10],  # true 1: conf .7 (bin 10), right
        [0.10, 0.70, 0.20],  # true 2: conf .7 (bin 10), wrong
        [0.90, 0.05, 0.05],  # true 0: conf .9 (bin 13), right
        [0.95, 0.03, 0.02],  # true 0: conf .95 (bin 14), right
        [1.00, 0.00, 0.00],  # true 1: conf 1 (last bin, 14), wrong
    ]
)
HAND_TRUE = np.array([0, 1, 1, 1, 2, 0, 0, 1])
# Per bin |Σ correct - Σ conf|:  bin 6 |1 - 0.9| = 0.1,  bin 7 |0 - 0.5| = 0.5,  bin 10 |1 - 1.4| = 0.4,
# bin 13 |1 - 0.9| = 0.1,  bin 14 |1 - 1.95| = 0.95.   ECE = (0.1 + 0.5 + 0.4 + 0.1 + 0.95) / 8 = 0.25625.
HAND_ECE = 2.05 / 8


def _to_tensors(probs, truth):
    return torch.tensor(probs, dtype=torch.float64), torch.tensor(truth, dtype=torch.int64)


def test_hand_worked_example():
    report = calibration_report(HAND_PROBS, HAND_TRUE)
    assert report.ece == pytest.approx(HAND_ECE, abs=1e-12)
    assert report.accuracy == pytest.approx(4 / 8)
    assert report.mean_confidence == pytest.approx((0.45 + 0.45 + 0.5 + 0.7 + 0.7 + 0.9 + 0.95 + 1.0) / 8)
    assert len(report.bins) == N_BINS
    filled = {m: b for m, b in enumerate(report.bins) if b.count}
    assert {m: b.count for m, b in filled.items()} == {6: 2, 7: 1, 10: 2, 13: 1, 14: 2}
    assert filled[14].accuracy == pytest.approx(0.5) and filled[14].confidence == pytest.approx(0.975)
    assert report.bins[0].accuracy is None and report.bins[0].confidence is None
    assert report.bins[6].lower == pytest.approx(6 / 15) and report.bins[6].upper == pytest.approx(7 / 15)
    assert report.brier_positive is None  # three classes
    # Brier: the last record alone contributes 1² + 1² = 2 (docs/scores.md).
    assert report.brier == pytest.approx(0.61485, abs=1e-12)


def test_confidence_of_one_stays_in_the_last_bin():
    # torchmetrics puts a confidence of exactly 1 in a bin of its own past the 15th. On the hand example it
    # scores bin 14 as |1 - 0.95| = 0.05 and the extra bin as |0 - 1| = 1:
    # ECE = (0.1 + 0.5 + 0.4 + 0.1 + 0.05 + 1) / 8 = 2.15 / 8. With 15 bins a confidence of 1 belongs in the
    # last one (2.05 / 8, above).
    theirs = multiclass_calibration_error(
        *_to_tensors(HAND_PROBS, HAND_TRUE), num_classes=3, n_bins=15, norm="l1"
    )
    assert float(theirs) == pytest.approx(2.15 / 8, abs=1e-6)
    # Without the confidence of exactly 1 the two agree: (0.1 + 0.5 + 0.4 + 0.1 + 0.05) / 7.
    probs, truth = HAND_PROBS[:-1], HAND_TRUE[:-1]
    theirs = multiclass_calibration_error(*_to_tensors(probs, truth), num_classes=3, n_bins=15, norm="l1")
    assert calibration_report(probs, truth).ece == pytest.approx(float(theirs), abs=1e-6)
    assert calibration_report(probs, truth).ece == pytest.approx(1.15 / 7, abs=1e-12)


@pytest.mark.parametrize("k", [2, 3, 5, 10])
@pytest.mark.parametrize("n", [1, 9, 250, 3000])
@pytest.mark.parametrize("sharpness", [0.3, 1.0, 5.0])
def test_matches_torchmetrics_multiclass(k, n, sharpness):
    rng = np.random.default_rng(k * 10_000 + n + int(sharpness * 10))
    # Float32-representable probabilities: torchmetrics computes in float32, so both sides bin the same value.
    probs = rng.dirichlet(np.full(k, sharpness), size=n).astype(np.float32).astype(np.float64)
    truth = rng.integers(0, k, size=n)
    expected = multiclass_calibration_error(*_to_tensors(probs, truth), num_classes=k, n_bins=15, norm="l1")
    assert calibration_report(probs, truth).ece == pytest.approx(float(expected), abs=1e-6)


def test_binary_uses_the_two_column_top_label_definition():
    # p(pos) = 0.1 and 0.9, both truly positive.
    # Top-label: conf 0.9 (wrong) and 0.9 (right), one bin: |1 - 1.8| / 2 = 0.4.
    # torchmetrics' binary version bins p(pos) against the positive rate: (|1 - 0.1| + |1 - 0.9|) / 2 = 0.5.
    probs = np.array([[0.9, 0.1], [0.1, 0.9]])
    truth = np.array([1, 1])
    assert calibration_report(probs, truth).ece == pytest.approx(0.4, abs=1e-12)
    positive_class = binary_calibration_error(torch.tensor(probs[:, 1]), torch.tensor(truth), n_bins=15)
    assert float(positive_class) == pytest.approx(0.5, abs=1e-6)

    rng = np.random.default_rng(5)
    p = rng.random(2000).astype(np.float32).astype(np.float64)
    probs = np.column_stack([1 - p, p])
    truth = (rng.random(2000) < p).astype(np.int64)
    expected = multiclass_calibration_error(*_to_tensors(probs, truth), num_classes=2, n_bins=15, norm="l1")
    assert calibration_report(probs, truth).ece == pytest.approx(float(expected), abs=1e-6)


@pytest.mark.parametrize("k", [3, 4, 7])
def test_multiclass_brier(k):
    rng = np.random.default_rng(k)
    probs = rng.dirichlet(np.ones(k), size=200)
    truth = rng.integers(0, k, size=200)
    by_hand = np.mean([sum((probs[i, j] - (j == truth[i])) ** 2 for j in range(k)) for i in range(200)])
    report = calibration_report(probs, truth)
    assert report.brier == pytest.approx(by_hand, abs=1e-12)
    assert report.brier == pytest.approx(brier_score_loss(truth, probs, labels=list(range(k))), abs=1e-12)


def test_binary_brier():
    # (0.8 - 1)² = 0.04, (0.3 - 0)² = 0.09, (0.6 - 0)² = 0.36 -> binary Brier 0.49 / 3;
    # the two-column sum counts each error twice.
    probs = np.array([[0.2, 0.8], [0.7, 0.3], [0.4, 0.6]])
    truth = np.array([1, 0, 0])
    report = calibration_report(probs, truth)
    assert report.brier_positive == pytest.approx(0.49 / 3, abs=1e-12)
    assert report.brier_positive == pytest.approx(brier_score_loss(truth, probs[:, 1]), abs=1e-12)
    assert report.brier == pytest.approx(2 * 0.49 / 3, abs=1e-12)
    # Column 0 as the positive class: (0.2 - 0)², (0.7 - 1)², (0.4 - 1)² -> the same 0.49 / 3.
    assert calibration_report(probs, truth, positive_index=0).brier_positive == pytest.approx(0.49 / 3)


def test_calibrated_data_scores_low_and_overconfident_high():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=20_000)
    truth = np.array([rng.choice(4, p=row) for row in probs])  # labels drawn from the stated probabilities
    assert calibration_report(probs, truth).ece < 0.02
    sharpened = probs**4 / (probs**4).sum(axis=1, keepdims=True)  # same ranking, inflated confidence
    assert calibration_report(sharpened, truth).ece > 0.15


def test_json_ready():
    data = calibration_report(HAND_PROBS, HAND_TRUE).to_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["bins"][0] == {
        "lower": 0.0,
        "upper": 1 / 15,
        "count": 0,
        "accuracy": None,
        "confidence": None,
    }


@pytest.mark.parametrize(
    ("probs", "truth", "message"),
    [
        (np.array([0.5, 0.5]), np.array([0]), "shape"),
        (np.array([[0.5, 0.5]]), np.array([2]), "y_true_index"),
        (np.array([[0.5, 0.5]]), np.array([0.0]), "integer"),
        (np.array([[0.7, 0.7]]), np.array([0]), "sum to 1"),
        (np.array([[1.5, -0.5]]), np.array([0]), r"\[0, 1\]"),
    ],
)
def test_rejects_bad_input(probs, truth, message):
    with pytest.raises(ValueError, match=message):
        calibration_report(probs, truth)


def test_float32_rounding_is_tolerated():
    # A probability a hair above 1 (float32 rounding) is read as 1: the last bin, right -> ECE 0.
    report = calibration_report(np.array([[1.00001, -0.00001]]), np.array([0]))
    assert report.ece == 0.0 and report.bins[-1].count == 1 and report.bins[-1].confidence == 1.0
