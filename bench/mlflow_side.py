"""The MLflow side of the API comparison: an MLflow tracking server on PostgreSQL holding the same data.

MLflow lives in its own virtualenv (``bench/.venv-mlflow``, created on first use with ``python3.11 -m venv``
and exact pins), never in Agora's. Its database is ``mlflow_scale`` on 127.0.0.1:5432 (user postgres).

The data matches Agora's full size: 1,000 organizations (one experiment each), 10,000 registered models
named ``<org>-<task>-<variant>`` with 1 to 5 versions, 100,000 runs with statuses spread like Agora's
(FINISHED, FAILED, KILLED, RUNNING, SCHEDULED), four params and four tags each, and a 50-point ``loss``
history per run (5,000,000 ``metrics`` rows plus one ``latest_metrics`` row per run). ``--scale`` shrinks
every count by the same factor.

MLflow's own schema is created by ``mlflow db upgrade``. Loading 5 M metrics through the client API would
take hours, so the rows are bulk-inserted with COPY into MLflow's tables, with the values its
SqlAlchemyStore writes: millisecond timestamps, ``lifecycle_stage`` 'active', ``is_nan`` false, the latest
point of each history in ``latest_metrics``, the ``mlflow.runName``/``mlflow.user``/``mlflow.source.type``
tags, workspace 'default', model versions READY in stage 'None'. ``verify`` then reads some of them back
with the MLflow client through the running server. Seeding happens once: a database already holding the
requested counts is reused; ``--reset`` drops ``mlflow_scale`` (and only it) first.

Used by ``bench/api_load.py`` through ``prepare(args)``; standalone it measures the four operations:

    .venv/bin/python bench/mlflow_side.py --measure                  # full size, seeds on first use
    .venv/bin/python bench/mlflow_side.py --measure --scale 0.01 --reset --note "quick look"
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from bench.loadgen import Request, run_load, wait_until_serving  # noqa: E402
from bench.scores import describe_machine  # noqa: E402

VENV = ROOT / "bench" / ".venv-mlflow"
VENV_PYTHON = VENV / "bin" / "python"
# mlflow 3.18.0 needs mlflow-skinny==3.18.0, which the package index here does not offer yet: 3.17.2 is
# the newest release whose parts all install.
MLFLOW_REQUIREMENTS = ("mlflow==3.17.2", "mlflow-skinny==3.17.2", "psycopg2-binary==2.9.11")
DATABASE = "mlflow_scale"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
BACKEND_URI = f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{DATABASE}"
SERVER_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}  # no phoning home
RESULTS = ROOT / "bench" / "results" / "mlflow_load.json"

SEED = 0
FULL_ORGANIZATIONS, FULL_MODELS, FULL_RUNS, HISTORY_POINTS = 1_000, 10_000, 100_000, 50
TASKS = ("sentiment", "topic", "intent", "toxicity", "spam", "nli", "ner", "summarization")
VARIANTS = ("base", "small", "large", "distil", "multilingual", "tiny", "v2", "v3", "finetuned", "long")
# Agora's run statuses and their share in bench/seed_scale.py (75/10/7/8 % finished or rejected, then
# one in ten of the non-rejected still running or queued); each maps to the MLflow status of that meaning.
RUN_STATUSES = {  # Agora status: (MLflow status, weight in ‰)
    "succeeded": ("FINISHED", 675),
    "failed": ("FAILED", 90),
    "cancelled": ("KILLED", 63),
    "rejected": ("KILLED", 80),
    "running": ("RUNNING", 46),
    "queued": ("SCHEDULED", 46),
}
EPOCH_MS = 1_767_225_600_000  # 2026-01-01 UTC: every timestamp is fixed, so reseeding gives equal rows
DAY_MS = 86_400_000
STEP_MS = 1_000
FRAGMENTS = (*TASKS, *VARIANTS, "org00", "org01", "org05", "-base", "sentiment-v", "zz-no-match")


# The data, generated the same way every time -------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    organizations: int
    models: int
    runs: int
    points: int = HISTORY_POINTS

    @classmethod
    def of(cls, factor: float) -> Scale:
        def scaled(full: int) -> int:
            return max(1, round(full * factor))

        return cls(scaled(FULL_ORGANIZATIONS), scaled(FULL_MODELS), scaled(FULL_RUNS))

    @cached_property
    def organization_names(self) -> list[str]:
        return [f"org{number:04d}" for number in range(self.organizations)]

    @cached_property
    def model_names(self) -> list[str]:
        """Model m belongs to organization m % organizations; names are unique within it."""
        rng = random.Random(f"{SEED}-models")
        taken: dict[int, set[str]] = {}
        names = []
        for model in range(self.models):
            organization = model % self.organizations
            used = taken.setdefault(organization, set())
            while True:
                candidate = f"{rng.choice(TASKS)}-{rng.choice(VARIANTS)}"
                if candidate not in used:  # 80 combinations for about 10 models per organization
                    break
            used.add(candidate)
            names.append(f"{self.organization_names[organization]}-{candidate}")
        return names

    @cached_property
    def run_ids(self) -> list[str]:
        """Run r belongs to organization r % organizations, i.e. experiment r % organizations + 1."""
        rng = random.Random(f"{SEED}-runs")
        return [f"{rng.getrandbits(128):032x}" for _ in range(self.runs)]

    def experiment_id(self, organization: int) -> int:
        return organization + 1  # MLflow's own "Default" experiment keeps id 0


def _copy_text(*values: object) -> str:
    """One line of COPY's text format; None is NULL. No value seeded here holds a tab or backslash."""
    return "\t".join(r"\N" if value is None else str(value) for value in values) + "\n"


