"""The audit log: append-only in the ORM and in PostgreSQL, written by the services in their own
transaction, attributed to the request's channel and address, and readable by organization admins."""

from __future__ import annotations

import datetime
from datetime import timedelta
from decimal import Decimal

import pytest
from celery.signals import task_postrun, task_prerun
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from governance.audit import changes, json_safe
from governance.models import AuditEvent, ImmutableError
from hub import audit
from hub.middleware import request_channel
from hub.models import Dataset, Membership, Role
from hub.services import datasets as dataset_services
from hub.services import organizations as organization_services
from hub.services.tokens import issue_token
from tests.conftest import demo_csv_bytes
from tests.factories import OrganizationFactory, UserFactory
from training import services as training_services
from training.models import ComputePool, FineTuneRun
from training.services.execution import _finish
from training.services.pools import create_pool, share_pool

API = "/api/v1/audit-events/"


def _event(organization, action="thing.change", **fields) -> AuditEvent:
    return AuditEvent.objects.create(
        organization=organization, organization_slug=organization.slug if organization else "",
        action=action, target_type="hub.organization", **fields,
    )  # fmt: skip


# Append-only -------------------------------------------------------------------------------------


def test_the_orm_refuses_to_change_or_delete_an_event(organization, owner):
    audit.record("thing.change", actor=owner, organization=organization, target=organization)
    event = AuditEvent.objects.get()
    event.action = "thing.rewritten"
    with pytest.raises(ImmutableError):
        event.save()
    with pytest.raises(ImmutableError):
        event.delete()
    with pytest.raises(ImmutableError):
        AuditEvent.objects.update(action="thing.rewritten")
    with pytest.raises(ImmutableError):
        AuditEvent.objects.filter(pk=event.pk).update(action="thing.rewritten")
    with pytest.raises(ImmutableError):
        AuditEvent.objects.all().delete()
    with pytest.raises(ImmutableError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get().action == "thing.change"


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only")
def test_postgresql_refuses_raw_update_and_delete(organization):
    event = _event(organization)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE governance_auditevent SET action = %s WHERE id = %s", ["x.y", event.pk])
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM governance_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "thing.change"


# What is stored ----------------------------------------------------------------------------------


def test_values_are_stored_as_json_builtins(organization):
    moment = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC)
    value = {
        "when": moment, "day": moment.date(), "price": Decimal("1.50"), "org": organization,
        "role": Role.ADMIN, "tags": {"b", "a"}, "pair": (1, 2), "nan": float("nan"), 3: None,
    }  # fmt: skip
    assert json_safe(value) == {
        "when": "2024-05-01T12:30:00+00:00", "day": "2024-05-01", "price": 1.5, "org": "acme",
        "role": "admin", "tags": ["a", "b"], "pair": [1, 2], "nan": None, "3": None,
    }  # fmt: skip
    audit.record("thing.change", actor=None, organization=organization, target=organization, after=value)
    event = AuditEvent.objects.get()
    assert event.after["price"] == 1.5 and event.after["org"] == "acme"
    assert (event.actor, event.actor_name, event.channel) == (None, "system", "command")
    assert (event.target_type, event.target_id, event.target) == (
        "hub.organization",
        str(organization.pk),
        "acme",
    )


def test_changes_show_what_differs_cut_short():
    rows = changes(
        {"user": "bo", "role": "member", "gone": 1}, {"user": "bo", "role": "admin", "x": "y" * 200}
    )
    assert [(c.field, c.before, c.after) for c in rows[:2]] == [
        ("role", "member", "admin"),
        ("gone", "1", None),
    ]
    assert rows[2].field == "x" and rows[2].before is None and len(rows[2].after) == 80


# Written by the services, with the request's origin ----------------------------------------------


def _dataset_payload(**overrides):
    data = {
        "organization": "acme", "slug": "reviews", "name": "Reviews", "license": "CC-BY-4.0",
        "text_field": "text", "label_field": "label",
        "file": SimpleUploadedFile("reviews.csv", demo_csv_bytes(60), content_type="text/csv"),
    }  # fmt: skip
    return {**data, **overrides}


def test_a_dataset_created_through_the_api_is_logged_with_its_origin(owner, organization, api_client_for):
    client = api_client_for(owner)
    response = client.post("/api/v1/datasets/", _dataset_payload(), format="multipart",
                           HTTP_USER_AGENT="agora-cli/1.0")  # fmt: skip
    assert response.status_code == 201, response.json()
    created = AuditEvent.objects.get(action="dataset.create")
    assert created.actor == owner and created.actor_name == "owner"
    assert created.organization_id == organization.pk and created.organization_slug == "acme"
    assert (created.channel, created.ip_address, created.user_agent) == ("api", "127.0.0.1", "agora-cli/1.0")
    assert created.target_type == "hub.dataset" and created.target == "acme/reviews"
    assert created.after == {"name": "Reviews", "license": "CC-BY-4.0", "visibility": "private"}
    assert created.before is None
    version = AuditEvent.objects.get(action="dataset_version.create")
    assert version.after["number"] == 1 and version.target == "acme/reviews@v1"


