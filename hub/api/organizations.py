"""REST endpoints for organizations."""

from __future__ import annotations

from rest_framework import viewsets

from hub import selectors
from hub.api import serializers


class OrganizationViewSet(viewsets.ReadOnlyModelViewSet):
    """Organizations you belong to."""

    serializer_class = serializers.OrganizationSerializer
    lookup_field = "slug"
    search_fields = ["slug", "name"]

    def get_queryset(self):
        return selectors.organizations_of(self.request.user).order_by("slug")