def _experiment_rows(scale: Scale) -> Iterator[str]:
    for organization, name in enumerate(scale.organization_names):
        experiment_id = scale.experiment_id(organization)
        created = EPOCH_MS - 200 * DAY_MS + organization * 1000
        yield _copy_text(
            experiment_id, name, f"mlflow-artifacts:/{experiment_id}", "active", created, created
        )


@dataclass(frozen=True)
class SeededRun:
    run_id: str
    experiment_id: int
    organization: str
    status: str
    start_time: int
    end_time: int | None
    params: dict[str, str]
    losses: list[float]


def seeded_runs(scale: Scale) -> Iterator[SeededRun]:
    rng = random.Random(f"{SEED}-run-contents")
    agora_statuses = list(RUN_STATUSES)
    weights = [weight for _, weight in RUN_STATUSES.values()]
    for number, run_id in enumerate(scale.run_ids):
        organization = number % scale.organizations
        status = RUN_STATUSES[rng.choices(agora_statuses, weights)[0]][0]
        start = EPOCH_MS - rng.randrange(120 * DAY_MS)
        finished = status in ("FINISHED", "FAILED", "KILLED")
        end = start + scale.points * STEP_MS if finished else None
        first, floor, rate = rng.uniform(1.5, 3.0), rng.uniform(0.05, 0.4), rng.uniform(8, 25)
        losses = [
            round(floor + (first - floor) * math.exp(-step / rate) + rng.gauss(0, 0.01), 6)
            for step in range(scale.points)
        ]
        params = {
            "learning_rate": rng.choice(("1e-05", "2e-05", "3e-05", "5e-05")),
            "batch_size": str(rng.choice((8, 16, 32, 64))),
            "epochs": str(rng.randint(1, 5)),
            "base_model": scale.model_names[rng.randrange(scale.models)],
        }
        yield SeededRun(
            run_id,
            scale.experiment_id(organization),
            scale.organization_names[organization],
            status,
            start,
            end,
            params,
            losses,
        )


def _model_rows(scale: Scale) -> tuple[list[str], list[str]]:
    rng = random.Random(f"{SEED}-versions")
    models, versions = [], []
    for number, name in enumerate(scale.model_names):
        organization = number % scale.organizations
        experiment_id = scale.experiment_id(organization)
        created = EPOCH_MS - 150 * DAY_MS + number * 1000
        count = rng.randint(1, 5)
        for version in range(1, count + 1):
            # A run of the same organization produced it (runs of organization o: o, o + orgs, …).
            run_number = (
                rng.randrange(organization, scale.runs, scale.organizations)
                if organization < scale.runs
                else 0
            )
            run_id = scale.run_ids[run_number]
            source = f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts/model"
            stamp = created + version * DAY_MS
            versions.append(
                _copy_text(
                    name, version, stamp, stamp, None, f"user-{scale.organization_names[organization]}",
                    "None", source, run_id, "READY", None, None, source, "default",
                )
            )  # fmt: skip
        models.append(_copy_text(name, created, created + count * DAY_MS, None, "default"))
    return models, versions


