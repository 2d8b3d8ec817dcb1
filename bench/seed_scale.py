"""Seed the PostgreSQL database ``agora_scale`` with a full-size hub for the API load benchmark.

Full size: 1,000 organizations with members, datasets with versions, 10,000 models with 1 to 5 versions
(named "<org>-<task>-<variant>" like bench/mlflow_side.py names MLflow's registered models, so the same
searches mean the same), evaluation reports, 100,000 fine-tuning runs over 120 days in every status, and
50 loss points per run (5,000,000 RunMetric rows). The shape of the hub (who uses whose data and base
models, pools, audit events, downloads) is bench/scores.py's HubBuilder; every table is written with
PostgreSQL COPY (primary keys taken from the table's sequence first), so full size takes minutes.

Also issues two read tokens for the load: a member of three organizations (var/bench/token) and a
superuser (var/bench/superuser-token).

    .venv/bin/python bench/seed_scale.py              # full size, once (a seeded database is kept)
    .venv/bin/python bench/seed_scale.py --scale 0.1  # a tenth, for a quick look
    .venv/bin/python bench/seed_scale.py --reset      # drop agora_scale and seed it again
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from bench.scores import HubBuilder, dates_as_given  # noqa: E402 (no Django imported at module level)

DATABASE = "agora_scale"
SERVER_URL = "postgres://postgres@127.0.0.1:5432"
DATABASE_URL = f"{SERVER_URL}/{DATABASE}"
TOKEN_DIR = ROOT / "var" / "bench"
MEMBER_TOKEN = TOKEN_DIR / "token"
SUPERUSER_TOKEN = TOKEN_DIR / "superuser-token"
MEMBER_SESSION = TOKEN_DIR / "session"  # the member's session cookie, for the HTML pages
TOKEN_NAME = "api-load"  # noqa: S105 (a label, not a secret)
POINTS_PER_RUN = 50
# A session's sign-in is checked against a hash keyed by SECRET_KEY: the server must run with this one.
BENCH_SECRET_KEY = "bench-scale-only"  # noqa: S105 (a benchmark's throwaway key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (1.0)")
    parser.add_argument("--reset", action="store_true", help=f"drop {DATABASE} and seed it again")
    args = parser.parse_args()
    seed(args.scale, reset=args.reset)


def django_environment() -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "DJANGO_SETTINGS_MODULE": "hub.settings",
        "DEBUG": "0",  # no query log while millions of rows go in
        "SECRET_KEY": BENCH_SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
    }


def seed(scale_factor: float, *, reset: bool = False) -> None:
    started = time.perf_counter()
    if create_database(reset=reset):
        print(f"created database {DATABASE}")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        env=django_environment(),
        cwd=ROOT,
        check=True,
    )
    os.environ.update(django_environment())
    import django

    django.setup()
    from hub.models import Organization

    if Organization.objects.exists():
        print(f"{DATABASE} is already seeded ({row_counts()}); --reset seeds it again")
    else:
        from bench.mlflow_side import Scale

        builder = ScaleBuilder(Scale.of(scale_factor))
        builder.build_all()
        print(f"seeded in {time.perf_counter() - started:.0f} s")
    issue_load_tokens()


def create_database(*, reset: bool) -> bool:
    """Create agora_scale (dropping it first with ``reset``); False when it already exists."""
    import psycopg

    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as connection:
        if reset:
            connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
        if exists:
            return False
        connection.execute(f'CREATE DATABASE "{DATABASE}"')
        return True


def row_counts() -> dict[str, int]:
    from django.db import connection

    tables = ["hub_organization", "hub_registeredmodel", "hub_modelversion", "training_finetunerun"]
    tables.append("training_runmetric")
    with connection.cursor() as cursor:
        counts = {}
        for table in tables:
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 (fixed names)
            counts[table] = cursor.fetchone()[0]
    return counts


def copy_create(model, objects: list, *, label: str = "") -> list:
    """Insert ``objects`` with one COPY: primary keys come from the table's sequence first, so the
    objects get them as bulk_create would give them, and dates are stamped as bulk_create stamps them."""
    from django.db import connection
    from tqdm import tqdm

    if not objects:
        return objects
    meta = model._meta
    fields = meta.concrete_fields
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objects)],
        )
        for instance, (pk,) in zip(objects, cursor.fetchall(), strict=True):
            instance.pk = pk
        columns = ", ".join(quote(field.column) for field in fields)
        with cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for instance in tqdm(objects, desc=label or meta.label, unit="rows", leave=False, mininterval=1):
                instance._prepare_related_fields_for_save(operation_name="bulk_create")
                copy.write_row(
                    [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
                )
    for instance in objects:
        instance._state.adding = False
        instance._state.db = "default"
    return objects


class ScaleBuilder(HubBuilder):
    """bench/scores.py's hub, at the benchmark's size and names, written with COPY."""

    def __init__(self, scale) -> None:
        super().__init__(scale.organizations, scale.runs)
        self.scale = scale
        self.seconds: dict[str, float] = {}

    def create(self, model, objects: list) -> list:
        started = time.perf_counter()
        created = copy_create(model, objects)
        label = model._meta.label
        self.rows[label] = self.rows.get(label, 0) + len(created)
        self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - started
        return created

    def build_all(self) -> None:
        from django.db import connection, transaction

        steps = (
            self.organizations_and_members,
            self.datasets,
            self.policies,
            self.models,
            self.evaluations_and_publications,
            self.pools,
            self.runs,
            self.activity,
            self.documents,
        )
        with dates_as_given(), transaction.atomic():
            for step in steps:
                started = time.perf_counter()
                step()
                print(f"  {step.__name__}: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        points = self.metric_points()
        self.rows["training.RunMetric"] = points
        self.seconds["training.RunMetric"] = time.perf_counter() - started
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")  # statistics, and the visibility map index-only scans need
        print(f"  vacuum and analyze: {time.perf_counter() - started:.1f} s")
        print()
        print(f"{'table':<32} {'rows':>10} {'seconds':>8}")
        for label, count in sorted(self.rows.items(), key=lambda item: -item[1]):
            print(f"{label:<32} {count:>10,} {self.seconds.get(label, 0.0):>8.1f}")
        print(f"{'in all':<32} {sum(self.rows.values()):>10,} {sum(self.seconds.values()):>8.1f}")

    def organizations_and_members(self) -> None:
        super().organizations_and_members()
        # MLflow's side names organizations org0000…; model names start with them.
        for organization, name in zip(self.organizations, self.scale.organization_names, strict=True):
            organization.slug = name
            organization.name = name.replace("org", "Organization ")
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE hub_organization SET slug = %s, name = %s WHERE id = %s",
                [(o.slug, o.name, o.pk) for o in self.organizations],
            )

    def models(self) -> None:
        """Ten models per organization (model m belongs to organization m % organizations, named as
        MLflow's side names it), each with 1 to 5 versions: an uploaded one, then fine-tunes."""
        from hub.models import RegisteredModel, Visibility

        r = self.random
        TASK = "text-classification"
        models = []
        for number, name in enumerate(self.scale.model_names):
            models.append(
                RegisteredModel(
                    organization=self.organizations[number % self.organization_count],
                    slug=name,
                    name=name,
                    description=f"{name.split('-', 1)[1].replace('-', ' ')} classifier",
                    license="Apache-2.0",
                    task=TASK,
                    visibility=r.choices(
                        [Visibility.PRIVATE, Visibility.INTERNAL, Visibility.PUBLIC], [0.4, 0.3, 0.3]
                    )[0],
                    created_at=self.ago(r.uniform(150, 300)),
                    updated_at=self.ago(r.uniform(0, 150)),
                )
            )
        self.store_models(models, max_versions=5)

    def runs(self) -> None:
        """HubBuilder's runs (finished but for the last hour's), then one in ten of them still going:
        running (started, a heartbeat) or queued (not started), as a busy hub has them."""
        from django.db import connection

        super().runs()
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE training_finetunerun SET status = 'running', finished_at = NULL,"
                " heartbeat_at = now(), started_at = COALESCE(started_at, created_at)"
                " WHERE id % 20 = 0 AND status <> 'rejected'"
            )
            cursor.execute(
                "UPDATE training_finetunerun SET status = 'queued', started_at = NULL, finished_at = NULL,"
                " accelerator_seconds = 0 WHERE id % 20 = 1 AND status <> 'rejected'"
            )

    def documents(self) -> None:
        """The JSON a real hub stores with each version and run, so that pages and lists carry what
        they would: labels, weights by dtype, library versions and evaluation metrics for versions;
        hyperparameters, final metrics and the status history for runs (MLflow's side has params,
        tags and latest metrics)."""
        write_documents()

    def metric_points(self) -> int:
        """50 loss points per run, each its own decaying curve, streamed as COPY text in its own
        transaction (foreign-key triggers off: every run id comes from the table just written)."""
        from django.db import connection, transaction
        from tqdm import tqdm

        r = random.Random(1)
        written = 0
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT id, created_at FROM training_finetunerun ORDER BY id")
            runs = cursor.fetchall()
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute("SELECT nextval(pg_get_serial_sequence('training_runmetric', 'id'))")
            first_id = cursor.fetchone()[0]
            columns = "id, run_id, step, name, value, recorded_at"
            with cursor.copy(f"COPY training_runmetric ({columns}) FROM STDIN") as copy:
                progress = tqdm(total=len(runs) * POINTS_PER_RUN, desc="training.RunMetric", unit="rows")
                next_id = first_id
                for run_id, created_at in runs:
                    start, floor, pace = r.uniform(1.5, 2.5), r.uniform(0.05, 0.4), r.uniform(8, 25)
                    lines = []
                    for step in range(1, POINTS_PER_RUN + 1):
                        loss = floor + (start - floor) * math.exp(-step / pace) + r.gauss(0, 0.02)
                        at = (created_at + timedelta(seconds=10 * step)).isoformat()
                        lines.append(f"{next_id}\t{run_id}\t{step * 10}\tloss\t{loss:.5f}\t{at}\n")
                        next_id += 1
                    copy.write("".join(lines))
                    written += POINTS_PER_RUN
                    if written % 50_000 == 0:
                        progress.update(50_000)
                progress.update(written - progress.n)
                progress.close()
            cursor.execute("SELECT setval(pg_get_serial_sequence('training_runmetric', 'id'), %s)", [next_id])
        return written


