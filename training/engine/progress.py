"""Progress reports of a run and when to stop it early."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch


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
    metrics: dict[str, float] = field(default_factory=dict)  # evaluate: accuracy, macro_f1, …


class Reporter:
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
        self.flush(step, learning_rate)

    def flush(self, step: int, learning_rate: float) -> None:
        """Report the steps not reported yet (the last step of a run that stops early)."""
        if not self.losses:
            return
        now = time.perf_counter()
        mean_loss = float(self.loss_sum) / self.losses
        self.loss_sum, self.losses, self.last = 0.0, 0, now
        self._emit(step, mean_loss, learning_rate, self.examples / max(now - self.start, 1e-9), "train")

    def evaluation(self, step: int, metrics: dict[str, float], learning_rate: float, rate: float) -> None:
        self._emit(step, metrics["loss"], learning_rate, rate, "evaluate", metrics)

    def _emit(self, step: int, loss: float, lr: float, rate: float, phase: str, metrics=None) -> None:
        elapsed = time.perf_counter() - self.start
        epoch = step / self.steps_per_epoch
        self.on_progress(
            Progress(step, self.total_steps, epoch, loss, lr, rate, elapsed, phase, dict(metrics or {}))
        )


class EarlyStopping:
    """Tracks the lowest validation loss and keeps a CPU copy of the trainable weights at that epoch.

    ``patience`` 0 never stops and keeps no copy: the last epoch's weights are the result.
    """

    def __init__(self, model: torch.nn.Module, patience: int):
        self.model, self.patience = model, patience
        self.best_loss = float("inf")
        self.best_epoch = 0  # 1-based; 0 until the first evaluation
        self.best_metrics: dict[str, float] = {}
        self.bad_epochs = 0
        self._best_state: dict[str, torch.Tensor] | None = None

    def update(self, epoch: int, metrics: dict[str, float]) -> bool:
        """Record epoch ``epoch`` (1-based); True when training should stop now."""
        if metrics["loss"] < self.best_loss:
            self.best_loss, self.best_epoch, self.best_metrics = metrics["loss"], epoch, dict(metrics)
            self.bad_epochs = 0
            if self.patience:
                # Frozen weights never change, so only the trainable ones need a copy (LoRA: ~1 %).
                self._best_state = {
                    name: p.detach().to("cpu", copy=True)
                    for name, p in self.model.named_parameters()
                    if p.requires_grad
                }
            return False
        self.bad_epochs += 1
        return bool(self.patience) and self.bad_epochs >= self.patience

    def restore_best(self) -> None:
        """Load the best epoch's weights back into the model (only when stopping is on)."""
        if self._best_state is None:
            return
        with torch.no_grad():
            for name, p in self.model.named_parameters():
                if name in self._best_state:
                    p.copy_(self._best_state[name])
