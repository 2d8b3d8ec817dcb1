"""Evaluation requests are checked before anything is queued; a queued report is scored in-process here
(the worker path runs in tests/integration/test_evaluation_reports.py)."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from governance.models import EvaluationReport, JobStatus, PIIScan
from hub.models import ModelVersion, Visibility
from hub.services.datasets import SplitSpec, Upload, create_dataset, read_split
from hub.services.models import get_or_create_model, store_model_version
from hub.services.organizations import create_organization
from tests.conftest import demo_csv_bytes
from training import services
from training.engine.config import parse_config
from training.engine.finetune import Example, fine_tune

pytestmark = pytest.mark.django_db


@pytest.fixture
def grouped_dataset(owner, organization):
    data = demo_csv_bytes(200)
    return create_dataset(
        user=owner, organization=organization, slug="grouped", name="Grouped", license="CC-BY-4.0",
        upload=Upload("grouped.csv", io.BytesIO(data), len(data)), text_field="text", label_field="label",
        group_field="source", split=SplitSpec(), visibility=Visibility.PRIVATE,
    )  # fmt: skip


@pytest.fixture
def classifier_version(owner, organization, base_version, grouped_dataset, small_checkpoint, tmp_path):
    """The tiny checkpoint fine-tuned for one epoch on the grouped dataset, registered as a run's output."""

    def examples(split):
        return [Example(r["text"], r["label"]) for r in read_split(grouped_dataset, split)]

    config = parse_config({"epochs": 1, "batch_size": 16, "max_length": 32, "learning_rate": 1e-3})
    output = tmp_path / "output"
    fine_tune(small_checkpoint, examples("train"), examples("validation"), config, output, device="cpu")
    model = get_or_create_model(user=owner, organization=organization, slug="tiny-grouped", license="MIT")
    return store_model_version(
        model=model, directory=output, origin=ModelVersion.Origin.RUN, user=owner, base_version=base_version,
        dataset_version=grouped_dataset, metrics={"training": {"hyperparameters": {"max_length": 32}}},
    )  # fmt: skip


def test_a_requested_evaluation_is_scored_with_every_part_of_the_report(
    owner, classifier_version, grouped_dataset
):
    report = services.request_evaluation(
        user=owner, version=classifier_version, dataset_version=grouped_dataset, split="test"
    )
    assert report.status == JobStatus.QUEUED and report.trigger == EvaluationReport.Trigger.REQUEST

    services.execute_evaluation(report.pk)

    report.refresh_from_db()
    assert report.status == JobStatus.SUCCEEDED, report.error
    body = report.report
    test_rows = read_split(grouped_dataset, "test")
    assert report.examples == len(test_rows) == sum(map(sum, body["task"]["confusion_matrix"]))
    assert body["labels"] == ["negative", "positive"]
    predicted = [sum(column) for column in zip(*body["task"]["confusion_matrix"], strict=True)]
    per_class = {row["label"]: row for row in body["task"]["per_class"]}
    assert per_class["positive"]["support"] == sum(r["label"] == "positive" for r in test_rows)
    if predicted[1]:
        true_positive = body["task"]["confusion_matrix"][1][1]
        assert per_class["positive"]["precision"] == pytest.approx(true_positive / predicted[1])
    # 40 test rows over three sources: every group is under 30 examples, so δ is n/a and says why.
    fairness = body["fairness"]
    assert fairness["group_field"] == "source" and report.delta is None and fairness["reason"]
    assert fairness["excluded"] and not any(g["included"] for g in fairness["groups"])
    # A composite with an n/a term is n/a, and the report says which.
    assert report.objective is None and report.governance_score is None
    assert "delta" in body["objective"]["missing"]
    assert report.epsilon == body["calibration"]["ece"] and len(body["calibration"]["bins"]) == 15
    leakage = body["leakage"]
    assert leakage["theta_data"] == 0.0
    assert leakage["model"]["members"] == leakage["model"]["nonmembers"] == report.examples
    assert report.theta == pytest.approx(1 - (1 - leakage["theta_data"]) * (1 - leakage["theta_model"]))
    # The base checkpoint has no classifier head: the majority class is the baseline.
    comparison = body["comparison"]
    assert comparison["baseline"] == "majority_class" and comparison["base_model"] is None
    assert comparison["gain"] == pytest.approx(report.accuracy - comparison["majority_class"]["accuracy"])
    # The PII scan is cached on the dataset version, per split.
    scan = PIIScan.objects.get(dataset_version=grouped_dataset)
    assert scan.status == JobStatus.SUCCEEDED and scan.records == grouped_dataset.total_rows
    assert set(scan.results["splits"]) == {"train", "validation", "test"}


