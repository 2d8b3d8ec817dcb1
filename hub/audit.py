"""Announcing state changes for the audit log.

Every service that changes state calls ``record``; the governance app listens to ``state_changed``
and writes the append-only ``AuditEvent`` in the same transaction. The hub announces and never
imports who listens. Where a change comes from (web, api, admin, worker, command; address and
user agent) is set per request or task with ``origin``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import django.dispatch
from django.db import models

# Sent with: event=AuditRecord.
state_changed = django.dispatch.Signal()


@dataclass(frozen=True)
class Origin:
    channel: str  # web, api, admin, worker, command
    ip_address: str | None = None
    user_agent: str = ""


# A frozen dataclass: sharing the default instance is safe.
_current_origin: ContextVar[Origin] = ContextVar("audit_origin", default=Origin("command"))  # noqa: B039


@dataclass(frozen=True)
class AuditRecord:
    action: str  # "<what>.<verb>", e.g. dataset.create, version.publish, grant.revoke
    actor: Any  # a User, or None for the system
    organization: Any  # the Organization the change belongs to, or None
    target: models.Model | None
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    origin: Origin


def current_origin() -> Origin:
    return _current_origin.get()


@contextmanager
def origin(channel: str, ip_address: str | None = None, user_agent: str = "") -> Iterator[Origin]:
    """Attribute the changes made inside the block to this channel, address and user agent."""
    value = Origin(channel, ip_address, user_agent[:300])
    token = _current_origin.set(value)
    try:
        yield value
    finally:
        _current_origin.reset(token)


def record(
    action: str,
    *,
    actor: Any,
    organization: Any,
    target: models.Model | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    """Announce one state change; call it inside the transaction that makes the change."""
    event = AuditRecord(action, actor, organization, target, before, after, current_origin())
    state_changed.send(sender=AuditRecord, event=event)
