"""Every download is recorded; one by someone outside the owning organization counts as cross-organization
(the use of shared data that the scores measure)."""

from __future__ import annotations

import pytest

from hub.models import Download, Visibility

pytestmark = pytest.mark.django_db


def test_downloads_are_recorded_with_whether_they_cross_organizations(
    client, owner, make_dataset_version, django_user_model
):
    version = make_dataset_version(visibility=Visibility.PUBLIC)
    train = version.files.get(split="train")
    client.force_login(owner)
    assert client.get(f"/files/datasets/{train.pk}/").status_code == 200
    outsider = django_user_model.objects.create_user("eve", password="x")
    client.force_login(outsider)
    assert client.get(f"/files/datasets/{train.pk}/").status_code == 200
    client.logout()
    assert client.get(f"/files/datasets/{train.pk}/").status_code == 200
    rows = list(Download.objects.order_by("pk").values_list("user__username", "cross_organization", "path"))
    assert rows == [("owner", False, train.path), ("eve", True, train.path), (None, True, train.path)]
