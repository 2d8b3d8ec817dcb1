"""Transparency ε: top-label expected calibration error, with the Brier score and the reliability diagram.

ECE = Σ_m (|B_m| / n) · |acc(B_m) - conf(B_m)| over ``n_bins`` equal-width bins of the confidence (the
largest predicted probability; the prediction is its column). Bin m holds the confidences in
[m/n_bins, (m+1)/n_bins); the last bin also holds a confidence of exactly 1. That is torchmetrics'
``multiclass_calibration_error`` convention (``bucketize(right=True) - 1``), except that torchmetrics gives
a confidence of exactly 1 a bin of its own, one past the last.

Binary tasks use the same two-column computation (confidence = max(p, 1 - p)). torchmetrics'
``binary_calibration_error`` is a different quantity: it bins the positive-class probability p against the
positive rate, whereas the top-label confidence puts p and 1 - p in the same bin, so the two differ in
general.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import brier_score_loss

N_BINS = 15
# Rounding slack for probabilities computed in float32 (a softmax output may sum to 1 ± 1e-7).
TOLERANCE = 1e-4


@dataclass(frozen=True)
class ReliabilityBin:
    lower: float
    upper: float
    count: int
    accuracy: float | None
    confidence: float | None

    def to_dict(self) -> dict:
        return {
            "lower": self.lower,
            "upper": self.upper,
            "count": self.count,
            "accuracy": self.accuracy,
            "confidence": self.confidence,
        }


@dataclass(frozen=True)
class CalibrationReport:
    ece: float
    brier: float
    brier_positive: float | None
    accuracy: float
    mean_confidence: float
    examples: int
    n_bins: int
    bins: list[ReliabilityBin]

    def to_dict(self) -> dict:
        return {
            "ece": self.ece,
            "brier": self.brier,
            "brier_positive": self.brier_positive,
            "accuracy": self.accuracy,
            "mean_confidence": self.mean_confidence,
            "examples": self.examples,
            "n_bins": self.n_bins,
            "bins": [b.to_dict() for b in self.bins],
        }


def calibration_report(
    probabilities: np.ndarray,
    y_true_index: np.ndarray,
    *,
    n_bins: int = N_BINS,
    positive_index: int | None = None,
) -> CalibrationReport:
    """ECE, Brier score and reliability bins of predicted probabilities of shape (n, k).

    ``y_true_index`` holds each record's true column. ``brier`` is the multiclass Brier score,
    mean_i Σ_k (p_ik - [y_i = k])², which for two classes is twice the usual binary score;
    ``brier_positive`` (two classes only) is the binary score of column ``positive_index`` (default 1).
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    truth = np.asarray(y_true_index)
    _validate(probs, truth, n_bins)
    probs = np.clip(probs, 0.0, 1.0)
    n, k = probs.shape

    predicted = probs.argmax(axis=1)
    confidence = probs[np.arange(n), predicted]
    correct = (predicted == truth).astype(np.float64)

    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, n_bins - 1)
    counts = np.bincount(index, minlength=n_bins)
    confidence_sum = np.bincount(index, weights=confidence, minlength=n_bins)
    correct_sum = np.bincount(index, weights=correct, minlength=n_bins)
    # Σ_m (|B_m|/n)·|acc_m - conf_m| = Σ_m |Σ_{i∈B_m}(correct_i - conf_i)| / n: no division by empty bins.
    ece = float(np.abs(correct_sum - confidence_sum).sum() / n)

    bins = [
        ReliabilityBin(
            lower=float(edges[m]),
            upper=float(edges[m + 1]),
            count=int(counts[m]),
            accuracy=float(correct_sum[m] / counts[m]) if counts[m] else None,
            confidence=float(confidence_sum[m] / counts[m]) if counts[m] else None,
        )
        for m in range(n_bins)
    ]

    onehot = np.zeros_like(probs)
    onehot[np.arange(n), truth] = 1.0
    brier = float(((probs - onehot) ** 2).sum(axis=1).mean())
    brier_positive = None
    if k == 2:
        positive = 1 if positive_index is None else positive_index
        if positive not in (0, 1):
            raise ValueError(f"positive_index must be 0 or 1, got {positive}")
        brier_positive = float(brier_score_loss(truth == positive, probs[:, positive]))

    return CalibrationReport(
        ece=ece,
        brier=brier,
        brier_positive=brier_positive,
        accuracy=float(correct.mean()),
        mean_confidence=float(confidence.mean()),
        examples=n,
        n_bins=n_bins,
        bins=bins,
    )


def _validate(probs: np.ndarray, truth: np.ndarray, n_bins: int) -> None:
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] < 2:
        raise ValueError(f"probabilities must have shape (n, k) with n >= 1 and k >= 2, got {probs.shape}")
    if truth.shape != (probs.shape[0],):
        raise ValueError(f"y_true_index must have shape ({probs.shape[0]},), got {truth.shape}")
    if not np.issubdtype(truth.dtype, np.integer):
        raise ValueError("y_true_index must hold integer column indices")
    if truth.min() < 0 or truth.max() >= probs.shape[1]:
        raise ValueError(f"y_true_index must lie in [0, {probs.shape[1] - 1}]")
    if not np.isfinite(probs).all() or probs.min() < -TOLERANCE or probs.max() > 1 + TOLERANCE:
        raise ValueError("probabilities must lie in [0, 1]")
    if np.abs(probs.sum(axis=1) - 1).max() > TOLERANCE:
        raise ValueError("each row of probabilities must sum to 1")
    if n_bins < 1:
        raise ValueError("n_bins must be at least 1")
