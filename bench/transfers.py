"""Upload and download of a 1 GiB checkpoint through the production server, next to a plain file copy.

Recreates the PostgreSQL database ``agora_queue``, starts a private ``redis-server`` as the cache
(CACHE_URL, as several web processes are meant to share one: it holds the blobs' verifications),
starts gunicorn (DEBUG=0, --workers sync workers, blobs on disk under a temporary folder), creates a
user, an organization and a write token, and generates a checkpoint whose weights file is --gib GiB
(MiniLM's config and tokenizer, one U8 tensor). Then, on the same disk:

- upload: ``POST /api/v1/models/`` (multipart, streamed from disk in 1 MiB pieces by http.client,
  as bench/upload_memory.py does), timed to the 201 answer, checkpoint validation included;
- download: ``GET`` of the weights file's ``download_url`` (``/files/models/<id>/``), written to a
  file on the same disk, then its SHA-256 is checked against the uploaded file (not timed); then
  the same download again;
- copy: ``shutil.copyfile`` and ``cp`` of the same file.

The first round runs on fresh workers: its upload waits for the checkpoint inspector (the child
process that loads checkpoints with transformers) to start, and is reported apart as the cold
round. Small uploads then start the inspector of every other worker, and each of --rounds rounds
does all three with a freshly generated file (a repeated upload of the same bytes would be
deduplicated), so that its ratios compare transfers and copies made under the same load; the
summary gives the median of these warm rounds. Every 50 ms a thread samples VmRSS of gunicorn's
workers (and of the processes they start, the inspector), so each transfer reports the peak of the
workers while it ran.

Before each timed step dirty pages are flushed (``sync``), then a scratch file as large as the
step's output is written and deleted: on a virtual machine whose host takes back the guest's free
memory, the first use of such memory costs seconds per GiB of guest system time, which would
otherwise fall on whichever step comes first. Writes results/transfers.json.

    .venv/bin/python bench/transfers.py
    .venv/bin/python bench/transfers.py --gib 0.25 --out /tmp/transfers.json
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import datetime
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from bench.loadgen import wait_until_serving  # noqa: E402
from bench.queue_latency import start_redis  # noqa: E402
from bench.scores import describe_machine  # noqa: E402
from bench.upload_memory import CHUNK, SETUP, free_port, upload, write_checkpoint  # noqa: E402

PYTHON = sys.executable
DATABASE = "agora_queue"
POSTGRES = "postgres://postgres@127.0.0.1:5432"
SAMPLE_SECONDS = 0.05


def recreate_database(name: str) -> None:
    """The benchmark's own database, made afresh (never ``test``, which CI uses)."""
    assert name not in {"test", "postgres"}, name
    for statement in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", f"{POSTGRES}/postgres", "-qc", statement], check=True)


def children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def memory_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemorySampler:
    """Peak VmRSS of gunicorn's workers, and of the processes they start, sampled every 50 ms."""

    def __init__(self, master_pid: int) -> None:
        self.master_pid = master_pid
        self.worker_peak_kib = 0
        self.descendant_peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            for worker in children(self.master_pid):
                self.worker_peak_kib = max(self.worker_peak_kib, memory_kib(worker, "VmRSS"))
                pending = children(worker)
                while pending:
                    descendant = pending.pop()
                    self.descendant_peak_kib = max(self.descendant_peak_kib, memory_kib(descendant, "VmRSS"))
                    pending += children(descendant)
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()


