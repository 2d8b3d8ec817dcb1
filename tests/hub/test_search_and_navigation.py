"""The site-wide search page and the organization sub-navigation."""

from __future__ import annotations

import pytest

from hub.models import Dataset, RegisteredModel, Role, Visibility


@pytest.fixture
def artifacts(organization, owner):
    Dataset.objects.create(organization=organization, slug="reviews", name="Reviews", license="MIT",
                           visibility=Visibility.PUBLIC, created_by=owner)  # fmt: skip
    RegisteredModel.objects.create(organization=organization, slug="secret-reviewer", name="Secret",
                                   license="MIT", visibility=Visibility.PRIVATE)  # fmt: skip


def test_search_lists_what_the_viewer_may_see(client, owner, artifacts):
    visitor = client.get("/search/?q=review")
    assert [d.slug for d in visitor.context["datasets"]] == ["reviews"]
    assert visitor.context["models"] == []
    client.force_login(owner)
    member = client.get("/search/?q=REVIEW")
    assert [m.slug for m in member.context["models"]] == ["secret-reviewer"]
    assert [o.slug for o in client.get("/search/?q=acm").context["organizations"]] == ["acme"]


@pytest.mark.parametrize("query", ["", "   ", "%", "_", "\x00", "a\x00b", "'; drop table", "x" * 5000, "ü🙂"])
def test_search_never_fails_on_odd_input(client, artifacts, query):
    response = client.get("/search/", {"q": query})
    assert response.status_code == 200
    if not query.strip("\x00 "):
        assert b"Type a word to search the hub" in response.content


def test_organization_navigation_shows_sections_by_role(client, organization, owner, member_of):
    assert b'href="/o/acme/audit/"' not in client.get("/o/acme/").content
    client.force_login(member_of(organization, Role.MEMBER))
    page = client.get("/o/acme/policies/").content.decode()
    assert 'href="/o/acme/scores/"' in page and 'href="/o/acme/audit/"' not in page
    assert 'href="/o/acme/policies/" aria-current="page"' in page
    client.force_login(owner)
    assert b'href="/o/acme/audit/" aria-current="page"' in client.get("/o/acme/audit/").content