# The database --------------------------------------------------------------------------------------


def _connect(database: str, autocommit: bool = False):
    try:
        import psycopg
    except ImportError:
        sys.exit("seeding needs psycopg: run this with Agora's virtualenv (.venv/bin/python)")
    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=database, autocommit=autocommit)


def ensure_database(scale: Scale, reset: bool) -> dict[str, int]:
    """Create, migrate and fill ``mlflow_scale`` unless it already holds exactly ``scale``'s data."""
    with _connect("postgres", autocommit=True) as admin:
        if reset:
            admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
        if not exists:
            admin.execute(f"CREATE DATABASE {DATABASE}")
    ensure_venv()
    migrate = [str(VENV / "bin" / "mlflow"), "db", "upgrade", BACKEND_URI]
    subprocess.run(migrate, check=True, env={**os.environ, **SERVER_ENV}, capture_output=True)
    wanted = {"experiments": scale.organizations, "registered_models": scale.models, "runs": scale.runs}
    with _connect(DATABASE) as connection:
        counts = _counts(connection)
        if (
            all(counts[table] == wanted[table] for table in wanted)
            and counts["metrics"] == scale.runs * scale.points
        ):
            print(f"{DATABASE} already holds this scale: {counts}")
            return counts
        if any(counts.values()):
            sys.exit(f"{DATABASE} holds other data ({counts}); pass --reset to drop and reseed it")
        _seed(connection, scale)
        connection.commit()
        connection.execute("ANALYZE")
        connection.commit()
        return _counts(connection)


def _counts(connection) -> dict[str, int]:
    tables = ("experiments", "runs", "metrics", "latest_metrics", "params", "tags")
    tables += ("registered_models", "model_versions")
    # MLflow's own "Default" experiment (id 0) is not part of the seeded data.
    counts = {t: connection.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}  # noqa: S608
    counts["experiments"] -= connection.execute(
        "SELECT count(*) FROM experiments WHERE experiment_id = 0"
    ).fetchone()[0]
    return counts


def _copy(connection, table: str, columns: str, lines, total: int | None = None, unit: str = "rows") -> None:
    from tqdm import tqdm

    chunk: list[str] = []
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for line in tqdm(lines, desc=table, total=total, unit=unit, mininterval=2):
            chunk.append(line)
            if len(chunk) >= 20_000:
                copy.write("".join(chunk))
                chunk.clear()
        if chunk:
            copy.write("".join(chunk))


def _without_indexes(connection, tables: tuple[str, ...]) -> list[str]:
    """Drop the keys and indexes of ``tables`` (none is referenced by another table) and return the
    statements that rebuild them exactly: building an index once is far faster than updating it 5 M times."""
    rebuild = []
    for table in tables:
        constraints = connection.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass"
            " AND contype IN ('p', 'f', 'u')",
            (table,),
        ).fetchall()
        indexes = connection.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = %s"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            (table, table),
        ).fetchall()
        for name, _ in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        for name, _ in constraints:
            connection.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        rebuild += [
            f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for name, definition in constraints
        ]
        rebuild += [definition for _, definition in indexes]
    return rebuild


