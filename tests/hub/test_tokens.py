"""Personal access tokens: hashed at rest, Bearer authentication, expiry, revocation, scopes."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from hub.models import AccessToken
from hub.services.tokens import issue_token, revoke_token


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_token_is_stored_only_as_a_digest(owner):
    issued = issue_token(user=owner, name="ci")
    stored = AccessToken.objects.get()
    assert issued.secret not in (stored.digest, stored.prefix)
    assert stored.digest == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert issued.secret.startswith(stored.prefix)


def test_bearer_token_authenticates_and_records_last_use(owner):
    issued = issue_token(user=owner, name="ci")
    response = bearer(issued.secret).get("/api/v1/organizations/")
    assert response.status_code == 200
    assert [o["slug"] for o in response.json()["results"]] == ["acme"]
    issued.token.refresh_from_db()
    assert issued.token.last_used_at is not None


@pytest.mark.parametrize("state", ["revoked", "expired", "wrong"])
def test_unusable_tokens_get_401(owner, state):
    issued = issue_token(user=owner, name="ci")
    secret = issued.secret
    if state == "revoked":
        revoke_token(issued.token)
    elif state == "expired":
        AccessToken.objects.filter(pk=issued.token.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    else:
        secret = secret[:-2] + "xx"
    response = bearer(secret).get("/api/v1/organizations/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_token_restricted_to_another_organization_cannot_write_here(owner, organization, api_client_for):
    from tests.factories import MembershipFactory

    other = MembershipFactory(user=owner).organization
    client = api_client_for(owner, organization=other)
    response = client.post("/api/v1/datasets/", {"organization": "acme"}, format="multipart")
    assert response.status_code in (400, 403)
    from tests.conftest import demo_csv_bytes
    from tests.hub.test_datasets_api import csv_file, payload

    response = client.post("/api/v1/datasets/", payload(csv_file(demo_csv_bytes(40))), format="multipart")
    assert response.status_code == 403
    assert "restricted" in response.json()["detail"]


def test_tokens_page_shows_a_new_token_once(client, owner):
    client.force_login(owner)
    response = client.post("/settings/tokens/", {"name": "laptop", "scope": "write"})
    assert response.status_code == 200
    secret = response.context["new_secret"]
    assert secret and secret.encode() in response.content
    again = client.get("/settings/tokens/")
    assert secret.encode() not in again.content
    assert b"laptop" in again.content