def write_documents() -> None:
    """Fill versions' and runs' JSON columns in place, with per-row figures drawn by PostgreSQL."""
    from django.db import connection

    from training.engine.config import HYPERPARAMETERS

    hyperparameters = json.dumps({spec.name: spec.default for spec in HYPERPARAMETERS})
    libraries = json.dumps(
        {"python": "3.11.7", "torch": "2.13.0", "transformers": "5.23.0", "safetensors": "0.7.0"}
    )
    with connection.cursor() as cursor:
        cursor.execute(
            'UPDATE hub_modelversion SET labels = \'["negative", "neutral", "positive"]\','
            " tensor_summary = jsonb_build_object('F32', jsonb_build_object('tensors', 103,"
            "   'parameters', 22713987)),"
            " library_versions = %s::jsonb,"
            " metrics = jsonb_build_object('accuracy', round((0.7 + random() * 0.25)::numeric, 4),"
            "   'f1_macro', round((0.65 + random() * 0.3)::numeric, 4),"
            "   'eval_loss', round((0.2 + random() * 0.5)::numeric, 4), 'examples', 872)",
            [libraries],
        )
        cursor.execute(
            "UPDATE training_finetunerun SET hyperparameters = %s::jsonb,"
            " metrics = CASE WHEN status = 'succeeded' THEN jsonb_build_object("
            "   'accuracy', round((0.7 + random() * 0.25)::numeric, 4),"
            "   'f1_macro', round((0.65 + random() * 0.3)::numeric, 4),"
            "   'eval_loss', round((0.2 + random() * 0.5)::numeric, 4),"
            "   'train_loss', round((0.1 + random() * 0.4)::numeric, 4)) ELSE '{}'::jsonb END,"
            " events = jsonb_build_array("
            "   jsonb_build_object('at', created_at, 'from', '', 'to', 'queued', 'note', 'submitted'))"
            " || CASE WHEN started_at IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(jsonb_build_object("
            "   'at', started_at, 'from', 'queued', 'to', 'running', 'note', 'cpu worker, attempt 1')) END"
            " || CASE WHEN finished_at IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(jsonb_build_object("
            "   'at', finished_at, 'from', 'running', 'to', status, 'note', '')) END",
            [hyperparameters],
        )