def test_forwarded_for_counts_only_behind_a_trusted_proxy(owner, organization, api_client_for, settings):
    client = api_client_for(owner)
    forwarded = {"HTTP_X_FORWARDED_FOR": "203.0.113.7, 10.0.0.1", "REMOTE_ADDR": "10.0.0.2"}
    client.post("/api/v1/datasets/", _dataset_payload(), format="multipart", **forwarded)
    assert AuditEvent.objects.get(action="dataset.create").ip_address == "10.0.0.2"
    settings.AGORA_TRUST_X_FORWARDED_FOR = True
    client.post("/api/v1/datasets/", _dataset_payload(slug="more"), format="multipart", **forwarded)
    # The proxy appended the address it saw: the entries left of it are the client's to forge.
    assert AuditEvent.objects.filter(action="dataset.create").first().ip_address == "10.0.0.1"
    settings.AGORA_TRUSTED_PROXY_COUNT = 2
    client.post("/api/v1/datasets/", _dataset_payload(slug="third"), format="multipart", **forwarded)
    assert AuditEvent.objects.filter(action="dataset.create").first().ip_address == "203.0.113.7"


def test_request_channels():
    assert request_channel("/api/v1/datasets/") == "api"
    assert request_channel("/admin/governance/") == "admin"
    assert request_channel("/o/acme/") == "web"


def test_a_failed_audit_write_rolls_the_change_back(owner, make_dataset_version, monkeypatch):
    def refuse(**fields):
        raise DatabaseError("the audit log is unavailable")

    monkeypatch.setattr(AuditEvent.objects, "create", refuse)
    with pytest.raises(DatabaseError):
        make_dataset_version()
    assert not Dataset.objects.exists()


def test_members_added_changed_and_removed_from_the_site(client, owner, organization):
    newcomer = UserFactory(username="newcomer")
    client.force_login(owner)
    client.post(reverse("hub:member-add", args=["acme"]), {"username": "newcomer", "role": "member"},
                REMOTE_ADDR="192.0.2.4")  # fmt: skip
    added = AuditEvent.objects.get(action="member.add")
    assert (added.channel, added.ip_address, added.actor_name) == ("web", "192.0.2.4", "owner")
    assert added.after == {"user": "newcomer", "role": "member"} and added.before is None
    membership = Membership.objects.get(user=newcomer)
    organization_services.change_role(actor=owner, membership=membership, role=Role.ADMIN)
    changed = AuditEvent.objects.get(action="member.role")
    assert changed.before == {"user": "newcomer", "role": "member"}
    assert changed.after == {"user": "newcomer", "role": "admin"}
    assert changed.channel == "command"  # outside a request
    organization_services.remove_member(actor=owner, membership=membership)
    removed = AuditEvent.objects.get(action="member.remove")
    assert removed.before == {"user": "newcomer", "role": "admin"} and removed.after is None


def test_organization_and_token_events_never_hold_the_secret(owner):
    organization = organization_services.create_organization(owner=owner, name="Globex")
    event = AuditEvent.objects.get(action="organization.create")
    assert event.organization_slug == "globex" and event.after["owner"] == "owner"
    issued = issue_token(user=owner, name="ci", organization=organization)
    logged = AuditEvent.objects.get(action="token.issue")
    assert logged.after["prefix"] == issued.token.prefix and logged.organization_slug == "globex"
    assert issued.secret not in str(logged.after) and issued.token.digest not in str(logged.after)


def test_a_datasheet_change_logs_section_lengths_not_prose(owner, dataset_version):
    dataset = dataset_version.dataset
    dataset_services.update_datasheet(owner, dataset, {"motivation": "Why: reviews."})
    dataset_services.update_datasheet(owner, dataset, {"motivation": "Why: reviews.", "composition": "Rows."})
    first, second = AuditEvent.objects.filter(action="datasheet.update").order_by("pk")
    assert (first.before, first.after) == ({"sections": {}}, {"sections": {"motivation": 13}})
    assert (second.before, second.after) == ({"sections": {}}, {"sections": {"composition": 5}})


@pytest.fixture
def queued_run(owner, organization, base_version, dataset_version):
    return training_services.submit_run(
        user=owner, organization=organization, base_version=base_version, dataset_version=dataset_version,
        hyperparameters={"epochs": 1, "max_length": 32},
    )  # fmt: skip


