"""Model leakage θ_model: the advantage of the loss-threshold membership-inference attack (Yeom et al. 2018).

The attacker calls a record a member of the training data when the model's loss on it is at most a
threshold, by default the mean training loss. Advantage = max(0, TPR - FPR): TPR is the share of members
(training records) called members, FPR the share of non-members (held-out records) called members. A model
that behaves the same on data it has seen and data it has not gives the attacker nothing (advantage 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_LIMIT = 1000


@dataclass(frozen=True)
class MembershipReport:
    advantage: float
    threshold: float
    tpr: float
    fpr: float
    members: int
    nonmembers: int
    mean_member_loss: float
    mean_nonmember_loss: float

    def to_dict(self) -> dict:
        return {
            "advantage": self.advantage,
            "threshold": self.threshold,
            "tpr": self.tpr,
            "fpr": self.fpr,
            "members": self.members,
            "nonmembers": self.nonmembers,
            "mean_member_loss": self.mean_member_loss,
            "mean_nonmember_loss": self.mean_nonmember_loss,
        }


def cross_entropy_losses(
    probabilities: np.ndarray, y_true_index: np.ndarray, eps: float = 1e-12
) -> np.ndarray:
    """Per-record loss -log p(true class); the probability is clipped to [eps, 1] so the loss stays finite."""
    probs = np.asarray(probabilities, dtype=np.float64)
    truth = np.asarray(y_true_index)
    if probs.ndim != 2 or truth.shape != (probs.shape[0],):
        raise ValueError(
            f"expected probabilities (n, k) and n true indices, got {probs.shape} and {truth.shape}"
        )
    p_true = probs[np.arange(probs.shape[0]), truth]
    return -np.log(np.clip(p_true, eps, 1.0))


def balanced_indices(
    n_members: int, n_nonmembers: int, *, limit: int = SAMPLE_LIMIT, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Equally many member and non-member positions: m = min(n_members, n_nonmembers, limit) of each,
    drawn without replacement (seeded) and sorted.

    Balanced samples keep the attack's base rate at one half, so the advantage is not skewed by one side
    being larger.
    """
    if min(n_members, n_nonmembers, limit) < 0:
        raise ValueError("sizes and limit cannot be negative")
    m = min(n_members, n_nonmembers, limit)
    rng = np.random.default_rng(seed)
    members = np.sort(rng.choice(n_members, size=m, replace=False))
    nonmembers = np.sort(rng.choice(n_nonmembers, size=m, replace=False))
    return members, nonmembers


def loss_threshold_attack(
    member_losses: np.ndarray, nonmember_losses: np.ndarray, threshold: float | None = None
) -> MembershipReport:
    """Run the attack: a record is called a member when its loss is <= ``threshold``
    (default: the mean member loss)."""
    members = np.asarray(member_losses, dtype=np.float64).ravel()
    nonmembers = np.asarray(nonmember_losses, dtype=np.float64).ravel()
    if members.size == 0 or nonmembers.size == 0:
        raise ValueError("the attack needs at least one member and one non-member loss")
    if not (np.isfinite(members).all() and np.isfinite(nonmembers).all()):
        raise ValueError("losses must be finite")
    cut = float(members.mean()) if threshold is None else float(threshold)
    tpr = float(np.mean(members <= cut))
    fpr = float(np.mean(nonmembers <= cut))
    return MembershipReport(
        advantage=max(0.0, tpr - fpr),
        threshold=cut,
        tpr=tpr,
        fpr=fpr,
        members=int(members.size),
        nonmembers=int(nonmembers.size),
        mean_member_loss=float(members.mean()),
        mean_nonmember_loss=float(nonmembers.mean()),
    )
