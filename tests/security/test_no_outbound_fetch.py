"""The server never fetches a URL: no HTTP or socket client in the application code, and every
``from_pretrained`` reads local files only, so a repository id given where a path belongs cannot make a
web or worker process download from the Hugging Face Hub (or anywhere else)."""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MINILM_DIR, REPO

APPS = ("hub", "governance", "training")
FORBIDDEN_MODULES = {
    "urllib.request",
    "http.client",
    "requests",
    "httpx",
    "aiohttp",
    "urllib3",
    "socket",
    "ftplib",
    "smtplib",
    "huggingface_hub",
}
# Module-level functions that download by design.
FORBIDDEN_CALLS = {"urlopen", "hf_hub_download", "snapshot_download", "create_connection"}
# (module path, imported name): uses with a reason. None is needed today.
ALLOWED: dict[tuple[str, str], str] = {}


def application_modules() -> list[Path]:
    return sorted(path for app in APPS for path in (REPO / app).rglob("*.py"))


def is_forbidden(module: str) -> bool:
    return any(module == name or module.startswith(f"{name}.") for name in FORBIDDEN_MODULES)


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # from urllib import request / from http import client
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def test_no_module_imports_a_network_client():
    offenders = []
    for path in application_modules():
        relative = str(path.relative_to(REPO))
        for line, module in imported_modules(ast.parse(path.read_text(), filename=relative)):
            if is_forbidden(module) and (relative, module) not in ALLOWED:
                offenders.append(f"{relative}:{line} imports {module}")
    assert not offenders, "\n".join(offenders)


def test_no_module_calls_a_download_function():
    offenders = []
    for path in application_modules():
        relative = str(path.relative_to(REPO))
        for node in ast.walk(ast.parse(path.read_text(), filename=relative)):
            if isinstance(node, ast.Call) and call_name(node) in FORBIDDEN_CALLS:
                offenders.append(f"{relative}:{node.lineno} calls {call_name(node)}")
    assert not offenders, "\n".join(offenders)


def test_every_from_pretrained_reads_local_files_only():
    calls = 0
    offenders = []
    for path in application_modules():
        relative = str(path.relative_to(REPO))
        for node in ast.walk(ast.parse(path.read_text(), filename=relative)):
            if not (isinstance(node, ast.Call) and call_name(node) == "from_pretrained"):
                continue
            calls += 1
            local_only = any(
                keyword.arg == "local_files_only"
                and isinstance(keyword.value, ast.Constant)
                and keyword.value.value is True
                for keyword in node.keywords
            )
            if not local_only:
                offenders.append(f"{relative}:{node.lineno} from_pretrained without local_files_only=True")
    assert not offenders, "\n".join(offenders)
    assert calls >= 4  # the walk found the loaders (checkpoint validation, training)


def test_the_walk_catches_what_it_forbids():
    source = "\n".join(
        [
            "import requests",
            "from urllib import request",
            "from http.client import HTTPSConnection",
            "import socket",
        ]
    )
    modules = [module for _, module in imported_modules(ast.parse(source)) if is_forbidden(module)]
    assert modules == ["requests", "urllib.request", "http.client", "http.client.HTTPSConnection", "socket"]


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to resolve a name or open a connection is recorded and fails."""
    attempts: list[str] = []

    def refuse(*args, **kwargs):
        attempts.append(repr(args[:2]))
        raise OSError("network access is refused in this test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def test_checkpoint_validation_loads_a_directory_without_the_network(no_network):
    from hub.checkpoint_files import load_with_transformers

    model_type, error = load_with_transformers(str(MINILM_DIR))
    assert (model_type, error) == ("bert", "")
    assert no_network == []


# A fresh process, as a worker or the web server starts: settings first, then the loaders, with every
# connection refused and recorded. A repository id where a directory belongs must not reach the network.
LOADERS_WITHOUT_NETWORK = """
import json, socket, sys
from pathlib import Path
attempts = []
def refuse(*args, **kwargs):
    attempts.append(repr(args[:2]))
    raise OSError("network access is refused")
socket.getaddrinfo = refuse
socket.create_connection = refuse
socket.socket.connect = refuse
import django
django.setup()
from hub.checkpoint_files import load_with_transformers
model_type, error = load_with_transformers("google-bert/bert-base-uncased")
outcome = {"validation_error": error}
if "--training" in sys.argv:
    from training.engine.modeling import load_classifier, load_tokenizer
    for loader in (load_tokenizer, lambda path: load_classifier(path, labels=["no", "yes"])):
        try:
            loader(Path("agora-no-such-org/no-such-model"))
        except OSError:
            pass
print(json.dumps({**outcome, "attempts": attempts}))
"""


def run_loaders(tmp_path: Path, *arguments: str, **environment: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HF_", "TRANSFORMERS_"))}
    env.update(
        DEBUG="1", DJANGO_SETTINGS_MODULE="hub.settings", HF_HOME=str(tmp_path / "hf-home"), **environment
    )
    result = subprocess.run(
        [sys.executable, "-c", LOADERS_WITHOUT_NETWORK, *arguments],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_repository_id_reaches_no_network_in_validation_or_training(tmp_path):
    outcome = run_loaders(tmp_path, "--training")
    assert "config.json does not load" in outcome["validation_error"]
    assert outcome["attempts"] == []


def test_local_files_only_alone_would_reach_the_hub(tmp_path):
    """Why the settings turn huggingface_hub offline: with it online, the same call tries huggingface.co."""
    outcome = run_loaders(tmp_path, HF_HUB_OFFLINE="0")
    assert "config.json does not load" in outcome["validation_error"]
    assert any("huggingface.co" in attempt for attempt in outcome["attempts"])
