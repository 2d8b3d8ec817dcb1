"""Fairness gap δ against fairlearn and hand-counted accuracies."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from fairlearn.metrics import MetricFrame, demographic_parity_difference, equalized_odds_difference
from sklearn.metrics import accuracy_score

from governance.metrics.fairness import MIN_GROUP_SIZE, fairness_report

LABELS = ["neg", "pos"]


def _records(group_sizes: dict[str, int], hit_rates: dict[str, float], seed: int = 0, labels=LABELS):
    """Random labels per group; each group's predictions are right with its own probability."""
    rng = np.random.default_rng(seed)
    y_true, y_pred, groups = [], [], []
    for name, size in group_sizes.items():
        true = rng.integers(0, len(labels), size=size)
        wrong = (true + rng.integers(1, len(labels), size=size)) % len(labels)
        pred = np.where(rng.random(size) < hit_rates[name], true, wrong)
        y_true += [labels[i] for i in true]
        y_pred += [labels[i] for i in pred]
        groups += [name] * size
    return y_true, y_pred, groups


def test_hand_counted_gap():
    # Group "m": 40 records, 36 right -> 0.9.  Group "f": 50 records, 35 right -> 0.7.  δ = 0.9 - 0.7 = 0.2.
    y_true = ["pos"] * 90
    y_pred = ["pos"] * 36 + ["neg"] * 4 + ["pos"] * 35 + ["neg"] * 15
    groups = ["m"] * 40 + ["f"] * 50
    report = fairness_report(y_true, y_pred, groups, labels=LABELS)
    assert report.delta == pytest.approx(0.2, abs=1e-12)
    by_name = {g.group: g for g in report.groups}
    assert by_name["m"].accuracy == pytest.approx(0.9) and by_name["m"].examples == 40
    assert by_name["f"].accuracy == pytest.approx(0.7) and by_name["f"].examples == 50
    assert report.reason == "" and report.excluded == [] and report.missing_group == 0


def test_documented_example():
    # docs/scores.md, section 3: per group (true positives right/wrong, true negatives right/wrong).
    y_true, y_pred, groups = [], [], []
    for group, pos_right, pos_wrong, neg_right, neg_wrong in [
        ("men", 18, 2, 18, 2),
        ("women", 15, 10, 20, 5),
        ("other", 4, 2, 5, 1),
        ("", 1, 0, 1, 1),
    ]:
        y_true += ["positive"] * (pos_right + pos_wrong) + ["negative"] * (neg_right + neg_wrong)
        y_pred += ["positive"] * pos_right + ["negative"] * (pos_wrong + neg_right) + ["positive"] * neg_wrong
        groups += [group] * (pos_right + pos_wrong + neg_right + neg_wrong)
    report = fairness_report(y_true, y_pred, groups, labels=["negative", "positive"])
    assert report.delta == pytest.approx(0.2, abs=1e-12)  # 36/40 - 35/50
    assert report.demographic_parity_difference == pytest.approx(0.1, abs=1e-12)  # 20/40 - 20/50
    assert report.equalized_odds_difference == pytest.approx(0.3, abs=1e-12)  # TPR 18/20 - 15/25
    assert report.missing_group == 3 and report.excluded == ["other"]
    # The documented interval (seed 0); loose, as the exact draws may shift between numpy releases.
    np.testing.assert_allclose(report.interval, [0.03, 0.36], atol=0.03)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("labels", [LABELS, ["anger", "joy", "neutral", "sadness"]])
def test_matches_fairlearn_on_included_rows(seed, labels):
    sizes = {"a": 120, "b": 80, "c": 45, "small": 12}
    rates = {"a": 0.9, "b": 0.75, "c": 0.6, "small": 0.1}
    y_true, y_pred, groups = _records(sizes, rates, seed, labels)
    groups[:5] = [None, "", "  ", float("nan"), None]  # records without a group
    report = fairness_report(y_true, y_pred, groups, labels=labels)

    keep = [i for i, g in enumerate(groups) if g in {"a", "b", "c"}]
    true = [y_true[i] for i in keep]
    pred = [y_pred[i] for i in keep]
    features = [groups[i] for i in keep]
    frame = MetricFrame(metrics=accuracy_score, y_true=true, y_pred=pred, sensitive_features=features)
    assert report.delta == pytest.approx(frame.difference(method="between_groups"), abs=1e-12)
    accuracies = {g.group: g.accuracy for g in report.groups if g.included}
    assert accuracies == pytest.approx(frame.by_group.to_dict(), abs=1e-12)
    assert report.missing_group == 5
    assert report.excluded == ["small"]

    if len(labels) == 2:
        true01 = [int(t == "pos") for t in true]
        pred01 = [int(p == "pos") for p in pred]
        expected_dp = demographic_parity_difference(true01, pred01, sensitive_features=features)
        expected_eo = equalized_odds_difference(true01, pred01, sensitive_features=features)
        assert report.positive_label == "pos"
        assert report.demographic_parity_difference == pytest.approx(expected_dp, abs=1e-12)
        assert report.equalized_odds_difference == pytest.approx(expected_eo, abs=1e-12)
    else:
        assert report.demographic_parity_difference is None and report.equalized_odds_difference is None
        assert report.positive_label is None


