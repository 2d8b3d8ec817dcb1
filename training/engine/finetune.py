"""Fine-tune a Hugging Face encoder as a text classifier: the loop Agora's training workers run.

Plain PyTorch and transformers (no Trainer, no Django): texts are tokenised once, batched by
length with per-batch padding, and trained with AdamW, a linear warm-up/decay schedule and
gradient clipping, in bf16 autocast where the device supports it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers import get_linear_schedule_with_warmup

from governance.metrics.classification import accuracy, macro_f1
from training.engine.config import TrainingConfig
from training.engine.data import (
    Batch,
    Example,
    collate,
    encode_labels,
    label_names,
    length_grouped_batches,
    subsample,
    tokenize,
)
from training.engine.modeling import (
    describe_device,
    ensure_pad_token,
    forward_context,
    load_classifier,
    load_tokenizer,
    logits_for,
    predict_proba,
    quiet_transformers,
    resolve_device,
    resolve_precision,
    seed_everything,
)

__all__ = ["Example", "FineTuneResult", "Progress", "TrainingCancelled", "fine_tune", "predict_proba"]

CLIP_GRAD_NORM = 1.0


@dataclass(frozen=True)
class Progress:
    step: int  # optimizer steps done
    total_steps: int
    epoch: float  # fractional epoch, e.g. 0.5
    loss: float  # train: mean training loss since the previous report; evaluate: validation loss
    learning_rate: float
    examples_per_second: float  # train: since training began; evaluate: of the evaluation
    elapsed_seconds: float
    phase: str  # "train" or "evaluate"


@dataclass(frozen=True)
class FineTuneResult:
    metrics: dict[str, float]  # "accuracy", "macro_f1", "loss" on the validation examples
    labels: list[str]  # label order of the classifier head (sorted label names)
    device: str  # "cpu", "cuda:0 (NVIDIA H100 ...)"
    precision: str  # "fp32" or "bf16" actually used
    train_examples: int
    steps: int
    train_seconds: float  # wall time of the optimisation steps (evaluation excluded)
    examples_per_second: float
    num_parameters: int
    library_versions: dict[str, str]


class TrainingCancelled(Exception):
    """``should_stop()`` returned True; nothing was written to the output directory."""


@dataclass
class _Split:
    input_ids: list[list[int]]
    labels: list[int]

    @property
    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.input_ids]


@dataclass(frozen=True)
class _Setup:
    """What every step needs besides the data: the model and how to batch and run it."""

    model: torch.nn.Module
    device: torch.device
    precision: str
    pad_token_id: int
    padding_side: str

    def batch(self, rows: list[int], split: _Split) -> Batch:
        batch = collate(rows, split.input_ids, split.labels, self.pad_token_id, self.padding_side)
        return batch.to(self.device)


class _Reporter:
    """Calls ``on_progress`` at most every ``every`` seconds with the mean loss since the last call."""

    def __init__(self, on_progress: Callable[[Progress], None], every: float, total: int, per_epoch: int):
        self.on_progress, self.every = on_progress, every
        self.total_steps, self.steps_per_epoch = total, per_epoch
        self.start = self.last = time.perf_counter()
        self.loss_sum: torch.Tensor | float = 0.0  # stays on the device: no sync per step
        self.losses = 0
        self.examples = 0

    def train_step(self, step: int, loss: torch.Tensor, examples: int, learning_rate: float) -> None:
        self.loss_sum = self.loss_sum + loss.detach().float()
        self.losses += 1
        self.examples += examples
        now = time.perf_counter()
        if step < self.total_steps and now - self.last < self.every:
            return
        mean_loss = float(self.loss_sum) / self.losses
        self.loss_sum, self.losses, self.last = 0.0, 0, now
        self._emit(step, mean_loss, learning_rate, self.examples / max(now - self.start, 1e-9), "train")

    def evaluation(self, step: int, loss: float, learning_rate: float, examples_per_second: float) -> None:
        self._emit(step, loss, learning_rate, examples_per_second, "evaluate")

    def _emit(self, step: int, loss: float, lr: float, rate: float, phase: str) -> None:
        elapsed = time.perf_counter() - self.start
        epoch = step / self.steps_per_epoch
        self.on_progress(Progress(step, self.total_steps, epoch, loss, lr, rate, elapsed, phase))


def fine_tune(
    base_model_dir: Path,
    train: Sequence[Example],
    validation: Sequence[Example],
    config: TrainingConfig,
    output_dir: Path,
    on_progress: Callable[[Progress], None] = lambda p: None,
    should_stop: Callable[[], bool] = lambda: False,
    device: str | None = None,
    report_every_seconds: float = 2.0,
) -> FineTuneResult:
    """Fine-tune ``base_model_dir`` on ``train``, evaluate on ``validation`` after each epoch.

    ``output_dir`` is written only when training completes (config.json with id2label/label2id,
    model.safetensors, tokenizer files). Raises ValueError for unusable inputs and
    TrainingCancelled when ``should_stop()`` turns True (polled before every optimizer step).
    """
    # Check the inputs before the slow model load.
    if not validation:
        raise ValueError("validation examples are required to score the model")
    labels = label_names(train)
    label2id = {name: i for i, name in enumerate(labels)}
    validation_labels = encode_labels(validation, label2id, "validation")
    train = subsample(train, config.max_train_examples, config.seed)
    target = resolve_device(device)
    precision = resolve_precision(config.precision, target)

    seed_everything(config.seed)  # before loading: the fresh head's initialisation draws from it
    tokenizer = load_tokenizer(Path(base_model_dir))
    model = load_classifier(Path(base_model_dir), labels).to(target)
    setup = _Setup(model, target, precision, ensure_pad_token(tokenizer, model), tokenizer.padding_side)
    texts = tokenize(tokenizer, [e.text for e in train], config.max_length)
    train_split = _Split(texts, encode_labels(train, label2id, "train"))
    texts = tokenize(tokenizer, [e.text for e in validation], config.max_length)
    validation_split = _Split(texts, validation_labels)

    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    optimizer = _optimizer(model, config, target)
    warmup_steps = round(config.warmup_ratio * total_steps)
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup_steps, total_steps)
    reporter = _Reporter(on_progress, report_every_seconds, total_steps, steps_per_epoch)

    step, train_seconds, metrics = 0, 0.0, {}
    try:
        for epoch in range(config.epochs):
            started = time.perf_counter()
            # One generator per epoch and seed: an epoch's order does not depend on the ones before.
            rng = np.random.default_rng([config.seed, epoch])
            for rows in length_grouped_batches(train_split.lengths, config.batch_size, rng):
                if should_stop():
                    raise TrainingCancelled(f"stopped at step {step} of {total_steps}")
                loss = _step(setup, setup.batch(rows, train_split), optimizer, scheduler)
                step += 1
                reporter.train_step(step, loss, len(rows), scheduler.get_last_lr()[0])
            _synchronize(target)
            train_seconds += time.perf_counter() - started
            metrics, rate = _evaluate(setup, validation_split, len(labels), config.batch_size)
            reporter.evaluation(step, metrics["loss"], scheduler.get_last_lr()[0], rate)
        _save(model, tokenizer, Path(output_dir))
    finally:
        if target.type == "cuda":
            torch.cuda.empty_cache()  # the worker process lives on after this job

    return FineTuneResult(
        metrics=metrics,
        labels=labels,
        device=describe_device(target),
        precision=precision,
        train_examples=len(train),
        steps=step,
        train_seconds=train_seconds,
        examples_per_second=len(train) * config.epochs / max(train_seconds, 1e-9),
        num_parameters=sum(p.numel() for p in model.parameters()),
        library_versions={"torch": torch.__version__, "transformers": transformers.__version__},
    )


def _step(setup: _Setup, batch: Batch, optimizer: torch.optim.Optimizer, scheduler) -> torch.Tensor:
    """One optimizer step; returns the loss as a device tensor (reading it would wait for the GPU)."""
    model = setup.model
    model.train()
    with forward_context(setup.device, setup.precision):
        loss = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, labels=batch.labels).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_GRAD_NORM)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss


def _optimizer(model: torch.nn.Module, config: TrainingConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW with weight decay on weight matrices only: biases and LayerNorm scales (1-D) are not decayed."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in trainable if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in trainable if p.ndim < 2], "weight_decay": 0.0},
    ]
    # The fused CUDA kernel updates all parameters in a few launches instead of several per tensor.
    return torch.optim.AdamW(groups, lr=config.learning_rate, fused=device.type == "cuda")


def _evaluate(
    setup: _Setup, split: _Split, num_labels: int, batch_size: int
) -> tuple[dict[str, float], float]:
    """Validation accuracy, macro-F1 and mean cross-entropy, and the evaluation's examples per second."""
    started = time.perf_counter()
    # Without gradients larger batches fit; the batch size changes the speed, not the results.
    logits = logits_for(
        setup.model,
        split.input_ids,
        max(batch_size, 64),
        setup.pad_token_id,
        setup.padding_side,
        setup.device,
        setup.precision,
    )
    targets = torch.as_tensor(split.labels, dtype=torch.long)
    predictions = logits.argmax(dim=-1).tolist()
    metrics = {
        "accuracy": accuracy(split.labels, predictions),
        "macro_f1": macro_f1(split.labels, predictions, list(range(num_labels))),
        "loss": torch.nn.functional.cross_entropy(logits, targets).item(),
    }
    return metrics, len(split.labels) / max(time.perf_counter() - started, 1e-9)


def _save(model: torch.nn.Module, tokenizer, output_dir: Path) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    # Safetensors is the default format of save_pretrained (transformers >= 4.35; the only one in 5).
    with quiet_transformers():
        model.save_pretrained(output_dir)
        tokenizer.save_pretrained(output_dir)


def _synchronize(device: torch.device) -> None:
    """Wait for queued GPU work so that wall-clock times are real."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
