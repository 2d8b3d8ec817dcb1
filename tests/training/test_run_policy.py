"""The policy engine's pre-check of a run: a refused run is stored rejected with every reason and never
queued; an allowed one is queued with its check kept."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from governance.models import AccessGrant, AccessMode, Policy, PolicyAttachment, PolicyCheck, PolicyVersion
from hub.models import RegisteredModel, Visibility
from hub.services.organizations import create_organization
from training import services
from training.models import FineTuneRun

pytestmark = pytest.mark.django_db
URL = "/api/v1/runs/"


def attach(dataset, **terms):
    policy = Policy.objects.create(organization=dataset.organization, slug="terms", name="Terms")
    version = PolicyVersion.objects.create(policy=policy, number=1, license=dataset.license, **terms)
    PolicyAttachment.objects.create(policy=policy, dataset=dataset)
    return version


def submit(user, organization, base_version, dataset_version, **fields):
    return services.submit_run(
        user=user,
        organization=organization,
        base_version=base_version,
        dataset_version=dataset_version,
        **fields,
    )


def test_an_allowed_run_is_queued_with_its_check_and_attribution_owed(
    owner, organization, base_version, dataset_version
):
    run = submit(owner, organization, base_version, dataset_version, intended_use=["research"])
    assert run.status == FineTuneRun.Status.QUEUED
    assert run.policy_check.outcome == PolicyCheck.Outcome.ALLOWED
    # CC-BY-4.0 data flowing into an MIT model: allowed, crediting the data in the card.
    assert "attribution" in {o["code"] for o in run.policy_check.inputs["obligations"]}
    assert run.license == "MIT" and run.output_model.license == "MIT"


def test_a_prohibited_use_rejects_the_run_with_the_reason(owner, organization, base_version, dataset_version):
    attach(dataset_version.dataset, prohibited_uses=["medical-advice"])
    run = submit(owner, organization, base_version, dataset_version, intended_use=["medical-advice"])
    assert run.status == FineTuneRun.Status.REJECTED
    assert "medical-advice" in run.error and run.finished_at
    assert run.output_model is None
    assert not RegisteredModel.objects.filter(slug="tiny-reviews").exists()
    assert [r["code"] for r in run.policy_check.reasons] == ["prohibited_use"]
    assert run.events[-1]["to"] == "rejected"


@pytest.mark.parametrize(
    ("data_license", "proposed", "status"),
    [
        ("CC-BY-SA-4.0", "MIT", FineTuneRun.Status.REJECTED),
        ("CC-BY-SA-4.0", "CC-BY-SA-4.0", FineTuneRun.Status.QUEUED),
        ("CC-BY-NC-4.0", "Apache-2.0", FineTuneRun.Status.REJECTED),
        ("CC-BY-NC-4.0", "CC-BY-NC-4.0", FineTuneRun.Status.QUEUED),
    ],
)
def test_the_licence_rule_decides_the_licence_of_the_new_model(
    owner, organization, base_version, dataset_version, data_license, proposed, status
):
    dataset = dataset_version.dataset
    dataset.license = data_license
    dataset.save()
    run = submit(owner, organization, base_version, dataset_version, license=proposed)
    assert run.status == status, run.error
    if status == FineTuneRun.Status.REJECTED:
        assert "license_conflict" in {r["code"] for r in run.policy_check.reasons}
        assert data_license in run.error
    else:
        assert run.output_model.license == proposed


def test_a_gated_dataset_of_another_organization_needs_a_grant(base_version, make_dataset_version, owner):
    dataset_version = make_dataset_version(visibility=Visibility.INTERNAL)
    attach(dataset_version.dataset, access_mode=AccessMode.ON_REQUEST)
    stranger = User.objects.create_user("bob", password="x")
    beta = create_organization(owner=stranger, slug="beta", name="Beta")
    base_version.model.visibility = Visibility.PUBLIC
    base_version.model.save()

    rejected = submit(stranger, beta, base_version, dataset_version)
    assert rejected.status == FineTuneRun.Status.REJECTED
    assert [r["code"] for r in rejected.policy_check.reasons] == ["missing_access"]

    AccessGrant.objects.create(organization=beta, dataset=dataset_version.dataset, granted_by=owner)
    allowed = submit(stranger, beta, base_version, dataset_version)
    assert allowed.status == FineTuneRun.Status.QUEUED


def test_the_api_returns_a_rejected_run_with_its_reasons(
    owner, api_client_for, base_version, dataset_version
):
    attach(dataset_version.dataset, prohibited_uses=["medical-advice"])
    payload = {"organization": "acme", "base_version": base_version.pk, "dataset_version": dataset_version.pk}
    api = api_client_for(owner)
    response = api.post(URL, {**payload, "intended_use": ["medical-advice"]}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "rejected" and body["output_model"] is None
    assert body["policy_reasons"][0]["code"] == "prohibited_use"
    unknown = api.post(URL, {**payload, "intended_use": ["mind-reading"]}, format="json")
    assert unknown.status_code == 400 and "intended_use" in unknown.json()
    bad_licence = api.post(URL, {**payload, "license": "Not-A-Licence"}, format="json")
    assert bad_licence.status_code == 400 and "license" in bad_licence.json()


def test_the_run_page_shows_the_rejection(client, owner, organization, base_version, dataset_version):
    attach(dataset_version.dataset, prohibited_uses=["production"])
    client.force_login(owner)
    response = client.post(
        "/runs/new/",
        {
            "organization": "acme", "base_version": base_version.pk, "dataset_version": dataset_version.pk,
            "queue": "cpu", "intended_use": ["production"],
        },
        follow=True,
    )  # fmt: skip
    assert response.status_code == 200
    assert b"rejected by the policy check" in response.content and b"production" in response.content
    runs_page = client.get("/runs/")
    assert runs_page.status_code == 200 and b"rejected" in runs_page.content
