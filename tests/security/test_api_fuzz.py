"""Property-based fuzzing of the REST API against the committed OpenAPI schema (docs/openapi.yaml).

Schemathesis generates requests for every operation from the schema, valid and invalid, and sends them
to the Django application in-process (WSGI). Every response must be free of server errors and conform
to the schema: a documented status code, a documented content type and a body matching its schema.

Valid requests name the records of an organization made once for the module (datasets, models with
versions and files, a run, a pool, a policy, access requests and a grant, an evaluation, a publication
request, score snapshots), so they reach the real code paths. Each operation is its own test, run in a
savepoint that is rolled back, so what one operation writes never affects another. Every operation is
fuzzed, none excluded: runs and evaluations are only queued, and inside the test transaction the
on-commit hook that sends their Celery task never fires, so nothing waits on the broker.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.conf import settings
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import override_settings
from rest_framework.test import APIClient
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.modes import GenerationMode

from governance.models import AccessMode, AuditEvent, ScoreSnapshot
from governance.services.access import decide_access_request, request_access
from governance.services.policies import attach_policy, create_policy
from governance.services.publication import request_publication
from governance.services.snapshots import take_snapshots
from hub.models import AccessToken, ModelFile, Role, Visibility
from hub.services import blobs
from hub.services.datasets import SplitSpec, Upload, create_dataset
from hub.services.tokens import issue_token
from tests.conftest import demo_csv_bytes
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.governance.test_access import gate
from tests.governance.test_cards import add_report, make_fine_tune
from training.services import create_pool, submit_run

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
EXAMPLES_PER_OPERATION = 20

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 20240601,
        "generation": {
            "max-examples": EXAMPLES_PER_OPERATION,
            "deterministic": True,
            "database": "none",
        },
        # The coverage phase alone sends hundreds of requests to an operation with a large body; the
        # examples and the fuzzing phases keep the run within minutes.
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "checks": {
            # Server errors and conformance of every response to the schema.
            "enabled": False,
            "not_a_server_error": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_headers_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
        },
    }
)
schema = schemathesis.openapi.from_path(SCHEMA_PATH, config=CONFIG)


@dataclass
class World:
    """What the fuzzed requests point at: ids and slugs of an organization's records."""

    token: str
    read_token: str
    path_values: dict[str, dict[str, Any]]
    body_values: dict[str, Any]