def download(port: int, token: str, path: str, destination: Path) -> tuple[int, int, float]:
    """GET ``path`` into ``destination``; (status, bytes, seconds)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    started = time.perf_counter()
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    received = 0
    with open(destination, "wb") as out:
        while chunk := response.read(CHUNK):
            out.write(chunk)
            received += len(chunk)
    seconds = time.perf_counter() - started
    connection.close()
    return response.status, received, seconds


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def prepare(scratch: Path, size: int) -> None:
    """Flush dirty pages, then free ``size`` bytes of recently used memory for the next step (see above)."""
    os.sync()  # no dirty pages of an earlier step are written back during this one
    block = os.urandom(CHUNK)
    primer = scratch / "primer"
    with open(primer, "wb") as out:
        for _ in range(0, size, CHUNK):
            out.write(block)
    primer.unlink()


def timed(action, scratch: Path, size: int) -> float:
    prepare(scratch, size)
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def start_gunicorn(port: int, workers: int, env: dict, log_path: Path) -> subprocess.Popen:
    command = [
        str(Path(PYTHON).parent / "gunicorn"), "hub.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--timeout", "600",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    wait_until_serving("127.0.0.1", port, "/api/v1/", timeout=60)
    return server


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def describe(scratch: Path) -> dict:
    postgres = subprocess.run(
        ["psql", f"{POSTGRES}/postgres", "-tAc", "SHOW server_version"], capture_output=True, text=True
    ).stdout.strip()
    return {
        **describe_machine(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1),
        "disk_free_gib": round(shutil.disk_usage(scratch).free / 1024**3, 1),
        "python": platform.python_version(),
        "postgresql": postgres,
        "libraries": {name: metadata.version(name) for name in ("django", "djangorestframework", "gunicorn")},
    }


def mb_per_s(size: int, seconds: float) -> float:
    return round(size / seconds / 1e6, 1)


def timed_download(
    port: int, token: str, server: subprocess.Popen, path: str, scratch: Path, size: int, sha256: str
) -> dict:
    """GET the file into scratch, check its SHA-256 (not timed); its time, rate and the workers' peak RSS."""
    received = scratch / "downloaded.safetensors"
    prepare(scratch, size)
    with MemorySampler(server.pid) as memory:
        got, length, seconds = download(port, token, path, received)
    if got != 200 or length != size:
        raise SystemExit(f"download failed: {got}, {length} bytes of {size}")
    if sha256_of(received) != sha256:
        raise SystemExit("the downloaded file does not hash to the uploaded one")
    received.unlink()
    return {
        "seconds": round(seconds, 2),
        "mb_per_s": mb_per_s(size, seconds),
        "sha256_verified": True,
        "server_worker_peak_rss_mb": round(memory.worker_peak_kib / 1024, 1),
    }


def one_round(index: int, port: int, token: str, server: subprocess.Popen, scratch: Path, size: int) -> dict:
    """A fresh checkpoint (new random bytes: no deduplication), its copies, its upload and downloads."""
    checkpoint = scratch / f"checkpoint-{index}"
    checkpoint.mkdir()
    write_checkpoint(checkpoint, size)
    weights = checkpoint / "model.safetensors"
    weights_size = weights.stat().st_size
    weights_sha256 = sha256_of(weights)
    copy_target, cp_target = scratch / "copy.safetensors", scratch / "cp.safetensors"
    copies = {
        "shutil.copyfile": timed(lambda: shutil.copyfile(weights, copy_target), scratch, weights_size),
        "cp": timed(
            lambda: subprocess.run(["cp", str(weights), str(cp_target)], check=True), scratch, weights_size
        ),
    }
    copy_target.unlink()
    cp_target.unlink()

    upload_bytes = sum(path.stat().st_size for path in checkpoint.iterdir())
    prepare(scratch, upload_bytes)
    with MemorySampler(server.pid) as upload_memory:
        status, body, upload_seconds, sent_seconds = upload(port, token, checkpoint, slug=f"big-{index}")
    if status != 201:
        raise SystemExit(f"upload failed with {status}: {body[:2000]!r}")
    stored = {entry["path"]: entry for entry in json.loads(body)["files"]}["model.safetensors"]
    if stored["sha256"] != weights_sha256:
        raise SystemExit("the server hashed other bytes than were sent")
    path = urlsplit(stored["download_url"]).path
    downloads = [
        timed_download(port, token, server, path, scratch, weights_size, weights_sha256) for _ in range(2)
    ]
    shutil.rmtree(checkpoint)

    copy_rates = {name: mb_per_s(weights_size, seconds) for name, seconds in copies.items()}
    best_copy = max(copy_rates.values())
    upload_rate = mb_per_s(upload_bytes, upload_seconds)
    for measured in downloads:
        measured["vs_best_copy"] = round(measured["mb_per_s"] / best_copy, 2)
    return {
        "weights_bytes": weights_size,
        "upload_bytes": upload_bytes,
        "copy": {name: {"seconds": round(copies[name], 2), "mb_per_s": copy_rates[name]} for name in copies},
        "upload": {
            "seconds": round(upload_seconds, 2),
            "mb_per_s": upload_rate,
            "vs_best_copy": round(upload_rate / best_copy, 2),
            # The body is sent once the server has read nearly all of it (socket buffers are small);
            # the rest, to the 201, is the checkpoint's validation and the database rows.
            "body_sent_seconds": round(sent_seconds, 2),
            "body_mb_per_s": mb_per_s(upload_bytes, sent_seconds),
            "server_worker_peak_rss_mb": round(upload_memory.worker_peak_kib / 1024, 1),
            "inspector_child_peak_rss_mb": round(upload_memory.descendant_peak_kib / 1024, 1),
        },
        # The first download right after the upload, then the same file again.
        "download": downloads[0],
        "download_again": downloads[1],
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }


