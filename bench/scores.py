"""Time of the collaboration scores E and C on a synthetic hub, at two sizes.

Each size runs in a child process on its own temporary ``AGORA_DATA_DIR`` (a fresh SQLite database,
migrated first). The child builds the hub with ``bulk_create``: organizations with members,
datasets (private, internal, public, some private ones granted), dataset versions with row counts,
models and versions (some published after a publication request, with evaluation reports carrying
accuracy and relative gain), usage policies attached to some artifacts, policy checks, audit events,
downloads, compute pools, and runs spread over 120 days, a realistic share of them on another
organization's dataset, base model or pool. It then times ``organization_scores`` + ``hub_scores``
(best of --repeats, and the SQL queries they issue, with the slowest ones) and, at full size,
``take_snapshots``. Writes results/scores.json and prints a table.

    .venv/bin/python bench/scores.py              # 1,000 orgs / 100,000 runs, and 10× fewer
    .venv/bin/python bench/scores.py --organizations 200 --runs 20000 --note "quick look"
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import accumulate
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere
PYTHON = sys.executable
SEED = 0
DAYS_OF_RUNS = 120


# The parent: one child per size, then the table -----------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--organizations", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--note", default="")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "scores.json")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--snapshots", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    sizes = [
        {"organizations": max(args.organizations // 10, 2), "runs": args.runs // 10, "snapshots": False},
        {"organizations": args.organizations, "runs": args.runs, "snapshots": True},
    ]
    results = []
    with tempfile.TemporaryDirectory(prefix="agora-bench-scores-") as scratch:
        for number, size in enumerate(sizes):
            data_dir = Path(scratch) / f"size-{number}"
            data_dir.mkdir()
            out = Path(scratch) / f"size-{number}.json"
            command = [PYTHON, __file__, "--child", str(out), "--repeats", str(args.repeats)]
            command += ["--organizations", str(size["organizations"]), "--runs", str(size["runs"])]
            command += ["--snapshots"] if size["snapshots"] else []
            env = {
                **os.environ,
                "AGORA_DATA_DIR": str(data_dir),
                "DJANGO_SETTINGS_MODULE": "hub.settings",
                # Production mode: no query log while building (CaptureQueriesContext counts them).
                "DEBUG": "0",
                "SECRET_KEY": "bench-scores-only",
            }
            env.pop("DATABASE_URL", None)  # always the fresh SQLite file under AGORA_DATA_DIR
            print(
                f"size {number + 1}/{len(sizes)}: {size['organizations']} organizations, {size['runs']} runs"
            )
            subprocess.run(command, env=env, check=True, cwd=ROOT)
            results.append(json.loads(out.read_text()))

    import django

    report = {
        "benchmark": "scores",
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "note": args.note,
        "goal": "organization_scores + hub_scores under 2 s at 1,000 organizations / 100,000 runs",
        "machine": describe_machine(),
        "versions": {"python": platform.python_version(), "django": django.__version__},
        "sizes": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print_table(results)
    print(f"written {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")


def describe_machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor() or model
    return {"platform": platform.platform(), "cpu_model": model, "cpu_count": os.cpu_count()}


def print_table(results: list[dict]) -> None:
    header = ("organizations", "runs", "rows in all", "build s", "scores s (best)", "queries", "snapshots s")
    print()
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for size in results:
        snapshots = size.get("snapshots")
        print(
            " | ".join(
                [
                    f"{size['organizations']:,}",
                    f"{size['runs']:,}",
                    f"{sum(size['rows'].values()):,}",
                    f"{size['build_seconds']:.1f}",
                    f"{size['scores']['best_seconds']:.3f}",
                    str(size["scores"]["queries"]),
                    f"{snapshots['best_seconds']:.2f} ({snapshots['rows']} rows, {snapshots['queries']} q)"
                    if snapshots
                    else "-",
                ]
            )
        )
    full = results[-1]["scores"]
    print()
    print(
        "slowest queries of organization_scores + hub_scores at full size, each run again alone "
        f"(all {full['queries']}: {full['query_seconds_run_alone']:.3f} s):"
    )
    for query in full["slowest_queries"]:
        print(f"  {query['seconds']:.3f} s  {query['sql'][:150]}")


# The child: build one hub, time the scores ----------------------------------------------------------


def child(args) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    rows, steps = build_hub(args.organizations, args.runs)
    build_seconds = time.perf_counter() - started
    print(f"  built {sum(rows.values()):,} rows in {build_seconds:.1f} s: {steps}")
    result = {
        "organizations": args.organizations,
        "runs": args.runs,
        "rows": rows,
        "build_seconds": round(build_seconds, 2),
        "build_steps_seconds": steps,
        # Other processes on the machine slow the timings: the load when they start tells.
        "load_average_before_timing": list(os.getloadavg()),
        "scores": time_scores(args.repeats),
    }
    print(f"  scores: best {result['scores']['best_seconds']:.3f} s, {result['scores']['queries']} queries")
    if args.snapshots:
        result["snapshots"] = time_snapshots(args.repeats)
        print(f"  snapshots: best {result['snapshots']['best_seconds']:.2f} s")
    args.child.write_text(json.dumps(result, indent=2))


def time_scores(repeats: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from governance.scores import hub_scores, organization_scores, window_ending

    window = window_ending()
    seconds, parts = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        per_organization = organization_scores(window)
        between = time.perf_counter()
        hub = hub_scores(window, per_organization=per_organization)
        ended = time.perf_counter()
        seconds.append(ended - started)
        parts.append({"organization_scores": between - started, "hub_scores": ended - between})
    with CaptureQueriesContext(connection) as captured:
        hub_scores(window, per_organization=organization_scores(window))
    queries = profile_queries([q["sql"] for q in captured.captured_queries])
    best = min(range(repeats), key=lambda i: seconds[i])
    return {
        "best_seconds": round(seconds[best], 4),
        "all_seconds": [round(s, 4) for s in seconds],
        "best_parts": {name: round(value, 4) for name, value in parts[best].items()},
        "queries": len(queries),
        "query_seconds_run_alone": round(sum(q["seconds"] for q in queries), 4),
        "slowest_queries": sorted(queries, key=lambda q: -q["seconds"])[:6],
        "hub": {"E": hub.effect.to_dict(), "C": hub.capability.to_dict()},
        "organizations_with_e": sum(1 for s in per_organization.values() if s.effect.value is not None),
        "organizations_with_c": sum(1 for s in per_organization.values() if s.capability.value is not None),
    }


def profile_queries(statements: list[str]) -> list[dict]:
    """Each query run again on its own, rows fetched (SQLite does most of its work while the rows are
    read, which the captured times leave out), with its query plan."""
    from django.db import connection

    profiled = []
    with connection.cursor() as cursor:
        for sql in statements:
            started = time.perf_counter()
            cursor.execute(sql)
            rows = len(cursor.fetchall())
            seconds = time.perf_counter() - started
            plan = []
            if connection.vendor == "sqlite":
                cursor.execute("EXPLAIN QUERY PLAN " + sql)
                plan = [row[-1] for row in cursor.fetchall()]
            profiled.append({"seconds": round(seconds, 4), "rows": rows, "sql": sql, "plan": plan})
    return profiled


def time_snapshots(repeats: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from governance.services.snapshots import take_snapshots

    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        stored = take_snapshots()
        seconds.append(time.perf_counter() - started)
    with CaptureQueriesContext(connection) as captured:
        take_snapshots()
    return {
        "best_seconds": round(min(seconds), 3),
        "all_seconds": [round(s, 3) for s in seconds],
        "rows": stored,
        "queries": len(captured.captured_queries),
    }


@contextmanager
def dates_as_given():
    """bulk_create stamps auto_now/auto_now_add fields with now; the hub needs its history, so a date
    set on the object is kept (and now used only where none is)."""
    from django.apps import apps
    from django.db.models import DateField

    patched = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, DateField) and (field.auto_now or field.auto_now_add):
                field.pre_save = _keep_given_date(field, field.pre_save)
                patched.append(field)
    try:
        yield
    finally:
        for field in patched:
            del field.pre_save  # back to the class's method


def _keep_given_date(field, stamp):
    def pre_save(instance, add):
        given = getattr(instance, field.attname)
        return given if given is not None else stamp(instance, add)

    return pre_save


def build_hub(organization_count: int, run_count: int) -> tuple[dict[str, int], dict[str, float]]:
    from django.db import transaction

    with dates_as_given(), transaction.atomic():
        return HubBuilder(organization_count, run_count).build()


class HubBuilder:
    """A synthetic hub: who owns what, who uses whose, and when. Seeded, so every build is the same."""

    def __init__(self, organization_count: int, run_count: int) -> None:
        from django.utils import timezone

        self.random = random.Random(SEED)
        self.now = timezone.now()
        self.organization_count = organization_count
        self.run_count = run_count
        self.rows: dict[str, int] = {}

    def ago(self, days: float) -> datetime:
        return self.now - timedelta(days=days)

    def some_time_ago(self, days: float = DAYS_OF_RUNS) -> datetime:
        return self.ago(self.random.uniform(0, days))

    def create(self, model, objects: list) -> list:
        created = model.objects.bulk_create(objects)
        self.rows[model._meta.label] = self.rows.get(model._meta.label, 0) + len(created)
        return created

    def build(self) -> tuple[dict[str, int], dict[str, float]]:
        """Rows created per table, and seconds per step."""
        steps = (
            self.organizations_and_members,
            self.datasets,
            self.policies,
            self.models,
            self.evaluations_and_publications,
            self.pools,
            self.runs,
            self.activity,
        )
        seconds = {}
        for step in steps:
            started = time.perf_counter()
            step()
            seconds[step.__name__] = round(time.perf_counter() - started, 2)
        return self.rows, seconds

    # Who ----------------------------------------------------------------------------------------------

    def organizations_and_members(self) -> None:
        from django.contrib.auth.models import User

        from hub.models import Membership, Organization, Role

        r = self.random
        self.organizations = self.create(
            Organization,
            [
                Organization(slug=f"org-{i:05d}", name=f"Organization {i}", created_at=self.ago(400))
                for i in range(self.organization_count)
            ],
        )
        # A few organizations do most of the work: activity weights are log-normal.
        self.weight = {o.pk: r.lognormvariate(0, 1) for o in self.organizations}
        # One in ten has been dormant for months (no activity in the window).
        self.dormant = {o.pk for o in self.organizations if r.random() < 0.1}
        sizes = [r.randint(2, 12) for _ in self.organizations]
        users = self.create(
            User,
            [User(username=f"user-{i:06d}", password="!") for i in range(sum(sizes))],  # noqa: S106
        )
        self.members: dict[int, list[int]] = {}
        memberships, position = [], 0
        for organization, size in zip(self.organizations, sizes, strict=True):
            own = users[position : position + size]
            position += size
            self.members[organization.pk] = [u.pk for u in own]
            for index, user in enumerate(own):
                role = (
                    Role.OWNER
                    if index == 0
                    else r.choice([Role.ADMIN, Role.MEMBER, Role.MEMBER, Role.VIEWER])
                )
                memberships.append(Membership(organization=organization, user=user, role=role))
        # Some people also belong to a second organization.
        for user in r.sample(users, len(users) // 10):
            organization = r.choice(self.organizations)
            if user.pk not in self.members[organization.pk]:
                self.members[organization.pk].append(user.pk)
                memberships.append(Membership(organization=organization, user=user, role=Role.MEMBER))
        self.create(Membership, memberships)
        self.member_of = {}
        for organization_id, user_ids in self.members.items():
            for user_id in user_ids:
                self.member_of.setdefault(user_id, set()).add(organization_id)

    # Data ---------------------------------------------------------------------------------------------

    def datasets(self) -> None:
        from governance.models import AccessGrant
        from hub.models import Dataset, DatasetVersion, Visibility

        r = self.random
        datasets = []
        for organization in self.organizations:
            for index in range(r.randint(1, 8)):
                updated = self.some_time_ago(200)
                datasets.append(
                    Dataset(
                        organization=organization,
                        slug=f"data-{index}",
                        name=f"Data {index}",
                        license="CC-BY-4.0",
                        visibility=r.choices(
                            [Visibility.PRIVATE, Visibility.INTERNAL, Visibility.PUBLIC], [0.5, 0.25, 0.25]
                        )[0],
                        created_at=updated - timedelta(days=r.uniform(0, 60)),
                        updated_at=updated,
                        card_completeness=None if r.random() < 0.1 else round(r.uniform(0.2, 1.0), 3),
                    )
                )
        self.all_datasets = self.create(Dataset, datasets)
        # A third of the private datasets are granted to one or two other organizations.
        grants, self.granted_to = [], {}
        for dataset in self.all_datasets:
            if dataset.visibility != Visibility.PRIVATE or r.random() > 0.3:
                continue
            for grantee in r.sample(self.organizations, 2):
                if grantee.pk == dataset.organization_id:
                    continue
                revoked = r.random() < 0.1
                grants.append(
                    AccessGrant(
                        organization=grantee,
                        dataset=dataset,
                        granted_at=self.some_time_ago(200),
                        revoked_at=self.some_time_ago(30) if revoked else None,
                    )
                )
                if not revoked:
                    self.granted_to.setdefault(dataset.pk, set()).add(grantee.pk)
        self.create(AccessGrant, grants)

        versions = []
        for dataset in self.all_datasets:
            for number in range(1, r.randint(1, 3) + 1):
                train = r.randint(200, 50_000)
                versions.append(
                    DatasetVersion(
                        dataset=dataset,
                        number=number,
                        text_field="text",
                        label_field="label",
                        labels=["negative", "positive"],
                        row_counts={"train": train, "validation": train // 8, "test": train // 8},
                        created_at=dataset.created_at + timedelta(days=number),
                    )
                )
        self.dataset_versions = self.create(DatasetVersion, versions)
        owner = {d.pk: d.organization_id for d in self.all_datasets}
        visible_to_all = {d.pk for d in self.all_datasets if d.visibility != Visibility.PRIVATE}
        self.own_dataset_versions: dict[int, list] = {}
        self.open_dataset_versions = []  # public or internal: any organization may use them
        popularity = {d.pk: self.random.lognormvariate(0, 2) for d in self.all_datasets}
        self.granted_dataset_versions: dict[int, list] = {}
        for version in self.dataset_versions:
            organization_id = owner[version.dataset_id]
            version.organization_id = organization_id
            self.own_dataset_versions.setdefault(organization_id, []).append(version)
            if version.dataset_id in visible_to_all:
                self.open_dataset_versions.append(version)
            for grantee in self.granted_to.get(version.dataset_id, ()):
                self.granted_dataset_versions.setdefault(grantee, []).append(version)
        # A few shared datasets are used by everyone, most by few or nobody.
        self.open_dataset_weights = list(
            accumulate(popularity[v.dataset_id] for v in self.open_dataset_versions)
        )

    def policies(self) -> None:
        from governance.models import Policy, PolicyAttachment, PolicyVersion

        r = self.random
        policies = []
        for organization in self.organizations:
            if r.random() < 0.6:
                policies += [
                    Policy(
                        organization=organization,
                        slug=f"terms-{n}",
                        name=f"Terms {n}",
                        created_at=self.ago(300),
                    )
                    for n in range(r.randint(1, 2))
                ]
        policies = self.create(Policy, policies)
        self.create(
            PolicyVersion,
            [
                PolicyVersion(policy=p, number=1, license="CC-BY-4.0", created_at=p.created_at)
                for p in policies
            ],
        )
        self.policies_of: dict[int, list] = {}
        for policy in policies:
            self.policies_of.setdefault(policy.organization_id, []).append(policy)
        attachments = [
            PolicyAttachment(policy=r.choice(self.policies_of[d.organization_id]), dataset=d)
            for d in self.all_datasets
            if d.organization_id in self.policies_of and r.random() < 0.5
        ]
        self.create(PolicyAttachment, attachments)

    # Models ---------------------------------------------------------------------------------------------

    def models(self) -> None:
        from hub.models import RegisteredModel, Visibility

        r = self.random
        models = []
        for organization in self.organizations:
            for index in range(r.randint(1, 5)):
                models.append(
                    RegisteredModel(
                        organization=organization,
                        slug=f"model-{index}",
                        name=f"Model {index}",
                        license="Apache-2.0",
                        visibility=r.choices(
                            [Visibility.PRIVATE, Visibility.INTERNAL, Visibility.PUBLIC], [0.4, 0.3, 0.3]
                        )[0],
                        created_at=self.ago(r.uniform(150, 300)),
                    )
                )
        self.store_models(models, max_versions=4)

    def store_models(self, models: list, *, max_versions: int) -> None:
        """Store the models, attach policies to half of them, and give each 1 to ``max_versions`` versions."""
        from governance.models import PolicyAttachment
        from hub.models import ModelVersion, RegisteredModel, Visibility

        r = self.random
        self.all_models = self.create(RegisteredModel, models)
        self.create(
            PolicyAttachment,
            [
                PolicyAttachment(policy=r.choice(self.policies_of[m.organization_id]), model=m)
                for m in self.all_models
                if m.organization_id in self.policies_of and r.random() < 0.5
            ],
        )

        # Version 1 of every model is an uploaded checkpoint; later ones are fine-tunes of some base.
        uploads = self.create(
            ModelVersion, [self.model_version(m, 1, ModelVersion.Origin.UPLOAD) for m in self.all_models]
        )
        owner = {m.pk: m.organization_id for m in self.all_models}
        open_models = {m.pk for m in self.all_models if m.visibility != Visibility.PRIVATE}
        bases = [v for v in uploads if v.status in ModelVersion.FROZEN_STATUSES]
        self.open_bases = [v for v in bases if v.model_id in open_models]
        self.open_base_weights = list(accumulate(r.lognormvariate(0, 2) for _ in self.open_bases))
        self.own_bases: dict[int, list] = {}
        for version in bases:
            self.own_bases.setdefault(owner[version.model_id], []).append(version)
        fine_tunes = []
        for model in self.all_models:
            for number in range(2, r.randint(1, max_versions) + 1):
                own = self.own_bases.get(model.organization_id)
                base = r.choice(own) if own and r.random() < 0.6 else self.open_base()
                data = self.dataset_version_for(model.organization_id)
                fine_tunes.append(self.model_version(model, number, ModelVersion.Origin.RUN, base, data))
        self.versions = uploads + self.create(ModelVersion, fine_tunes)
        for version in self.versions:
            version.organization_id = owner[version.model_id]
        self.published_of: dict[int, list] = {}
        for version in self.versions:
            if version.status in ModelVersion.FROZEN_STATUSES:
                self.published_of.setdefault(version.organization_id, []).append(version)

    def model_version(self, model, number: int, origin: str, base=None, data=None):
        from hub.models import ModelVersion

        r = self.random
        status = r.choices(
            [
                ModelVersion.Status.PUBLISHED,
                ModelVersion.Status.DEPRECATED,
                ModelVersion.Status.IN_REVIEW,
                ModelVersion.Status.REJECTED,
                ModelVersion.Status.DRAFT,
            ],
            [0.45, 0.05, 0.05, 0.05, 0.40],
        )[0]
        created = self.ago(r.uniform(0, 200))
        published = created + timedelta(days=r.uniform(0.1, 10))
        touched = created + timedelta(days=r.uniform(0, 20))
        return ModelVersion(
            model=model,
            number=number,
            origin=origin,
            status=status,
            base_version=base,
            dataset_version=data,
            created_at=created,
            published_at=min(published, self.now) if status in ModelVersion.FROZEN_STATUSES else None,
            card_completeness=round(r.uniform(0.3, 1.0), 3),
            card_touched_at=min(touched, self.now),
        )

    def dataset_version_for(self, organization_id: int):
        """Two runs in three train on the organization's own data; the rest on data shared with it."""
        r = self.random
        own = self.own_dataset_versions.get(organization_id)
        if own and r.random() < 0.75:
            return r.choice(own)
        granted = self.granted_dataset_versions.get(organization_id)
        if granted and r.random() < 0.3:
            return r.choice(granted)
        return r.choices(self.open_dataset_versions, cum_weights=self.open_dataset_weights)[0]

    def open_base(self):
        return self.random.choices(self.open_bases, cum_weights=self.open_base_weights)[0]

    def evaluations_and_publications(self) -> None:
        from governance.models import EvaluationReport, PolicyCheck, PublicationRequest
        from hub.models import ModelVersion

        r = self.random
        reports, baselines = [], []
        for version in self.versions:
            if version.dataset_version is None and version.status not in ModelVersion.FROZEN_STATUSES:
                continue  # an unpublished upload nobody has evaluated
            data = version.dataset_version or r.choice(self.dataset_versions)
            at = version.created_at + timedelta(hours=r.uniform(0.5, 12))
            report = self.report(version, data, at, EvaluationReport.Trigger.RUN)
            reports.append(report)
            if version.base_version is not None and r.random() < 0.3:
                baseline = self.report(version.base_version, data, at, EvaluationReport.Trigger.BASELINE)
                baselines.append((report, baseline))
        created = self.create(EvaluationReport, reports)
        self.test_report = {report.model_version_id: report for report in created}
        for report, baseline in baselines:
            baseline.baseline_of = report
        self.create(EvaluationReport, [baseline for _, baseline in baselines])

        checks, requests = [], []
        for version in self.versions:
            if version.status == ModelVersion.Status.DRAFT:
                continue
            # Requested after the version was made and before it was published; a review is due in 7 days.
            until = version.published_at or min(self.now, version.created_at + timedelta(days=5))
            requested = version.created_at + (until - version.created_at) * r.random()
            published = version.status in ModelVersion.FROZEN_STATUSES
            review = r.random() < 0.6 if published else True
            status, decided = {
                ModelVersion.Status.PUBLISHED: (PublicationRequest.Status.PUBLISHED, version.published_at),
                ModelVersion.Status.DEPRECATED: (PublicationRequest.Status.PUBLISHED, version.published_at),
                ModelVersion.Status.IN_REVIEW: (PublicationRequest.Status.IN_REVIEW, None),
                ModelVersion.Status.REJECTED: (
                    PublicationRequest.Status.REJECTED,
                    requested + timedelta(days=r.uniform(0.5, 12)),
                ),
            }[version.status]
            outcome = PolicyCheck.Outcome.REVIEW if review else PolicyCheck.Outcome.ALLOWED
            checks.append(
                PolicyCheck(
                    context=PolicyCheck.Context.PUBLICATION,
                    outcome=outcome,
                    organization_id=version.organization_id,
                    model_version=version,
                    created_at=requested,
                )
            )
            requests.append(
                PublicationRequest(
                    model_version=version,
                    status=status,
                    report=self.test_report.get(version.pk),
                    review_required=review,
                    created_at=requested,
                    decided_at=min(decided, self.now) if decided else None,
                    review_deadline=requested + timedelta(days=7),
                )
            )
        checks = self.create(PolicyCheck, checks)
        for request, check in zip(requests, checks, strict=True):
            request.policy_check = check
        self.create(PublicationRequest, requests)

    def report(self, version, data, at: datetime, trigger: str):
        from governance.models import EvaluationReport, JobStatus
        from hub.models import Split

        r = self.random
        succeeded = r.random() < 0.95
        accuracy = round(r.uniform(0.55, 0.98), 4) if succeeded else None
        delta, epsilon, theta = (round(r.uniform(0, 0.3), 4) for _ in range(3))
        return EvaluationReport(
            model_version=version,
            dataset_version=data,
            split=Split.TEST,
            status=JobStatus.SUCCEEDED if succeeded else JobStatus.FAILED,
            trigger=trigger,
            accuracy=accuracy,
            relative_gain=round(r.uniform(0, 0.6), 4)
            if succeeded and trigger != EvaluationReport.Trigger.BASELINE
            else None,
            delta=delta,
            epsilon=epsilon,
            theta=theta,
            objective=round((delta + epsilon + theta) / 3, 4) if succeeded else None,
            report={"objective": {"weights": [1 / 3, 1 / 3, 1 / 3], "weights_source": "default"}},
            created_at=at,
            finished_at=at + timedelta(minutes=5),
        )

    # Compute and use --------------------------------------------------------------------------------------

    def pools(self) -> None:
        from training.models import ComputePool

        r = self.random
        pools = []
        for organization in self.organizations:
            if r.random() < 0.3:
                for index in range(r.randint(1, 2)):
                    pools.append(
                        ComputePool(
                            organization=organization,
                            slug=f"gpu-{index}",
                            name=f"GPU {index}",
                            queue=ComputePool.queue_for(organization.slug, f"gpu-{index}"),
                            shared_with_all=r.random() < 0.5,
                            created_at=self.ago(300),
                        )
                    )
        pools = self.create(ComputePool, pools)
        self.own_pools: dict[int, list] = {}
        for pool in pools:
            self.own_pools.setdefault(pool.organization_id, []).append(pool)
        self.shared_pools = [p for p in pools if p.shared_with_all]

    def runs(self) -> None:
        from governance.models import PolicyCheck
        from training.models import FineTuneRun

        r = self.random
        Status = FineTuneRun.Status
        organizations = self.organizations
        weights = [self.weight[o.pk] * (0.05 if o.pk in self.dormant else 1) for o in organizations]
        runs, checks = [], []
        for organization in r.choices(organizations, weights, k=self.run_count):
            created = self.some_time_ago()
            own_bases = self.published_of.get(organization.pk)
            base = r.choice(own_bases) if own_bases and r.random() < 0.7 else self.open_base()
            data = self.dataset_version_for(organization.pk)
            pool = None
            if r.random() < 0.35:
                own = self.own_pools.get(organization.pk)
                pool = r.choice(own) if own and r.random() < 0.8 else r.choice(self.shared_pools or [None])
            age = (self.now - created).total_seconds()
            if age < 3600:
                status = r.choice([Status.QUEUED, Status.RUNNING])
            else:
                status = r.choices(
                    [Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.REJECTED],
                    [0.75, 0.1, 0.07, 0.08],
                )[0]
            started = finished = None
            seconds = 0.0
            if status in (Status.RUNNING, Status.SUCCEEDED, Status.FAILED, Status.CANCELLED):
                started = created + timedelta(seconds=r.uniform(1, min(600, age / 2)))
            if status in (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED):
                seconds = r.uniform(60, min(7200, max(61.0, (self.now - started).total_seconds() - 1)))
                finished = started + timedelta(seconds=seconds)
            elif status == Status.REJECTED:
                finished = created
            checks.append(
                PolicyCheck(
                    context=PolicyCheck.Context.RUN,
                    outcome=PolicyCheck.Outcome.REFUSED
                    if status == Status.REJECTED
                    else PolicyCheck.Outcome.ALLOWED,
                    organization=organization,
                    created_at=created,
                )
            )
            runs.append(
                FineTuneRun(
                    organization=organization,
                    created_by_id=r.choice(self.members[organization.pk]),
                    base_version=base,
                    dataset_version=data,
                    queue=pool.queue if pool else "cpu",
                    pool=pool,
                    status=status,
                    accelerator_seconds=seconds,
                    created_at=created,
                    started_at=started,
                    finished_at=finished,
                )
            )
        checks = self.create(PolicyCheck, checks)
        for run, check in zip(runs, checks, strict=True):
            run.policy_check = check
        self.create(FineTuneRun, runs)

    def activity(self) -> None:
        from governance.models import AuditEvent
        from hub.models import Download

        r = self.random
        actions = [
            "dataset.update",
            "version.create",
            "run.submit",
            "card.update",
            "policy.attach",
            "alias.move",
        ]
        events = []
        for organization in self.organizations:
            members = self.members[organization.pk]
            active = r.sample(members, max(1, int(len(members) * r.uniform(0.2, 1.0))))
            oldest = 300 if organization.pk in self.dormant else DAYS_OF_RUNS
            newest = 100 if organization.pk in self.dormant else 0
            for _ in range(int(10 + 40 * self.weight[organization.pk])):
                actor = r.choice(active)
                events.append(
                    AuditEvent(
                        at=self.ago(r.uniform(newest, oldest)),
                        actor_id=actor,
                        actor_name=f"user-{actor}",
                        organization=organization,
                        organization_slug=organization.slug,
                        action=r.choice(actions),
                        target_type="dataset",
                        target_id=str(r.randint(1, 10_000)),
                        channel="web",
                    )
                )
        self.create(AuditEvent, events)

        # Downloads of datasets and models: most by the owner's people, a third by another organization's.
        users = list(self.member_of)
        owners_of_dataset = {d.pk: d.organization_id for d in self.all_datasets}
        downloads = []
        for _ in range(max(self.run_count // 4, 100)):
            if r.random() < 0.5:
                dataset, model = r.choice(self.all_datasets), None
                owner = owners_of_dataset[dataset.pk]
            else:
                dataset, model = None, r.choice(self.all_models)
                owner = model.organization_id
            user = r.choice(self.members[owner]) if r.random() < 0.67 else r.choice(users)
            downloads.append(
                Download(
                    user_id=user,
                    dataset=dataset,
                    model=model,
                    path="train.csv" if dataset else "model.safetensors",
                    cross_organization=owner not in self.member_of[user],
                    at=self.some_time_ago(),
                )
            )
        self.create(Download, downloads)


if __name__ == "__main__":
    main()
