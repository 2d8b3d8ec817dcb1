"""`make up` loads the demo data with these commands; running them twice creates nothing twice."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from governance.models import Policy, PolicyAttachment
from hub.models import Dataset, ModelVersion, Organization

pytestmark = pytest.mark.django_db


def test_the_demo_data_and_its_policy_load_once():
    for _ in range(2):
        call_command("load_demo", verbosity=0)
        call_command("load_demo_policy", verbosity=0)
    organization = Organization.objects.get(slug="demo-lab")
    dataset = Dataset.objects.get(organization=organization, slug="uci-sentiment")
    assert dataset.versions.get().total_rows == 3000
    assert ModelVersion.objects.filter(model__organization=organization).count() == 1
    policy = Policy.objects.get(organization=organization)
    assert policy.versions.count() == 1
    assert PolicyAttachment.objects.get(dataset=dataset).policy == policy
