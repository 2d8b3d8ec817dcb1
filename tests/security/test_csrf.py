"""CSRF: every POST form carries the token, a POST without it is refused, and session-authenticated API
writes need it too. (Django's test client skips CSRF checks unless asked: these clients enforce them.)"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from hub.models import AccessToken
from tests.conftest import REPO
from tests.factories import UserFactory

POST_FORM = re.compile(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", re.IGNORECASE | re.DOTALL)


def test_every_post_form_in_the_templates_has_a_csrf_token():
    forms = 0
    for template in sorted((REPO / "templates").rglob("*.html")):
        for body in POST_FORM.findall(template.read_text()):
            forms += 1
            assert "{% csrf_token %}" in body, f"{template.relative_to(REPO)}: a POST form without csrf_token"
    assert forms >= 20  # the walk found the forms


def test_every_post_form_a_member_sees_carries_the_token(
    client, owner, organization, dataset_version, base_version
):
    client.force_login(owner)
    pages = [
        "/",
        "/datasets/new/",
        "/models/new/",
        "/runs/new/",
        "/evaluations/new/",
        "/organizations/new/",
        "/settings/tokens/",
        "/o/acme/",
        "/o/acme/datasets/reviews/",
        "/o/acme/datasets/reviews/datasheet/",
        "/o/acme/datasets/reviews/versions/new/",
        "/o/acme/models/tiny/",
        "/o/acme/models/tiny/v1/",
        "/o/acme/models/tiny/v1/card/edit/",
        "/o/acme/models/tiny/versions/new/",
        "/o/acme/policies/new/",
        "/o/acme/access/",
        "/o/acme/pools/",
    ]
    forms = 0
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        for body in POST_FORM.findall(response.content.decode()):
            forms += 1
            assert 'name="csrfmiddlewaretoken"' in body, f"{path}: a POST form without the CSRF token"
    assert forms >= len(pages)


@pytest.fixture
def strict_client() -> Client:
    return Client(enforce_csrf_checks=True)


def csrf_token_of(client: Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.cookies["csrftoken"].value


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/logout/", {}),
        ("/settings/tokens/", {"name": "ci", "scope": "read"}),
        ("/organizations/new/", {"name": "Evil", "slug": "evil"}),
        ("/o/acme/members/", {"username": "mallory", "role": "admin"}),
        ("/datasets/new/", {"organization": "acme", "name": "x", "slug": "x"}),
    ],
)
def test_a_signed_in_post_without_the_token_is_refused(strict_client, owner, path, data):
    UserFactory(username="mallory")
    strict_client.force_login(owner)
    response = strict_client.post(path, data)
    assert response.status_code == 403, path
    assert b"CSRF" in response.content


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_a_sign_in_without_the_token_is_refused(strict_client, owner, path):
    response = strict_client.post(path, {"username": "owner", "password": "pass-word-123"})
    assert response.status_code == 403
    assert "_auth_user_id" not in strict_client.session


def test_the_same_post_with_the_token_goes_through(strict_client, owner):
    strict_client.force_login(owner)
    token = csrf_token_of(strict_client, "/settings/tokens/")
    response = strict_client.post(
        "/settings/tokens/", {"name": "ci", "scope": "read", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 200
    assert AccessToken.objects.filter(user=owner, name="ci").exists()


def test_session_api_writes_need_the_csrf_header(strict_client, owner):
    strict_client.force_login(owner)
    payload = {"name": "Forged", "slug": "forged"}
    refused = strict_client.post("/api/v1/organizations/", payload, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]

    token = csrf_token_of(strict_client, "/settings/tokens/")
    accepted = strict_client.post(
        "/api/v1/organizations/", payload, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert accepted.status_code == 201, accepted.content


def test_token_api_writes_need_no_csrf_token(strict_client, owner):
    from hub.services.tokens import issue_token

    secret = issue_token(user=owner, name="ci", scope="write").secret
    response = strict_client.post(
        "/api/v1/organizations/",
        {"name": "Scripted"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 201, response.content


def test_hf_write_endpoints_take_no_session(strict_client, owner):
    """They are exempt from CSRF (huggingface_hub sends no token), so a browser session must not write."""
    strict_client.force_login(owner)
    response = strict_client.post(
        "/api/repos/create", {"name": "forged", "organization": "acme"}, content_type="application/json"
    )
    assert response.status_code == 401
    assert response["X-Error-Code"] == "InvalidCredentials"
