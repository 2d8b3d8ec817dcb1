"""Examples, labels and batches: tokenise once, then group texts of similar length into batches.

Padding every text to ``max_length`` wastes most of the compute on short sentences; batches of
similar length padded only to their own longest text do the same work on far fewer tokens.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Example:
    text: str
    label: str  # label names are strings


@dataclass(frozen=True)
class Batch:
    input_ids: torch.Tensor  # (batch, longest text in the batch)
    attention_mask: torch.Tensor
    labels: torch.Tensor  # (batch,) label indices
    rows: list[int]  # positions of these texts in the split

    def to(self, device: torch.device) -> Batch:
        # Pinned host memory lets the copy to a GPU overlap with the work already queued there.
        pin = device.type == "cuda"
        move = (lambda t: t.pin_memory().to(device, non_blocking=True)) if pin else (lambda t: t.to(device))
        return Batch(move(self.input_ids), move(self.attention_mask), move(self.labels), self.rows)


def label_names(train: Sequence[Example]) -> list[str]:
    """The classifier's labels: the sorted label names of the training split."""
    names = sorted({example.label for example in train})
    for name in names:
        if not isinstance(name, str):
            raise ValueError(f"label {name!r} is not a string; label names must be strings")
    if len(names) < 2:
        raise ValueError(f"the training examples need at least 2 distinct labels, found {names}")
    return names


def encode_labels(examples: Sequence[Example], label2id: dict[str, int], split: str) -> list[int]:
    """Label indices of ``examples``; a label the classifier does not have is an error."""
    unknown = sorted({e.label for e in examples if e.label not in label2id}, key=str)
    if unknown:
        raise ValueError(
            f"{split} label(s) {', '.join(map(repr, unknown))} do not occur in the training examples "
            f"(training labels: {', '.join(map(repr, label2id))})"
        )
    return [label2id[e.label] for e in examples]


def subsample(examples: Sequence[Example], limit: int, seed: int) -> list[Example]:
    """At most ``limit`` examples (0: all), drawn with ``seed``, in their original order."""
    if limit <= 0 or limit >= len(examples):
        return list(examples)
    keep = sorted(random.Random(seed).sample(range(len(examples)), limit))  # noqa: S311 (not security)
    return [examples[i] for i in keep]


def tokenize(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids per text, truncated to ``max_length`` and not padded (padding is per batch)."""
    if not texts:
        return []
    encoded = tokenizer(
        list(texts),
        truncation=True,
        max_length=max_length,
        padding=False,
        return_attention_mask=False,
        return_token_type_ids=False,
    )
    return encoded["input_ids"]


def length_grouped_batches(
    lengths: Sequence[int], batch_size: int, rng: np.random.Generator, mega_factor: int = 50
) -> list[list[int]]:
    """Shuffled batches of indices whose texts have similar lengths.

    Shuffle all indices, sort each window of ``mega_factor * batch_size`` by length and cut it into
    batches, then shuffle the batch order. The windows keep the order random enough for SGD while
    the sorting keeps padding small.
    """
    order = rng.permutation(len(lengths))
    window = mega_factor * batch_size
    batches: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window].tolist(), key=lambda i: -lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Batches of indices sorted by length, longest first: for evaluation, where order is free."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def collate(
    rows: list[int],
    input_ids: Sequence[Sequence[int]],
    labels: Sequence[int] | None,
    pad_token_id: int,
    padding_side: str = "right",
) -> Batch:
    """Pad the texts at ``rows`` to the longest of them."""
    longest = max(len(input_ids[i]) for i in rows)
    ids = torch.full((len(rows), longest), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), longest), dtype=torch.long)
    for row, i in enumerate(rows):
        seq = torch.as_tensor(input_ids[i], dtype=torch.long)
        span = slice(longest - len(seq), longest) if padding_side == "left" else slice(0, len(seq))
        ids[row, span] = seq
        mask[row, span] = 1
    label_tensor = torch.as_tensor([labels[i] for i in rows] if labels is not None else [], dtype=torch.long)
    return Batch(ids, mask, label_tensor, list(rows))
