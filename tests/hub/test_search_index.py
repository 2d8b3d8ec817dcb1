"""On PostgreSQL the API's text search is answered from trigram indexes, not by reading every row."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hub.models import RegisteredModel, Visibility

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_trgm indexes exist on PostgreSQL only"),
]


def test_model_search_uses_the_trigram_indexes(api_client_for, organization, owner):
    RegisteredModel.objects.bulk_create(
        RegisteredModel(
            organization=organization, slug=f"model-{n}", license="MIT", visibility=Visibility.PUBLIC,
            name=f"{'sentiment' if n % 7 == 0 else 'topic'} {n}",
        )
        for n in range(200)
    )  # fmt: skip
    client = api_client_for(owner)
    with CaptureQueriesContext(connection) as queries:
        body = client.get("/api/v1/models/?search=sentiment").json()
    assert body["count"] == len([n for n in range(200) if n % 7 == 0])
    search = next(q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT COUNT(*)"))
    with connection.cursor() as cursor:
        # A table this small is cheaper to scan: forbid scans to learn whether the index can answer.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + search)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    for column in ("slug", "name", "description"):
        assert f"hub_registeredmodel_{column}_trgm" in plan, plan
