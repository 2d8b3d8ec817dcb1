"""The governance workflow end to end, through the API, the admin and a real worker: a policy gates a
dataset; another organization's run is refused; access is requested and granted; the run trains and is
evaluated; publication is checked and reviewed in the admin; the version is published, downloadable and
frozen; an alias is moved; the audit log holds every step in order."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from governance.models import AuditEvent, PublicationRequest
from hub.models import REVIEWERS_GROUP, ModelVersion, Visibility
from hub.services.models import import_checkpoint
from hub.services.organizations import create_organization
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration
TIMEOUT = 300
PROSE = {
    "intended_use": "Research on review sentiment; not for decisions about people.",
    "factors": "Review source and length change accuracy; results are reported per split.",
    "ethical_considerations": "Reviews may mention people; outputs must not be used to profile authors.",
    "caveats_and_recommendations": "Tiny research model: evaluate on your own data before any use.",
}


def test_the_whole_governance_flow(
    celery_worker, owner, organization, make_dataset_version, small_checkpoint, api_client_for, client
):
    alice = api_client_for(owner)  # owner of acme, which shares the dataset
    dataset_version = make_dataset_version(rows=200, visibility=Visibility.INTERNAL)

    # 1. acme's policy: on request, research only, no medical advice; attached to its dataset.
    policy = alice.post(
        "/api/v1/policies/",
        {
            "organization": "acme", "slug": "research-only", "name": "Research only", "license": "CC-BY-4.0",
            "access_mode": "on_request", "conditions": "Research use only; cite the UCI source.",
            "prohibited_uses": ["medical-advice"], "requires_review": True,
        },
        format="json",
    )  # fmt: skip
    assert policy.status_code == 201, policy.json()
    attached = alice.post(
        f"/api/v1/policies/{policy.json()['id']}/attach/", {"dataset": "acme/reviews"}, format="json"
    )
    assert attached.status_code == 200, attached.json()

    # 2. beta, another organization, with its own base checkpoint.
    bob_user = User.objects.create_user("bob", password="x")
    beta = create_organization(owner=bob_user, slug="beta", name="Beta")
    base = import_checkpoint(
        user=bob_user, organization=beta, slug="tiny", directory=small_checkpoint, license="MIT"
    )
    bob = api_client_for(bob_user)
    run_payload = {
        "organization": "beta", "base_version": base.pk, "dataset_version": dataset_version.pk,
        "queue": celery_worker, "intended_use": ["research"],
        "hyperparameters": {"epochs": 1, "batch_size": 16, "max_length": 32, "learning_rate": 1e-3},
    }  # fmt: skip

    # 3. Its run on the gated dataset is refused, with the reason, and never queued.
    refused = bob.post("/api/v1/runs/", run_payload, format="json").json()
    assert refused["status"] == "rejected", refused
    assert [r["code"] for r in refused["policy_reasons"]] == ["missing_access"]

    # 4. beta asks, accepting the conditions; acme's owner approves with a reason.
    asked = bob.post(
        "/api/v1/access-requests/",
        {"organization": "beta", "dataset": dataset_version.dataset_id, "intended_use": ["research"],
         "purpose": "Benchmark a tiny sentiment model.", "accept_conditions": True},
        format="json",
    )  # fmt: skip
    assert asked.status_code == 201, asked.json()
    approved = alice.post(
        f"/api/v1/access-requests/{asked.json()['id']}/approve/", {"reason": "Research fits."}
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.json()

    # 5. The run is allowed now; a real worker trains it and evaluates the new version.
    queued = bob.post("/api/v1/runs/", run_payload, format="json").json()
    assert queued["status"] == "queued", queued

    def evaluated():
        run = bob.get(f"/api/v1/runs/{queued['id']}/").json()
        assert run["status"] not in ("failed", "cancelled", "rejected"), run["error"]
        if run["status"] != "succeeded":
            return None
        reports = bob.get(f"/api/v1/evaluations/?model_version={run['output_version_id']}").json()["results"]
        return run if reports and reports[0]["status"] == "succeeded" else None

    run = wait_for(
        evaluated, TIMEOUT, interval=2, describe=lambda: bob.get(f"/api/v1/runs/{queued['id']}/").json()
    )
    version_id = run["output_version_id"]

    # 6. The owners write the card's prose; publication is checked and goes to review (no policy of its own).
    assert (
        bob.put(f"/api/v1/model-cards/{version_id}/", {"sections": PROSE}, format="json").status_code == 200
    )
    publication = bob.post(
        "/api/v1/publications/", {"model_version": version_id, "intended_use": ["research"]}, format="json"
    ).json()
    assert publication["status"] == "in_review", publication
    assert all(check["passed"] for check in publication["checks"]), publication["checks"]
    assert {o["code"] for o in publication["obligations"]} >= {"attribution"}

    # 7. A reviewer approves in the admin, with a reason.
    reviewer = User.objects.create_user("rita", password="x", is_staff=True)
    # get_or_create: a transactional test empties the tables, the migration's group included.
    reviewer.groups.add(Group.objects.get_or_create(name=REVIEWERS_GROUP)[0])
    client.force_login(reviewer)
    review_page = client.get(f"/admin/governance/publicationrequest/{publication['id']}/change/")
    assert review_page.status_code == 200 and b"Record the decision" in review_page.content
    client.post(
        f"/admin/governance/publicationrequest/{publication['id']}/decide/",
        {"decision": "approve", "reason": "Checks pass; card complete."},
    )
    assert PublicationRequest.objects.get(pk=publication["id"]).status == PublicationRequest.Status.PUBLISHED

    # 8. Published: frozen, downloadable by beta, hidden from outsiders.
    version = ModelVersion.objects.get(pk=version_id)
    assert version.status == ModelVersion.Status.PUBLISHED and version.published_at
    weights = version.files.get(path="model.safetensors")
    client.force_login(bob_user)
    download = client.get(f"/files/models/{weights.pk}/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content)[:8]  # the safetensors header length
    outsider = User.objects.create_user("eve", password="x")
    client.force_login(outsider)
    assert client.get(f"/files/models/{weights.pk}/").status_code == 404
    assert (
        bob.put(f"/api/v1/model-cards/{version_id}/", {"sections": PROSE}, format="json").status_code == 400
    )

    # 9. beta's owner moves the production alias to it.
    moved = bob.post(
        f"/api/v1/models/{version.model_id}/aliases/", {"name": "production", "version": version.number}
    )
    assert moved.status_code == 200, moved.json()

    # 10. Every step is in the audit log, in order.
    steps = [
        "policy.create", "policy.attach", "run.reject", "access.request", "access.approve", "run.submit",
        "run.succeed", "card.update", "publication.request", "version.in_review", "publication.approve",
        "version.publish", "alias.move",
    ]  # fmt: skip
    logged = list(
        AuditEvent.objects.filter(action__in=steps).order_by("at", "pk").values_list("action", flat=True)
    )
    assert logged == steps, logged
    publish = AuditEvent.objects.get(action="version.publish")
    assert publish.actor_name == "rita" and publish.organization_slug == "beta" and publish.channel == "admin"
    assert publish.before == {"status": "in_review"} and publish.after["status"] == "published"
