"""Load Agora's API at full size (database agora_scale, bench/seed_scale.py) and MLflow's on the same
machine, with the same load generator (bench/loadgen.py), concurrency and bounds.

Agora runs under gunicorn in production settings (DEBUG=0, persistent database connections), signed
in with the read token of a member of three organizations (var/bench/token); the run lists are also
measured as a superuser, who sees all 100,000 runs and so the deepest pages. With ``--with-mlflow``,
bench/mlflow_side.py seeds (once) and starts an MLflow tracking server and the comparable operations
are measured too: model search ↔ search_registered_models, a model's versions ↔ get_model_versions,
runs by status ↔ search_runs, a metric series ↔ get_metric_history. Writes results/api_load.json and
prints a table.

    .venv/bin/python bench/seed_scale.py && .venv/bin/python bench/api_load.py --with-mlflow
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from importlib import metadata
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from bench.loadgen import Request, run_load, wait_until_serving  # noqa: E402
from bench.seed_scale import (  # noqa: E402
    BENCH_SECRET_KEY,
    DATABASE,
    DATABASE_URL,
    MEMBER_SESSION,
    MEMBER_TOKEN,
    SUPERUSER_TOKEN,
)

RESULTS = ROOT / "bench" / "results" / "api_load.json"
SEARCH_TERMS = (
    "sentiment",
    "topic",
    "intent",
    "toxicity",
    "spam",
    "nli",
    "ner",
    "summarization",
    "base",
    "small",
    "large",
    "distil",
    "multilingual",
    "tiny",
    "v2",
    "v3",
    "finetuned",
    "long",
    "org00",
    "org01",
    "org05",
    "-base",
    "sentiment-v",
    "zz-no-match",
)  # fmt: skip  (bench/mlflow_side.py's FRAGMENTS: the same searches on both sides)
# Agora endpoint ↔ MLflow operation of the same meaning.
COMPARABLE = {
    "model_search": "search_registered_models",
    "model_versions": "get_model_versions",
    "runs_by_status": "search_runs",
    "metric_series": "get_metric_history",
}
GOAL = "p95 <= 100 ms per endpoint at full size; >= 3x MLflow's requests per second on comparable operations"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers, and MLflow's")
    parser.add_argument("--port", type=int, default=8093)
    parser.add_argument("--mlflow-port", type=int, default=5055)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000, help="at most this many per endpoint")
    parser.add_argument("--seconds", type=float, default=10.0, help="at most this long per endpoint")
    parser.add_argument("--only", default="", help="comma-separated endpoint names to measure")
    parser.add_argument("--with-mlflow", action="store_true", help="measure MLflow's side too")
    parser.add_argument("--scale", type=float, default=1.0, help="MLflow's size, as seeded by mlflow_side")
    parser.add_argument("--note", default="")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    bounds = {"concurrency": args.concurrency, "requests": args.requests, "seconds": args.seconds}

    targets = load_targets()
    endpoints = agora_endpoints(targets)
    if args.only:
        wanted = set(args.only.split(","))
        endpoints = {name: make for name, make in endpoints.items() if name in wanted}
    with AgoraServer(args.port, args.workers) as server:
        agora = measure(server.host, server.port, endpoints, bounds, "agora")
    mlflow, mlflow_description = {}, None
    if args.with_mlflow:
        from bench import mlflow_side

        mlflow_server = mlflow_side.prepare(args, port=args.mlflow_port)
        try:
            mlflow_description = mlflow_server.describe()
            mlflow = measure(
                mlflow_server.host, mlflow_server.port, mlflow_server.operations(), bounds, "mlflow"
            )
        finally:
            mlflow_server.stop()
    ratios = {
        f"{name} / {operation}": {
            "throughput_ratio": round(
                agora[name]["requests_per_second"] / mlflow[operation]["requests_per_second"], 2
            ),
            "p95_ratio": round(agora[name]["p95_ms"] / mlflow[operation]["p95_ms"], 2),
        }
        for name, operation in COMPARABLE.items()
        if name in agora and operation in mlflow and mlflow[operation]["requests_per_second"]
    }
    report = {
        "benchmark": "api_load",
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "note": args.note,
        "goal": GOAL,
        "machine": describe(),
        "data": targets["counts"],
        "bounds": bounds,
        "agora": {
            "server": f"gunicorn, {args.workers} gthread workers (1 thread each), DEBUG=0, "
            f"DATABASE_CONN_MAX_AGE=600, database {DATABASE}",
            "signed_in_as": f"read token of {targets['member']}, member of {', '.join(targets['member_of'])}",
            "endpoints": agora,
        },
        "mlflow": {"server": mlflow_description, "operations": mlflow} if args.with_mlflow else None,
        "ratios_agora_over_mlflow": ratios,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print_table(agora, mlflow, ratios)
    print(f"written {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")


# What to ask for ------------------------------------------------------------------------------------


def load_targets() -> dict:
    """Ids the requests vary over, read from the seeded database: models the member sees, runs of the
    member's organizations, how deep the run lists go."""
    import psycopg

    with psycopg.connect(DATABASE_URL) as connection:

        def column(sql: str, *params) -> list:
            return [row[0] for row in connection.execute(sql, params).fetchall()]

        member = "bench-member"
        member_of = column(
            "SELECT o.slug FROM hub_membership m JOIN hub_organization o ON o.id = m.organization_id"
            " JOIN auth_user u ON u.id = m.user_id WHERE u.username = %s ORDER BY o.slug",
            member,
        )
        if not member_of:
            raise SystemExit(f"{DATABASE} is not seeded: run bench/seed_scale.py first")
        visible_models = column(
            "SELECT id FROM hub_registeredmodel WHERE visibility <> 'private' OR organization_id IN"
            " (SELECT id FROM hub_organization WHERE slug = ANY(%s)) ORDER BY id",
            member_of,
        )
        member_runs = column(
            "SELECT r.id FROM training_finetunerun r JOIN hub_organization o ON o.id = r.organization_id"
            " WHERE o.slug = ANY(%s) ORDER BY r.id",
            member_of,
        )
        member_succeeded = connection.execute(
            "SELECT count(*) FROM training_finetunerun r JOIN hub_organization o ON o.id = r.organization_id"
            " WHERE o.slug = ANY(%s) AND r.status = 'succeeded'",
            [member_of],
        ).fetchone()[0]
        all_succeeded = connection.execute(
            "SELECT count(*) FROM training_finetunerun WHERE status = 'succeeded'"
        ).fetchone()[0]
        counts = {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in (
                "hub_organization",
                "hub_registeredmodel",
                "hub_modelversion",
                "training_finetunerun",
                "training_runmetric",
                "governance_evaluationreport",
            )
        }
    return {
        "member": member,
        "member_of": member_of,
        "visible_models": visible_models,
        "member_runs": member_runs,
        "member_succeeded_pages": max(1, -(-member_succeeded // 25)),
        "all_succeeded_pages": max(1, -(-all_succeeded // 25)),
        "counts": counts,
    }


def agora_endpoints(targets: dict) -> dict[str, Callable[[int], Request]]:
    member = {"Authorization": f"Bearer {MEMBER_TOKEN.read_text().strip()}"}
    signed_in = {"Cookie": f"sessionid={MEMBER_SESSION.read_text().strip()}"}
    superuser = {"Authorization": f"Bearer {SUPERUSER_TOKEN.read_text().strip()}"}
    models, runs = targets["visible_models"], targets["member_runs"]
    member_pages, all_pages = targets["member_succeeded_pages"], targets["all_succeeded_pages"]

    def get(path: str, headers: dict[str, str] = member) -> Request:
        return ("GET", path, None, headers)

    def spread(i: int, n: int) -> int:
        return (i * 7919) % n  # a stride prime to n: every value, in an order the server cannot guess

    return {
        "model_search": lambda i: get(
            "/api/v1/models/?" + urlencode({"search": SEARCH_TERMS[i % len(SEARCH_TERMS)]})
        ),
        "model_versions": lambda i: get(f"/api/v1/model-versions/?model={models[spread(i, len(models))]}"),
        "runs_by_status": lambda i: get("/api/v1/runs/?status=succeeded"),
        "runs_by_status_deep_pages": lambda i: get(
            f"/api/v1/runs/?status=succeeded&page={1 + spread(i, member_pages)}"
        ),
        "runs_by_status_superuser_deep_pages": lambda i: get(
            f"/api/v1/runs/?status=succeeded&page={1 + spread(i, all_pages)}", superuser
        ),
        "metric_series": lambda i: get(f"/api/v1/runs/{runs[spread(i, len(runs))]}/metrics/?name=loss"),
        "scores_api": lambda i: get("/api/v1/scores/"),
        "scores_page": lambda i: get("/scores/", signed_in),
    }


# The servers and the measurement ---------------------------------------------------------------------


class AgoraServer:
    """Agora under gunicorn in production settings, on agora_scale."""

    def __init__(self, port: int, workers: int) -> None:
        self.host, self.port, self.workers = "127.0.0.1", port, workers

    def __enter__(self) -> AgoraServer:
        self._data = tempfile.TemporaryDirectory(prefix="agora-api-load-")
        env = {
            **os.environ,
            "DEBUG": "0",
            "SECRET_KEY": BENCH_SECRET_KEY,  # the one the session was signed in with
            "ALLOWED_HOSTS": self.host,
            "SECURE_SSL_REDIRECT": "0",
            "DATABASE_URL": DATABASE_URL,
            "DATABASE_CONN_MAX_AGE": "600",
            "AGORA_DATA_DIR": self._data.name,
            "DJANGO_SETTINGS_MODULE": "hub.settings",
        }
        self._log = open(Path(self._data.name) / "gunicorn.log", "w")
        # Production serves hashed static file names from the manifest collectstatic writes.
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
            cwd=ROOT, env=env, check=True,
        )  # fmt: skip
        command = [
            str(Path(sys.executable).parent / "gunicorn"), "hub.wsgi:application",
            "--bind", f"{self.host}:{self.port}", "--workers", str(self.workers),
            "--keep-alive", "60", "--access-logfile", "-",
        ]  # fmt: skip
        # gunicorn's sync workers close keep-alive connections; gthread keeps them open as loadgen expects.
        command += ["--worker-class", "gthread", "--threads", "1"]
        self._process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_until_serving(self.host, self.port, "/api/v1/", timeout=60)
        except TimeoutError:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_exc) -> None:
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._log.close()
        self._data.cleanup()


def measure(
    host: str, port: int, operations: dict[str, Callable[[int], Request]], bounds: dict, side: str
) -> dict:
    results = {}
    for name, make_request in operations.items():
        # Warm every worker (connections, caches such as the scores') with a short concurrent pass, not
        # recorded: the measurement is of the steady state.
        warm = {**bounds, "requests": bounds["concurrency"] * 8, "seconds": 30.0}
        run_load(host, port, make_request, warmup=0, **warm)
        result = run_load(host, port, make_request, warmup=0, **bounds)
        result["load_average"] = [round(value, 2) for value in os.getloadavg()]
        result["example"] = make_request(0)[1]
        results[name] = result
        print(
            f"{side:<7} {name:<38} p50 {result['p50_ms']:>8.1f} ms  p95 {result['p95_ms']:>8.1f} ms  "
            f"{result['requests_per_second']:>7.1f} req/s  errors {result['errors']}"
        )
        for example in result["error_examples"]:
            print(f"        {example}")
    return results


def describe() -> dict:
    import psycopg

    from bench.mlflow_side import describe_environment

    machine = describe_environment()
    with psycopg.connect(DATABASE_URL) as connection:
        machine["postgresql"] = connection.execute("SHOW server_version").fetchone()[0]
    machine["python"] = platform.python_version()
    machine["libraries"] = {
        name: metadata.version(name) for name in ("django", "djangorestframework", "gunicorn", "psycopg")
    }
    return machine


def print_table(agora: dict, mlflow: dict, ratios: dict) -> None:
    print()
    print("| side | operation | p50 ms | p95 ms | p99 ms | req/s | errors |")
    print("|---|---|---|---|---|---|---|")
    for side, results in (("agora", agora), ("mlflow", mlflow)):
        for name, r in results.items():
            print(
                f"| {side} | {name} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} "
                f"| {r['requests_per_second']:.1f} | {r['errors']} |"
            )
    if ratios:
        print()
        print("| Agora / MLflow | throughput × | p95 × |")
        print("|---|---|---|")
        for pair, ratio in ratios.items():
            print(f"| {pair} | {ratio['throughput_ratio']:.2f} | {ratio['p95_ratio']:.2f} |")


if __name__ == "__main__":
    main()
