"""The run's state machine, double delivery of its task, recovery of lost workers, and compute pools."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from hub.models import ModelVersion, Role
from hub.services.models import import_checkpoint
from tests.factories import OrganizationFactory
from training import selectors, services, tasks
from training.models import FineTuneRun

S = FineTuneRun.Status
ALLOWED = {
    (S.QUEUED, S.RUNNING), (S.QUEUED, S.CANCELLED), (S.QUEUED, S.REJECTED),
    (S.RUNNING, S.SUCCEEDED), (S.RUNNING, S.FAILED), (S.RUNNING, S.CANCELLED), (S.RUNNING, S.QUEUED),
}  # fmt: skip


@pytest.fixture
def submit(owner, organization, base_version, dataset_version):
    def make(**fields):
        hyperparameters = {"epochs": 1, "max_length": 32, "batch_size": 8}
        return services.submit_run(user=owner, organization=organization, base_version=base_version,
                                   dataset_version=dataset_version, hyperparameters=hyperparameters,
                                   **fields)  # fmt: skip

    return make


@pytest.mark.parametrize("source", list(S))
@pytest.mark.parametrize("target", list(S))
def test_the_transition_table(source, target, submit):
    run = submit()
    FineTuneRun.objects.filter(pk=run.pk).update(status=source)
    run.refresh_from_db()
    if (source, target) in ALLOWED:
        services.transition(run, target, note="test")
        run.refresh_from_db()
        assert run.status == target and run.events[-1]["to"] == target
        assert (run.finished_at is not None) == (target in FineTuneRun.FINISHED)
    else:
        with pytest.raises(services.TransitionError):
            services.transition(run, target)
        run.refresh_from_db()
        assert run.status == source


def test_a_task_delivered_twice_trains_once(submit):
    run = submit()
    tasks.run_fine_tune(run.pk)
    tasks.run_fine_tune(run.pk)  # the duplicate finds the run no longer queued
    run.refresh_from_db()
    assert run.status == S.SUCCEEDED, run.error
    assert run.attempts == 1
    assert ModelVersion.objects.filter(model=run.output_model).count() == 1
    training = run.output_version.metrics["training"]
    assert training["run_id"] == run.pk and training["device"] == run.device
    assert training["accelerator_seconds"] == run.accelerator_seconds > 0
    assert selectors.metric_series(run)["validation_loss"]


def test_an_engine_failure_ends_the_run_failed_with_the_message(owner, organization, small_checkpoint,
                                                                dataset_version):  # fmt: skip
    config = json.loads((small_checkpoint / "config.json").read_text())
    config["hidden_size"] = 64  # the weights are 32 wide: loading them fails in the engine
    (small_checkpoint / "config.json").write_text(json.dumps(config))
    broken = import_checkpoint(user=owner, organization=organization, slug="broken",
                               directory=small_checkpoint, license="MIT")  # fmt: skip
    run = services.submit_run(
        user=owner, organization=organization, base_version=broken, dataset_version=dataset_version,
        hyperparameters={"max_length": 32},
    )  # fmt: skip
    tasks.run_fine_tune(run.pk)
    run.refresh_from_db()
    assert run.status == S.FAILED
    assert run.error.startswith("RuntimeError:") and "mismatched" in run.error, run.error
    assert run.output_version is None


def _running(run, heartbeat_seconds_ago: float, attempts: int = 1):
    now = timezone.now()
    FineTuneRun.objects.filter(pk=run.pk).update(
        status=S.RUNNING, attempts=attempts, started_at=now - timedelta(hours=1),
        heartbeat_at=now - timedelta(seconds=heartbeat_seconds_ago), worker="cpu1@host",
    )  # fmt: skip
    run.refresh_from_db()
    return run


def test_recovery_requeues_a_lost_run_then_fails_it(submit, settings, django_capture_on_commit_callbacks):
    settings.AGORA_RUN_HEARTBEAT_TIMEOUT, settings.AGORA_RUN_MAX_ATTEMPTS = 60, 2
    fresh, lost = submit(), submit()
    _running(fresh, heartbeat_seconds_ago=5)
    _running(lost, heartbeat_seconds_ago=120)
    with django_capture_on_commit_callbacks() as callbacks:
        recovered = services.recover_stale_runs()
    assert [(r.run_id, r.status) for r in recovered] == [(lost.pk, S.QUEUED)]
    assert len(callbacks) == 1  # the task is sent again
    lost.refresh_from_db()
    assert lost.status == S.QUEUED and "worker lost: no heartbeat since" in lost.error
    assert "attempt 1 of 2" in lost.events[-1]["note"]
    fresh.refresh_from_db()
    assert fresh.status == S.RUNNING

    _running(lost, heartbeat_seconds_ago=120, attempts=2)
    services.recover_stale_runs()
    lost.refresh_from_db()
    assert lost.status == S.FAILED
    assert "worker lost" in lost.error and "attempt 2 of 2" in lost.error
    assert lost.output_version is None


def test_recovery_of_a_run_asked_to_stop_cancels_it(submit, settings):
    run = _running(submit(), heartbeat_seconds_ago=3600)
    FineTuneRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    services.recover_stale_runs(timeout=60)
    run.refresh_from_db()
    assert run.status == S.CANCELLED


def test_a_late_worker_cannot_end_a_run_another_attempt_owns(submit):
    from training.services.execution import _finish

    run = _running(submit(), heartbeat_seconds_ago=0, attempts=1)
    FineTuneRun.objects.filter(pk=run.pk).update(attempts=2)  # re-queued and started again elsewhere
    assert not _finish(run, S.FAILED, error="late")
    run.refresh_from_db()
    assert run.status == S.RUNNING


def test_pools_create_share_and_usage(owner, organization, member_of, api_client_for, submit, base_version,
                                      dataset_version):  # fmt: skip
    other = OrganizationFactory(slug="globex")
    outsider = member_of(other, Role.OWNER)
    api = api_client_for(owner)
    created = api.post("/api/v1/pools/", {"organization": "acme", "slug": "a100", "name": "A100s"},
                       format="json")  # fmt: skip
    assert created.status_code == 201, created.json()
    pool = created.json()
    assert pool["queue"] == "pool-acme-a100"
    member = member_of(organization, Role.MEMBER)
    denied = api_client_for(member).post("/api/v1/pools/", {"organization": "acme", "slug": "b"},
                                         format="json")  # fmt: skip
    assert denied.status_code == 403

    payload = {"organization": "globex", "base_version": base_version.pk,
               "dataset_version": dataset_version.pk, "pool": "pool-acme-a100"}  # fmt: skip
    base_version.model.visibility = dataset_version.dataset.visibility = "public"
    base_version.model.save()
    dataset_version.dataset.save()
    outsider_api = api_client_for(outsider)
    refused = outsider_api.post("/api/v1/runs/", payload, format="json")
    assert refused.status_code == 400 and "pool" in refused.json(), refused.json()
    assert outsider_api.get("/api/v1/pools/").json()["count"] == 0

    shared = api.post(f"/api/v1/pools/{pool['id']}/share/", {"shared_with": ["globex"]}, format="json")
    assert shared.status_code == 200 and shared.json()["shared_with"] == ["globex"]
    accepted = outsider_api.post("/api/v1/runs/", payload, format="json")
    assert accepted.status_code == 201, accepted.json()
    assert accepted.json()["queue"] == "pool-acme-a100" and accepted.json()["pool"] == "pool-acme-a100"

    own = submit(pool=FineTuneRun.objects.get(pk=accepted.json()["id"]).pool)
    FineTuneRun.objects.filter(pk=own.pk).update(status=S.SUCCEEDED, accelerator_seconds=10)
    FineTuneRun.objects.filter(pk=accepted.json()["id"]).update(status=S.SUCCEEDED, accelerator_seconds=30)
    usage = selectors.pool_usage(own.pool)
    assert (usage.own_seconds, usage.other_seconds) == (10, 30)
    assert api.get(f"/api/v1/pools/{pool['id']}/").json()["other_seconds"] == 30


def test_pool_pages_and_the_run_form_offer_usable_pools(client, owner, organization, submit):
    client.force_login(owner)
    page = client.post("/o/acme/pools/", {"slug": "cpu-farm", "name": "CPU farm"})
    assert page.status_code == 302
    listing = client.get("/o/acme/pools/")
    assert b"pool-acme-cpu-farm" in listing.content
    assert b"pool-acme-cpu-farm" in client.get("/runs/new/").content
    with pytest.raises(ValidationError) as error:
        submit(priority=12)
    assert "priority" in error.value.message_dict
    run = submit()
    assert b"Attempts" in client.get(run.get_absolute_url()).content