def _seed(connection, scale: Scale) -> None:
    started = time.perf_counter()
    _copy(
        connection,
        "experiments",
        "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time",
        _experiment_rows(scale),
        scale.organizations,
    )
    connection.execute("SELECT setval('experiments_experiment_id_seq', %s)", (scale.organizations,))

    # One pass over the runs fills the five run tables through temporary files (one COPY each).
    child_tables = ("params", "tags", "metrics", "latest_metrics")
    rebuild = _without_indexes(connection, child_tables)
    with tempfile.TemporaryDirectory(prefix="mlflow-seed-") as scratch:
        files = {t: open(Path(scratch) / t, "w") for t in ("runs", *child_tables)}  # noqa: SIM115
        from tqdm import tqdm

        for run in tqdm(seeded_runs(scale), desc="generating runs", total=scale.runs, mininterval=2):
            user = f"user-{run.organization}"
            name = f"{run.organization}-run-{run.run_id[:8]}"
            artifact_uri = f"mlflow-artifacts:/{run.experiment_id}/{run.run_id}/artifacts"
            files["runs"].write(
                _copy_text(
                    run.run_id, name, "UNKNOWN", "", "", user, run.status, run.start_time, run.end_time,
                    "", "active", artifact_uri, run.experiment_id, None,
                )
            )  # fmt: skip
            for key, value in run.params.items():
                files["params"].write(_copy_text(key, value, run.run_id))
            tags = {"mlflow.runName": name, "mlflow.user": user, "mlflow.source.type": "LOCAL"}
            for key, value in (tags | {"organization": run.organization}).items():
                files["tags"].write(_copy_text(key, value, run.run_id))
            metrics = files["metrics"]
            for step, loss in enumerate(run.losses):
                metrics.write(
                    f"loss\t{loss}\t{run.start_time + (step + 1) * STEP_MS}\t{run.run_id}\t{step}\tf\n"
                )
            last = len(run.losses) - 1
            files["latest_metrics"].write(
                _copy_text(
                    "loss", run.losses[last], run.start_time + (last + 1) * STEP_MS, last, "f", run.run_id
                )
            )
        for handle in files.values():
            handle.close()
        columns = {
            "runs": "run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time,"
            " end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time",
            "params": "key, value, run_uuid",
            "tags": "key, value, run_uuid",
            "metrics": "key, value, timestamp, run_uuid, step, is_nan",
            "latest_metrics": "key, value, timestamp, step, is_nan, run_uuid",
        }
        for table, names in columns.items():
            with open(Path(scratch) / table) as lines:
                total = scale.runs * (
                    scale.points if table == "metrics" else 4 if table in ("params", "tags") else 1
                )
                _copy(connection, table, names, lines, total)
    for statement in tqdm(rebuild, desc="keys and indexes"):
        connection.execute(statement)

    models, versions = _model_rows(scale)
    _copy(
        connection,
        "registered_models",
        "name, creation_time, last_updated_time, description, workspace",
        models,
    )
    _copy(
        connection,
        "model_versions",
        "name, version, creation_time, last_updated_time, description, user_id, current_stage, source,"
        " run_id, status, status_message, run_link, storage_location, workspace",
        versions,
    )
    print(f"seeded {DATABASE} in {time.perf_counter() - started:.0f} s")


# The virtualenv and the server ---------------------------------------------------------------------


