"""Model cards: the README's Hugging Face front matter, the nine sections, completeness, the pages."""

from __future__ import annotations

import copy

import pytest
import yaml
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from governance import cards
from governance.models import EvaluationReport, JobStatus, ModelCard
from governance.selectors import headline_evaluation
from governance.services import update_model_card
from hub.datasheets import MAX_SECTION_CHARS
from hub.models import DatasetVersion, ModelVersion, RegisteredModel, Role, Visibility
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

PROSE = "Classifies the sentiment of English product reviews for triage by support staff."
OWNER_PROSE = {
    "intended_use": PROSE,
    "factors": "Review source (shop, film site) and review length affect accuracy.",
    "ethical_considerations": "Reviews may name people; the model must not be used to profile authors.",
    "caveats_and_recommendations": "Not evaluated on sarcasm or on languages other than English.",
}

REPORT = {
    "labels": ["negative", "positive"],
    "examples": 600,
    "positive_label": "positive",
    "model_version": "acme/sentiment@v2",
    "dataset_version": "acme/reviews@v1",
    "split": "test",
    "task": {
        "accuracy": 0.92,
        "macro_f1": 0.919,
        "per_class": [
            {"label": "negative", "precision": 0.9, "recall": 0.93, "f1": 0.915, "support": 300},
            {"label": "positive", "precision": 0.93, "recall": 0.91, "f1": 0.92, "support": 300},
        ],
        "confusion_matrix": [[280, 20], [28, 272]],
    },
    "fairness": {
        "group_field": "source",
        "delta": 0.05,
        "interval": [0.01, 0.09],
        "groups": [
            {"group": "amazon", "examples": 200, "accuracy": 0.93, "interval": [0.9, 0.96], "included": True},
            {"group": "imdb", "examples": 380, "accuracy": 0.88, "interval": [0.85, 0.91], "included": True},
            {"group": "yelp", "examples": 20, "accuracy": 0.95, "interval": None, "included": False},
        ],
        "excluded": ["yelp"],
        "missing_group": 0,
        "min_group_size": 30,
        "demographic_parity_difference": 0.03,
        "equalized_odds_difference": 0.06,
        "positive_label": "positive",
        "n_bootstrap": 1000,
        "reason": "",
    },
    "calibration": {"ece": 0.04, "brier": 0.12, "brier_positive": 0.06, "n_bins": 15, "bins": []},
    "leakage": {
        "theta": 0.02,
        "theta_data": 0.0,
        "theta_model": 0.02,
        "reason": "",
        "data": None,
        "model": None,
    },
    "objective": {
        "value": 0.03667,
        "governance_score": 0.96333,
        "weights": {"alpha": 0.333, "beta": 0.333, "gamma": 0.333},
        "weights_source": "default",
        "terms": {"delta": 0.05, "epsilon": 0.04, "theta": 0.02},
        "missing": [],
    },
    "comparison": {
        "baseline": "base_model",
        "baseline_accuracy": 0.6,
        "base_model": {"version": "acme/minilm@v1", "accuracy": 0.6, "macro_f1": 0.6, "report_id": 3},
        "majority_class": {"label": "positive", "accuracy": 0.5},
        "gain": 0.32,
        "relative_gain": 0.8,
    },
    "training_curve": None,
}


def make_base(organization) -> ModelVersion:
    model = RegisteredModel.objects.create(organization=organization, slug="minilm", name="MiniLM",
                                           license="Apache-2.0", visibility=Visibility.PUBLIC)  # fmt: skip
    return ModelVersion.objects.create(model=model, number=1, origin=ModelVersion.Origin.UPLOAD,
                                       architecture="BertModel", num_parameters=22_713_216)  # fmt: skip


