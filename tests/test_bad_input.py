"""Malformed requests (wrong types, unknown ids, odd query strings) get a 4xx, never a 500."""

import pytest

from hub.models import AccessToken

CASES = [
    (
        "post",
        "/api/v1/runs/",
        {"organization": "acme", "base_version": "x", "dataset_version": [], "hyperparameters": [1, 2]},
    ),
    ("post", "/api/v1/runs/", {"organization": "acme", "hyperparameters": "lots"}),
    (
        "post",
        "/api/v1/runs/",
        {"organization": "nope", "base_version": 1, "dataset_version": 1, "pool": "zzz", "priority": 99},
    ),
    ("post", "/api/v1/runs/", ["not", "a", "dict"]),
    ("post", "/api/v1/organizations/", {"name": ["x"]}),
    ("post", "/api/v1/organizations/acme/members/", {"username": {"a": 1}, "role": 5}),
    ("patch", "/api/v1/organizations/acme/members/owner/", {"role": None}),
    ("post", "/api/v1/pools/", {"organization": "acme", "slug": "!!", "name": ""}),
    ("post", "/api/v1/pools/", {"organization": ["acme"], "slug": "a", "shared_with": "x"}),
    ("put", "/api/v1/datasets/999/datasheet/", {"motivation": 5}),
    ("post", "/api/v1/models/", {"organization": "acme", "slug": "m", "name": "m", "license": "MIT"}),
    ("post", "/api/v1/datasets/", {"organization": "acme", "slug": "d", "name": "d", "license": "MIT"}),
    ("get", "/api/v1/runs/abc/", None),
    ("get", "/api/v1/runs/?status=weird&ordering=nonsense", None),
    ("get", "/api/v1/datasets/?page=-1", None),
    ("get", "/api/v1/models/?page=abc", None),
    ("get", "/datasets/?page=abc&format=zzz", None),
    ("get", "/models/?page=999", None),
    ("get", "/runs/?status=<script>", None),
]


@pytest.mark.parametrize(("method", "url", "data"), CASES)
def test_no_500(owner, organization, api_client_for, method, url, data):
    client = api_client_for(owner, scope=AccessToken.Scope.WRITE)
    client.force_login(owner)
    response = (
        getattr(client, method)(url, data, format="json")
        if data is not None
        else getattr(client, method)(url)
    )
    assert response.status_code < 500, (response.status_code, response.content[:300])


def test_datasheet_put_bad(owner, organization, api_client_for, dataset_version):
    client = api_client_for(owner)
    for body in ({"motivation": 5}, ["x"], {"unknown": "x"}, {"motivation": "x" * 30000}):
        r = client.put(f"/api/v1/datasets/{dataset_version.dataset_id}/datasheet/", body, format="json")
        assert r.status_code < 500, (body, r.content[:300])


def test_a_nul_in_a_looked_up_slug_is_a_400(owner, organization, api_client_for):
    # PostgreSQL refuses NUL even in a lookup; SQLite finds nothing: a 400 on both.
    client = api_client_for(owner)
    response = client.post("/api/v1/pools/", {"organization": "ac\x00me", "slug": "gpu"}, format="multipart")
    assert response.status_code == 400, response.content[:300]
