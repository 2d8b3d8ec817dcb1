"""Submitting runs: configuration validated before anything is queued, permissions, and the run page."""

from __future__ import annotations

import pytest

from hub.models import Role
from training.models import FineTuneRun

URL = "/api/v1/runs/"


def run_payload(base_version, dataset_version, **hyperparameters):
    return {
        "organization": "acme",
        "base_version": base_version.pk,
        "dataset_version": dataset_version.pk,
        "hyperparameters": hyperparameters,
    }


def test_a_valid_run_is_queued_with_defaults_filled_in(owner, api_client_for, base_version, dataset_version):
    response = api_client_for(owner).post(
        URL, run_payload(base_version, dataset_version, epochs=2), format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "queued"
    assert body["hyperparameters"]["epochs"] == 2
    assert body["hyperparameters"]["learning_rate"] == 5e-5
    assert body["output_model"] == "acme/tiny-reviews"


@pytest.mark.parametrize(
    ("hyperparameters", "field", "fragment"),
    [
        ({"learning_rate": "fast"}, "learning_rate", "number"),
        ({"learning_rate": 5}, "learning_rate", "less than or equal to 0.01"),
        ({"epochs": 0}, "epochs", "greater than or equal to 1"),
        ({"epochs": 1.5}, "epochs", "integer"),
        ({"batch_size": 100000}, "batch_size", "less than or equal to 512"),
        ({"precision": "fp8"}, "precision", "not a valid choice"),
        ({"learning_rte": 0.001}, "learning_rte", "unknown hyperparameter"),
        ({"warmup_ratio": "nan"}, "warmup_ratio", ""),
    ],
)
def test_bad_hyperparameters_are_a_400_naming_the_field(
    owner, api_client_for, base_version, dataset_version, hyperparameters, field, fragment
):
    response = api_client_for(owner).post(
        URL, run_payload(base_version, dataset_version, **hyperparameters), format="json"
    )
    assert response.status_code == 400, response.content
    errors = response.json()["hyperparameters"]
    assert field in errors, errors
    assert fragment in " ".join(errors[field])
    assert FineTuneRun.objects.count() == 0


def test_unknown_queue_and_invisible_versions_are_refused(
    owner, api_client_for, base_version, dataset_version, member_of
):
    client = api_client_for(owner)
    bad_queue = {**run_payload(base_version, dataset_version), "queue": "tpu"}
    assert "queue" in client.post(URL, bad_queue, format="json").json()
    missing = {**run_payload(base_version, dataset_version), "base_version": 999999}
    assert "base_version" in client.post(URL, missing, format="json").json()
    assert FineTuneRun.objects.count() == 0


def test_viewers_cannot_start_runs(organization, member_of, api_client_for, base_version, dataset_version):
    viewer = member_of(organization, Role.VIEWER)
    response = api_client_for(viewer).post(URL, run_payload(base_version, dataset_version), format="json")
    assert response.status_code == 403
    assert FineTuneRun.objects.count() == 0


def test_the_run_form_shows_field_errors(client, owner, base_version, dataset_version):
    client.force_login(owner)
    response = client.post(
        "/runs/new/",
        {
            "organization": "acme",
            "base_version": base_version.pk,
            "dataset_version": dataset_version.pk,
            "queue": "cpu",
            "learning_rate": "abc",
            "epochs": "0",
        },
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "learning_rate" in form.errors and "epochs" in form.errors
    assert FineTuneRun.objects.count() == 0


def test_cancel_a_queued_run(owner, api_client_for, base_version, dataset_version):
    client = api_client_for(owner)
    run_id = client.post(URL, run_payload(base_version, dataset_version), format="json").json()["id"]
    response = client.post(f"{URL}{run_id}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    again = client.post(f"{URL}{run_id}/cancel/")
    assert again.status_code == 400
    assert "already ended" in " ".join(again.json()["status"])
