"""Faults: a worker killed, the broker restarted, the database connection dropped, the disk full.

Whatever fails, no run is lost (it finishes, is sent again, or fails with its reason), nothing
half-made is visible, and the web process keeps serving.
"""

from __future__ import annotations

import errno
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from hub.celery import app as celery_app
from hub.models import Blob, DatasetFile, DatasetVersion, ModelFile, ModelVersion
from hub.services import blobs
from tests.conftest import demo_csv_bytes
from tests.integration.conftest import wait_for
from training import services
from training.models import FineTuneRun, RunMetric

pytestmark = pytest.mark.integration
TIMEOUT = 180
FINISHED = {"succeeded", "failed", "cancelled"}
# Small and fast: two steps of a two-layer model.
QUICK = {"epochs": 1, "max_length": 16, "batch_size": 8, "max_train_examples": 16}
# Long enough on two cores to be caught mid-run (progress is reported every two seconds).
LONG = {"epochs": 3, "max_length": 16, "batch_size": 8}


def _run(run_id: int) -> FineTuneRun:
    return FineTuneRun.objects.get(pk=run_id)


def _wait_finished(run_id: int, timeout: float = TIMEOUT) -> FineTuneRun:
    wait_for(lambda: _run(run_id).status in FINISHED, timeout, 0.5, lambda: vars(_run(run_id)))
    return _run(run_id)


def _wait_stepping(run_id: int) -> None:
    wait_for(lambda: _run(run_id).step > 0, TIMEOUT, 0.3, lambda: vars(_run(run_id)))


def _files_under(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


def _stored_blob_paths() -> set[Path]:
    root = Path(blobs.blob_storage().location)
    return {path for path in _files_under(root) if blobs.INCOMING_DIR not in path.parts}


@pytest.fixture
def reviews(make_dataset_version):
    return make_dataset_version(rows=120)


# 1. A worker killed mid-run (recovery itself: test_run_reliability.py): nothing half-made remains.


def test_a_killed_attempt_leaves_nothing_half_made(start_worker, settings, owner, organization, base_version,
                                                   reviews):  # fmt: skip
    queue = f"test-{uuid.uuid4().hex[:8]}"
    first = start_worker(queue)
    blobs_before, rows_before = _stored_blob_paths(), (Blob.objects.count(), ModelFile.objects.count())
    run = services.submit_run(user=owner, organization=organization, base_version=base_version,
                              dataset_version=reviews, queue=queue, hyperparameters=LONG)  # fmt: skip
    _wait_stepping(run.pk)
    first.kill()
    scratch = settings.AGORA_WORK_DIR / f"run-{run.pk}-attempt-1"
    assert scratch.exists()  # the dead attempt could not clean up after itself
    assert not ModelVersion.objects.filter(model=run.output_model).exists()
    assert (Blob.objects.count(), ModelFile.objects.count()) == rows_before
    assert _stored_blob_paths() == blobs_before
    assert list(blobs.incoming_dir().iterdir()) == []

    time.sleep(2)
    assert [r.run_id for r in services.recover_stale_runs(timeout=1, max_attempts=2)] == [run.pk]
    start_worker(queue)
    run = _wait_finished(run.pk)
    assert run.status == "succeeded", run.error
    assert run.attempts == 2
    # The second attempt cleaned its own scratch folder and reclaimed the lost one's.
    assert not scratch.exists() and list(settings.AGORA_WORK_DIR.glob("run-*")) == []
    version = ModelVersion.objects.get(model=run.output_model)
    assert run.output_version == version
    stored = _stored_blob_paths() - blobs_before
    assert {Path(blobs.blob_storage().path(f.blob.storage_key)) for f in version.files.all()} >= stored
    assert list(blobs.incoming_dir().iterdir()) == []


# 4. The storage volume fills up during an upload.


class _Volume:
    """Bytes still free on the volume of the blob root."""

    def __init__(self, free: int):
        self.free = free


class _FileOnFullVolume:
    """A file whose writes fail with ENOSPC once the volume has no room left, as the kernel does."""

    def __init__(self, file, volume: _Volume):
        self._file, self._volume = file, volume

    def write(self, data) -> int:
        data = bytes(data)
        if len(data) > self._volume.free:
            self._file.write(data[: self._volume.free])  # what fits lands, the rest is refused
            self._volume.free = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self._volume.free -= len(data)
        return self._file.write(data)

    def __getattr__(self, name):
        return getattr(self._file, name)


@pytest.fixture
def full_volume(monkeypatch):
    """``full_volume(free)``: files written beside the blob root (uploads, blobs) get ``free`` bytes."""
    real = tempfile.NamedTemporaryFile

    def fill(free: int) -> _Volume:
        volume = _Volume(free)

        def named_temporary_file(*args, **kwargs):
            handle = real(*args, **kwargs)
            if kwargs.get("dir") is not None and Path(kwargs["dir"]) == blobs.incoming_dir():
                handle.file = _FileOnFullVolume(handle.file, volume)
            return handle

        monkeypatch.setattr(tempfile, "NamedTemporaryFile", named_temporary_file)
        return volume

    return fill


def _checkpoint_uploads(directory: Path) -> dict:
    files = sorted(path for path in directory.rglob("*") if path.is_file())
    return {
        "files": [SimpleUploadedFile(path.name, path.read_bytes()) for path in files],
        "paths": [path.relative_to(directory).as_posix() for path in files],
    }


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (Blob, ModelFile, ModelVersion, DatasetVersion,
                                                                 DatasetFile)}  # fmt: skip