def issue_load_tokens() -> None:
    """Read tokens for the load: a member of three busy organizations, and a superuser."""
    from django.contrib.auth.models import User
    from django.db.models import Count

    from hub.models import AccessToken, Membership, Organization, Role
    from hub.services.tokens import issue_token

    member, _ = User.objects.get_or_create(username="bench-member")
    if not member.memberships.exists():
        busiest = Organization.objects.annotate(n=Count("runs")).order_by("-n", "pk")[:3]
        Membership.objects.bulk_create(
            [Membership(organization=o, user=member, role=Role.MEMBER) for o in busiest]
        )
    admin, _ = User.objects.get_or_create(
        username="bench-superuser", defaults={"is_superuser": True, "is_staff": True}
    )
    TOKEN_DIR.mkdir(parents=True, exist_ok=True)
    for user, path in ((member, MEMBER_TOKEN), (admin, SUPERUSER_TOKEN)):
        AccessToken.objects.filter(user=user, name=TOKEN_NAME).delete()
        path.write_text(issue_token(user=user, name=TOKEN_NAME).secret + "\n")
        path.chmod(0o600)
    MEMBER_SESSION.write_text(signed_in_session(member) + "\n")
    MEMBER_SESSION.chmod(0o600)
    organizations = ", ".join(member.memberships.values_list("organization__slug", flat=True))
    print(f"tokens: {MEMBER_TOKEN.relative_to(ROOT)} (bench-member of {organizations}),")
    print(f"        {SUPERUSER_TOKEN.relative_to(ROOT)} (bench-superuser)")
    print(f"session: {MEMBER_SESSION.relative_to(ROOT)} (bench-member, for the pages)")


def signed_in_session(user) -> str:
    """The key of a session signed in as ``user``, as the sign-in page would store it."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key


if __name__ == "__main__":
    main()
