"""Classification metrics in plain numpy.

Every function takes ``y_true`` and ``y_pred`` as equally long sequences of labels. A label is any
hashable value, used consistently: label names (``"positive"``) or label indices (``0, 1, 2``).
Where a function takes ``labels``, that sequence fixes the set of labels and their order in the
result; a label outside ``labels`` is never scored, exactly as in scikit-learn.

The results match scikit-learn's ``accuracy_score``, ``confusion_matrix(labels=...)``,
``precision_recall_fscore_support(labels=..., zero_division=0)`` and
``f1_score(average="macro", labels=..., zero_division=0)``: a ratio whose denominator is 0
counts as 0.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

Label = Hashable


def _check_lengths(y_true: Sequence[Label], y_pred: Sequence[Label]) -> None:
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}")
    if len(y_true) == 0:
        raise ValueError("no examples to score")


def _encode(values: Sequence[Label], labels: Sequence[Label]) -> np.ndarray:
    """Positions of ``values`` in ``labels``; -1 for a value that is not among them."""
    index = {label: i for i, label in enumerate(labels)}
    if len(index) != len(labels):
        raise ValueError("labels contains duplicates")
    return np.fromiter((index.get(_plain(v), -1) for v in values), dtype=np.int64, count=len(values))


def _plain(value: Label) -> Label:
    # numpy scalars (np.int64(1), np.str_("a")) must find the Python keys they equal.
    return value.item() if isinstance(value, np.generic) else value


def _counts(
    y_true: Sequence[Label], y_pred: Sequence[Label], labels: Sequence[Label]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per label: true positives, predictions of the label, true occurrences of the label."""
    _check_lengths(y_true, y_pred)
    k = len(labels)
    true = _encode(y_true, labels)
    pred = _encode(y_pred, labels)
    # A sample whose true label is outside ``labels`` still counts as a false positive of the
    # label it was predicted as (scikit-learn does the same), so count each side on its own.
    hits = true[(true == pred) & (true >= 0)]
    tp = np.bincount(hits, minlength=k)
    predicted = np.bincount(pred[pred >= 0], minlength=k)
    support = np.bincount(true[true >= 0], minlength=k)
    return tp, predicted, support


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.zeros(numerator.shape, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def accuracy(y_true: Sequence[Label], y_pred: Sequence[Label]) -> float:
    """Share of positions where the prediction equals the true label."""
    _check_lengths(y_true, y_pred)
    hits = sum(_plain(t) == _plain(p) for t, p in zip(y_true, y_pred, strict=True))
    return hits / len(y_true)


def confusion_matrix(y_true: Sequence[Label], y_pred: Sequence[Label], labels: Sequence[Label]) -> np.ndarray:
    """Counts of shape (k, k): row = true label, column = predicted label, both in ``labels`` order.

    Samples whose true or predicted label is not in ``labels`` are left out.
    """
    _check_lengths(y_true, y_pred)
    k = len(labels)
    true = _encode(y_true, labels)
    pred = _encode(y_pred, labels)
    kept = (true >= 0) & (pred >= 0)
    flat = np.bincount(true[kept] * k + pred[kept], minlength=k * k)
    return flat.reshape(k, k)


def per_class_scores(
    y_true: Sequence[Label], y_pred: Sequence[Label], labels: Sequence[Label]
) -> dict[Label, dict[str, float]]:
    """For each label (in ``labels`` order): precision, recall, f1 and support (true occurrences)."""
    tp, predicted, support = _counts(y_true, y_pred, labels)
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    # 2·tp / (2·tp + fp + fn), the harmonic mean written so that it needs no precision/recall.
    f1 = _ratio(2 * tp, predicted + support)
    return {
        label: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    }


def macro_f1(y_true: Sequence[Label], y_pred: Sequence[Label], labels: Sequence[Label]) -> float:
    """Unweighted mean of the per-label F1 over ``labels`` (a label never seen nor predicted scores 0)."""
    if len(labels) == 0:
        raise ValueError("labels is empty")
    tp, predicted, support = _counts(y_true, y_pred, labels)
    return float(_ratio(2 * tp, predicted + support).mean())
