"""The thin slice, all real: a dataset uploaded through the API, the MiniLM checkpoint, a run submitted
through the API and one from the web page, trained by a separate Celery worker process on the CPU."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from safetensors import safe_open

from hub.models import ModelVersion
from hub.services import blobs
from hub.services.models import import_checkpoint
from tests.conftest import MINILM_DIR, demo_csv_bytes
from tests.integration.conftest import wait_for
from training.models import FineTuneRun, RunMetric

pytestmark = pytest.mark.integration
RUN_TIMEOUT = 300


def test_a_run_submitted_through_the_api_trains_on_a_real_worker(
    celery_worker, owner, organization, api_client_for, client
):
    api = api_client_for(owner)
    base = import_checkpoint(user=owner, organization=organization, slug="minilm", directory=MINILM_DIR,
                             license="Apache-2.0")  # fmt: skip
    upload = api.post(
        "/api/v1/datasets/",
        {
            "organization": "acme", "slug": "reviews", "name": "Reviews", "license": "CC-BY-4.0",
            "text_field": "text", "label_field": "label", "group_field": "source",
            "validation_fraction": "0.2", "test_fraction": "0.1",
            "file": SimpleUploadedFile("reviews.csv", demo_csv_bytes(400), content_type="text/csv"),
        },
        format="multipart",
    )  # fmt: skip
    assert upload.status_code == 201, upload.json()
    dataset_version_id = upload.json()["versions"][0]["id"]

    response = api.post(
        "/api/v1/runs/",
        {
            "organization": "acme",
            "base_version": base.pk,
            "dataset_version": dataset_version_id,
            "queue": celery_worker,
            "hyperparameters": {"epochs": 2, "learning_rate": 1e-4, "batch_size": 16, "max_length": 64},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    run_url = f"/api/v1/runs/{response.json()['id']}/"

    def finished():
        body = api.get(run_url).json()
        return body if body["status"] in ("succeeded", "failed", "cancelled") else None

    body = wait_for(finished, RUN_TIMEOUT, describe=lambda: api.get(run_url).json())
    assert body["status"] == "succeeded", body["error"]
    assert body["progress"] == 1.0 and body["step"] == body["total_steps"] > 0
    assert body["device"].startswith("cpu")
    # 280 training sentences, 2 epochs: MiniLM's features separate sentiment well beyond chance.
    assert body["metrics"]["accuracy"] > 0.7, body["metrics"]
    assert RunMetric.objects.filter(run_id=body["id"], name="loss").exists()
    # One validation point per epoch, drawn on the run page while it trains.
    assert RunMetric.objects.filter(run_id=body["id"], name="validation_accuracy").count() == 2

    version = api.get(f"/api/v1/model-versions/{body['output_version_id']}/").json()
    assert version["origin"] == "run"
    assert version["model"] == "acme/minilm-reviews"
    assert version["base_version_id"] == base.pk
    assert version["dataset_version_id"] == dataset_version_id
    assert version["labels"] == ["negative", "positive"]
    assert version["metrics"]["validation"]["accuracy"] == body["metrics"]["accuracy"]
    weights = next(f for f in version["files"] if f["path"] == "model.safetensors")
    stored = ModelVersion.objects.get(pk=version["id"]).files.get(path="model.safetensors").blob
    path = blobs.blob_storage().path(stored.storage_key)
    with safe_open(path, "np") as handle:
        assert any(key.startswith("classifier") for key in handle.keys())
    assert weights["sha256"] == stored.sha256

    # The new version on the dashboard, on its page, and in the admin.
    client.force_login(owner)
    assert b"minilm-reviews" in client.get("/").content
    assert client.get(f"/o/acme/models/minilm-reviews/v{version['number']}/").status_code == 200
    owner.is_staff = owner.is_superuser = True
    owner.save()
    client.force_login(owner)
    admin_page = client.get("/admin/hub/modelversion/")
    assert admin_page.status_code == 200
    assert b"acme/minilm-reviews@v1" in admin_page.content

    # A second run, a LoRA fine-tune started from the web page's form, goes through the same worker.
    page = client.post(
        "/runs/new/",
        {
            "organization": "acme", "base_version": base.pk, "dataset_version": dataset_version_id,
            "queue": celery_worker, "epochs": 1, "max_train_examples": 64, "max_length": 32,
            "output_model": "minilm-reviews", "method": "lora", "lora_rank": 4, "learning_rate": 5e-4,
        },
    )  # fmt: skip
    assert page.status_code == 302, page.context["form"].errors if page.context else page
    run = FineTuneRun.objects.latest("created_at")
    wait_for(
        lambda: FineTuneRun.objects.filter(pk=run.pk, status__in=FineTuneRun.FINISHED).exists(),
        RUN_TIMEOUT,
        describe=lambda: FineTuneRun.objects.get(pk=run.pk).status,
    )
    run.refresh_from_db()
    assert run.status == FineTuneRun.Status.SUCCEEDED, run.error
    lora_version = run.output_version
    assert lora_version.number == 2
    paths = set(lora_version.files.values_list("path", flat=True))
    assert {"model.safetensors", "adapter/adapter_model.safetensors", "adapter/adapter_config.json"} <= paths
    # Merged weights: the same parameter count as the full fine-tune; the adapter is not counted again.
    assert lora_version.num_parameters == ModelVersion.objects.get(pk=version["id"]).num_parameters
    training = lora_version.metrics["training"]
    assert (
        training["method"] == "lora" and training["trainable_parameters"] < lora_version.num_parameters / 10
    )
    assert client.get(run.get_absolute_url()).status_code == 200
    assert f"run {run.pk}".encode() in client.get(lora_version.get_absolute_url()).content