@pytest.fixture
def wsgi_app():
    # The WSGI handler closes "old" connections around each request; that would end the test's
    # transaction, so (like Django's test client) keep them open while the fuzzer calls the app.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def isolated_storage():
    """The module's world keeps its blobs for every test (see ``world``), instead of a folder per test."""


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The records are made once for the module inside a transaction that is rolled back at its end;
    each test runs in a savepoint of it (the ``db`` fixture), so what a test writes is undone."""
    root = tmp_path_factory.mktemp("fuzz")
    blobs_in_root = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(root)},
    }
    storage = override_settings(
        STORAGES={**settings.STORAGES, "blobs": blobs_in_root}, AGORA_WORK_DIR=root / "work"
    )
    with django_db_blocker.unblock(), storage, transaction.atomic():
        yield make_world()
        transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def unthrottled(db):
    cache.clear()  # throttling counts live in the cache: each operation starts unthrottled


def member_of(organization, role: str, username: str):
    return MembershipFactory(organization=organization, role=role, user=UserFactory(username=username)).user


def make_world() -> World:
    organization = OrganizationFactory(slug="acme")
    owner = member_of(organization, Role.OWNER, "owner")
    data = demo_csv_bytes(60)
    dataset_version = create_dataset(
        user=owner, organization=organization, slug="reviews", name="Reviews", license="CC-BY-4.0",
        upload=Upload("reviews.csv", io.BytesIO(data), len(data)), text_field="text", label_field="label",
        split=SplitSpec(), visibility=Visibility.PRIVATE,
    )  # fmt: skip
    dataset = dataset_version.dataset
    tuned = make_fine_tune(organization, dataset_version)
    base = tuned.base_version
    report = add_report(tuned, dataset_version)
    run = submit_run(
        user=owner, organization=organization, base_version=base, dataset_version=dataset_version
    )
    pool = create_pool(user=owner, organization=organization, slug="gpus", name="GPUs")
    policy = create_policy(
        user=owner,
        organization=organization,
        slug="research",
        name="Research",
        terms={"license": "MIT", "allowed_uses": ["research"], "max_delta": 0.2},
    )
    attach_policy(user=owner, policy=policy, artifact=tuned.model)
    publication = request_publication(user=owner, version=tuned)
    viewer = member_of(organization, Role.VIEWER, "vera")

    # A public dataset of acme that needs an approved request: beta asks, gamma was granted access.
    gated = create_dataset(
        user=owner, organization=organization, slug="gated-reviews", name="Gated", license="CC-BY-4.0",
        upload=Upload("reviews.csv", io.BytesIO(data), len(data)), text_field="text", label_field="label",
        split=SplitSpec(), visibility=Visibility.PUBLIC,
    ).dataset  # fmt: skip
    gate(gated, mode=AccessMode.ON_REQUEST)
    asks = {}
    for slug in ("beta", "gamma"):
        other = OrganizationFactory(slug=slug)
        writer = member_of(other, Role.OWNER, f"{slug}-owner")
        asks[slug] = request_access(
            user=writer, organization=other, artifact=gated, intended_use=["research"],
            purpose="Benchmarks.", accept_conditions=True,
        )  # fmt: skip
    decide_access_request(user=owner, access_request=asks["gamma"], approve=True, reason="ok")
    take_snapshots()
    model_file = ModelFile.objects.create(
        version=tuned, path="config.json", blob=blobs.store_bytes(b'{"model_type": "bert"}')
    )

    by_id = {
        "access-grants": asks["gamma"].grant.pk,
        "access-requests": asks["beta"].pk,
        "audit-events": AuditEvent.objects.order_by("pk").first().pk,
        "dataset-versions": dataset_version.pk,
        "datasets": dataset.pk,
        "evaluations": report.pk,
        "files/datasets": dataset_version.files.first().pk,
        "files/models": model_file.pk,
        "model-cards": tuned.pk,
        "model-versions": tuned.pk,
        "models": tuned.model_id,
        "policies": policy.pk,
        "pools": pool.pk,
        "publications": publication.pk,
        "runs": run.pk,
        "score-snapshots": ScoreSnapshot.objects.order_by("pk").first().pk,
        "scores": tuned.pk,
    }
    path_values = {
        resource: {"id": pk, "version_id": pk, "slug": organization.slug, "username": viewer.username}
        for resource, pk in by_id.items()
    }
    path_values["organizations"] = {"slug": organization.slug, "username": viewer.username}
    body_values = {
        "organization": organization.slug,
        "base_version": base.pk,
        "dataset_version": dataset_version.pk,
        "model_version": tuned.pk,
        "dataset": gated.pk,
        "pool": pool.queue,
        "shared_with": ["beta"],
        "username": viewer.username,
    }
    write = issue_token(user=owner, name="fuzz", scope=AccessToken.Scope.WRITE).secret
    read = issue_token(user=owner, name="fuzz-read", scope=AccessToken.Scope.READ).secret
    return World(token=write, read_token=read, path_values=path_values, body_values=body_values)


def _is_positive(case, location: ParameterLocation) -> bool:
    component = case.meta.components.get(location) if case.meta is not None else None
    return component is not None and component.mode == GenerationMode.POSITIVE


def point_at_records(case, world: World) -> None:
    """Valid requests name this world's records instead of random ids, which would only find 404s."""
    segments = case.path.removeprefix("/api/v1/").strip("/").split("/")
    resource = "/".join(segments[:2]) if segments[0] == "files" else segments[0]
    if case.path_parameters and _is_positive(case, ParameterLocation.PATH):
        known = world.path_values.get(resource, {})
        case.path_parameters = {name: known.get(name, value) for name, value in case.path_parameters.items()}
    if isinstance(case.body, dict) and _is_positive(case, ParameterLocation.BODY):
        for name, value in world.body_values.items():
            if name in case.body:
                case.body[name] = value


FUZZ_SETTINGS = hypothesis.settings(
    deadline=None,
    suppress_health_check=[
        hypothesis.HealthCheck.function_scoped_fixture,
        hypothesis.HealthCheck.too_slow,
        hypothesis.HealthCheck.filter_too_much,
        hypothesis.HealthCheck.data_too_large,
    ],
)


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_conforms_to_its_schema(case, world, wsgi_app):
    point_at_records(case, world)
    case.call_and_validate(app=wsgi_app, headers={"Authorization": f"Bearer {world.token}"})


@schema.parametrize()
@hypothesis.settings(FUZZ_SETTINGS, max_examples=4)
def test_api_conforms_anonymously_and_with_a_read_token(case, world, wsgi_app):
    point_at_records(case, world)
    case.call_and_validate(app=wsgi_app)
    case.call_and_validate(app=wsgi_app, headers={"Authorization": f"Bearer {world.read_token}"})


# What the fuzzer found, pinned down ------------------------------------------------------------------


@pytest.fixture
def client(world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.token}")
    return client


def test_an_id_filter_beyond_the_database_range_is_a_400_not_a_500(client):
    response = client.get("/api/v1/score-snapshots/", {"model_version": "-2.8e+46"})
    assert response.status_code == 400 and "model_version" in response.json()
    assert client.get("/api/v1/score-snapshots/", {"model_version": str(2**70)}).status_code == 400


def test_an_unknown_api_address_is_a_json_404(client):
    for url in ("/api/v1/runs/0.5/", "/api/v1/nothing-here/", "/api/v1/organizations/acme/members/%C2%84/"):
        response = client.get(url)
        assert response.status_code == 404 and response["Content-Type"] == "application/json", url
        assert response.json() == {"detail": "Not found."}


def test_the_readme_answers_its_errors_in_json(client):
    response = client.get("/api/v1/model-cards/999999/readme/")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert "detail" in response.json()


def test_a_request_refused_as_a_whole_still_gets_an_object_naming_the_problem(client):
    response = client.get("/api/v1/pools/", {"search": "a\x00b"})
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Null characters are not allowed."]}
