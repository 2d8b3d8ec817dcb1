"""Statistics of a dataset version's split files, computed in the background (hub.tasks).

Each split file is streamed once; per row only two small integers (characters, words) and an 8-byte
hash of the text are kept, so memory grows by ~16 bytes a row whatever the width of the text.
"""

from __future__ import annotations

import hashlib
import logging
from array import array
from collections import Counter
from typing import Any

import numpy as np

from hub import tabular
from hub.models import DatasetVersion, Split, StatisticsStatus
from hub.services.datasets import verified_copy

logger = logging.getLogger(__name__)
HISTOGRAM_BINS = 20


def compute_statistics_by_id(version_id: int) -> None:
    version = DatasetVersion.objects.filter(pk=version_id).first()
    if version is None:
        logger.warning("dataset version %s no longer exists; no statistics computed", version_id)
        return
    compute_statistics(version)


def compute_statistics(version: DatasetVersion) -> dict[str, Any]:
    """Compute and store the statistics of every split; on any error, store it and mark them failed."""
    try:
        statistics = _statistics(version)
        status = StatisticsStatus.READY
    except Exception as exc:
        logger.exception("statistics of %s failed", version)
        statistics = {"error": f"{type(exc).__name__}: {exc}"}
        status = StatisticsStatus.FAILED
    DatasetVersion.objects.filter(pk=version.pk).update(statistics=statistics, statistics_status=status)
    version.statistics, version.statistics_status = statistics, status
    return statistics


def _statistics(version: DatasetVersion) -> dict[str, Any]:
    files = {f.split: f for f in version.files.select_related("blob").exclude(split=Split.SOURCE)}
    columns = [c for c in (version.text_field, version.label_field, version.group_field) if c]
    splits: dict[str, Any] = {}
    train_hashes = None
    for name in tabular.SPLITS:
        if name not in files:
            continue
        with verified_copy(files[name].blob) as handle:
            rows = tabular.iter_values(handle, files[name].format, columns)
            stats, hashes = _split_statistics(rows, version)
        if train_hashes is None:
            train_hashes = hashes
        else:  # texts of an evaluation split also found in train inflate its scores
            stats["texts_in_train"] = int(np.isin(hashes, train_hashes).sum())
        splits[name] = stats
    return {"splits": splits}


def _split_statistics(rows, version: DatasetVersion) -> tuple[dict[str, Any], np.ndarray]:
    chars, words, hashes = array("I"), array("I"), array("Q")
    labels: Counter[str] = Counter()
    groups: Counter[str] = Counter()
    empty = 0
    for values in rows:
        text = values.get(version.text_field, "")
        chars.append(len(text))
        words.append(len(text.split()))
        hashes.append(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little"))
        empty += not text.strip()
        labels[values.get(version.label_field, "").strip()] += 1
        if version.group_field:
            groups[values.get(version.group_field, "").strip()] += 1
    unique = np.unique(np.frombuffer(hashes, dtype=np.uint64))
    stats = {
        "rows": len(chars),
        "labels": dict(sorted(labels.items())),
        "characters": summarize(chars),
        "words": summarize(words),
        "duplicate_texts": len(chars) - len(unique),
        "empty_texts": empty,
    }
    if version.group_field:
        stats["groups"] = dict(sorted(groups.items()))
    return stats, unique


def summarize(values: array) -> dict[str, Any]:
    """Min, median, mean, max and a histogram of integer values in at most HISTOGRAM_BINS bins.

    Bins have the same integer width and cover [edges[i], edges[i + 1]); edges start at the minimum.
    """
    data = np.frombuffer(values, dtype=np.uint32).astype(np.int64) if len(values) else np.zeros(0, np.int64)
    if not len(data):
        return {"min": 0, "median": 0, "mean": 0, "max": 0, "histogram": {"edges": [], "counts": []}}
    low, high = int(data.min()), int(data.max())
    width = -(-(high - low + 1) // HISTOGRAM_BINS)  # ceiling division
    counts = np.bincount((data - low) // width)
    edges = [low + width * i for i in range(len(counts) + 1)]
    return {
        "min": low,
        "median": float(np.median(data)),
        "mean": round(float(data.mean()), 2),
        "max": high,
        "histogram": {"edges": edges, "counts": [int(c) for c in counts]},
    }
