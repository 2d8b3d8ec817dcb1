"""Evaluation reports made by a real worker after real fine-tuning runs: a planted group bias shows as
a large fairness gap δ, the same data without it as a small one."""

from __future__ import annotations

import csv
import io
import random

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.models import EvaluationReport
from hub.services.models import import_checkpoint
from tests.conftest import DEMO_CSV, MINILM_DIR
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration
TIMEOUT = 420


def grouped_reviews(rows: int, *, biased: bool) -> bytes:
    """Demo sentences, half in group "a" and half in "b"; with the bias, group b's labels are coin flips.

    The flipped labels are the planted bias: no model can be right about group b more than half the
    time, while group a keeps its real labels.
    """
    with open(DEMO_CSV, encoding="utf-8", newline="") as handle:
        reader = list(csv.DictReader(handle))
    positives = [r for r in reader if r["label"] == "positive"][: rows // 2]
    negatives = [r for r in reader if r["label"] == "negative"][: rows // 2]
    noise = random.Random(7)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["text", "label", "group"], lineterminator="\n")
    writer.writeheader()
    for i, row in enumerate(r for pair in zip(positives, negatives, strict=True) for r in pair):
        group = "a" if (i // 2) % 2 == 0 else "b"
        label = row["label"]
        if biased and group == "b":
            label = noise.choice(["negative", "positive"])
        writer.writerow({"text": row["text"], "label": label, "group": group})
    return out.getvalue().encode()


def _train_and_report(api, celery_worker, base, slug: str, data: bytes) -> EvaluationReport:
    upload = api.post(
        "/api/v1/datasets/",
        {
            "organization": "acme", "slug": slug, "name": slug, "license": "CC-BY-4.0", "text_field": "text",
            "label_field": "label", "group_field": "group", "validation_fraction": "0.15",
            "test_fraction": "0.35", "file": SimpleUploadedFile(f"{slug}.csv", data, content_type="text/csv"),
        },
        format="multipart",
    )  # fmt: skip
    assert upload.status_code == 201, upload.json()
    response = api.post(
        "/api/v1/runs/",
        {
            "organization": "acme", "base_version": base.pk, "queue": celery_worker, "output_model": slug,
            "dataset_version": upload.json()["versions"][0]["id"],
            "hyperparameters": {"epochs": 2, "learning_rate": 1e-4, "batch_size": 16, "max_length": 64},
        },
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    run_id = response.json()["id"]

    def reported():
        run = api.get(f"/api/v1/runs/{run_id}/").json()
        assert run["status"] not in ("failed", "cancelled"), run["error"]
        if run["status"] != "succeeded":
            return None
        listed = api.get(f"/api/v1/evaluations/?model_version={run['output_version_id']}").json()["results"]
        done = [r for r in listed if r["status"] in ("succeeded", "failed")]
        return done[0] if done else None

    body = wait_for(reported, TIMEOUT, interval=2, describe=lambda: api.get(f"/api/v1/runs/{run_id}/").json())
    assert body["status"] == "succeeded", body["error"]
    assert body["trigger"] == "run" and body["split"] == "test"
    return EvaluationReport.objects.get(pk=body["id"])


def test_a_planted_group_bias_shows_as_a_large_fairness_gap(
    celery_worker, owner, organization, api_client_for, client
):
    api = api_client_for(owner)
    base = import_checkpoint(user=owner, organization=organization, slug="minilm", directory=MINILM_DIR,
                             license="Apache-2.0")  # fmt: skip
    biased = _train_and_report(api, celery_worker, base, "biased", grouped_reviews(800, biased=True))
    fair = _train_and_report(api, celery_worker, base, "fair", grouped_reviews(800, biased=False))

    groups = {g["group"]: g for g in biased.report["fairness"]["groups"]}
    assert set(groups) == {"a", "b"} and all(g["included"] for g in groups.values())
    # Group b's labels are coin flips: its accuracy sits near chance, group a's well above.
    assert groups["b"]["accuracy"] < 0.65 < 0.75 < groups["a"]["accuracy"], groups
    assert biased.delta > 0.2, biased.report["fairness"]
    assert biased.report["fairness"]["interval"][0] > fair.delta
    assert fair.delta < 0.12, fair.report["fairness"]
    for report in (biased, fair):
        body = report.report
        assert body["examples"] == report.examples == sum(row["support"] for row in body["task"]["per_class"])
        assert sum(map(sum, body["task"]["confusion_matrix"])) == report.examples
        assert len(body["calibration"]["bins"]) == 15 and 0 <= report.epsilon <= 1
        assert body["fairness"]["demographic_parity_difference"] is not None
        # θ: no PII in these reviews; the membership attack ran on balanced samples.
        leakage = body["leakage"]
        assert leakage["theta_data"] == 0.0 and leakage["data"]["records"] > 0
        assert leakage["model"]["members"] == leakage["model"]["nonmembers"] > 0
        assert report.theta == pytest.approx(leakage["theta_model"])
        weights = body["objective"]["weights"]
        expected = (
            weights["alpha"] * report.delta
            + weights["beta"] * report.epsilon
            + weights["gamma"] * report.theta
        )
        assert report.objective == pytest.approx(expected)
        # MiniLM has no classification head: the gain is measured against the majority class.
        assert body["comparison"]["baseline"] == "majority_class"
        assert body["comparison"]["majority_class"]["accuracy"] == pytest.approx(0.5, abs=0.05)
        assert body["training_curve"]["series"]["loss"]

    client.force_login(owner)
    page = client.get(biased.get_absolute_url())
    assert page.status_code == 200
    for anchor in (
        b'id="confusion-chart"',
        b'id="groups-chart"',
        b'id="reliability-chart"',
        b'id="loss-chart"',
    ):
        assert anchor in page.content
    assert b"report-data" in page.content