def ensure_venv() -> None:
    if (VENV / "bin" / "mlflow").exists():
        return
    print(f"creating {VENV.relative_to(ROOT)} with {', '.join(MLFLOW_REQUIREMENTS)}")
    subprocess.run(["python3.11", "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV_PYTHON), "-m", "pip", "install", "-q", *MLFLOW_REQUIREMENTS], check=True)


def _venv_versions() -> dict[str, str]:
    script = (
        "import importlib.metadata as m, json;"
        "print(json.dumps({p: m.version(p) for p in"
        " ('mlflow', 'sqlalchemy', 'alembic', 'uvicorn', 'fastapi', 'flask', 'psycopg2-binary')}))"
    )
    return json.loads(
        subprocess.run([str(VENV_PYTHON), "-c", script], check=True, capture_output=True, text=True).stdout
    )


class MlflowServer:
    """A running ``mlflow server`` on the seeded database, and the requests that exercise it."""

    def __init__(self, scale: Scale, port: int, workers: int, counts: dict[str, int]):
        self.scale = scale
        self.host = "127.0.0.1"
        self.port = port
        self.workers = workers
        self.counts = counts
        self._artifacts = tempfile.TemporaryDirectory(prefix="mlflow-artifacts-")
        self.command = [
            str(VENV / "bin" / "mlflow"), "server",
            "--backend-store-uri", BACKEND_URI,
            "--artifacts-destination", self._artifacts.name,
            "--host", self.host, "--port", str(port), "--workers", str(workers),
        ]  # fmt: skip
        self._log = tempfile.NamedTemporaryFile(prefix="mlflow-server-", suffix=".log", delete=False)  # noqa: SIM115
        env = {**os.environ, **SERVER_ENV}
        env.pop("VIRTUAL_ENV", None)
        self._process = subprocess.Popen(
            self.command, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            wait_until_serving(self.host, port, "/health", timeout=120)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"mlflow server did not start; see {self._log.name}") from None

    def stop(self) -> None:
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)  # the server and the workers it started
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._artifacts.cleanup()

    def describe(self) -> dict:
        with _connect(DATABASE) as connection:
            server_version = connection.execute("SHOW server_version").fetchone()[0]
        return {
            "mlflow_version": _venv_versions()["mlflow"],
            "libraries": _venv_versions(),
            "server_command": " ".join(self.command),
            "workers": self.workers,
            "backend": f"PostgreSQL {server_version}, database {DATABASE}",
            "rows": self.counts,
            "seeding": "COPY into MLflow's tables, values as its SqlAlchemyStore writes them",
        }

    # The requests --------------------------------------------------------------------------------

    def operations(self) -> dict[str, Callable[[int], Request]]:
        return {
            "search_registered_models": self.search_registered_models,
            "get_model_versions": self.get_model_versions,
            "search_runs": self.search_runs,
            "get_metric_history": self.get_metric_history,
        }

    def extra_operations(self) -> dict[str, Callable[[int], Request]]:
        """Searches with no counterpart on Agora's side: runs of every experiment at once."""
        return {"search_runs_all_experiments": self.search_runs_all_experiments}

    def search_registered_models(self, i: int) -> Request:
        query = urlencode({"filter": f"name LIKE '%{FRAGMENTS[i % len(FRAGMENTS)]}%'", "max_results": 25})
        return ("GET", f"/api/2.0/mlflow/registered-models/search?{query}", None, {})

    def get_model_versions(self, i: int) -> Request:
        name = self.scale.model_names[(i * 7919) % self.scale.models]
        query = urlencode({"filter": f"name='{name}'"})
        return ("GET", f"/api/2.0/mlflow/model-versions/search?{query}", None, {})

    def search_runs(self, i: int) -> Request:
        experiment_id = self.scale.experiment_id((i * 7919) % self.scale.organizations)
        return self._search_runs([str(experiment_id)])

    def search_runs_all_experiments(self, i: int) -> Request:
        ids = [str(self.scale.experiment_id(o)) for o in range(self.scale.organizations)]
        return self._search_runs(ids)

    @staticmethod
    def _search_runs(experiment_ids: list[str]) -> Request:
        body = {
            "experiment_ids": experiment_ids,
            "filter": "attributes.status = 'FINISHED'",
            "max_results": 25,
        }
        return (
            "POST",
            "/api/2.0/mlflow/runs/search",
            json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )

    def get_metric_history(self, i: int) -> Request:
        run_id = self.scale.run_ids[(i * 104_729) % self.scale.runs]
        query = urlencode({"run_id": run_id, "metric_key": "loss"})
        return ("GET", f"/api/2.0/mlflow/metrics/get-history?{query}", None, {})

    def verify(self) -> dict:
        """Read seeded runs, histories and models back with the MLflow client through the server."""
        runs = {run.run_id: run for run, _ in zip(seeded_runs(self.scale), range(3), strict=False)}
        model = self.scale.model_names[0]
        script = """
import json, sys
from mlflow import MlflowClient
uri, run_ids, model = json.loads(sys.argv[1])
client = MlflowClient(tracking_uri=uri, registry_uri=uri)
out = {"runs": {}, "models": []}
for run_id in run_ids:
    run = client.get_run(run_id)
    history = client.get_metric_history(run_id, "loss")
    out["runs"][run_id] = {"status": run.info.status, "experiment_id": run.info.experiment_id,
        "params": run.data.params, "loss": [m.value for m in sorted(history, key=lambda m: m.step)]}
found = client.search_registered_models(filter_string=f"name LIKE '%{model}%'")
out["models"] = [m.name for m in found]
out["versions"] = len(client.search_model_versions(f"name='{model}'"))
print(json.dumps(out))
"""
        argument = json.dumps([f"http://{self.host}:{self.port}", list(runs), model])
        answer = subprocess.run(
            [str(VENV_PYTHON), "-c", script, argument],
            check=True, capture_output=True, text=True, env={**os.environ, **SERVER_ENV},
        )  # fmt: skip
        read = json.loads(answer.stdout.strip().splitlines()[-1])
        problems = []
        for run_id, run in runs.items():
            got = read["runs"][run_id]
            expected = {"status": run.status, "experiment_id": str(run.experiment_id), "params": run.params}
            expected["loss"] = run.losses
            problems += [f"run {run_id} {key}" for key in expected if got[key] != expected[key]]
        if model not in read["models"]:
            problems.append(f"registered model {model} not found")
        if not 1 <= read["versions"] <= 5:
            problems.append(f"{model} has {read['versions']} versions")
        if problems:
            raise AssertionError("seeded data read back differently: " + "; ".join(problems))
        return {"runs_checked": len(runs), "points_per_history": self.scale.points, "model_checked": model}


def prepare(args: argparse.Namespace | None = None, **kwargs) -> MlflowServer:
    """Seed (once) and start the server. Reads ``scale`` (1.0 = full size), ``workers`` (4), ``port``
    (or ``mlflow_port``, 5055) and ``reset`` from ``args`` or keyword arguments."""
    options = {**(vars(args) if args is not None else {}), **kwargs}
    scale = Scale.of(float(options.get("scale") or 1.0))
    port = int(options.get("mlflow_port") or options.get("port") or 5055)
    workers = int(options.get("workers") or 4)
    ensure_venv()
    counts = ensure_database(scale, bool(options.get("reset")))
    return MlflowServer(scale, port, workers, counts)


# Standalone measurement ----------------------------------------------------------------------------


def describe_environment() -> dict:
    machine = describe_machine()
    try:
        kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        machine["ram_gib"] = round(kib / 2**20, 1)
    except (OSError, IndexError, ValueError):
        pass
    try:
        release = dict(
            line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line
        )
        machine["os"] = release.get("PRETTY_NAME", "").strip('"')
    except OSError:
        pass
    machine["python_client"] = platform.python_version()
    return machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (1.0)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--reset", action="store_true", help=f"drop {DATABASE} and seed it again")
    parser.add_argument(
        "--measure", action="store_true", help=f"measure the operations, write {RESULTS.name}"
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--note", default="")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    server = prepare(args)
    try:
        verified = server.verify()
        print(f"MLflow client read the seeded data back: {verified}")
        if not args.measure:
            return
        results = {}
        for name, make_request in (server.operations() | server.extra_operations()).items():
            load_before = os.getloadavg()
            result = run_load(
                server.host, server.port, make_request,
                concurrency=args.concurrency, requests=args.requests, seconds=args.seconds,
            )  # fmt: skip
            result["load_average_before"] = [round(value, 2) for value in load_before]
            result["load_average_after"] = [round(value, 2) for value in os.getloadavg()]
            results[name] = result
            print(
                f"{name:30} {result['requests']:6} req {result['requests_per_second']:8} req/s"
                f"  p50 {result['p50_ms']:8} ms  p95 {result['p95_ms']:8} ms  errors {result['errors']}"
            )
        report = {
            "benchmark": "mlflow_load",
            "date": datetime.now().astimezone().isoformat(timespec="seconds"),
            "note": args.note,
            "scale": args.scale,
            "sizes": asdict(server.scale) | {"metric_rows": server.scale.runs * server.scale.points},
            "machine": describe_environment(),
            "server": server.describe(),
            "verified": verified,
            "load": {"concurrency": args.concurrency, "requests": args.requests, "seconds": args.seconds},
            "operations": results,
        }
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")
        print(f"written {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
