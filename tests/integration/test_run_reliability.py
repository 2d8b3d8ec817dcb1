"""Cancel, crash and failure through real worker processes; runs on another organization's pool."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from hub.models import ModelVersion, Role, Visibility
from hub.services.models import import_checkpoint
from tests.factories import OrganizationFactory
from tests.integration.conftest import wait_for
from training import services
from training.models import FineTuneRun

pytestmark = pytest.mark.integration
TIMEOUT = 180
# Long enough on two cores to be caught mid-run, short enough for a second attempt to finish.
LONG = {"epochs": 50, "max_length": 32, "batch_size": 8}


def _status(run_id: int) -> FineTuneRun:
    return FineTuneRun.objects.get(pk=run_id)


def _wait_status(run_id: int, statuses, timeout=TIMEOUT) -> FineTuneRun:
    wait_for(lambda: _status(run_id).status in statuses, timeout, 0.5, lambda: vars(_status(run_id)))
    return _status(run_id)


def _wait_stepping(run_id: int) -> None:
    wait_for(lambda: _status(run_id).step > 0, TIMEOUT, 0.5, lambda: vars(_status(run_id)))


@pytest.fixture
def reviews(make_dataset_version):
    return make_dataset_version(rows=300, visibility=Visibility.PUBLIC)


def test_cancel_mid_run_through_the_api(celery_worker, owner, api_client_for, base_version, reviews):
    api = api_client_for(owner)
    created = api.post("/api/v1/runs/", {"organization": "acme", "base_version": base_version.pk,
                                         "dataset_version": reviews.pk, "queue": celery_worker,
                                         "hyperparameters": LONG}, format="json")  # fmt: skip
    assert created.status_code == 201, created.json()
    run_id = created.json()["id"]
    _wait_stepping(run_id)
    assert api.post(f"/api/v1/runs/{run_id}/cancel/").status_code == 200
    run = _wait_status(run_id, {"cancelled", "succeeded", "failed"}, 60)
    assert run.status == "cancelled", run.error
    assert 0 < run.step < run.total_steps
    assert run.output_version is None
    assert not ModelVersion.objects.filter(model=run.output_model).exists()


@pytest.mark.parametrize("max_attempts", [2, 1])
def test_a_killed_worker_is_recovered(start_worker, owner, organization, base_version, reviews, max_attempts):
    queue = f"test-{uuid.uuid4().hex[:8]}"
    first = start_worker(queue)
    run = services.submit_run(user=owner, organization=organization, base_version=base_version,
                              dataset_version=reviews, queue=queue,
                              hyperparameters={**LONG, "epochs": 4})  # fmt: skip
    _wait_stepping(run.pk)
    first.kill()
    time.sleep(3)
    assert _status(run.pk).status == "running"  # nobody is left to say otherwise

    recovered = services.recover_stale_runs(timeout=2, max_attempts=max_attempts)
    assert [r.run_id for r in recovered] == [run.pk]
    run.refresh_from_db()
    assert run.attempts == 1
    if max_attempts == 1:
        assert run.status == "failed"
        assert "worker lost: no heartbeat since" in run.error and "attempt 1 of 1" in run.error
        assert not ModelVersion.objects.filter(model=run.output_model).exists()
        return
    assert run.status == "queued" and "worker lost" in run.events[-1]["note"]
    start_worker(queue)  # a fresh worker picks the re-sent task up
    run = _wait_status(run.pk, {"succeeded", "failed", "cancelled"})
    assert run.status == "succeeded", run.error
    assert run.attempts == 2 and run.error == ""
    assert ModelVersion.objects.filter(model=run.output_model).count() == 1


def test_an_engine_failure_is_reported(celery_worker, owner, organization, small_checkpoint, reviews,
                                       api_client_for):  # fmt: skip
    config = json.loads((small_checkpoint / "config.json").read_text())
    config["hidden_size"] = 64  # does not match the stored weights
    (small_checkpoint / "config.json").write_text(json.dumps(config))
    broken = import_checkpoint(user=owner, organization=organization, slug="broken",
                               directory=small_checkpoint, license="MIT")  # fmt: skip
    api = api_client_for(owner)
    created = api.post("/api/v1/runs/", {"organization": "acme", "base_version": broken.pk,
                                         "dataset_version": reviews.pk, "queue": celery_worker},
                       format="json")  # fmt: skip
    run = _wait_status(created.json()["id"], {"succeeded", "failed", "cancelled"})
    assert run.status == "failed"
    body = api.get(f"/api/v1/runs/{run.pk}/").json()
    assert body["error"].startswith("RuntimeError:") and "mismatched" in body["error"]
    out_of_range = api.post("/api/v1/runs/", {"organization": "acme", "base_version": broken.pk,
                                              "dataset_version": reviews.pk,
                                              "hyperparameters": {"epochs": 0}}, format="json")  # fmt: skip
    assert out_of_range.status_code == 400 and "epochs" in out_of_range.json()["hyperparameters"]


def test_a_run_on_another_organizations_shared_pool(start_worker, owner, organization, member_of,
                                                    api_client_for, base_version, reviews):  # fmt: skip
    base_version.model.visibility = Visibility.PUBLIC
    base_version.model.save()
    globex = OrganizationFactory(slug="globex")
    guest = member_of(globex, Role.OWNER)
    api = api_client_for(owner)
    pool = api.post("/api/v1/pools/", {"organization": "acme", "slug": f"p{uuid.uuid4().hex[:6]}"},
                    format="json").json()  # fmt: skip
    guest_api = api_client_for(guest)
    payload = {
        "organization": "globex",
        "base_version": base_version.pk,
        "dataset_version": reviews.pk,
        "pool": pool["queue"],
        "hyperparameters": {"max_length": 32, "max_train_examples": 64},
    }
    assert "pool" in guest_api.post("/api/v1/runs/", payload, format="json").json()
    api.post(f"/api/v1/pools/{pool['id']}/share/", {"shared_with": ["globex"]}, format="json")
    start_worker(pool["queue"])
    created = guest_api.post("/api/v1/runs/", payload, format="json")
    assert created.status_code == 201, created.json()
    run = _wait_status(created.json()["id"], {"succeeded", "failed", "cancelled"})
    assert run.status == "succeeded", run.error
    usage = api.get(f"/api/v1/pools/{pool['id']}/").json()
    assert usage["other_seconds"] == pytest.approx(run.accelerator_seconds) and usage["other_seconds"] > 0
    assert usage["own_seconds"] == 0