def test_the_base_model_is_scored_when_it_is_a_classifier_with_the_same_labels(
    owner, organization, classifier_version, grouped_dataset, tmp_path
):
    from hub.services.models import materialize_version

    directory = materialize_version(classifier_version, tmp_path / "copy")
    model = get_or_create_model(user=owner, organization=organization, slug="second", license="MIT")
    second = store_model_version(
        model=model, directory=directory, origin=ModelVersion.Origin.RUN, user=owner,
        base_version=classifier_version, dataset_version=grouped_dataset,
    )  # fmt: skip
    report = services.request_evaluation(
        user=owner, version=second, dataset_version=grouped_dataset, split="test"
    )
    services.execute_evaluation(report.pk)

    report.refresh_from_db()
    comparison = report.report["comparison"]
    baseline = EvaluationReport.objects.get(baseline_of=report)
    assert baseline.model_version == classifier_version and baseline.status == JobStatus.SUCCEEDED
    # Same weights: the base scores exactly as the version does.
    assert baseline.accuracy == report.accuracy
    assert comparison["base_model"]["accuracy"] == baseline.accuracy
    expected = (
        "base_model" if baseline.accuracy >= comparison["majority_class"]["accuracy"] else "majority_class"
    )
    assert comparison["baseline"] == expected


def test_a_version_without_labels_is_refused(owner, base_version, grouped_dataset):
    with pytest.raises(ValidationError) as error:
        services.request_evaluation(user=owner, version=base_version, dataset_version=grouped_dataset)
    assert "not a classifier" in str(error.value.message_dict["model_version"])
    assert not EvaluationReport.objects.exists()


def test_a_version_the_user_may_not_read_is_refused(classifier_version, grouped_dataset):
    outsider = User.objects.create_user("outsider", password="x")
    create_organization(owner=outsider, slug="other", name="Other")
    with pytest.raises(ValidationError) as error:
        services.request_evaluation(
            user=outsider, version=classifier_version, dataset_version=grouped_dataset
        )
    assert "may not read" in str(error.value.message_dict["model_version"])
    assert not EvaluationReport.objects.exists()


def test_a_split_without_labels_or_records_is_refused(owner, classifier_version, grouped_dataset):
    grouped_dataset.label_distribution = {**grouped_dataset.label_distribution, "test": {}}
    grouped_dataset.save()
    with pytest.raises(ValidationError) as error:
        services.request_evaluation(user=owner, version=classifier_version, dataset_version=grouped_dataset)
    assert "no labels" in str(error.value.message_dict["split"])
    grouped_dataset.row_counts = {**grouped_dataset.row_counts, "validation": 0}
    grouped_dataset.save()
    with pytest.raises(ValidationError) as error:
        services.request_evaluation(
            user=owner, version=classifier_version, dataset_version=grouped_dataset, split="validation"
        )
    assert "no validation records" in str(error.value.message_dict["split"])


def test_labels_the_model_does_not_predict_are_refused(owner, classifier_version, grouped_dataset):
    grouped_dataset.label_distribution = {**grouped_dataset.label_distribution, "test": {"neutral": 3}}
    grouped_dataset.save()
    with pytest.raises(ValidationError) as error:
        services.request_evaluation(user=owner, version=classifier_version, dataset_version=grouped_dataset)
    assert "neutral" in str(error.value.message_dict["dataset_version"])


class TestApi:
    def test_post_queues_and_get_returns_the_report(
        self, owner, api_client_for, classifier_version, grouped_dataset
    ):
        api = api_client_for(owner)
        response = api.post(
            "/api/v1/evaluations/",
            {
                "model_version": classifier_version.pk,
                "dataset_version": grouped_dataset.pk,
                "split": "validation",
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["status"] == "queued" and body["split"] == "validation"
        services.execute_evaluation(body["id"])
        detail = api.get(f"/api/v1/evaluations/{body['id']}/").json()
        assert detail["status"] == "succeeded" and detail["report"]["task"]["confusion_matrix"]
        assert detail["accuracy"] == detail["report"]["task"]["accuracy"]
        listed = api.get(f"/api/v1/evaluations/?model_version={classifier_version.pk}").json()
        assert [r["id"] for r in listed["results"]] == [body["id"]]

    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            ({"split": "test"}, "model_version"),
            ({"model_version": 999999, "split": "test"}, "model_version"),
            ({"split": "holdout"}, "split"),
        ],
    )
    def test_bad_requests_name_the_field(
        self, owner, api_client_for, classifier_version, grouped_dataset, payload, field
    ):
        api = api_client_for(owner)
        data = {"model_version": classifier_version.pk, "dataset_version": grouped_dataset.pk, **payload}
        if "model_version" not in payload and field == "model_version":
            data.pop("model_version")
        response = api.post("/api/v1/evaluations/", data, format="json")
        assert response.status_code == 400
        assert field in response.json()

    def test_a_dataset_of_another_organization_is_refused_with_a_reason(
        self, api_client_for, classifier_version, grouped_dataset
    ):
        stranger = User.objects.create_user("stranger", password="x")
        organization = create_organization(owner=stranger, slug="elsewhere", name="Elsewhere")
        data = demo_csv_bytes(60)
        theirs = create_dataset(
            user=stranger, organization=organization, slug="theirs", name="Theirs", license="CC-BY-4.0",
            upload=Upload("t.csv", io.BytesIO(data), len(data)), text_field="text", label_field="label",
            split=SplitSpec(), visibility=Visibility.PRIVATE,
        )  # fmt: skip
        owner = classifier_version.created_by
        response = api_client_for(owner).post(
            "/api/v1/evaluations/",
            {"model_version": classifier_version.pk, "dataset_version": theirs.pk},
            format="json",
        )
        assert response.status_code == 400
        assert "may not read" in response.json()["dataset_version"][0]
        # And the stranger cannot read reports on the private version either.
        response = api_client_for(stranger).get("/api/v1/evaluations/")
        assert response.json()["results"] == []


