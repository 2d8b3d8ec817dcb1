"""Every list page and list endpoint makes as many SQL queries with 30 rows as with 3: no query per row."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.models import (
    AccessRequest,
    AuditEvent,
    EvaluationReport,
    JobStatus,
    Policy,
    PolicyCheck,
    PolicyVersion,
)
from hub.models import AccessToken, Dataset, DatasetVersion, ModelVersion, RegisteredModel, Role, Visibility
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from training.models import ComputePool, FineTuneRun, RunMetric

pytestmark = pytest.mark.django_db

FEW, MANY = 3, 30

PAGES = [
    "/",
    "/datasets/",
    "/models/",
    "/runs/",
    "/runs/?organization=acme",
    "/o/acme/",
    "/o/acme/policies/",
    "/o/acme/access/",
    "/o/acme/audit/",
    "/o/acme/pools/",
    "/scores/",
    "/o/acme/scores/",
    "/o/acme/scores/D_scale/",
    "/o/acme/scores/M_multi/",
    "/search/?q=item",
]
# Endpoints whose serializers still read related rows one row at a time.
ENDPOINTS = [
    "/api/v1/model-versions/",
    "/api/v1/pools/",
    "/api/v1/evaluations/",
    "/api/v1/policies/",
    "/api/v1/organizations/",
    "/api/v1/datasets/",
    "/api/v1/dataset-versions/",
    "/api/v1/models/",
    "/api/v1/runs/",
    "/api/v1/runs/?status=succeeded&ordering=finished_at",
    "/api/v1/models/?search=item",
    "/api/v1/model-versions/?origin=run",
    "/api/v1/access-requests/",
    "/api/v1/audit-events/",
]


@pytest.fixture
def acme():
    return OrganizationFactory(slug="acme", name="Acme")


@pytest.fixture
def owner(acme):
    return MembershipFactory(organization=acme, role=Role.OWNER, user=UserFactory(username="owner")).user


def add_rows(acme, owner, start: int, stop: int) -> None:
    """Rows numbered start..stop-1 of everything the lists show: artifacts with a version, runs,
    evaluations, policies, access requests from other organizations, pools, audit events."""
    for number in range(start, stop):
        other = OrganizationFactory(slug=f"other-{number}", name=f"Item other {number}")
        MembershipFactory(organization=other, user=owner, role=Role.MEMBER)
        dataset = Dataset.objects.create(
            organization=acme, slug=f"item-data-{number}", name=f"Item data {number}", license="MIT",
            visibility=Visibility.PUBLIC, created_by=owner,
        )  # fmt: skip
        data_version = DatasetVersion.objects.create(
            dataset=dataset, number=1, text_field="text", label_field="label", labels=["a", "b"],
            row_counts={"train": 10, "validation": 5, "test": 5}, created_by=owner,
        )  # fmt: skip
        model = RegisteredModel.objects.create(
            organization=acme, slug=f"item-model-{number}", name=f"Item model {number}", license="MIT",
            visibility=Visibility.PUBLIC, created_by=owner,
        )  # fmt: skip
        version = ModelVersion.objects.create(
            model=model, number=1, origin="upload", labels=["a", "b"], created_by=owner
        )
        pool = ComputePool.objects.create(
            organization=acme, slug=f"pool-{number}", name=f"Pool {number}",
            queue=ComputePool.queue_for("acme", f"pool-{number}"), created_by=owner,
        )  # fmt: skip
        pool.shared_with.add(other)
        # A run with everything its serializer reads: a policy check, an output model and version.
        check = PolicyCheck.objects.create(
            context=PolicyCheck.Context.RUN, outcome=PolicyCheck.Outcome.ALLOWED, organization=acme,
            reasons=[{"code": "ok", "message": "allowed"}],
        )  # fmt: skip
        output = ModelVersion.objects.create(
            model=model, number=2, origin="run", labels=["a", "b"], created_by=owner,
            base_version=version, dataset_version=data_version,
        )  # fmt: skip
        run = FineTuneRun.objects.create(
            organization=acme, created_by=owner, base_version=version, dataset_version=data_version,
            status=FineTuneRun.Status.SUCCEEDED, queue=pool.queue, pool=pool, accelerator_seconds=5.0,
            policy_check=check, output_model=model, output_version=output,
        )  # fmt: skip
        RunMetric.objects.bulk_create(
            RunMetric(run=run, step=step, name="loss", value=1 / step) for step in range(1, 4)
        )
        EvaluationReport.objects.create(
            model_version=version, dataset_version=data_version, split="test", status=JobStatus.SUCCEEDED,
            accuracy=0.8, requested_by=owner,
        )  # fmt: skip
        policy = Policy.objects.create(
            organization=acme, slug=f"policy-{number}", name=f"Policy {number}", created_by=owner
        )
        terms = PolicyVersion.objects.create(policy=policy, number=1, license="MIT", created_by=owner)
        AccessRequest.objects.create(
            organization=other, dataset=dataset, policy_version=terms, intended_use=["research"],
            purpose="study", accepted_conditions=True, requested_by=owner,
        )  # fmt: skip
        AccessRequest.objects.create(
            organization=acme, model=model, policy_version=terms, intended_use=["research"],
            purpose="study", accepted_conditions=True, requested_by=owner,
        )  # fmt: skip
        AuditEvent.objects.create(
            actor=owner, actor_name="owner", organization=acme, organization_slug="acme",
            action="dataset.create", target_type="dataset", target_id=str(dataset.pk), target=str(dataset),
            after={"slug": dataset.slug}, channel="web",
        )  # fmt: skip


def query_counts(get, urls: list[str]) -> dict[str, int]:
    counts = {}
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            response = get(url)
        assert response.status_code == 200, f"{url}: {response.status_code}"
        counts[url] = len(queries)
    return counts


def assert_same_counts(get, urls: list[str], acme, owner) -> None:
    add_rows(acme, owner, 0, FEW)
    get("/")  # a first request fills the caches of a process (content types, sites)
    few = query_counts(get, urls)
    add_rows(acme, owner, FEW, MANY)
    many = query_counts(get, urls)
    grew = {url: (few[url], many[url]) for url in urls if many[url] > few[url]}
    assert not grew, f"queries (3 rows, 30 rows) that grow with the rows: {grew}"


def test_list_pages_do_not_query_per_row(client, acme, owner):
    client.force_login(owner)
    assert_same_counts(client.get, PAGES, acme, owner)


def test_list_pages_do_not_query_per_row_for_a_visitor(client, acme, owner):
    assert_same_counts(client.get, ["/datasets/", "/models/", "/o/acme/", "/search/?q=item"], acme, owner)


def test_api_lists_do_not_query_per_row(api_client_for, acme, owner):
    client = api_client_for(owner, scope=AccessToken.Scope.READ)
    assert_same_counts(client.get, ENDPOINTS, acme, owner)