def warm_every_worker(port: int, token: str, server: subprocess.Popen, scratch: Path) -> int:
    """Small uploads until every worker has started its checkpoint inspector; how many it took."""
    for attempt in range(1, 41):
        if all(children(worker) for worker in children(server.pid)):
            return attempt - 1
        checkpoint = scratch / f"warm-{attempt}"
        checkpoint.mkdir()
        write_checkpoint(checkpoint, 1024)
        status, body, _, _ = upload(port, token, checkpoint, slug=f"warm-{attempt}")
        if status != 201:
            raise SystemExit(f"warming upload failed with {status}: {body[:2000]!r}")
        shutil.rmtree(checkpoint)
    raise SystemExit("some workers did not start their checkpoint inspector")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0, help="size of the weights file in GiB")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of copy, upload and download")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "transfers.json")
    parser.add_argument(
        "--local-cache", action="store_true", help="no Redis: each worker remembers its own verifications"
    )
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    size = int(args.gib * 1024**3)

    recreate_database(DATABASE)
    with tempfile.TemporaryDirectory(prefix="agora-transfers-") as scratch, ExitStack() as cleanup:
        scratch = Path(scratch)
        data_dir = scratch / "data"
        data_dir.mkdir()
        cache_url = ""
        if not args.local_cache:
            redis, redis_port = start_redis(scratch)
            cleanup.callback(redis.wait)
            cleanup.callback(redis.terminate)
            cache_url = f"redis://127.0.0.1:{redis_port}/0"
        env = {
            **os.environ,
            "DEBUG": "0",
            "SECRET_KEY": "bench-transfers-only",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "DATABASE_URL": f"{POSTGRES}/{DATABASE}",
            "AGORA_DATA_DIR": str(data_dir),
            "LOG_LEVEL": "WARNING",
            "CACHE_URL": cache_url,
        }
        manage = [PYTHON, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=ROOT)
        setup = subprocess.run(
            [*manage, "shell", "-c", SETUP], env=env, check=True, cwd=ROOT, capture_output=True, text=True
        )
        token = setup.stdout.strip().splitlines()[-1]
        port = free_port()
        server = start_gunicorn(port, args.workers, env, scratch / "gunicorn.log")
        try:
            idle_kib = max(memory_kib(pid, "VmRSS") for pid in children(server.pid))
            cold = one_round(0, port, token, server, scratch, size)
            print(json.dumps({"cold": cold}), flush=True)
            warming_uploads = warm_every_worker(port, token, server, scratch)
            rounds = []
            for index in range(1, args.rounds + 1):
                rounds.append(one_round(index, port, token, server, scratch, size))
                print(json.dumps(rounds[-1]), flush=True)
            workers_hwm_kib = max(memory_kib(pid, "VmHWM") for pid in children(server.pid))
        finally:
            stop(server)
        machine = describe(scratch)

    def median_of(side: str, key: str) -> float:
        return statistics.median(r[side][key] for r in rounds)

    result = {
        "benchmark": "transfers",
        "summary": {
            "rounds": len(rounds),
            # Each round's ratio compares transfers and copies made under the same load.
            "upload_vs_best_copy_median": median_of("upload", "vs_best_copy"),
            "download_vs_best_copy_median": median_of("download", "vs_best_copy"),
            "download_again_vs_best_copy_median": median_of("download_again", "vs_best_copy"),
            "upload_mb_per_s_median": median_of("upload", "mb_per_s"),
            "upload_body_mb_per_s_median": median_of("upload", "body_mb_per_s"),
            "download_mb_per_s_median": median_of("download", "mb_per_s"),
            "download_again_mb_per_s_median": median_of("download_again", "mb_per_s"),
            # The first upload to a fresh worker also waits for its checkpoint inspector to start.
            "cold_upload_seconds": cold["upload"]["seconds"],
            "cold_upload_vs_best_copy": cold["upload"]["vs_best_copy"],
            "server_worker_peak_rss_mb": max(
                r[side]["server_worker_peak_rss_mb"]
                for r in [cold, *rounds]
                for side in ("upload", "download", "download_again")
            ),
            "inspector_child_peak_rss_mb": max(
                r["upload"]["inspector_child_peak_rss_mb"] for r in [cold, *rounds]
            ),
            "server_worker_idle_rss_mb": round(idle_kib / 1024, 1),
            "server_worker_vmhwm_mb": round(workers_hwm_kib / 1024, 1),
        },
        "cold_round": cold,
        "rounds": rounds,
        "warming_uploads": warming_uploads,
        "goals": {"throughput_vs_copy_at_least": 0.5, "server_peak_rss_at_most_mb": 200},
        "server": (
            f"gunicorn hub.wsgi, {args.workers} sync workers, DEBUG=0, PostgreSQL {DATABASE}, "
            "blobs on local disk (same filesystem as the copies), "
            + (
                "cache in local memory (per worker)"
                if args.local_cache
                else "cache in a private redis-server"
            )
        ),
        "measured_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine,
        "note": args.note,
    }
    print(json.dumps(result["summary"], indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
