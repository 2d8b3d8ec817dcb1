"""Fixtures of the training tests."""

from __future__ import annotations

import pytest

from hub.models import DatasetVersion, ModelVersion, RegisteredModel, Visibility


@pytest.fixture
def run_inputs(organization):
    """A base model version and a dataset version of the organization, enough for FineTuneRun rows."""
    model = RegisteredModel.objects.create(
        organization=organization, slug="base", name="Base", license="MIT", visibility=Visibility.PRIVATE
    )
    version = ModelVersion.objects.create(model=model, number=1, origin="upload", labels=["a", "b"])
    dataset = organization.datasets.create(slug="data", name="Data", license="MIT")
    data_version = DatasetVersion.objects.create(
        dataset=dataset, number=1, text_field="text", label_field="label", labels=["a", "b"]
    )
    return version, data_version
