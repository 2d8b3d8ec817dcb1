"""Page-number pagination that stays fast deep into long lists."""

from __future__ import annotations

from django.core.paginator import Paginator
from rest_framework.pagination import PageNumberPagination


class DeferredJoinPaginator(Paginator):
    """Finds a page's primary keys first (the offset is skipped on the ordering's index alone), then
    reads only those rows with their joined and prefetched relations: OFFSET n on the full query
    would join every skipped row too."""

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        object_list = self.object_list
        keys = list(object_list.values_list("pk", flat=True)[bottom:top])
        by_key = {row.pk: row for row in object_list.filter(pk__in=keys)}
        return self._get_page([by_key[key] for key in keys if key in by_key], number, self)


class DeferredJoinPagination(PageNumberPagination):
    django_paginator_class = DeferredJoinPaginator
