"""The search, filters and pagination that the dataset and model list pages share."""

from __future__ import annotations

from collections.abc import Callable

from django.core.paginator import Paginator
from django.db.models import QuerySet

from hub.models import Visibility

PAGE_SIZE = 25
COMMON_FILTERS = ("q", "organization", "license", "visibility")


def artifact_list_context(
    request, visible: QuerySet, filter_function: Callable[..., QuerySet], extra_filters: tuple[str, ...] = ()
) -> dict:
    """Apply the request's search and filters to the visible artifacts; return one page and the choices."""
    chosen = {name: request.GET.get(name, "").strip() for name in COMMON_FILTERS + extra_filters}
    arguments = {("query" if name == "q" else name): value for name, value in chosen.items()}
    filtered = filter_function(visible.order_by("-updated_at"), **arguments)
    page = Paginator(filtered, PAGE_SIZE).get_page(request.GET.get("page"))
    plain = visible.model.objects.filter(pk__in=visible.values("pk")).order_by()  # for the choices
    kept = request.GET.copy()
    kept.pop("page", None)
    return {
        "page": page,
        "query": chosen["q"],
        "chosen": chosen,
        "kept_query": kept.urlencode(),
        "filtered": any(chosen.values()),
        "organizations": sorted(set(plain.values_list("organization__slug", flat=True))),
        "licenses": sorted(set(plain.values_list("license", flat=True))),
        "visibilities": Visibility.choices,
    }