def test_a_full_volume_during_a_model_upload_is_a_507(full_volume, api_client_for, owner, base_version,
                                                      small_checkpoint):  # fmt: skip
    api = api_client_for(owner)
    v1_file = base_version.files.get(path="model.safetensors")
    before, stored_before = _counts(), _stored_blob_paths()
    volume = full_volume(free=200_000)  # the weights (about 4 MB) do not fit

    response = api.post(f"/api/v1/models/{base_version.model.pk}/versions/",
                        _checkpoint_uploads(small_checkpoint), format="multipart")  # fmt: skip
    assert response.status_code == 507, response.content
    assert response.json()["detail"] == blobs.STORAGE_FULL_MESSAGE
    assert volume.free == 0  # the upload really ran into the full volume
    assert _counts() == before and _stored_blob_paths() == stored_before
    assert list(blobs.incoming_dir().iterdir()) == []  # no partial upload left beside the blob root

    # The web process keeps serving, and the previous version is whole.
    assert api.get(f"/api/v1/models/{base_version.model.pk}/").status_code == 200
    download = api.get(f"/files/models/{v1_file.pk}/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == (small_checkpoint / "model.safetensors").read_bytes()


@pytest.mark.parametrize(
    "where", ["while the upload is received", "while the first file is stored", "while a split is stored"]
)
def test_a_full_volume_during_a_dataset_upload_from_the_page_is_a_507(full_volume, owner, dataset_version,
                                                                     where):  # fmt: skip
    data = demo_csv_bytes(200)
    free = {
        "while the upload is received": len(data) // 2,
        "while the first file is stored": len(data) + len(data) // 2,
        "while a split is stored": 2 * len(data) + 10,  # the source is stored, its train split is not
    }[where]
    source = dataset_version.files.get(split="source")
    before = _counts()
    client = Client(raise_request_exception=False)  # answered as a real server would
    client.force_login(owner)
    volume = full_volume(free=free)

    response = client.post("/o/acme/datasets/reviews/versions/new/", {
        "text_field": "text", "label_field": "label", "validation_fraction": "0.1", "test_fraction": "0.1",
        "seed": "1", "file": SimpleUploadedFile("reviews.csv", data, content_type="text/csv"),
    })  # fmt: skip
    assert response.status_code == 507
    assert "storage is full" in response.content.decode()
    assert volume.free == 0
    assert _counts() == before  # no version, no file row, no blob row
    assert list(blobs.incoming_dir().iterdir()) == []

    assert client.get("/o/acme/datasets/reviews/").status_code == 200
    download = client.get(f"/files/datasets/{source.pk}/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == blobs.read_verified(source.blob)


def test_a_full_volume_is_told_apart_from_other_errors():
    assert blobs.is_storage_full(OSError(errno.ENOSPC, "No space left on device"))
    assert blobs.is_storage_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise RuntimeError("copy failed") from exc
    except RuntimeError as wrapped:
        assert blobs.is_storage_full(wrapped)
    assert not blobs.is_storage_full(OSError(errno.EACCES, "Permission denied"))
    assert not blobs.is_storage_full(ValueError("no"))


# 2. The broker restarts while runs wait in it, and keeps nothing on disk.


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test's own, on a free port, keeping nothing on disk."""

    def __init__(self, directory: Path):
        self.port, self.directory = _free_port(), directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--daemonize", "no", "--dir", str(self.directory)]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start on port {self.port}")
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def redis_broker(settings, tmp_path, monkeypatch):
    """Point this process (and the workers it starts) at a private Redis; give the Redis back."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on PATH")
    redis = PrivateRedis(tmp_path)
    redis.start()
    conf = celery_app.conf
    saved = {"broker_url": conf.broker_url, "broker_transport_options": conf.broker_transport_options}
    settings.CELERY_BROKER_URL = redis.url  # what start_worker hands to its workers
    settings.CELERY_BROKER_PRIORITY_INVERTED = True
    # The options hub.settings gives a Redis broker: the queue names a sender and a worker must share.
    conf.broker_transport_options = {"priority_steps": list(range(10)), "sep": ":",
                                     "queue_order_strategy": "priority"}  # fmt: skip
    conf.broker_url = redis.url
    # Celery reads CELERY_BROKER_URL from the environment before its configuration (CI sets it).
    monkeypatch.setenv("CELERY_BROKER_URL", redis.url)
    celery_app._after_fork()  # drop connections pooled for the previous broker
    try:
        yield redis
    finally:
        conf.update(saved)
        celery_app._after_fork()
        redis.kill()


@pytest.fixture
def unreachable_broker(settings, monkeypatch):
    """A Redis broker address where nothing listens, as during an outage."""
    conf = celery_app.conf
    saved = {"broker_url": conf.broker_url, "broker_transport_options": conf.broker_transport_options}
    nowhere = f"redis://127.0.0.1:{_free_port()}/0"
    conf.broker_url = nowhere
    monkeypatch.setenv("CELERY_BROKER_URL", nowhere)  # Celery reads it before its configuration
    celery_app._after_fork()
    try:
        yield
    finally:
        conf.update(saved)
        celery_app._after_fork()


def test_a_run_submitted_while_the_broker_is_down_is_stored_and_sent_later(
    unreachable_broker, transactional_db, owner, api_client_for, base_version, reviews
):
    # The dataset was registered with the broker already down: stored, its statistics still pending.
    assert reviews.statistics_status == "pending"
    api = api_client_for(owner)
    created = api.post("/api/v1/runs/", {"organization": "acme", "base_version": base_version.pk,
                                         "dataset_version": reviews.pk, "hyperparameters": QUICK},
                       format="json")  # fmt: skip
    assert created.status_code == 201, created.content
    run = _run(created.json()["id"])
    assert run.status == "queued" and run.events[-1]["unsent"] is True
    # Still down: recovery tries again at its next round and notes it again; nothing is lost.
    assert services.recover_stale_runs() == []
    run.refresh_from_db()
    assert run.status == "queued" and [e.get("unsent") for e in run.events[-2:]] == [None, True]
    assert "sent again: the last send failed" in run.events[-2]["note"]


def test_runs_lost_with_a_restarted_broker_are_sent_again(redis_broker, start_worker, owner, organization,
                                                          api_client_for, base_version, reviews):  # fmt: skip
    queue = f"test-{uuid.uuid4().hex[:8]}"
    start_worker(queue)
    busy = services.submit_run(user=owner, organization=organization, base_version=base_version,
                               dataset_version=reviews, queue=queue, hyperparameters=LONG)  # fmt: skip
    _wait_stepping(busy.pk)  # the only worker is busy: what follows waits in Redis
    submit = dict(user=owner, organization=organization, base_version=base_version, dataset_version=reviews,
                  queue=queue, hyperparameters=QUICK)  # fmt: skip
    waiting = [services.submit_run(**submit) for _ in range(2)]
    redis_broker.kill()

    # Submitted while the broker is down: stored and answered, sent once the broker is back.
    api = api_client_for(owner)
    created = api.post("/api/v1/runs/", {"organization": "acme", "base_version": base_version.pk,
                                         "dataset_version": reviews.pk, "queue": queue,
                                         "hyperparameters": QUICK}, format="json")  # fmt: skip
    assert created.status_code == 201, created.content
    unsent = _run(created.json()["id"])
    assert unsent.status == "queued" and unsent.events[-1]["unsent"] is True
    assert "not sent: the broker could not be reached" in unsent.events[-1]["note"]
    assert api.get(f"/api/v1/runs/{unsent.pk}/").json()["status"] == "queued"

    redis_broker.start()  # empty: the two queued messages died with it
    assert _wait_finished(busy.pk).status == "succeeded"
    time.sleep(3)  # the worker is back on the broker and idle: nothing reaches it
    runs = [*waiting, unsent]
    assert {_run(run.pk).status for run in runs} == {"queued"}

    # Recovery (celery beat, every minute) sends the never-sent run at once, the others after the timeout.
    assert [r.run_id for r in services.recover_stale_runs(queue_timeout=3600)] == [unsent.pk]
    resent = services.recover_stale_runs(queue_timeout=1)
    assert sorted(r.run_id for r in resent) == sorted(run.pk for run in waiting)
    assert all(r.status == "queued" and "sent again" in r.reason for r in resent)
    assert services.recover_stale_runs(queue_timeout=60) == []  # just sent: not again so soon
    for run in runs:
        finished = _wait_finished(run.pk)
        assert finished.status == "succeeded", finished.error
        assert finished.attempts == 1  # sent twice for some, trained once
        assert any("sent again" in event["note"] for event in finished.events)
        assert ModelVersion.objects.filter(pk=finished.output_version_id).exists()


# 3. The database connection of a worker is dropped while it trains.


# libpq names the worker's sessions with PGAPPNAME: only they are ended, not this process's others.
WORKER_APPLICATION_NAME = "agora-test-worker"


def _terminate_worker_backends() -> int:
    """End the worker's sessions on this test database, as a restart or a fail-over would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = %s",
            [WORKER_APPLICATION_NAME],
        )
        return len(cursor.fetchall())


def test_a_dropped_database_connection_does_not_lose_the_run(start_worker, owner, organization, base_version,
                                                            reviews, monkeypatch):  # fmt: skip
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...): SQLite has no connection to drop")
    queue = f"test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("PGAPPNAME", WORKER_APPLICATION_NAME)  # the worker's environment only
    start_worker(queue)
    monkeypatch.delenv("PGAPPNAME")
    run = services.submit_run(user=owner, organization=organization, base_version=base_version,
                              dataset_version=reviews, queue=queue,
                              hyperparameters={**LONG, "epochs": 2})  # fmt: skip
    _wait_stepping(run.pk)
    assert _terminate_worker_backends() >= 1  # the worker's connection (and its heartbeat thread's)
    points_at_drop = RunMetric.objects.filter(run=run).count()
    time.sleep(3)
    _terminate_worker_backends()  # and again, while it reconnects
    run = _wait_finished(run.pk)
    assert run.status == "succeeded", run.error
    assert run.attempts == 1  # the attempt carried on: it was neither lost nor re-queued
    assert RunMetric.objects.filter(run=run).count() > points_at_drop  # it kept recording
    assert ModelVersion.objects.filter(model=run.output_model).count() == 1
