"""Fine-tune a Hugging Face encoder as a text classifier: the loop Agora's training workers run.

Plain PyTorch and transformers (no Trainer, no Django): texts are tokenised once, batched by
length with per-batch padding, and trained with AdamW, a warm-up then linear, cosine or constant
schedule, gradient accumulation and clipping, in bf16 autocast where the device supports it. The
method is full fine-tuning or LoRA (peft); evaluation after each epoch can stop the run early.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import peft
import torch
import transformers
from peft import PeftModel
from transformers import get_scheduler

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
from training.engine.lora import apply_lora, save_lora
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
from training.engine.progress import EarlyStopping, Progress, Reporter

__all__ = ["Example", "FineTuneResult", "Progress", "TrainingCancelled", "fine_tune", "predict_proba"]

CLIP_GRAD_NORM = 1.0
# transformers' scheduler names; every one starts with the linear warm-up.
_SCHEDULERS = {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}


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
    num_parameters: int  # of the saved classifier (LoRA: after merging)
    library_versions: dict[str, str]
    method: str = "full"
    trainable_parameters: int = 0  # weights the optimizer updated (LoRA: adapters and head)
    epochs_completed: int = 0
    stopped_early: bool = False
    best_epoch: int = 0  # 1-based epoch whose weights and metrics are the result
    validation_history: list[dict[str, float]] = field(default_factory=list)  # metrics per epoch


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
    model = load_classifier(Path(base_model_dir), labels)
    pad_token_id = ensure_pad_token(tokenizer, model)
    if config.method == "lora":
        model = apply_lora(model, config)
    model = model.to(target)
    setup = _Setup(model, target, precision, pad_token_id, tokenizer.padding_side)
    texts = tokenize(tokenizer, [e.text for e in train], config.max_length)
    train_split = _Split(texts, encode_labels(train, label2id, "train"))
    texts = tokenize(tokenizer, [e.text for e in validation], config.max_length)
    validation_split = _Split(texts, validation_labels)

    accumulation = config.gradient_accumulation_steps
    steps_per_epoch = math.ceil(math.ceil(len(train) / config.batch_size) / accumulation)
    total_steps = steps_per_epoch * config.epochs
    optimizer = _optimizer(model, config, target)
    scheduler = get_scheduler(
        _SCHEDULERS[config.schedule],
        optimizer,
        num_warmup_steps=round(config.warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )
    reporter = Reporter(on_progress, report_every_seconds, total_steps, steps_per_epoch)
    stopping = EarlyStopping(model, config.early_stopping_patience)

    step, train_seconds, metrics, history, stopped_early = 0, 0.0, {}, [], False
    try:
        for epoch in range(config.epochs):
            started = time.perf_counter()
            # One generator per epoch and seed: an epoch's order does not depend on the ones before.
            rng = np.random.default_rng([config.seed, epoch])
            batches = length_grouped_batches(train_split.lengths, config.batch_size, rng)
            for first in range(0, len(batches), accumulation):
                if should_stop():
                    raise TrainingCancelled(f"stopped at step {step} of {total_steps}")
                group = [setup.batch(rows, train_split) for rows in batches[first : first + accumulation]]
                loss = _step(setup, group, optimizer, scheduler)
                step += 1
                examples = sum(len(batch.rows) for batch in group)
                reporter.train_step(step, loss, examples, scheduler.get_last_lr()[0])
            _synchronize(target)
            train_seconds += time.perf_counter() - started
            metrics, rate = _evaluate(setup, validation_split, len(labels), config.batch_size)
            history.append(metrics)
            reporter.evaluation(step, metrics, scheduler.get_last_lr()[0], rate)
            if stopping.update(epoch + 1, metrics):
                stopped_early = epoch + 1 < config.epochs
                reporter.flush(step, scheduler.get_last_lr()[0])
                break
        if config.early_stopping_patience:
            # The result is the epoch with the lowest validation loss, not the last one.
            stopping.restore_best()
            metrics = stopping.best_metrics
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        saved = _save(model, tokenizer, Path(output_dir))
    finally:
        if target.type == "cuda":
            torch.cuda.empty_cache()  # the worker process lives on after this job

    epochs_completed = len(history)
    return FineTuneResult(
        metrics=metrics,
        labels=labels,
        device=describe_device(target),
        precision=precision,
        train_examples=len(train),
        steps=step,
        train_seconds=train_seconds,
        examples_per_second=len(train) * epochs_completed / max(train_seconds, 1e-9),
        num_parameters=sum(p.numel() for p in saved.parameters()),
        library_versions=_library_versions(config.method),
        method=config.method,
        trainable_parameters=trainable,
        epochs_completed=epochs_completed,
        stopped_early=stopped_early,
        best_epoch=stopping.best_epoch if config.early_stopping_patience else epochs_completed,
        validation_history=history,
    )


def _step(setup: _Setup, group: list[Batch], optimizer: torch.optim.Optimizer, scheduler) -> torch.Tensor:
    """One optimizer step over ``group``'s batches; returns the loss as a device tensor.

    Each batch's mean loss is weighted by its share of the group's examples, so the summed gradient
    is that of the mean over all of them, as if the group were one batch.
    """
    model = setup.model
    model.train()
    total = sum(len(batch.rows) for batch in group)
    group_loss = torch.zeros((), device=setup.device)
    for batch in group:
        with forward_context(setup.device, setup.precision):
            out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, labels=batch.labels)
        loss = out.loss.float() * (len(batch.rows) / total)
        loss.backward()
        group_loss += loss.detach()
    torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], CLIP_GRAD_NORM)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return group_loss


def _library_versions(method: str) -> dict[str, str]:
    versions = {"torch": torch.__version__, "transformers": transformers.__version__}
    if method == "lora":
        versions["peft"] = peft.__version__
    return versions


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


def _save(model: torch.nn.Module, tokenizer, output_dir: Path) -> torch.nn.Module:
    """Write a Hugging Face classifier (LoRA: merged, and the adapter in ``adapter/``); return it."""
    output_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(model, PeftModel):
        model = save_lora(model, output_dir)
    # Safetensors is the default format of save_pretrained (transformers >= 4.35; the only one in 5).
    with quiet_transformers():
        model.save_pretrained(output_dir)
        tokenizer.save_pretrained(output_dir)
    return model


def _synchronize(device: torch.device) -> None:
    """Wait for queued GPU work so that wall-clock times are real."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
