"""Writing the audit log: every ``hub.audit.record`` becomes one append-only ``AuditEvent``.

The receiver runs inside the transaction of the change it records and lets any error propagate,
so a change whose audit row cannot be written is rolled back with it: nothing changes unlogged.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any

from django.db import models

from governance.models import AuditEvent
from hub.audit import AuditRecord, state_changed

SYSTEM_ACTOR = "system"
DISPATCH_UID = "governance.audit.write_audit_event"
CHANNELS = ("web", "api", "admin", "worker", "command")
# How much of one value a compact change shows.
SHOWN_VALUE_CHARS = 80


def json_safe(value: Any) -> Any:
    """The value as builtins that JSON (and PostgreSQL's jsonb) stores as they read."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # jsonb has no NaN or infinity
    if isinstance(value, Enum):
        return json_safe(value.value)
    if isinstance(value, str):
        return str(value)  # a TextChoices member becomes its plain value
    if isinstance(value, Decimal):
        return json_safe(float(value))
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()  # datetimes too: datetime is a date
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [json_safe(item) for item in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, models.Model | uuid.UUID | PurePath):
        return str(value)
    return str(value)


def _ip_address(value: str | None) -> str | None:
    """A valid address or None: the column refuses anything else, and that would fail the change."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _actor(actor: Any) -> tuple[Any, str]:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None, SYSTEM_ACTOR
    return actor, actor.get_username()


def write_audit_event(sender: Any, event: AuditRecord, **kwargs: Any) -> AuditEvent:
    """Store one announced change. Errors are not caught: they roll the change back."""
    actor, actor_name = _actor(event.actor)
    target = event.target
    organization = event.organization
    return AuditEvent.objects.create(
        actor=actor,
        actor_name=actor_name[:150],
        organization=organization,
        organization_slug=organization.slug if organization is not None else "",
        action=event.action[:64],
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk)[:64] if target is not None and target.pk is not None else "",
        target=str(target)[:300] if target is not None else "",
        before=json_safe(event.before) if event.before is not None else None,
        after=json_safe(event.after) if event.after is not None else None,
        channel=event.origin.channel[:16],
        ip_address=_ip_address(event.origin.ip_address),
        user_agent=event.origin.user_agent[:300],
    )


@dataclass(frozen=True)
class Change:
    """One field of a compact before → after; None where the side has no such field."""

    field: str
    before: str | None
    after: str | None


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= SHOWN_VALUE_CHARS else text[: SHOWN_VALUE_CHARS - 1] + "…"


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[Change]:
    """The fields an event changed, each value cut short; fields the same on both sides are left out."""
    before, after = before or {}, after or {}
    fields = [*before, *(key for key in after if key not in before)]
    return [
        Change(
            field,
            _shown(before[field]) if field in before else None,
            _shown(after[field]) if field in after else None,
        )
        for field in fields
        if field not in before or field not in after or before[field] != after[field]
    ]


def connect() -> None:
    """Listen to the hub's announcements; called once from GovernanceConfig.ready."""
    state_changed.connect(write_audit_event, sender=AuditRecord, dispatch_uid=DISPATCH_UID)