def test_positive_label_changes_parity_by_hand():
    # Group "x" (30): 20 predicted "b", 10 predicted "a".  Group "y" (30): 6 predicted "b", 24 predicted "a".
    # Selection rate of "b": 20/30 vs 6/30 -> DP gap 14/30.  Of "a": 10/30 vs 24/30 -> the same 14/30.
    y_true = ["a"] * 60
    y_pred = ["b"] * 20 + ["a"] * 10 + ["b"] * 6 + ["a"] * 24
    groups = ["x"] * 30 + ["y"] * 30
    for positive in ("a", "b"):
        report = fairness_report(y_true, y_pred, groups, labels=["a", "b"], positive_label=positive)
        assert report.demographic_parity_difference == pytest.approx(14 / 30)
        assert report.positive_label == positive
    # Only negatives ("a") are true when "b" is positive: the TPR is undefined, the FPR gap is 14/30.
    report = fairness_report(y_true, y_pred, groups, labels=["a", "b"], positive_label="b")
    assert report.equalized_odds_difference == pytest.approx(14 / 30)


def test_small_groups_are_flagged_and_left_out():
    sizes = {"big1": 60, "big2": 50, "tiny": MIN_GROUP_SIZE - 1}
    # "tiny" is always wrong: if it were counted the gap would be about 1.
    y_true, y_pred, groups = _records(sizes, {"big1": 0.8, "big2": 0.8, "tiny": 0.0}, seed=3)
    report = fairness_report(y_true, y_pred, groups, labels=LABELS)
    tiny = next(g for g in report.groups if g.group == "tiny")
    assert not tiny.included and tiny.note == "under 30 examples" and tiny.interval is None
    assert tiny.examples == MIN_GROUP_SIZE - 1 and tiny.accuracy == 0.0
    assert report.excluded == ["tiny"]
    assert report.delta < 0.3

    # Exactly the minimum qualifies.
    y_true, y_pred, groups = _records(
        {"g1": MIN_GROUP_SIZE, "g2": MIN_GROUP_SIZE}, {"g1": 1, "g2": 0}, seed=4
    )
    assert fairness_report(y_true, y_pred, groups, labels=LABELS).delta == pytest.approx(1.0)


def test_fewer_than_two_groups_is_not_available():
    y_true, y_pred, groups = _records({"only": 100, "few": 10}, {"only": 0.7, "few": 0.2})
    report = fairness_report(y_true, y_pred, groups, labels=LABELS)
    assert report.delta is None and report.interval is None
    assert report.demographic_parity_difference is None and report.equalized_odds_difference is None
    assert "1 group(s) with at least 30 examples" in report.reason
    only = next(g for g in report.groups if g.group == "only")
    assert only.included and only.interval is not None

    report = fairness_report(y_true, y_pred, [None] * len(y_true), labels=LABELS)
    assert report.delta is None and report.groups == [] and report.missing_group == len(y_true)
    assert report.reason == "no record has a group value"


def test_interval_contains_delta_and_is_deterministic():
    y_true, y_pred, groups = _records(
        {"a": 400, "b": 300, "c": 200}, {"a": 0.85, "b": 0.75, "c": 0.8}, seed=7
    )
    first = fairness_report(y_true, y_pred, groups, labels=LABELS, seed=11)
    again = fairness_report(y_true, y_pred, groups, labels=LABELS, seed=11)
    other = fairness_report(y_true, y_pred, groups, labels=LABELS, seed=12)
    lo, hi = first.interval
    assert lo <= first.delta <= hi and hi - lo < 0.2
    assert first.to_dict() == again.to_dict()
    assert other.interval != first.interval
    for group in first.groups:
        assert group.interval[0] <= group.accuracy <= group.interval[1]


def test_bootstrap_matches_explicit_resampling_of_records():
    # The report draws each group's count of correct predictions from a binomial, which is the distribution
    # of that count when the group's records are resampled with replacement. Resample records explicitly
    # and compare the interval ends (Monte Carlo noise of either side is well under 0.01 here).
    y_true, y_pred, groups = _records({"a": 300, "b": 200}, {"a": 0.9, "b": 0.7}, seed=5)
    report = fairness_report(y_true, y_pred, groups, labels=LABELS, n_bootstrap=20000, seed=1)
    correct = np.array(y_true) == np.array(y_pred)
    by_group = [correct[np.array(groups) == name] for name in ("a", "b")]
    rng = np.random.default_rng(99)
    accuracies = np.stack(
        [hits[rng.integers(0, hits.size, size=(20000, hits.size))].mean(axis=1) for hits in by_group]
    )
    gaps = accuracies.max(axis=0) - accuracies.min(axis=0)
    expected = np.percentile(gaps, [2.5, 97.5])
    np.testing.assert_allclose(report.interval, expected, atol=0.01)


def test_planted_bias_gives_a_large_gap_and_none_a_small_one():
    sizes = {"men": 2000, "women": 2000}
    biased = fairness_report(*_records(sizes, {"men": 0.95, "women": 0.65}, seed=8), labels=LABELS)
    fair = fairness_report(*_records(sizes, {"men": 0.8, "women": 0.8}, seed=8), labels=LABELS)
    assert biased.delta == pytest.approx(0.30, abs=0.04) and biased.interval[0] > 0.2
    assert fair.delta < 0.04 and fair.interval[0] < 0.03


def test_json_ready_and_fast():
    y_true, y_pred, groups = _records(
        {f"g{i}": 2500 for i in range(4)}, {f"g{i}": 0.6 + 0.1 * i for i in range(4)}
    )
    start = time.perf_counter()
    report = fairness_report(y_true, y_pred, groups, labels=[*LABELS, "other"], n_bootstrap=1000)
    assert time.perf_counter() - start < 1.0
    data = report.to_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert isinstance(data["interval"], list) and data["n_bootstrap"] == 1000


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="length"):
        fairness_report(["pos"], ["pos", "neg"], ["a"], labels=LABELS)
    with pytest.raises(ValueError, match="outside the label list"):
        fairness_report(["maybe"], ["pos"], ["a"], labels=LABELS)
    with pytest.raises(ValueError, match="positive_label"):
        fairness_report(["pos"], ["pos"], ["a"], labels=LABELS, positive_label="yes")
