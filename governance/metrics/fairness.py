"""Fairness gap δ: the spread of accuracy across the groups of the evaluation data.

δ = max_g acc_g - min_g acc_g over the groups with at least ``min_group_size`` examples, computed with
``fairlearn.metrics.MetricFrame`` (accuracy, ``difference(method="between_groups")``). Smaller groups are
listed, flagged and left out: an accuracy over a handful of records says more about chance than about the
model. Records without a group value are left out and counted. A stratified bootstrap gives a 95%
percentile interval for δ and for each group's accuracy. Binary tasks also get fairlearn's
demographic-parity and equalized-odds differences over the same groups.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
from fairlearn.metrics import MetricFrame, demographic_parity_difference, equalized_odds_difference
from sklearn.metrics import accuracy_score

MIN_GROUP_SIZE = 30
INTERVAL_LEVEL = 0.95

Interval = tuple[float, float]


@dataclass(frozen=True)
class GroupResult:
    group: str
    examples: int
    accuracy: float
    interval: Interval | None
    included: bool
    note: str = ""

    def to_dict(self) -> dict:
        return {
            "group": self.group,
            "examples": self.examples,
            "accuracy": self.accuracy,
            "interval": _interval_list(self.interval),
            "included": self.included,
            "note": self.note,
        }


@dataclass(frozen=True)
class FairnessReport:
    delta: float | None
    interval: Interval | None
    groups: list[GroupResult]
    excluded: list[str]
    missing_group: int
    min_group_size: int
    demographic_parity_difference: float | None
    equalized_odds_difference: float | None
    positive_label: str | None
    n_bootstrap: int
    reason: str = ""
    level: float = field(default=INTERVAL_LEVEL)

    def to_dict(self) -> dict:
        return {
            "delta": self.delta,
            "interval": _interval_list(self.interval),
            "level": self.level,
            "groups": [group.to_dict() for group in self.groups],
            "excluded": list(self.excluded),
            "missing_group": self.missing_group,
            "min_group_size": self.min_group_size,
            "demographic_parity_difference": self.demographic_parity_difference,
            "equalized_odds_difference": self.equalized_odds_difference,
            "positive_label": self.positive_label,
            "n_bootstrap": self.n_bootstrap,
            "reason": self.reason,
        }


def fairness_report(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    groups: Sequence[Hashable | None],
    *,
    labels: Sequence[str],
    positive_label: str | None = None,
    min_group_size: int = MIN_GROUP_SIZE,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> FairnessReport:
    """Accuracy by group, the gap δ between the best and the worst group, and its bootstrap interval.

    ``groups`` holds one group value per record; ``None``, NaN and blank strings mean the record has no
    group and leave it out (counted in ``missing_group``). ``labels`` is the task's full label list;
    for a binary task (two labels) ``positive_label`` (default ``labels[1]``) is the positive class of
    the demographic-parity and equalized-odds differences. Fewer than two groups of ``min_group_size``
    examples: δ is n/a (None) and ``reason`` says why.
    """
    if not (len(y_true) == len(y_pred) == len(groups)):
        raise ValueError(
            f"y_true, y_pred and groups differ in length: {len(y_true)}, {len(y_pred)}, {len(groups)}"
        )
    if min_group_size < 1:
        raise ValueError("min_group_size must be at least 1")
    if n_bootstrap < 0:
        raise ValueError("n_bootstrap cannot be negative")
    known = set(labels)
    unknown = sorted({str(v) for v in (*y_true, *y_pred) if v not in known})
    if unknown:
        raise ValueError(f"labels outside the label list: {', '.join(unknown[:5])}")
    binary = len(labels) == 2
    if positive_label is None and binary:
        positive_label = labels[1]
    if positive_label is not None and positive_label not in known:
        raise ValueError(f"positive_label {positive_label!r} is not one of the labels")

    names = [_group_name(g) for g in groups]
    has_group = np.array([name is not None for name in names], dtype=bool)
    true = np.asarray(y_true, dtype=object)[has_group]
    pred = np.asarray(y_pred, dtype=object)[has_group]
    group = np.asarray([name for name in names if name is not None], dtype=object)
    correct = true == pred

    results: list[GroupResult] = []
    included: list[str] = []
    excluded: list[str] = []
    for name in sorted(set(group)):
        hits = correct[group == name]
        big_enough = hits.size >= min_group_size
        (included if big_enough else excluded).append(name)
        note = "" if big_enough else f"under {min_group_size} examples"
        results.append(GroupResult(name, int(hits.size), float(hits.mean()), None, big_enough, note))

    kept = np.isin(group, included)
    boot_accuracies = _bootstrap_accuracies(correct[kept], group[kept], included, n_bootstrap, seed)
    if boot_accuracies is not None:
        intervals = dict(zip(included, _percentile_intervals(boot_accuracies), strict=True))
        results = [
            GroupResult(r.group, r.examples, r.accuracy, intervals.get(r.group), r.included, r.note)
            for r in results
        ]

    common = {
        "groups": results,
        "excluded": excluded,
        "missing_group": int((~has_group).sum()),
        "min_group_size": min_group_size,
        "positive_label": positive_label if binary else None,
        "n_bootstrap": n_bootstrap,
    }
    if len(included) < 2:
        return FairnessReport(
            delta=None,
            interval=None,
            demographic_parity_difference=None,
            equalized_odds_difference=None,
            reason=_not_enough_groups(len(group), len(included), min_group_size),
            **common,
        )

    features = group[kept]
    frame = MetricFrame(
        metrics=accuracy_score, y_true=list(true[kept]), y_pred=list(pred[kept]), sensitive_features=features
    )
    delta = float(frame.difference(method="between_groups"))
    interval = None
    if boot_accuracies is not None:
        gaps = boot_accuracies.max(axis=1) - boot_accuracies.min(axis=1)
        interval = _percentile_intervals(gaps[:, None])[0]

    parity = odds = None
    if binary:
        true01 = (true[kept] == positive_label).astype(int)
        pred01 = (pred[kept] == positive_label).astype(int)
        parity = _finite(demographic_parity_difference(true01, pred01, sensitive_features=features))
        odds = _finite(equalized_odds_difference(true01, pred01, sensitive_features=features))
    return FairnessReport(
        delta=delta,
        interval=interval,
        demographic_parity_difference=parity,
        equalized_odds_difference=odds,
        **common,
    )


def _bootstrap_accuracies(
    correct: np.ndarray, group: np.ndarray, included: list[str], n_bootstrap: int, seed: int
) -> np.ndarray | None:
    """Accuracy of each included group (columns, in ``included`` order) in each resample (rows).

    The resample draws each group's records with replacement and keeps its size, so a group's number of
    correct predictions in a resample is a sum of n_g independent draws from its records: exactly a
    Binomial(n_g, acc_g) variable. Drawing that count directly is the same bootstrap, and costs one
    number per group and resample instead of one per record.
    """
    if n_bootstrap == 0 or not included:
        return None
    rng = np.random.default_rng(seed)
    sizes = np.array([np.count_nonzero(group == name) for name in included])
    hits = np.array([np.count_nonzero(correct[group == name]) for name in included])
    return rng.binomial(sizes, hits / sizes, size=(n_bootstrap, len(included))) / sizes


def _percentile_intervals(samples: np.ndarray) -> list[Interval]:
    tail = (1 - INTERVAL_LEVEL) / 2 * 100
    lows, highs = np.percentile(samples, [tail, 100 - tail], axis=0)
    return [(float(lo), float(hi)) for lo, hi in zip(lows, highs, strict=True)]


def _group_name(value: Hashable | None) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    name = str(value).strip()
    return name or None


def _not_enough_groups(records_with_group: int, qualifying: int, min_group_size: int) -> str:
    if records_with_group == 0:
        return "no record has a group value"
    return f"{qualifying} group(s) with at least {min_group_size} examples; the gap needs two"


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _interval_list(interval: Interval | None) -> list[float] | None:
    return None if interval is None else [interval[0], interval[1]]