class TestPages:
    def test_the_form_queues_and_redirects_to_the_report(
        self, client, owner, classifier_version, grouped_dataset
    ):
        client.force_login(owner)
        assert client.get("/evaluations/new/").status_code == 200
        response = client.post(
            "/evaluations/new/",
            {"model_version": classifier_version.pk, "dataset_version": grouped_dataset.pk, "split": "test"},
        )
        report = EvaluationReport.objects.get()
        assert response.status_code == 302 and response.url == report.get_absolute_url()
        page = client.get(report.get_absolute_url())
        assert page.status_code == 200 and b"report-live" in page.content
        services.execute_evaluation(report.pk)
        page = client.get(report.get_absolute_url())
        assert page.status_code == 200
        assert b'id="confusion-chart"' in page.content and b"n/a" in page.content

    def test_the_form_shows_the_reason_for_a_refusal(
        self, client, owner, classifier_version, grouped_dataset
    ):
        grouped_dataset.label_distribution = {**grouped_dataset.label_distribution, "test": {}}
        grouped_dataset.save()
        client.force_login(owner)
        response = client.post(
            "/evaluations/new/",
            {"model_version": classifier_version.pk, "dataset_version": grouped_dataset.pk, "split": "test"},
        )
        assert response.status_code == 200 and b"no labels" in response.content
        assert not EvaluationReport.objects.exists()

    def test_a_report_on_a_hidden_version_is_not_found(self, client, classifier_version, grouped_dataset):
        report = EvaluationReport.objects.create(
            model_version=classifier_version, dataset_version=grouped_dataset, split="test"
        )
        client.force_login(User.objects.create_user("nobody", password="x"))
        assert client.get(report.get_absolute_url()).status_code == 404


def test_a_report_whose_worker_was_lost_is_failed_by_recovery(classifier_version, grouped_dataset, settings):
    from datetime import timedelta

    from django.utils import timezone

    started = timezone.now() - timedelta(seconds=settings.AGORA_EVALUATION_TIMEOUT + 60)
    lost = EvaluationReport.objects.create(
        model_version=classifier_version, dataset_version=grouped_dataset, split="test",
        status=JobStatus.RUNNING, started_at=started,
    )  # fmt: skip
    fresh = EvaluationReport.objects.create(
        model_version=classifier_version, dataset_version=grouped_dataset, split="test",
        status=JobStatus.RUNNING, started_at=timezone.now(),
    )  # fmt: skip
    services.recover_stale_runs()
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert lost.status == JobStatus.FAILED and "worker was lost" in lost.error
    assert fresh.status == JobStatus.RUNNING


def test_an_evaluation_the_broker_never_got_is_sent_again_by_recovery(
    owner, classifier_version, grouped_dataset, monkeypatch, django_capture_on_commit_callbacks, settings
):
    from datetime import timedelta

    from django.utils import timezone
    from kombu.exceptions import OperationalError

    from training.tasks import evaluate_version

    sent = []

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(evaluate_version, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        report = services.request_evaluation(
            user=owner, version=classifier_version, dataset_version=grouped_dataset, split="test"
        )
    report.refresh_from_db()
    assert report.status == JobStatus.QUEUED and report.sent_at is None  # stored, not lost

    monkeypatch.setattr(evaluate_version, "apply_async", lambda args, queue: sent.append((args, queue)))
    services.recover_stale_runs()
    assert sent == []  # created a moment ago: its own send may still be on the way
    later = timezone.now() + timedelta(minutes=2)
    services.recover_stale_runs(now=later)
    report.refresh_from_db()
    assert sent == [([report.pk], report.queue)] and report.sent_at is not None
    # Sent: not again until the queue timeout passes without a worker taking it.
    services.recover_stale_runs(now=later)
    assert len(sent) == 1
    services.recover_stale_runs(now=later + timedelta(seconds=settings.AGORA_RUN_QUEUE_TIMEOUT + 60))
    assert len(sent) == 2
