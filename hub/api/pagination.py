"""Page-number pagination that stays fast deep into long lists."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import QuerySet
from rest_framework.pagination import PageNumberPagination


def rows_by_key(object_list: QuerySet, keys: list) -> QuerySet:
    """The rows with these primary keys, with the list's joined and prefetched relations but not its
    filters: the keys already passed them, and repeating them led PostgreSQL to walk the filter's
    index checking each entry against the keys (5 ms) instead of fetching 25 rows by primary key."""
    query = object_list.query
    if query.annotations or query.extra or query.distinct or query.combinator:
        return object_list.filter(pk__in=keys)  # rows whose values depend on the full query
    rows = object_list.model._default_manager.filter(pk__in=keys)
    rows.query.select_related = query.select_related
    rows.query.deferred_loading = query.deferred_loading
    rows._prefetch_related_lookups = object_list._prefetch_related_lookups
    return rows


class DeferredJoinPaginator(Paginator):
    """Finds a page's primary keys first (the offset is skipped on the ordering's index alone), then
    reads only those rows with their joined and prefetched relations: OFFSET n on the full query
    would join every skipped row too."""

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        keys = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        by_key = {row.pk: row for row in rows_by_key(self.object_list, keys)}
        return self._get_page([by_key[key] for key in keys if key in by_key], number, self)


class DeferredJoinPagination(PageNumberPagination):
    django_paginator_class = DeferredJoinPaginator
