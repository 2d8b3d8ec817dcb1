"""The numpy metrics against scikit-learn on random labels (scikit-learn is a dev dependency)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as sk

from governance.metrics.classification import accuracy, confusion_matrix, macro_f1, per_class_scores

NAMES = ["anger", "joy", "neutral", "sadness", "surprise"]


def _random_labels(seed: int, n: int, k: int, as_names: bool):
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, size=n)
    # Mostly right, sometimes wrong, so every count (tp, fp, fn) is exercised.
    pred = np.where(rng.random(n) < 0.6, true, rng.integers(0, k, size=n))
    if as_names:
        return [NAMES[i] for i in true], [NAMES[i] for i in pred], NAMES[:k]
    return true.tolist(), pred.tolist(), list(range(k))


@pytest.mark.filterwarnings("ignore:A single label was found:UserWarning")
@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("as_names", [False, True])
def test_matches_scikit_learn(seed, as_names):
    rng = np.random.default_rng(1000 + seed)
    k = int(rng.integers(2, 6))
    y_true, y_pred, labels = _random_labels(seed, int(rng.integers(1, 200)), k, as_names)
    # Sometimes score a shuffled subset of the labels, or a label that never occurs.
    if seed % 3 == 1:
        labels = [labels[i] for i in rng.permutation(k)[: max(1, k - 1)]]
    elif seed % 3 == 2:
        labels = [*labels, "unseen" if as_names else 99]

    assert accuracy(y_true, y_pred) == pytest.approx(sk.accuracy_score(y_true, y_pred), abs=1e-9)
    expected_f1 = sk.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    assert macro_f1(y_true, y_pred, labels) == pytest.approx(expected_f1, abs=1e-9)
    matrix = confusion_matrix(y_true, y_pred, labels)
    if set(labels) & set(y_true):
        np.testing.assert_array_equal(matrix, sk.confusion_matrix(y_true, y_pred, labels=labels))
    else:  # scikit-learn refuses this case; an all-zero matrix is the honest count
        assert not matrix.any()
    precision, recall, f1, support = sk.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    scores = per_class_scores(y_true, y_pred, labels)
    assert list(scores) == list(labels)
    for i, label in enumerate(labels):
        assert scores[label]["precision"] == pytest.approx(precision[i], abs=1e-9)
        assert scores[label]["recall"] == pytest.approx(recall[i], abs=1e-9)
        assert scores[label]["f1"] == pytest.approx(f1[i], abs=1e-9)
        assert scores[label]["support"] == support[i]


def test_numpy_inputs_and_scalars_are_accepted():
    y_true = np.array([0, 1, 1, 2])
    y_pred = np.array([0, 1, 2, 2])
    assert accuracy(y_true, y_pred) == 0.75
    assert macro_f1(y_true, y_pred, [0, 1, 2]) == pytest.approx(
        sk.f1_score(y_true, y_pred, average="macro", zero_division=0), abs=1e-9
    )
    assert confusion_matrix(y_true, y_pred, [0, 1, 2]).sum() == 4


def test_a_label_never_seen_or_predicted_scores_zero():
    scores = per_class_scores(["a", "b"], ["a", "b"], ["a", "b", "c"])
    assert scores["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert macro_f1(["a", "b"], ["a", "b"], ["a", "b", "c"]) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: accuracy([1, 2], [1]), "2 labels but y_pred has 1"),
        (lambda: accuracy([], []), "no examples"),
        (lambda: macro_f1([1], [1], []), "labels is empty"),
        (lambda: confusion_matrix([1], [1], [1, 1]), "duplicates"),
    ],
)
def test_misuse_is_rejected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_module_does_not_need_scikit_learn():
    import governance.metrics.classification as module

    source = Path(module.__file__).read_text(encoding="utf-8")
    assert "sklearn" not in source.replace("scikit-learn", "")