def make_fine_tune(organization, dataset_version: DatasetVersion, visibility=Visibility.PRIVATE, **fields):
    """acme/sentiment v2, fine-tuned from acme/minilm v1 on the dataset version."""
    model = RegisteredModel.objects.create(organization=organization, slug="sentiment", name="Sentiment",
                                           license="MIT", visibility=visibility)  # fmt: skip
    values = {
        "origin": ModelVersion.Origin.RUN,
        "base_version": make_base(organization),
        "dataset_version": dataset_version,
        "architecture": "BertForSequenceClassification",
        "num_parameters": 22_714_000,
        "labels": ["negative", "positive"],
        "metrics": {
            "validation": {"accuracy": 0.9, "macro_f1": 0.89, "loss": 0.31},
            "training": {
                "run_id": 7,
                "device": "cpu",
                "precision": "fp32",
                "steps": 120,
                "train_examples": 480,
                "hyperparameters": {"epochs": 2, "learning_rate": 5e-5},
                "method": "full",
            },
        },
        "library_versions": {"torch": "2.13.0", "transformers": "4.57.0"},
        **fields,
    }
    return ModelVersion.objects.create(model=model, number=2, **values)


def add_report(version, dataset_version, split="test", status=JobStatus.SUCCEEDED, accuracy=0.92, **fields):
    report = copy.deepcopy(REPORT)
    report["split"] = split
    return EvaluationReport.objects.create(
        model_version=version, dataset_version=dataset_version, split=split, status=status, examples=600,
        accuracy=accuracy, macro_f1=0.919, delta=0.05, epsilon=0.04, theta=0.02, objective=0.03667,
        report=report if status == JobStatus.SUCCEEDED else {}, finished_at=timezone.now(), **fields,
    )  # fmt: skip


def parse_readme(readme: str) -> tuple[dict, str]:
    assert readme.startswith("---\n")
    header, body = readme[4:].split("\n---\n", 1)
    return yaml.safe_load(header), body


@pytest.fixture
def fine_tune(organization, dataset_version):
    return make_fine_tune(organization, dataset_version)


def card_url(version: ModelVersion, suffix: str = "") -> str:
    model = version.model
    return f"/o/{model.organization.slug}/models/{model.slug}/v{version.number}/card/{suffix}"


# The README and its front matter ---------------------------------------------------------------------


def test_the_front_matter_is_hugging_face_metadata_from_the_records(fine_tune, dataset_version, owner):
    add_report(fine_tune, dataset_version)
    metadata, body = parse_readme(cards.card_of(fine_tune, owner).readme)
    assert metadata["license"] == "mit"
    assert metadata["base_model"] == "acme/minilm"
    assert metadata["datasets"] == ["acme/reviews"]
    assert metadata["library_name"] == "transformers"
    assert metadata["pipeline_tag"] == "text-classification"
    assert metadata["metrics"] == ["accuracy", "f1"]
    assert "agora" in metadata["tags"] and "fine-tuned" in metadata["tags"]
    assert metadata["model-index"] == [{
        "name": "acme/sentiment",
        "results": [{
            "task": {"type": "text-classification", "name": "Text Classification"},
            "dataset": {"name": "Reviews", "type": "acme/reviews", "split": "test", "revision": "v1"},
            "metrics": [
                {"type": "accuracy", "value": 0.92, "name": "Accuracy"},
                {"type": "f1", "value": 0.919, "name": "Macro F1", "args": {"average": "macro"}},
            ],
        }],
    }]  # fmt: skip
    titles = [line[3:] for line in body.splitlines() if line.startswith("## ")]
    assert titles == [section.title for section in cards.SECTIONS] + ["Card checklist"]


def test_one_model_index_result_per_evaluated_split_from_succeeded_reports(fine_tune, dataset_version, owner):
    add_report(fine_tune, dataset_version, accuracy=0.81)  # older run of the same split
    add_report(fine_tune, dataset_version, accuracy=0.92)
    add_report(fine_tune, dataset_version, split="validation", accuracy=0.9)
    add_report(fine_tune, dataset_version, status=JobStatus.FAILED, accuracy=None)
    metadata, _ = parse_readme(cards.card_of(fine_tune, owner).readme)
    results = metadata["model-index"][0]["results"]
    assert [(r["dataset"]["split"], r["metrics"][0]["value"]) for r in results] == [
        ("validation", 0.9),
        ("test", 0.92),
    ]