def test_models_and_runs_are_logged(owner, organization, queued_run, api_client_for):
    imported = AuditEvent.objects.get(action="model_version.create", target="acme/tiny@v1")
    assert imported.after["origin"] == "upload" and imported.after["number"] == 1
    assert AuditEvent.objects.filter(action="model.create", target="acme/tiny").exists()

    response = api_client_for(owner).post(f"/api/v1/runs/{queued_run.pk}/cancel/")
    assert response.status_code == 200, response.json()
    cancelled = AuditEvent.objects.get(action="run.cancel")
    assert cancelled.before == {"status": "queued", "cancel_requested": False}
    assert cancelled.after == {"status": "cancelled", "cancel_requested": True}
    assert (cancelled.actor, cancelled.channel, cancelled.target_type) == (
        owner,
        "api",
        "training.finetunerun",
    )


def test_runs_ended_by_the_worker_or_recovery_are_logged_as_the_system(organization, queued_run, settings):
    now = timezone.now()
    running = {"status": FineTuneRun.Status.RUNNING, "attempts": 1, "started_at": now - timedelta(hours=1)}
    FineTuneRun.objects.filter(pk=queued_run.pk).update(**running, heartbeat_at=now)
    queued_run.refresh_from_db()
    assert _finish(queued_run, FineTuneRun.Status.FAILED, error="RuntimeError: boom")
    failed = AuditEvent.objects.get(action="run.fail")
    assert (failed.actor, failed.actor_name, failed.organization_slug) == (None, "system", "acme")
    assert failed.after == {"status": "failed", "error": "RuntimeError: boom"}

    FineTuneRun.objects.filter(pk=queued_run.pk).update(**running, heartbeat_at=now - timedelta(hours=1))
    training_services.recover_stale_runs(timeout=60, max_attempts=2)
    requeued = AuditEvent.objects.get(action="run.requeue")
    assert requeued.after["status"] == "queued" and "worker lost" in requeued.after["reason"]


def test_pools_created_and_shared(owner, organization):
    other = OrganizationFactory(slug="globex")
    pool = create_pool(user=owner, organization=organization, slug="a100")
    share_pool(user=owner, pool=pool, shared_with_all=False, shared_with=[other])
    created, shared = AuditEvent.objects.filter(action__startswith="pool.").order_by("pk")
    assert created.after == {"queue": pool.queue, "shared_with_all": False, "shared_with": []}
    assert shared.before["shared_with"] == [] and shared.after["shared_with"] == ["globex"]
    assert ComputePool.objects.count() == 1


def test_celery_tasks_run_as_the_worker_channel():
    assert audit.current_origin().channel == "command"
    task_prerun.send(sender=None, task_id="task-1", task=None, args=(), kwargs={})
    assert audit.current_origin().channel == "worker"
    task_postrun.send(
        sender=None, task_id="task-1", task=None, args=(), kwargs={}, retval=None, state="SUCCESS"
    )
    assert audit.current_origin().channel == "command"


# The organization's audit page -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [(None, 404), (Role.VIEWER, 403), (Role.MEMBER, 403), (Role.ADMIN, 200), (Role.OWNER, 200)],
)
def test_the_page_is_for_owners_and_admins(client, organization, member_of, role, status):
    user = member_of(organization, role) if role else member_of(OrganizationFactory())
    client.force_login(user)
    assert client.get(reverse("governance:audit", args=["acme"])).status_code == status


def test_the_page_for_superusers_and_anonymous_visitors(client, organization):
    url = reverse("governance:audit", args=["acme"])
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(UserFactory(is_superuser=True))
    assert client.get(url).status_code == 200


def test_the_organization_page_links_the_log_for_admins(client, organization, owner, member_of):
    link = reverse("governance:audit", args=["acme"])
    client.force_login(owner)
    assert link in client.get(reverse("hub:organization", args=["acme"])).content.decode()
    client.force_login(member_of(organization, Role.MEMBER))
    assert link not in client.get(reverse("hub:organization", args=["acme"])).content.decode()


