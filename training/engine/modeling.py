"""Loading checkpoints offline, choosing device and precision, and batched inference."""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
from transformers.utils import logging as hf_logging

from training.engine.data import collate, sorted_batches, tokenize

logger = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16")


def seed_everything(seed: int) -> None:
    """Seed every generator that initialisation and dropout draw from."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def resolve_device(device: str | None) -> torch.device:
    """``None``: the current CUDA device if there is one, else the CPU."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    resolved = torch.device(device)
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} was asked for but CUDA is not available")
        index = torch.cuda.current_device() if resolved.index is None else resolved.index
        resolved = torch.device("cuda", index)
    return resolved


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def resolve_precision(requested: str, device: torch.device) -> str:
    """The precision actually used: "fp32" or "bf16" (bf16 = autocast over fp32 weights)."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {requested!r}")
    cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    if requested == "auto":
        return "bf16" if cuda_bf16 else "fp32"
    if requested == "bf16" and not (cuda_bf16 or device.type == "cpu"):
        raise ValueError(f"bf16 is not supported on {describe_device(device)}; use fp32 or auto")
    return requested


@contextlib.contextmanager
def forward_context(device: torch.device, precision: str) -> Iterator[None]:
    """Autocast for bf16, and on CUDA attention kept off cuDNN.

    cuDNN's attention builds a plan for every new (batch, length) shape, about 0.2 s each on an
    H100 (torch 2.11), and per-batch padding makes dozens of shapes: the flash and memory-efficient
    kernels need no such plan.
    """
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"))
        if device.type == "cuda":
            from torch.nn.attention import SDPBackend, sdpa_kernel

            kernels = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]
            stack.enter_context(sdpa_kernel(kernels))
        yield


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Hide transformers' progress bars and load report; load_classifier checks the loading info itself."""
    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def load_tokenizer(model_dir: Path):
    with quiet_transformers():
        return AutoTokenizer.from_pretrained(model_dir, local_files_only=True)


def load_classifier(model_dir: Path, labels: Sequence[str] | None = None) -> torch.nn.Module:
    """A sequence classifier in fp32. With ``labels``: a head for them, fresh unless the checkpoint has one.

    Errors (shape mismatches, unreadable weights) still raise; missing encoder weights are logged
    as a warning, while the expected fresh head is only logged at debug level.
    """
    head_kwargs = {}
    if labels is not None:
        head_kwargs = {
            "num_labels": len(labels),
            "id2label": dict(enumerate(labels)),
            "label2id": {name: i for i, name in enumerate(labels)},
        }
    with quiet_transformers():
        model, info = AutoModelForSequenceClassification.from_pretrained(
            model_dir, local_files_only=True, output_loading_info=True, **head_kwargs
        )
    prefix = f"{model.base_model_prefix}."
    missing = info.get("missing_keys") or []
    encoder_missing = sorted(k for k in missing if k.startswith(prefix))
    if encoder_missing:
        logger.warning("%s lacks encoder weights, initialised at random: %s", model_dir, encoder_missing)
    logger.debug("new classification head weights: %s", sorted(set(missing) - set(encoder_missing)))
    # transformers 5 loads in the checkpoint's dtype; the optimiser keeps fp32 master weights.
    return model.float()


def ensure_pad_token(tokenizer, model: torch.nn.Module) -> int:
    """Id used for padding; decoder-only checkpoints often have none, so reuse end-of-sequence."""
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token is None:
            raise ValueError("the tokenizer has neither a padding nor an end-of-sequence token")
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id
    return tokenizer.pad_token_id


@torch.no_grad()
def logits_for(
    model: torch.nn.Module,
    input_ids: Sequence[Sequence[int]],
    batch_size: int,
    pad_token_id: int,
    padding_side: str,
    device: torch.device,
    precision: str,
) -> torch.Tensor:
    """fp32 logits of shape (n, k) on the CPU, rows in the order of ``input_ids``."""
    was_training = model.training
    model.eval()
    out = torch.zeros((len(input_ids), model.config.num_labels), dtype=torch.float32)
    try:
        for rows in sorted_batches([len(ids) for ids in input_ids], batch_size):
            batch = collate(rows, input_ids, None, pad_token_id, padding_side).to(device)
            with forward_context(device, precision):
                logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
            out[rows] = logits.float().cpu()
    finally:
        model.train(was_training)
    return out


class TextClassifier:
    """A fine-tuned classifier loaded once, for scoring many texts (evaluation, membership samples)."""

    def __init__(
        self, model_dir: Path, max_length: int = 128, batch_size: int = 64, device: str | None = None
    ):
        self.device = resolve_device(device)
        self.max_length, self.batch_size = max_length, batch_size
        self.tokenizer = load_tokenizer(Path(model_dir))
        self.model = load_classifier(Path(model_dir)).to(self.device)
        self.labels = [self.model.config.id2label[i] for i in range(self.model.config.num_labels)]
        self.pad_token_id = ensure_pad_token(self.tokenizer, self.model)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities of shape (n, k), columns in ``self.labels`` order."""
        if not texts:
            return np.zeros((0, len(self.labels)))
        ids = tokenize(self.tokenizer, texts, self.max_length)
        # fp32 on purpose: these probabilities feed calibration and fairness scores.
        logits = logits_for(
            self.model,
            ids,
            self.batch_size,
            self.pad_token_id,
            self.tokenizer.padding_side,
            self.device,
            "fp32",
        )
        return torch.softmax(logits.double(), dim=-1).numpy()

    def close(self) -> None:
        del self.model
        if self.device.type == "cuda":
            torch.cuda.empty_cache()  # the worker process lives on after this job


def predict_proba(
    model_dir: Path,
    texts: Sequence[str],
    max_length: int = 128,
    batch_size: int = 64,
    device: str | None = None,
) -> tuple[list[str], np.ndarray]:
    """Return (label names in column order, probabilities of shape (n, k)) for a fine-tuned classifier dir."""
    classifier = TextClassifier(model_dir, max_length, batch_size, device)
    try:
        return classifier.labels, classifier.predict_proba(texts)
    finally:
        classifier.close()