def test_an_upload_without_evaluations_has_no_base_model_datasets_or_model_index(organization, owner):
    upload = make_base(organization)
    metadata, body = parse_readme(cards.card_of(upload, owner).readme)
    assert metadata["license"] == "apache-2.0"
    assert "base_model" not in metadata and "datasets" not in metadata and "model-index" not in metadata
    assert "_Not written yet._" in body


@pytest.mark.parametrize(
    ("license", "expected"),
    [
        ("MIT", {"license": "mit"}),
        ("apache-2.0", {"license": "apache-2.0"}),
        ("CC-BY-4.0", {"license": "cc-by-4.0"}),
        ("GPL-3.0-only", {"license": "gpl-3.0"}),
        ("ODbL-1.0", {"license": "odbl"}),
        ("MIT-0", {"license": "other", "license_name": "mit-0"}),
        ("LicenseRef-Acme-EULA", {"license": "other", "license_name": "licenseref-acme-eula"}),
        ("Made-Up", {"license": "other", "license_name": "made-up"}),
        ("Our Licence v1.1", {"license": "other", "license_name": "our-licence-v1.1"}),
    ],
)
def test_licences_use_hugging_face_identifiers(license, expected):
    assert cards.hf_license(license) == expected


def test_the_generated_sections_come_from_the_records(fine_tune, dataset_version, owner):
    add_report(fine_tune, dataset_version)
    update_model_card(owner, fine_tune, {"training_data": "Reviews collected in 2024 from three shops."})
    card = cards.card_of(fine_tune, owner)
    generated = card.generated
    assert set(generated) == {"model_details", "metrics", "evaluation_data", "training_data",
                              "quantitative_analyses"}  # fmt: skip
    assert "BertForSequenceClassification" in generated["model_details"]
    assert "22,714,000" in generated["model_details"] and "learning_rate=5e-05" in generated["model_details"]
    assert "acme/minilm@v1" in generated["model_details"]
    assert "acme/reviews@v1" in generated["metrics"]
    assert "0.9200" in generated["metrics"] and "δ fairness gap" in generated["metrics"]
    quantitative = generated["quantitative_analyses"]
    assert "| negative | 0.9000 | 0.9300 | 0.9150 | 300 |" in quantitative
    assert "| imdb | 380 | 0.8800 | [0.850, 0.910] | yes |" in quantitative
    assert "no (under 30 examples)" in quantitative
    assert "0.0500 (95% interval [0.010, 0.090])" in quantitative
    assert "Base model acme/minilm@v1:** 0.6000" in quantitative
    training = generated["training_data"]
    assert f"train {dataset_version.row_counts['train']:,}" in training and "Label distribution" in training
    # The owners' text comes before the generated content of the same section.
    readme = card.readme
    section = readme[readme.index("## Training data") : readme.index("## Quantitative analyses")]
    assert section.index("Reviews collected in 2024") < section.index("Dataset version")


def test_the_metrics_section_falls_back_to_the_runs_validation_metrics(fine_tune, owner):
    card = cards.card_of(fine_tune, owner)
    assert "no evaluation report yet" in card.generated["metrics"]
    assert "| loss | 0.3100 |" in card.generated["metrics"]


# Completeness ----------------------------------------------------------------------------------------


def done(card) -> dict[str, bool]:
    return {item.key: item.done for item in card.checklist}


