"""A real Celery worker process, started against the test database and the configured broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

REPO = Path(__file__).resolve().parents[2]


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for another process to reach the database this test process uses."""
    if settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(settings_dict['NAME']).resolve()}"
    user = quote(settings_dict.get("USER") or "")
    password = settings_dict.get("PASSWORD")
    credentials = f"{user}:{quote(password)}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "localhost"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{settings_dict['NAME']}"


class Worker:
    """One ``celery worker`` process; ``kill()`` sends SIGKILL, as the kernel's OOM killer would."""

    def __init__(self, process: subprocess.Popen, log_path: Path):
        self.process, self.log_path = process, log_path

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def start_worker(transactional_db, isolated_storage, settings):
    """Start workers on a queue; they are stopped at the end of the test."""
    workers: list[Worker] = []

    def start(queue: str) -> Worker:
        if queue not in settings.AGORA_RUN_QUEUES:
            settings.AGORA_RUN_QUEUES = [*settings.AGORA_RUN_QUEUES, queue]
        log_path = isolated_storage / f"worker-{len(workers)}.log"
        env = {
            **os.environ,
            "DEBUG": "1",
            "DATABASE_URL": database_url(connection.settings_dict),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "AGORA_BLOB_ROOT": settings.STORAGES["blobs"]["OPTIONS"]["location"],
            "AGORA_WORK_DIR": str(settings.AGORA_WORK_DIR),
            "AGORA_RUN_HEARTBEAT_INTERVAL": "1",
            "PYTHONUNBUFFERED": "1",
        }
        command = [
            sys.executable, "-m", "celery", "-A", "hub", "worker", "--pool", "solo", "--queues", queue,
            "--hostname", f"{queue}-{len(workers)}@%h", "--loglevel", "INFO", "--without-gossip",
            "--without-mingle",
        ]  # fmt: skip
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        worker = Worker(process, log_path)
        workers.append(worker)
        deadline = time.monotonic() + 60
        while b"ready." not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the celery worker did not start:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.3)
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            worker.stop()
            if os.environ.get("AGORA_SHOW_WORKER_LOG"):
                sys.stderr.write(worker.log_path.read_text())


@pytest.fixture
def celery_worker(start_worker):
    """Start ``celery worker`` on a queue of its own; yield the queue name; stop the worker."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    start_worker(queue)
    return queue


def wait_for(predicate, timeout: float, interval: float = 1.0, describe=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s: {describe()}")


__all__ = ["Worker", "database_url", "settings", "wait_for"]
