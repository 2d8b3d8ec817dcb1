"""The checkpoint inspector: a warm child process that loads uploads with transformers for the web
worker, which itself never imports torch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from hub import upload_handlers
from hub.checkpoint_files import CheckpointInspector
from tests.conftest import MINILM_DIR

REPO = Path(__file__).resolve().parents[2]


def gone(pid: int, within: float = 30.0) -> bool:
    """Whether the process has ended (or is a zombie waiting for a parent that has gone) in time."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def inspector():
    made = CheckpointInspector(idle_seconds=60)
    yield made
    made.stop()


def test_the_child_is_reused_between_loads(inspector, tmp_path):
    assert inspector.load(MINILM_DIR) == ("bert", "")
    pid = inspector.pid
    assert pid is not None and pid != os.getpid()
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    model_type, error = inspector.load(tmp_path)
    assert model_type == "" and "config.json does not load with transformers" in error
    assert inspector.pid == pid


def test_a_killed_child_is_replaced_and_the_load_answered(inspector):
    inspector.warm_up()
    first = inspector.pid
    os.kill(first, signal.SIGKILL)
    assert gone(first)
    assert inspector.load(MINILM_DIR) == ("bert", "")
    assert inspector.pid not in (None, first)


def test_the_child_stops_after_its_idle_time():
    inspector = CheckpointInspector(idle_seconds=0.5)
    try:
        assert inspector.load(MINILM_DIR) == ("bert", "")
        pid = inspector.pid
        assert pid is not None
        assert gone(pid, within=10)
        assert inspector.pid is None
        assert inspector.load(MINILM_DIR) == ("bert", "")  # a fresh child, on demand
    finally:
        inspector.stop()


def test_without_an_idle_time_each_load_has_a_fresh_child_that_ends_with_it():
    inspector = CheckpointInspector(idle_seconds=0)
    assert inspector.load(MINILM_DIR) == ("bert", "")
    assert inspector.pid is None


def test_a_checkpoint_that_kills_its_loading_process_is_refused(tmp_path):
    # A child that dies on every load, as one would on a checkpoint that exhausts its memory.
    dies_on_load = "print('ready', flush=True); import sys; sys.stdin.readline(); sys.exit(3)"
    inspector = CheckpointInspector(idle_seconds=60, command=[sys.executable, "-c", dies_on_load])
    with pytest.raises(ValidationError) as refused:
        inspector.load(tmp_path)
    assert "exit code 3" in refused.value.message_dict["files"][0]
    assert inspector.pid is None


def test_a_child_that_cannot_start_is_a_server_fault(tmp_path):
    inspector = CheckpointInspector(idle_seconds=60, command=[sys.executable, "-c", "raise SystemExit(4)"])
    with pytest.raises(RuntimeError, match="did not start"):
        inspector.load(tmp_path)


@pytest.mark.parametrize("ending", ["exit", "killed"])
def test_the_child_never_outlives_its_process_which_never_imports_torch(tmp_path, ending):
    script = (
        "import json, os, sys\n"
        "from pathlib import Path\n"
        "from hub.checkpoint_files import checkpoint_inspector\n"
        f"model_type, error = checkpoint_inspector().load(Path({str(MINILM_DIR)!r}))\n"
        "print(json.dumps([model_type, checkpoint_inspector().pid, 'torch' in sys.modules]), flush=True)\n"
        # An exit runs the exit handlers; a killed process runs none: its child sees its stdin close.
        + ("os.kill(os.getpid(), 9)\n" if ending == "killed" else "")
    )
    env = {**os.environ, "DEBUG": "1", "AGORA_DATA_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == (0 if ending == "exit" else -signal.SIGKILL), done.stderr[-2000:]
    model_type, pid, torch_imported = json.loads(done.stdout.strip().splitlines()[-1])
    assert (model_type, torch_imported) == ("bert", False)
    assert gone(pid)


def upload_fields(**files) -> dict:
    return {"organization": "acme", "slug": "tiny", "name": "Tiny", "license": "Apache-2.0", **files}


def test_a_model_upload_starts_the_inspector_as_its_body_arrives(owner, api_client_for, monkeypatch):
    started = []
    monkeypatch.setattr(upload_handlers, "warm_up_inspector", lambda: started.append(True))
    client = api_client_for(owner)
    files = [SimpleUploadedFile("config.json", b"{}"), SimpleUploadedFile("vocab.txt", b"a\n")]
    client.post("/api/v1/models/", upload_fields(files=files), format="multipart")
    assert started == [True]  # once per upload, however many files


def test_other_uploads_and_anonymous_bodies_start_nothing(owner, api_client_for, monkeypatch):
    started = []
    monkeypatch.setattr(upload_handlers, "warm_up_inspector", lambda: started.append(True))
    api_client_for(owner).post(
        "/api/v1/datasets/", {"file": SimpleUploadedFile("d.csv", b"text,label\na,b\n")}, format="multipart"
    )
    # A signed-out browser's form: the CSRF check reads the body before the page refuses it.
    browser = Client(enforce_csrf_checks=True)
    browser.cookies["csrftoken"] = "x" * 32
    response = browser.post(reverse("hub:model-create"), {"files": SimpleUploadedFile("config.json", b"{}")})
    assert response.status_code == 403
    assert started == []