def test_completeness_rises_as_owners_fill_the_prose_sections(fine_tune, dataset_version, owner):
    add_report(fine_tune, dataset_version)
    before = cards.card_of(fine_tune, owner)
    assert before.completeness.required == 13
    assert before.completeness.filled == 9  # five generated sections and the four machine checks
    assert [item.key for item in before.completeness.missing] == list(OWNER_PROSE)

    update_model_card(owner, fine_tune, {"intended_use": "TBD", "factors": "Short text"})
    assert cards.card_of(fine_tune, owner).completeness.filled == 9  # a placeholder and 10 characters
    update_model_card(owner, fine_tune, {"intended_use": PROSE, "factors": "Short text"})
    assert cards.card_of(fine_tune, owner).completeness.filled == 10
    update_model_card(owner, fine_tune, OWNER_PROSE)
    full = cards.card_of(fine_tune, owner)
    assert (full.completeness.filled, full.completeness.score, full.completeness.missing) == (13, 1.0, [])
    assert cards.completeness_of(fine_tune).percent == 100
    assert "**Card completeness: 100%** (13 of 13 items)." in full.readme


def test_an_upload_counts_base_model_as_not_applicable_but_needs_data_and_evaluations(organization, owner):
    upload = make_base(organization)
    card = cards.card_of(upload, owner)
    assert done(card) == {
        "model_details": True, "intended_use": False, "factors": False, "metrics": False,
        "evaluation_data": False, "training_data": False, "quantitative_analyses": False,
        "ethical_considerations": False, "caveats_and_recommendations": False,
        "license": True, "base_model": True, "datasets": False, "evaluation_results": False,
    }  # fmt: skip
    base_model_item = next(item for item in card.checklist if item.key == "base_model")
    assert not base_model_item.applicable
    assert card.completeness.filled == 3


def test_a_fine_tune_without_its_base_or_with_a_bad_licence_misses_those_checks(
    organization, dataset_version
):
    version = make_fine_tune(
        organization, dataset_version, base_version=None, architecture="", num_parameters=None
    )
    version.model.license = "Proprietary"
    items = done(cards.build_card(version, {}, []))
    assert not items["base_model"] and not items["license"] and not items["model_details"]
    assert items["datasets"] and items["training_data"] and items["metrics"]  # the run's validation metrics
    assert cards.hf_license("Proprietary") == {"license": "other", "license_name": "proprietary"}


def test_owner_prose_fills_a_generated_section_the_records_leave_empty(organization, owner):
    upload = make_base(organization)
    text = "Pretrained by its authors on one billion sentence pairs from the web."
    update_model_card(owner, upload, {"training_data": text})
    card = cards.card_of(upload, owner)
    assert done(card)["training_data"] and not done(card)["datasets"]


# Headline evaluation ----------------------------------------------------------------------------------


def test_the_headline_prefers_the_test_split_of_the_training_dataset(
    fine_tune, dataset_version, organization
):
    assert headline_evaluation(fine_tune) is None
    own_test = add_report(fine_tune, dataset_version)
    other = DatasetVersion.objects.create(dataset=dataset_version.dataset, number=2, text_field="text",
                                          label_field="label", labels=["negative", "positive"])  # fmt: skip
    newer_elsewhere = add_report(fine_tune, other)
    add_report(fine_tune, dataset_version, status=JobStatus.FAILED)
    assert headline_evaluation(fine_tune) == own_test
    assert cards.headline_of(fine_tune, [newer_elsewhere, own_test]) == own_test
    own_test.delete()
    assert headline_evaluation(fine_tune) == newer_elsewhere


# The service ------------------------------------------------------------------------------------------


def test_only_writers_of_the_organization_may_change_the_card(fine_tune, organization, member_of):
    with pytest.raises(PermissionDenied):
        update_model_card(member_of(organization, Role.VIEWER), fine_tune, OWNER_PROSE)
    outsider = MembershipFactory(organization=OrganizationFactory(), role=Role.OWNER).user
    with pytest.raises(PermissionDenied):
        update_model_card(outsider, fine_tune, OWNER_PROSE)
    card = update_model_card(member_of(organization, Role.MEMBER), fine_tune, OWNER_PROSE)
    assert card.sections == OWNER_PROSE and ModelCard.objects.get(model_version=fine_tune) == card


