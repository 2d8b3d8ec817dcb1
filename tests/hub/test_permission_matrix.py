"""Every list, detail and download of the pages and the API, for every kind of principal and every
visibility: the expected status in each cell, and lists that hold exactly what may be seen.

Principals: owner, member and viewer of the owning organization, a member of another organization
(outsider), anonymous, a member's read-only token, an expired token, and a write token restricted
to another organization of the same member.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from hub.models import AccessToken, Role, Visibility
from hub.services.datasets import SplitSpec, Upload, create_dataset
from hub.services.models import import_checkpoint
from hub.services.tokens import issue_token
from tests.conftest import demo_csv_bytes
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

VISIBILITIES = [Visibility.PUBLIC, Visibility.INTERNAL, Visibility.PRIVATE]
PRINCIPALS = [
    "owner",
    "member",
    "viewer",
    "outsider",
    "anonymous",
    "read_token",
    "expired_token",
    "other_org_token",
]

# Who may see an artifact of each visibility (the owning organization is "acme").
SEES = {
    Visibility.PUBLIC: set(PRINCIPALS) - {"expired_token"},
    Visibility.INTERNAL: {"owner", "member", "viewer", "outsider", "read_token", "other_org_token"},
    Visibility.PRIVATE: {"owner", "member", "viewer", "read_token"},
}


@dataclass
class Principal:
    name: str
    ui: Client | None  # a browser session; None for token-only principals
    api: APIClient


@pytest.fixture
def world(db, small_checkpoint):
    acme = OrganizationFactory(slug="acme")
    users = {
        role: MembershipFactory(organization=acme, role=role, user=UserFactory(username=role)).user
        for role in (Role.OWNER, Role.MEMBER, Role.VIEWER)
    }
    outsider = MembershipFactory(user=UserFactory(username="outsider")).user
    other_org = MembershipFactory(user=users[Role.MEMBER]).organization  # the member belongs to two orgs

    artifacts = {}
    for visibility in VISIBILITIES:
        data = demo_csv_bytes(40)
        dataset_version = create_dataset(
            user=users[Role.OWNER], organization=acme, slug=f"data-{visibility}", name=f"Data {visibility}",
            license="CC-BY-4.0", visibility=visibility, text_field="text", label_field="label",
            upload=Upload("d.csv", io.BytesIO(data), len(data)), split=SplitSpec(),
        )  # fmt: skip
        model_version = import_checkpoint(
            user=users[Role.OWNER], organization=acme, slug=f"model-{visibility}", directory=small_checkpoint,
            license="MIT", visibility=visibility,
        )  # fmt: skip
        artifacts[visibility] = (dataset_version, model_version)

    def session(user):
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    def bearer(user, **fields):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_token(user=user, name='t', **fields).secret}")
        return client

    def authed_api(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    expired = bearer(users[Role.MEMBER])
    AccessToken.objects.filter(user=users[Role.MEMBER]).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    principals = {
        "owner": Principal("owner", session(users[Role.OWNER]), authed_api(users[Role.OWNER])),
        "member": Principal("member", session(users[Role.MEMBER]), authed_api(users[Role.MEMBER])),
        "viewer": Principal("viewer", session(users[Role.VIEWER]), authed_api(users[Role.VIEWER])),
        "outsider": Principal("outsider", session(outsider), authed_api(outsider)),
        "anonymous": Principal("anonymous", session(None), APIClient()),
        "read_token": Principal("read_token", None, bearer(users[Role.MEMBER], scope=AccessToken.Scope.READ)),
        "expired_token": Principal("expired_token", None, expired),
        "other_org_token": Principal(
            "other_org_token",
            None,
            bearer(users[Role.MEMBER], scope=AccessToken.Scope.WRITE, organization=other_org),
        ),
    }
    return principals, artifacts


def detail_urls(dataset_version, model_version) -> dict[str, tuple[str, str]]:
    """name → (kind, url); kind is "ui" (session pages), "api" or "download" (both kinds of clients)."""
    dataset, model = dataset_version.dataset, model_version.model
    dataset_file = dataset_version.files.get(split="train")
    model_file = model_version.files.get(path="config.json")
    return {
        "ui dataset": ("ui", f"/o/acme/datasets/{dataset.slug}/"),
        "ui model": ("ui", f"/o/acme/models/{model.slug}/"),
        "ui model version": ("ui", f"/o/acme/models/{model.slug}/v1/"),
        "api dataset": ("api", f"/api/v1/datasets/{dataset.pk}/"),
        "api dataset version": ("api", f"/api/v1/dataset-versions/{dataset_version.pk}/"),
        "api model": ("api", f"/api/v1/models/{model.pk}/"),
        "api model version": ("api", f"/api/v1/model-versions/{model_version.pk}/"),
        "dataset file": ("download", f"/files/datasets/{dataset_file.pk}/"),
        "model file": ("download", f"/files/models/{model_file.pk}/"),
    }


def expected_status(principal: str, visibility: str, kind: str) -> int:
    if principal == "expired_token" and kind in ("api", "download"):
        return 401  # a bad credential is refused outright, never downgraded to anonymous
    return 200 if principal in SEES[visibility] else 404  # 404, not 403: hidden things do not exist


@pytest.mark.parametrize("visibility", VISIBILITIES)
def test_detail_and_download_matrix(world, visibility):
    principals, artifacts = world
    failures = []
    for name, principal in principals.items():
        for endpoint, (kind, url) in detail_urls(*artifacts[visibility]).items():
            client = principal.ui if kind == "ui" else principal.api
            if client is None:
                continue  # tokens authenticate the API and downloads, not browser pages
            status = client.get(url).status_code
            want = expected_status(name, visibility, kind)
            if status != want:
                failures.append(f"{name} x {endpoint} ({visibility}): {status}, expected {want}")
    assert not failures, "\n".join(failures)


LISTS = {
    "ui datasets": ("ui", "/datasets/", "data-{}"),
    "ui models": ("ui", "/models/", "model-{}"),
    "ui organization": ("ui", "/o/acme/", "data-{}"),
    "api datasets": ("api", "/api/v1/datasets/?page_size=100", "data-{}"),
    "api dataset search": ("api", "/api/v1/datasets/?search=data", "data-{}"),
    "api dataset versions": ("api", "/api/v1/dataset-versions/", "acme/data-{}"),
    "api models": ("api", "/api/v1/models/", "model-{}"),
    "api model search": ("api", "/api/v1/models/?search=model", "model-{}"),
    "api model versions": ("api", "/api/v1/model-versions/", "acme/model-{}"),
}


@pytest.mark.parametrize("list_name", LISTS)
def test_lists_and_search_hold_exactly_what_may_be_seen(world, list_name):
    principals, _ = world
    kind, url, marker = LISTS[list_name]
    failures = []
    for name, principal in principals.items():
        client = principal.ui if kind == "ui" else principal.api
        if client is None:
            continue
        response = client.get(url)
        if name == "expired_token":
            assert response.status_code == 401
            continue
        assert response.status_code == 200, (name, list_name, response.status_code)
        body = response.content.decode()
        for visibility in VISIBILITIES:
            token = marker.format(visibility)
            shown = f'"{token}"' in body or f"{token}/" in body or f"{token}@" in body or f">{token}<" in body
            shown = shown or f"/{token}/" in body
            if shown != (name in SEES[visibility]):
                failures.append(f"{name} x {list_name}: {visibility} shown={shown}")
    assert not failures, "\n".join(failures)


def test_write_matrix_for_datasets(world):
    """Only writers of the organization create there; read and foreign-organization tokens cannot."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    principals, _ = world
    expected = {
        "owner": 201, "member": 201, "viewer": 403, "outsider": 403, "anonymous": 401,
        "read_token": 403, "expired_token": 401, "other_org_token": 403,
    }  # fmt: skip
    for name, principal in principals.items():
        response = principal.api.post(
            "/api/v1/datasets/",
            {
                "organization": "acme", "slug": f"new-{name.replace('_', '-')}", "name": "New",
                "license": "MIT", "text_field": "text", "label_field": "label",
                "file": SimpleUploadedFile("n.csv", demo_csv_bytes(40)),
            },
            format="multipart",
        )  # fmt: skip
        assert response.status_code == expected[name], (name, response.status_code, response.content[:200])