def test_the_page_filters_and_shows_the_change(client, organization, owner):
    other = OrganizationFactory(slug="globex")
    _event(organization, "member.role", actor_name="owner", target="bo in acme", channel="web",
           ip_address="192.0.2.1", before={"role": "member"}, after={"role": "admin"})  # fmt: skip
    _event(organization, "run.cancel", actor_name="bo", target="run 7", channel="api")
    _event(organization, "run.fail", actor_name="system", target="run 8", channel="worker",
           at=timezone.now() - timedelta(days=10))  # fmt: skip
    _event(other, "run.fail", actor_name="system", target="run 9 of globex")
    client.force_login(owner)
    url = reverse("governance:audit", args=["acme"])

    def shown(**query) -> str:
        response = client.get(url, query)
        assert response.status_code == 200
        return response.content.decode()

    page = shown()
    assert "run 7" in page and "run 8" in page and "globex" not in page
    assert "192.0.2.1" in page and "member" in page and "→" in page
    assert "run 7" in shown(action="run.") and "bo in acme" not in shown(action="run.")
    assert "run 7" not in shown(actor="system") and "run 8" in shown(actor="system")
    assert "bo in acme" in shown(target="BO IN") and "run 7" not in shown(target="bo in")
    assert "run 7" in shown(channel="api") and "run 8" not in shown(channel="api")
    today = timezone.localdate()
    recent = shown(since=(today - timedelta(days=1)).isoformat(), until=today.isoformat())
    assert "run 7" in recent and "run 8" not in recent
    assert "run 8" in shown(until=(today - timedelta(days=5)).isoformat())


@pytest.mark.parametrize(
    "query",
    [{"since": "yesterday"}, {"until": "2024-13-40"}, {"channel": "carrier-pigeon"},
     {"since": "2024-05-02", "until": "2024-05-01"}, {"until": "9999-12-31"}, {"page": "nope"}],
)  # fmt: skip
def test_bad_filters_are_form_errors_not_server_errors(client, organization, owner, query):
    _event(organization, "run.cancel", target="run 7")
    client.force_login(owner)
    response = client.get(reverse("governance:audit", args=["acme"]), query)
    assert response.status_code == 200
    if "page" not in query and query.get("until") != "9999-12-31":
        assert response.context["form"].errors
        assert "alert--error" in response.content.decode()


def test_the_page_shows_fifty_events_a_page(client, organization, owner):
    for number in range(60):
        _event(organization, "run.cancel", target=f"run {number}")
    client.force_login(owner)
    url = reverse("governance:audit", args=["acme"])
    first = client.get(url, {"action": "run."})
    assert len(first.context["rows"]) == 50 and first.context["page"].has_next()
    second = client.get(url, {"action": "run.", "page": 2})
    assert len(second.context["rows"]) == 10
    assert "action=run." in first.content.decode()  # the pager keeps the filters


# The API and the admin ---------------------------------------------------------------------------


def test_the_api_lists_events_of_administered_organizations_only(organization, owner, member_of,
                                                                 api_client_for):  # fmt: skip
    other = OrganizationFactory(slug="globex")
    member_of(other, Role.MEMBER, username="bo")
    _event(organization, "run.cancel", actor_name="bo", at=timezone.now() - timedelta(days=2))
    _event(organization, "member.add", actor_name="owner")
    foreign = _event(other, "run.fail", actor_name="system")
    client = api_client_for(owner)

    def listed(**query) -> list[str]:
        response = client.get(API, query)
        assert response.status_code == 200, response.json()
        return [(row["organization"], row["action"]) for row in response.json()["results"]]

    assert listed() == [("acme", "member.add"), ("acme", "run.cancel")]
    assert listed(action="run.") == [("acme", "run.cancel")]
    assert listed(actor="owner") == [("acme", "member.add")]
    assert listed(organization="globex") == []
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert listed(since=since) == [("acme", "member.add")]
    assert listed(until=since) == [("acme", "run.cancel")]
    assert client.get(f"{API}{foreign.pk}/").status_code == 404
    assert client.get(API, {"since": "not a date"}).status_code == 400

    bo = api_client_for(other.memberships.get().user)
    assert bo.get(API).json()["results"] == []  # a member, not an admin, of globex
    superuser = api_client_for(UserFactory(is_superuser=True))
    assert {row["organization"] for row in superuser.get(API).json()["results"]} >= {"acme", "globex"}
    assert client.post(API, {"action": "x.y"}, format="json").status_code == 405
    assert client.delete(f"{API}{foreign.pk}/").status_code in (403, 404, 405)


def test_the_api_needs_a_signed_in_user(db):
    from rest_framework.test import APIClient

    assert APIClient().get(API).status_code in (401, 403)


def test_the_admin_is_read_only_for_staff(client, organization):
    event = _event(organization, "run.cancel", target="run 7")
    client.force_login(UserFactory(is_staff=True))
    changelist = client.get("/admin/governance/auditevent/", {"channel": "", "q": "run"})
    assert changelist.status_code == 200 and "run 7" in changelist.content.decode()
    detail = client.get(f"/admin/governance/auditevent/{event.pk}/change/")
    assert detail.status_code == 200
    assert client.post(f"/admin/governance/auditevent/{event.pk}/change/", {"action": "x"}).status_code == 403
    assert client.get("/admin/governance/auditevent/add/").status_code == 403
    assert client.post(f"/admin/governance/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk, action="run.cancel").exists()