@pytest.mark.parametrize(
    ("sections", "field"),
    [
        ({"intended_use": PROSE, "vibes": "good"}, "vibes"),
        ({"factors": 42}, "factors"),
        ({"caveats_and_recommendations": "x" * (MAX_SECTION_CHARS + 1)}, "caveats_and_recommendations"),
        (["intended_use"], "sections"),
    ],
)
def test_the_service_names_the_field_it_refuses(fine_tune, owner, sections, field):
    with pytest.raises(ValidationError) as caught:
        update_model_card(owner, fine_tune, sections)
    assert field in caught.value.message_dict
    assert not ModelCard.objects.filter(model_version=fine_tune).exists()


# Pages ------------------------------------------------------------------------------------------------


def test_the_card_page_shows_completeness_checklist_and_edit_for_owners(
    fine_tune, dataset_version, owner, organization, member_of, client
):
    add_report(fine_tune, dataset_version)
    client.force_login(owner)
    page = client.get(card_url(fine_tune)).content.decode()
    assert "9 of 13 items · 69% complete" in page
    assert "Intended use" in page and "written by the owners" in page
    assert card_url(fine_tune, "edit/") in page and card_url(fine_tune, "README.md") in page
    assert "BertForSequenceClassification" in page and "amazon" in page
    version_page = client.get(fine_tune.get_absolute_url()).content.decode()
    assert f'href="{card_url(fine_tune)}"' in version_page and "69%" in version_page

    client.force_login(member_of(organization, Role.VIEWER))
    page = client.get(card_url(fine_tune)).content.decode()
    assert "69% complete" in page and card_url(fine_tune, "edit/") not in page


def test_an_owner_edits_the_card_and_a_viewer_may_not(fine_tune, owner, organization, member_of, client):
    client.force_login(member_of(organization, Role.VIEWER))
    assert client.get(card_url(fine_tune, "edit/")).status_code == 403
    assert client.post(card_url(fine_tune, "edit/"), OWNER_PROSE).status_code == 403

    client.force_login(owner)
    form = client.get(card_url(fine_tune, "edit/")).content.decode()
    assert "What are the primary intended uses, and who are the intended users?" in form
    response = client.post(card_url(fine_tune, "edit/"), {**OWNER_PROSE, "factors": "TBD"})
    assert response.status_code == 302 and response["Location"] == card_url(fine_tune)
    assert ModelCard.objects.get(model_version=fine_tune).sections == {**OWNER_PROSE, "factors": "TBD"}
    assert ModelCard.objects.get(model_version=fine_tune).updated_by == owner


def test_the_readme_downloads_as_markdown(fine_tune, dataset_version, owner, client):
    add_report(fine_tune, dataset_version)
    client.force_login(owner)
    response = client.get(card_url(fine_tune, "README.md"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="README.md"'
    metadata, body = parse_readme(response.content.decode())
    assert metadata["model-index"][0]["name"] == "acme/sentiment"
    assert "(http://testserver/o/acme/models/minilm/v1/)" in body  # links work outside the hub


def test_a_version_the_user_cannot_see_is_not_found(fine_tune, client):
    client.force_login(UserFactory())
    for suffix in ("", "edit/", "README.md"):
        assert client.get(card_url(fine_tune, suffix)).status_code == 404
    client.logout()
    assert client.get(card_url(fine_tune)).status_code == 404


def test_evaluations_on_datasets_a_reader_cannot_see_are_left_out_but_still_count(
    organization, dataset_version, owner, client
):
    version = make_fine_tune(organization, dataset_version, visibility=Visibility.PUBLIC)
    add_report(version, dataset_version)  # acme/reviews is private
    readme = client.get(card_url(version, "README.md")).content.decode()
    metadata, body = parse_readme(readme)
    assert "model-index" not in metadata and "acme/reviews@v1, test split" not in body
    assert "1 further evaluation(s) on datasets you cannot see are not shown." in body
    assert cards.card_of(version, owner).completeness == cards.completeness_of(version)
    assert "**Card completeness: 69%**" in readme
