"""The hub-wide scores are computed once per AGORA_SCORES_CACHE_SECONDS and reused by the API and pages."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hub.models import AccessToken

pytestmark = pytest.mark.django_db


def queries_of(get, url: str) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as queries:
        response = get(url)
    assert response.status_code == 200, response.content
    return len(queries), response.json()


def test_scores_are_reused_while_cached_and_computed_each_time_without(settings, api_client_for, owner):
    client = api_client_for(owner, scope=AccessToken.Scope.READ)
    settings.AGORA_SCORES_CACHE_SECONDS = 0
    client.get("/api/v1/scores/")  # the token's first use is recorded once
    computed, uncached = queries_of(client.get, "/api/v1/scores/")
    assert queries_of(client.get, "/api/v1/scores/")[0] == computed

    settings.AGORA_SCORES_CACHE_SECONDS = 60
    assert queries_of(client.get, "/api/v1/scores/")[0] == computed  # the first one computes
    reused, body = queries_of(client.get, "/api/v1/scores/")
    assert reused < computed - 5, (reused, computed)
    assert body["E"] == uncached["E"] and body["C"] == uncached["C"]
    # An organization's scores come from the same computation.
    assert queries_of(client.get, "/api/v1/scores/organizations/acme/")[0] <= reused + 2
    # Another window length is another computation.
    assert queries_of(client.get, "/api/v1/scores/?days=30")[0] == computed
