"""The audit log over REST: read-only, the events of the organizations you own or administer."""

from __future__ import annotations

import django_filters
from rest_framework import serializers, viewsets
from rest_framework.permissions import IsAuthenticated

from governance.models import AuditEvent
from governance.selectors import audit_events_visible_to, filter_audit_events


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name", read_only=True, help_text="Username, or “system”.")
    organization = serializers.CharField(
        source="organization_slug", read_only=True, help_text="Slug; empty when none."
    )

    class Meta:
        model = AuditEvent
        fields = [
            "id", "at", "actor", "organization", "action", "target_type", "target_id", "target", "before",
            "after", "channel", "ip_address", "user_agent",
        ]  # fmt: skip
        read_only_fields = fields


class AuditEventFilter(django_filters.FilterSet):
    organization = django_filters.CharFilter(method="narrow", help_text="Organization slug.")
    action = django_filters.CharFilter(
        method="narrow", help_text="Action prefix: “run.” for every run event, “member.add” for one."
    )
    actor = django_filters.CharFilter(method="narrow", help_text="Username of who made the change.")
    since = django_filters.IsoDateTimeFilter(method="narrow", help_text="Events at or after this time.")
    until = django_filters.IsoDateTimeFilter(method="narrow", help_text="Events before this time.")

    class Meta:
        model = AuditEvent
        fields = ["organization", "action", "actor", "since", "until"]

    def narrow(self, queryset, name, value):
        return filter_audit_events(queryset, **{name: value})


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """Who changed what, in which organization, from what to what, when and from where; newest first.

    Lists the events of the organizations you own or administer (every event for a superuser).
    The log is append-only: events are never changed or deleted.
    """

    permission_classes = [IsAuthenticated]
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    search_fields = ["target", "actor_name", "action"]
    ordering_fields = ["at"]

    def get_queryset(self):
        return audit_events_visible_to(self.request.user).order_by("-at", "-pk")
