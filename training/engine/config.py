"""Fine-tuning configuration: one declaration of every hyperparameter, its default and its range.

The web form, the REST serializer and the engine all read ``HYPERPARAMETERS``, so a limit is
written once. This module imports no Django.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

Kind = Literal["int", "float", "choice"]


@dataclass(frozen=True)
class Hyperparameter:
    name: str
    kind: Kind
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()


METHODS = ("full", "lora")
SCHEDULES = ("linear", "cosine", "constant")
LORA_TARGETS = ("attention", "all-linear")


HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter(
        "method",
        "choice",
        "full",
        "full: train every weight; lora: train low-rank adapters and the classification head.",
        choices=METHODS,
    ),
    Hyperparameter("epochs", "int", 1, "Passes over the training split.", 1, 50),
    Hyperparameter("learning_rate", "float", 5e-5, "Peak learning rate of AdamW.", 1e-7, 1e-2),
    Hyperparameter(
        "schedule",
        "choice",
        "linear",
        "Learning rate after the warm-up: linear decay to 0, cosine decay to 0, or constant.",
        choices=SCHEDULES,
    ),
    Hyperparameter("warmup_ratio", "float", 0.1, "Share of steps with a linear warm-up.", 0.0, 0.5),
    Hyperparameter("batch_size", "int", 16, "Examples per forward pass.", 1, 512),
    Hyperparameter(
        "gradient_accumulation_steps",
        "int",
        1,
        "Batches whose gradients are summed per optimizer step (effective batch: batch_size times this).",
        1,
        64,
    ),
    Hyperparameter("max_length", "int", 128, "Tokens kept per text; longer texts are truncated.", 8, 512),
    Hyperparameter("weight_decay", "float", 0.01, "Decoupled weight decay of AdamW.", 0.0, 1.0),
    Hyperparameter("seed", "int", 42, "Seed for shuffling and initialisation.", 0, 2**31 - 1),
    Hyperparameter(
        "precision",
        "choice",
        "auto",
        "auto: bf16 on a CUDA device that supports it, else fp32.",
        choices=("auto", "fp32", "bf16"),
    ),
    Hyperparameter(
        "early_stopping_patience",
        "int",
        0,
        "Stop after this many epochs without a lower validation loss and keep the best epoch's "
        "weights (0: off).",
        0,
        49,
    ),
    Hyperparameter(
        "max_train_examples",
        "int",
        0,
        "Use at most this many training examples (0: the whole split).",
        0,
        10_000_000,
    ),
    Hyperparameter("lora_rank", "int", 8, "LoRA only: rank of each adapter matrix.", 1, 256),
    Hyperparameter(
        "lora_alpha", "float", 16.0, "LoRA only: scale; updates are multiplied by alpha/rank.", 0.1, 1024
    ),
    Hyperparameter("lora_dropout", "float", 0.1, "LoRA only: dropout on the adapters' input.", 0.0, 0.5),
    Hyperparameter(
        "lora_target_modules",
        "choice",
        "attention",
        "LoRA only: attention = the attention projections peft adapts for the architecture (query and "
        "value in BERT); all-linear = every linear layer of the encoder.",
        choices=LORA_TARGETS,
    ),
)
HYPERPARAMETERS_BY_NAME = {spec.name: spec for spec in HYPERPARAMETERS}


@dataclass(frozen=True)
class TrainingConfig:
    method: str = "full"
    epochs: int = 1
    learning_rate: float = 5e-5
    schedule: str = "linear"
    warmup_ratio: float = 0.1
    batch_size: int = 16
    gradient_accumulation_steps: int = 1
    max_length: int = 128
    weight_decay: float = 0.01
    seed: int = 42
    precision: str = "auto"
    early_stopping_patience: int = 0
    max_train_examples: int = 0
    lora_rank: int = 8
    lora_alpha: float = 16.0
    lora_dropout: float = 0.1
    lora_target_modules: str = "attention"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ConfigError(ValueError):
    """Invalid hyperparameters; ``errors`` maps each field name to what is wrong with it."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))


def _to_float(spec: Hyperparameter, raw: Any, expected: str) -> float:
    try:
        return float(raw)
    except OverflowError:
        # An integer too large for a float (10**400) lies outside every range declared here.
        raise ValueError(f"must be between {spec.minimum:g} and {spec.maximum:g}") from None
    except (TypeError, ValueError):
        raise ValueError(f"must be {expected}, not {raw!r}") from None


def _coerce(spec: Hyperparameter, raw: Any) -> Any:
    if spec.kind == "choice":
        value = str(raw)
        if value not in spec.choices:
            raise ValueError(f"must be one of {', '.join(spec.choices)}, not {value!r}")
        return value
    if isinstance(raw, bool):
        raise ValueError("must be a number, not a boolean")
    if spec.kind == "int":
        value = _to_float(spec, raw, "a whole number")
        if not math.isfinite(value) or value != int(value):
            raise ValueError(f"must be a whole number, not {raw!r}")
        value = int(value)
    else:
        value = _to_float(spec, raw, "a number")
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
    if spec.minimum is not None and value < spec.minimum:
        raise ValueError(f"must be at least {spec.minimum:g}, not {value:g}")
    if spec.maximum is not None and value > spec.maximum:
        raise ValueError(f"must be at most {spec.maximum:g}, not {value:g}")
    return value


def parse_config(values: dict[str, Any] | None) -> TrainingConfig:
    """Validate a mapping of hyperparameters; missing ones take their defaults.

    Raises ConfigError naming every bad or unknown field at once.
    """
    values = dict(values or {})
    errors: dict[str, str] = {}
    parsed: dict[str, Any] = {}
    known = {f.name for f in fields(TrainingConfig)}
    for name in sorted(set(values) - known):
        errors[name] = "unknown hyperparameter"
    for spec in HYPERPARAMETERS:
        raw = values.get(spec.name)
        if raw is None or raw == "":
            parsed[spec.name] = spec.default
            continue
        try:
            parsed[spec.name] = _coerce(spec, raw)
        except ValueError as exc:
            errors[spec.name] = str(exc)
    errors.update(_cross_field_errors(parsed))
    if errors:
        raise ConfigError(errors)
    return TrainingConfig(**parsed)


def _cross_field_errors(parsed: dict[str, Any]) -> dict[str, str]:
    """Checks that involve two fields. The LoRA fields are range-checked always and ignored by full."""
    errors = {}
    patience, epochs = parsed.get("early_stopping_patience"), parsed.get("epochs")
    if patience is None or epochs is None:  # one of them is already reported
        return errors
    if patience and patience >= epochs:
        # Patience of at least the number of epochs could never stop a run: a silent no-op.
        errors["early_stopping_patience"] = (
            f"must be less than epochs ({epochs}) to stop anything, or 0 to turn it off; got {patience}"
        )
    return errors
