"""The site-wide search page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from hub import selectors
from hub.access import public


@public
def search(request: HttpRequest) -> HttpResponse:
    """Organizations, datasets and models the viewer may see that match ``?q=``."""
    results = selectors.search(request.user, request.GET.get("q", ""))
    context = {
        "results": results,
        "query": results.query,
        "organizations": results.organizations,
        "datasets": results.datasets,
        "models": results.models,
        "limit": selectors.SEARCH_LIMIT,
    }
    return render(request, "hub/search.html", context)
