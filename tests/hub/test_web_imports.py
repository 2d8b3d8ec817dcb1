"""A web process stays light: the heavy numeric libraries load only where reports are computed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("sklearn", "fairlearn", "scipy", "pandas", "torch", "transformers")


def test_loading_the_wsgi_application_and_its_urls_imports_no_heavy_library(tmp_path):
    # A fresh interpreter: this test process has long imported everything.
    script = (
        "import sys\n"
        "from hub.wsgi import application\n"
        "from django.urls import get_resolver\n"
        "get_resolver().url_patterns\n"
        f"print(','.join(name for name in {HEAVY!r} if name in sys.modules))\n"
    )
    env = {**os.environ, "DEBUG": "1", "AGORA_DATA_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1:] in ([], [""]), f"imported: {done.stdout.strip()}"
