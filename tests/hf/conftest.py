"""Fixtures for the Hugging Face endpoints: the real huggingface_hub and transformers clients pointed at a
live server, and published classifier versions to fetch."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.utils import timezone

from hub.models import ModelAlias, ModelVersion, RegisteredModel, Role, Visibility
from hub.services.models import import_checkpoint
from hub.services.tokens import issue_token
from tests.factories import OrganizationFactory

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")
LABELS = {0: "negative", 1: "positive"}


@dataclass(frozen=True)
class HubClients:
    """Where the clients talk to, and a cache of their own."""

    endpoint: str
    cache_dir: Path

    def api(self, token: str | bool = False):
        from huggingface_hub import HfApi

        return HfApi(endpoint=self.endpoint, token=token)


@pytest.fixture
def hub_clients(live_server, monkeypatch, tmp_path) -> HubClients:
    """huggingface_hub and transformers, unmodified, talking to the live server.

    huggingface_hub reads HF_ENDPOINT when it is imported (earlier in the session than any live server), so
    the constants it derived from the environment are set as the variables would have set them.
    """
    import huggingface_hub.constants as constants
    import transformers.utils.hub as transformers_hub

    endpoint = live_server.url
    home = tmp_path / "hf-home"
    cache_dir = home / "hub"
    environment = {
        "HF_ENDPOINT": endpoint,
        "HF_HOME": str(home),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    for name in (
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "HF_HUB_CACHE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache_dir))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    # transformers keeps one HfApi, made with the endpoint of its first use.
    monkeypatch.setattr(transformers_hub, "_hf_api", None)
    return HubClients(endpoint=endpoint, cache_dir=cache_dir)


@pytest.fixture
def make_classifier_dir(small_checkpoint, tmp_path):
    """A tiny sequence classifier (2 labels) in a Hugging Face directory, its weights drawn from ``seed``."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    def make(seed: int) -> Path:
        directory = tmp_path / f"classifier-{seed}"
        config = BertConfig.from_pretrained(small_checkpoint)
        config.num_labels = len(LABELS)
        config.id2label = dict(LABELS)
        config.label2id = {label: index for index, label in LABELS.items()}
        torch.manual_seed(seed)
        BertForSequenceClassification(config).save_pretrained(directory)
        for name in TOKENIZER_FILES:
            shutil.copy(small_checkpoint / name, directory / name)
        return directory

    return make


def publish(version: ModelVersion) -> ModelVersion:
    """Publish directly (these tests are about serving published versions, not about publishing them)."""
    ModelVersion.objects.filter(pk=version.pk).update(
        status=ModelVersion.Status.PUBLISHED, published_at=timezone.now()
    )
    version.refresh_from_db()
    return version


@dataclass(frozen=True)
class PublishedClassifier:
    model: RegisteredModel
    v1: ModelVersion
    v2: ModelVersion

    @property
    def repo_id(self) -> str:
        return self.model.full_name


@pytest.fixture
def register_classifier(transactional_db, owner, organization, make_classifier_dir):
    """Register and publish a classifier with two versions; ``production`` points at v1, main is v2."""

    def register(slug: str = "classifier", visibility: str = Visibility.PUBLIC) -> PublishedClassifier:
        versions = []
        for seed in (1, 2):
            version = import_checkpoint(
                user=owner, organization=organization, slug=slug, directory=make_classifier_dir(seed),
                license="MIT", visibility=visibility,
            )  # fmt: skip
            versions.append(publish(version))
        ModelAlias.objects.create(model=versions[0].model, name="production", version=versions[0])
        return PublishedClassifier(model=versions[0].model, v1=versions[0], v2=versions[1])

    return register


@pytest.fixture
def classifier(register_classifier) -> PublishedClassifier:
    return register_classifier()


@pytest.fixture
def owner_token(owner) -> str:
    return issue_token(user=owner, name="hf").secret


@pytest.fixture
def outsider(transactional_db, member_of):
    """A member of another organization only."""
    return member_of(OrganizationFactory(slug="globex"), Role.OWNER, username="outsider")


@pytest.fixture
def outsider_token(outsider) -> str:
    return issue_token(user=outsider, name="hf").secret
