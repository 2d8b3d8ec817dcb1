"""Every route × every principal × every visibility and grant state, with the status each cell must answer,
and no trace of what a principal may not see in any answer: not in pages, lists, counts, search results,
error messages or downloads.

Principals: the owner, an admin, a member and a viewer of the owning organization (acme); a reviewer (the
hub-wide group, staff, no membership); an outsider (a member of another organization, globex); anonymous;
the member's read and write tokens, a write token restricted to globex (the member belongs to both), an
expired token and a revoked one. Tokens authenticate the API, downloads and the Hugging Face endpoints;
on pages they count for nothing, so a token holder sees a page as anonymous does.

Writes are mostly sent with an empty or invalid body: a principal allowed to write reaches validation (400,
or the form again), one that is not is turned away first (401, 403, 404 or the sign-in page), and nothing
changes. Where a service checks permission only after validating, the body is valid (and principals run
from the least privileged up, so a write that gets through changes nothing for the cells before it).
Visibility and grant states: public, internal, private; "gated" (public, on an on_request policy, a pending
request from globex, no grant) and "granted" (private, on the same policy, with a grant to globex).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from governance.models import (
    AccessGrant,
    AccessMode,
    AccessRequest,
    EvaluationReport,
    JobStatus,
    PolicyCheck,
    PublicationRequest,
    ScoreSnapshot,
)
from governance.services.policies import attach_policy, create_policy, default_terms
from hub.hf.revisions import commit_id
from hub.models import (
    AccessToken,
    Blob,
    Dataset,
    DatasetFile,
    DatasetVersion,
    ModelAlias,
    ModelFile,
    ModelVersion,
    RegisteredModel,
    Role,
    Split,
)
from hub.services import blobs
from hub.services.tokens import issue_token, revoke_token
from tests.conftest import demo_csv_bytes
from tests.factories import MembershipFactory, OrganizationFactory
from tests.security.test_route_coverage import site_routes
from training.models import ComputePool, FineTuneRun

# Least privileged first: a write that gets through changes the world only for those that come after.
PRINCIPALS = (
    "anonymous",
    "expired_token",
    "revoked_token",
    "foreign_token",
    "outsider",
    "reviewer",
    "read_token",
    "viewer",
    "write_token",
    "member",
    "admin",
    "owner",
)
TOKENS = {"expired_token", "revoked_token", "foreign_token", "read_token", "write_token"}
BAD_TOKENS = {"expired_token", "revoked_token"}
# Whose membership of acme counts (the member's unrestricted tokens count as the member).
ACME = {"owner", "admin", "member", "viewer", "read_token", "write_token"}
ACME_WRITERS = {"owner", "admin", "member", "write_token"}
ACME_ADMINS = {"owner", "admin"}
# Members of globex: the outsider, and the member (so its tokens, and the token restricted to globex).
GLOBEX = {"outsider", "member", "read_token", "write_token", "foreign_token"}
GLOBEX_WRITERS = {"outsider", "member", "write_token", "foreign_token"}
SESSIONS = {"owner", "admin", "member", "viewer", "reviewer", "outsider"}

# Artifacts. "granted": private, gated by an on_request policy, with an active grant to globex.
# "gated": public, gated by the same policy, with a pending request from globex and no grant.
VISIBILITIES = ("public", "internal", "private")
GRANT_STATES = ("gated", "granted")
STATES = VISIBILITIES + GRANT_STATES
# What must never appear for someone who may not see the artifact: slugs and names nobody else uses.
DATASET_MARKS = {state: (f"ds-{state}", f"Dataset {name}") for state, name in
                 zip(STATES, ("Wren", "Lark", "Kestrel", "Plover", "Heron"), strict=True)}  # fmt: skip
MODEL_MARKS = {state: (f"mdl-{state}", f"Model {name}") for state, name in
               zip(STATES, ("Finch", "Swift", "Osprey", "Tern", "Egret"), strict=True)}  # fmt: skip
LOGIN = "login"  # an expected cell: a redirect to the sign-in page


def who(principal: str, channel: str) -> str:
    """Pages ignore tokens: a token holder browses as anonymous."""
    return "anonymous" if channel == "page" and principal in TOKENS else principal


def sees(principal: str, state: str, channel: str = "api") -> bool:
    """Whether the principal may see an artifact of this visibility or grant state."""
    principal = who(principal, channel)
    if principal in BAD_TOKENS:
        return False
    if state in ("public", "gated"):
        return True
    if state == "internal":
        return principal != "anonymous"
    if state == "private":
        return principal in ACME
    return principal in ACME | GLOBEX  # granted


def may_use(principal: str, state: str) -> bool:
    """Downloads: seeing a gated artifact is not using it; acme members and granted organizations may."""
    if not sees(principal, state):
        return False
    return state != "gated" or principal in ACME


# The world ------------------------------------------------------------------------------------------------


@dataclass
class World:
    clients: dict[str, APIClient]
    datasets: dict  # state → DatasetVersion
    models: dict  # state → ModelVersion (published, config.json)
    run: FineTuneRun
    report: EvaluationReport
    pool: ComputePool
    gate_policy: object
    house_policy: object
    publication: PublicationRequest
    pending_request: AccessRequest
    refused_request: AccessRequest
    grant: AccessGrant
    revoked_grant: AccessGrant
    snapshot: ScoreSnapshot
    revoked_token: AccessToken
    audit_event_id: int


def _user(username: str) -> User:
    # An unusable password, stored as is: hashing one takes longer than the rest of the world.
    return User.objects.create(username=username, email=f"{username}@example.org", password="!")


def _model_version(owner, organization, state: str, visibility: str) -> ModelVersion:
    slug, name = MODEL_MARKS[state]
    model = RegisteredModel.objects.create(
        organization=organization,
        slug=slug,
        name=name,
        visibility=visibility,
        license="MIT",
        created_by=owner,
    )
    version = ModelVersion.objects.create(
        model=model, number=1, origin=ModelVersion.Origin.UPLOAD, labels=["negative", "positive"],
        architecture="BertForSequenceClassification", created_by=owner,
    )  # fmt: skip
    config = json.dumps({"architectures": ["BertForSequenceClassification"], "model_type": "bert"}).encode()
    ModelFile.objects.create(version=version, path="config.json", blob=blobs.store_bytes(config))
    # The Hugging Face endpoints serve published versions only.
    ModelVersion.objects.filter(pk=version.pk).update(
        status=ModelVersion.Status.PUBLISHED, published_at=timezone.now(), published_by=owner
    )
    version.refresh_from_db()
    return version


def _dataset_version(owner, organization, state: str, visibility: str, blob: Blob) -> DatasetVersion:
    """A dataset with one version of three split files (rows written directly: the registration service
    has its own tests, and this world is built for every row of the table)."""
    slug, name = DATASET_MARKS[state]
    dataset = Dataset.objects.create(organization=organization, slug=slug, name=name, visibility=visibility,
                                     license="CC-BY-4.0", created_by=owner)  # fmt: skip
    splits = {Split.TRAIN: 10, Split.VALIDATION: 5, Split.TEST: 5}
    version = DatasetVersion.objects.create(
        dataset=dataset, number=1, text_field="text", label_field="label", labels=["negative", "positive"],
        row_counts=splits, label_distribution={split: {"negative": rows // 2, "positive": rows - rows // 2}
                                               for split, rows in splits.items()}, created_by=owner,
    )  # fmt: skip
    for split, rows in splits.items():
        DatasetFile.objects.create(version=version, split=split, path=f"{split}.csv", blob=blob, rows=rows)
    return version


def _client(user=None, secret: str | None = None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    if secret is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def world(db) -> World:
    acme = OrganizationFactory(slug="acme", name="Acme")
    globex = OrganizationFactory(slug="globex", name="Globex")
    users = {role: _user(role) for role in ("owner", "admin", "member", "viewer", "outsider", "reviewer")}
    for role in (Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER):
        MembershipFactory(organization=acme, user=users[role], role=role)
    MembershipFactory(organization=globex, user=users["outsider"], role=Role.OWNER)
    MembershipFactory(organization=globex, user=users["member"], role=Role.MEMBER)
    users["reviewer"].is_staff = True
    users["reviewer"].save()
    users["reviewer"].groups.add(Group.objects.get(name="reviewers"))
    owner, member = users["owner"], users["member"]

    state_visibility = {"gated": "public", "granted": "private"}
    csv = blobs.store_bytes(demo_csv_bytes(20))
    datasets = {s: _dataset_version(owner, acme, s, state_visibility.get(s, s), csv) for s in STATES}
    models = {s: _model_version(owner, acme, s, state_visibility.get(s, s)) for s in STATES}

    terms = {
        **default_terms(),
        "license": "MIT",
        "access_mode": AccessMode.ON_REQUEST,
        "conditions": "Cite us.",
    }
    gate = create_policy(user=owner, organization=acme, slug="gate", name="Gate", terms=terms)
    house = create_policy(
        user=owner, organization=acme, slug="house", name="House", terms={**default_terms(), "license": "MIT"}
    )
    for state in GRANT_STATES:
        attach_policy(user=owner, policy=gate, artifact=datasets[state].dataset)
        attach_policy(user=owner, policy=gate, artifact=models[state].model)
    gate_version = gate.versions.get()
    requests = {}
    for status, dataset in ((AccessRequest.Status.PENDING, datasets["gated"].dataset),
                            (AccessRequest.Status.REFUSED, datasets["granted"].dataset),
                            (AccessRequest.Status.APPROVED, None)):  # fmt: skip
        requests[status] = AccessRequest.objects.create(
            organization=globex, dataset=dataset, model=None if dataset else models["granted"].model,
            policy_version=gate_version, intended_use=["research"], purpose="Study", accepted_conditions=True,
            status=status, requested_by=users["outsider"],
            decided_at=None if status == AccessRequest.Status.PENDING else timezone.now(),
            reason="No." if status == AccessRequest.Status.REFUSED else "",
        )  # fmt: skip
    grant_fields = {"organization": globex, "granted_by": owner, "source": AccessGrant.Source.REQUEST}
    grant = AccessGrant.objects.create(
        **grant_fields, model=models["granted"].model, request=requests[AccessRequest.Status.APPROVED]
    )
    AccessGrant.objects.create(organization=globex, dataset=datasets["granted"].dataset, granted_by=owner,
                               source=AccessGrant.Source.LISTED)  # fmt: skip
    revoked_grant = AccessGrant.objects.create(
        **grant_fields, model=models["gated"].model, revoked_at=timezone.now(), revoked_by=owner
    )

    private_model, private_data = models["private"], datasets["private"]
    pool = ComputePool.objects.create(organization=acme, slug="gpus", name="GPUs", queue="pool-acme-gpus",
                                      created_by=owner)  # fmt: skip
    run = FineTuneRun.objects.create(
        organization=acme, created_by=owner, base_version=private_model, dataset_version=private_data,
        status=FineTuneRun.Status.SUCCEEDED, finished_at=timezone.now(), license="MIT",
    )  # fmt: skip
    report = EvaluationReport.objects.create(
        model_version=private_model, dataset_version=private_data, split="test", status=JobStatus.SUCCEEDED,
        requested_by=owner, accuracy=0.9,
    )  # fmt: skip
    check = PolicyCheck.objects.create(
        context=PolicyCheck.Context.PUBLICATION, outcome=PolicyCheck.Outcome.ALLOWED, organization=acme,
        model_version=private_model, created_by=owner,
    )  # fmt: skip
    publication = PublicationRequest.objects.create(
        model_version=private_model, status=PublicationRequest.Status.PUBLISHED, policy_check=check,
        report=report, requested_by=owner,
    )  # fmt: skip
    ModelAlias.objects.create(model=private_model.model, name="production", version=private_model,
                              updated_by=owner)  # fmt: skip
    snapshot = ScoreSnapshot.objects.create(
        date=timezone.now().date(), scope=ScoreSnapshot.Scope.ORGANIZATION, organization=acme, score="E",
        value=0.5, factors={}, window_days=30,
    )  # fmt: skip

    secret = {}
    for name, fields in {
        "read_token": {"scope": AccessToken.Scope.READ},
        "write_token": {"scope": AccessToken.Scope.WRITE},
        "foreign_token": {"scope": AccessToken.Scope.WRITE, "organization": globex},
        "expired_token": {"scope": AccessToken.Scope.WRITE, "expires_at": timezone.now() + timedelta(days=1)},
        "revoked_token": {"scope": AccessToken.Scope.WRITE},
    }.items():
        issued = issue_token(user=member, name=name, **fields)
        secret[name] = issued.secret
        if name == "expired_token":
            AccessToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now() - timedelta(1))
        if name == "revoked_token":
            revoke_token(issued.token)
            revoked = issued.token

    clients = {name: _client(user=users[name]) for name in SESSIONS}
    clients.update({name: _client(secret=secret[name]) for name in TOKENS})
    clients["anonymous"] = _client()

    from governance.models import AuditEvent

    return World(
        clients=clients, datasets=datasets, models=models, run=run, report=report, pool=pool,
        gate_policy=gate, house_policy=house, publication=publication,
        pending_request=requests[AccessRequest.Status.PENDING],
        refused_request=requests[AccessRequest.Status.REFUSED], grant=grant, revoked_grant=revoked_grant,
        snapshot=snapshot,
        revoked_token=revoked, audit_event_id=AuditEvent.objects.filter(organization=acme).latest("pk").pk,
    )  # fmt: skip


# What each cell answers ----------------------------------------------------------------------------------

Expect = Callable[[str, str], "int | str"]


def anyone(status: int = 200, channel: str = "api") -> Expect:
    """Open to all; on the API a bad token is refused outright, never read as anonymous."""
    return lambda p, s: 401 if channel == "api" and p in BAD_TOKENS else status


def page_view(p: str, s: str) -> int:
    return 200 if sees(p, s, "page") else 404


def api_view(p: str, s: str) -> int:
    if p in BAD_TOKENS:
        return 401
    return 200 if sees(p, s) else 404


def download(p: str, s: str) -> int:
    if p in BAD_TOKENS:
        return 401
    if not sees(p, s):
        return 404  # not 403: a hidden file does not exist
    return 200 if may_use(p, s) else 403


Groups = tuple[tuple[set[str], int], ...]


def first_match(p: str, groups: Groups, others: int | None) -> int | None:
    return next((status for members, status in groups if p in members), others)


def signed_in_page(status: int = 200, others: int | None = None, allowed: set[str] | None = None,
                   groups: Groups = ()) -> Expect:  # fmt: skip
    """A page behind the sign-in: ``status`` for ``allowed`` (default: everyone signed in), or the status of
    the first of ``groups`` the principal is in, else ``others``."""

    def expect(p: str, s: str) -> int | str:
        p = who(p, "page")
        if p == "anonymous":
            return LOGIN
        if groups:
            return first_match(p, groups, others)
        return status if allowed is None or p in allowed else others

    return expect


def artifact_page(writers: set[str], status: int, refused: int = 403) -> Expect:
    """A signed-in page about an artifact: 404 when hidden, ``refused`` when seen but not ``writers``'."""

    def expect(p: str, s: str) -> int | str:
        p = who(p, "page")
        if p == "anonymous":
            return LOGIN
        if not sees(p, s, "page"):
            return 404
        return status if p in writers else refused

    return expect


def api_signed_in(status: int = 200, others: int | None = None, allowed: set[str] | None = None) -> Expect:
    def expect(p: str, s: str) -> int:
        if p in BAD_TOKENS or p == "anonymous":
            return 401
        return status if allowed is None or p in allowed else others

    return expect


def api_write(writers: set[str], status: int = 400, hidden: Callable[[str, str], bool] | None = None,
              refused: int = 403) -> Expect:  # fmt: skip
    """A write on the API: 401 without credentials, 403 for a read token (whatever the target), 404 when
    the target is hidden, ``refused`` when seen but not ``writers``', ``status`` for writers."""
    hidden = hidden or (lambda p, s: not sees(p, s))

    def expect(p: str, s: str) -> int:
        if p in BAD_TOKENS or p == "anonymous":
            return 401
        if p == "read_token":
            return 403
        if hidden(p, s):
            return 404
        return status if p in writers else refused

    return expect


def hf_read(p: str, s: str) -> int:
    """Like the Hub: a repository hidden from an anonymous caller is a 401 (sign in), exactly as one that
    does not exist; a signed-in caller gets 404."""
    if p in BAD_TOKENS:
        return 401
    if not sees(p, s):
        return 401 if p == "anonymous" else 404
    return 200


def hf_download(p: str, s: str) -> int:
    if p in BAD_TOKENS or (p == "anonymous" and not may_use(p, s)):
        return 401  # the Hub asks an anonymous caller to sign in, for a gated file as for a hidden one
    return download(p, s)


def hf_write(p: str, s: str, status: int) -> int:
    """The Hugging Face write protocol takes tokens only: a session is asked for one (401)."""
    if p in BAD_TOKENS or p == "anonymous" or p in SESSIONS:
        return 401
    if p == "read_token":
        return 403
    if not sees(p, s):
        return 404
    return status if p == "write_token" else 403


# The table -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    route: str  # the URL name, as the resolver knows it (or the view's dotted path for an unnamed route)
    expect: Expect
    kwargs: Callable[[World, str], dict] = lambda w, s: {}
    states: tuple[str, ...] = ("-",)  # "-": the route is about no artifact
    method: str = "get"
    data: dict | Callable[[World, str], dict] | None = None  # a callable for files, read once each
    format: str | None = None
    query: str = ""
    path: Callable[[World, str], str] | None = None  # for routes reverse() cannot build
    label: str = ""
    principals: tuple[str, ...] | None = None  # fewer, where the answer cannot depend on who asks
    lists: tuple[str, ...] = ()  # "datasets", "models": a list that must show every one the principal sees

    @property
    def id(self) -> str:
        return f"{self.route}{'[' + self.label + ']' if self.label else ''} {self.method.upper()}"


def org(w, s):
    return {"org": "acme"}


def dataset_slug(w, s):
    return {"org": "acme", "slug": w.datasets[s].dataset.slug}


def model_slug(w, s):
    return {"org": "acme", "slug": w.models[s].model.slug}


def model_number(w, s):
    return {**model_slug(w, s), "number": 1}


def dataset_pk(w, s):
    return {"pk": w.datasets[s].dataset.pk}


def dataset_version_pk(w, s):
    return {"pk": w.datasets[s].pk}


def model_pk(w, s):
    return {"pk": w.models[s].model.pk}


def model_version_pk(w, s):
    return {"pk": w.models[s].pk}


def card_of(w, s):
    return {"version_id": w.models[s].pk}


def hf_model(w, s, **extra):
    return {"org": "acme", "name": w.models[s].model.slug, **extra}


def hf_dataset(w, s, **extra):
    return {"org": "acme", "name": w.datasets[s].dataset.slug, **extra}


def train_file(w, s):
    return w.datasets[s].files.get(split="train")


def pk_of(attribute: str):
    return lambda w, s: {"pk": getattr(w, attribute).pk}


def new_version_upload(w, s) -> dict:
    """A valid new dataset version: a writer's upload is stored (201), anyone else's refused."""
    return {"file": SimpleUploadedFile("more.csv", demo_csv_bytes(20)), "text_field": "text",
            "label_field": "label"}  # fmt: skip


EMPTY: dict = {}
ALL = STATES
SEEN = ("public", "internal", "private", "granted")  # visibility, and visibility widened by a grant
WRITE = ("internal", "private")  # seen by the outsider but not its to change; hidden from the outsider
SIGNED_IN_WRITERS = SESSIONS | {"write_token", "foreign_token"}
ACME_SESSIONS = ACME & SESSIONS
ACME_SESSION_WRITERS = ACME_WRITERS & SESSIONS
GLOBEX_SESSIONS = GLOBEX & SESSIONS
NOBODY_HIDDEN = lambda p, s: False  # noqa: E731 (the write names no artifact)
NOT_ACME = lambda p, s: p not in ACME  # noqa: E731
NOT_A_PARTY = lambda p, s: p not in ACME | GLOBEX  # noqa: E731 (requests and grants: both organizations)
# A write in the caller's own name (create, request): anyone signed in and able to write reaches validation.
OWN_WRITE = api_write(SIGNED_IN_WRITERS, hidden=NOBODY_HIDDEN)
# A write on the gate policy, which everyone signed in sees (it governs public artifacts): acme's admins only.
GATE_ADMIN = api_write(ACME_ADMINS, hidden=NOBODY_HIDDEN)

# fmt: off
ROWS = [
    # Sign-in and the API's description.
    Row("login", anyone(200, "page")),
    Row("logout", anyone(302, "page"), method="post"),
    # The schema takes a second to build, and is the same for everyone.
    Row("schema", anyone(), principals=("anonymous", "revoked_token", "read_token", "owner")),
    Row("swagger-ui", anyone()),
    Row("api-root", anyone()),
    Row("hub.api.exceptions.api_not_found", lambda p, s: 404, path=lambda w, s: "/api/v1/no-such-thing/"),
    # Registry pages.
    Row("hub:search", anyone(200, "page"), query="?q=-", lists=("datasets", "models")),
    Row("hub:search", anyone(200, "page"), query="?q=Kestrel", label="by name"),
    Row("hub:dataset-list", anyone(200, "page"), lists=("datasets",)),
    Row("hub:dataset-list", anyone(200, "page"), query="?q=private", label="search"),
    Row("hub:model-list", anyone(200, "page"), lists=("models",)),
    Row("hub:model-list", anyone(200, "page"), query="?visibility=private", label="private filter"),
    Row("hub:organization", anyone(200, "page"), org, lists=("datasets", "models")),
    Row("hub:dataset", page_view, dataset_slug, SEEN),
    Row("hub:model", page_view, model_slug, SEEN),
    Row("hub:model-version", page_view, model_number, SEEN),
    Row("hub:dataset-file", download, lambda w, s: {"pk": train_file(w, s).pk}, ALL),
    Row("hub:model-file", download, lambda w, s: {"pk": w.models[s].files.get().pk}, ALL),
    Row("hub:dataset-create", signed_in_page()),
    Row("hub:model-create", signed_in_page()),
    Row("hub:organization-create", signed_in_page()),
    Row("hub:tokens", signed_in_page()),
    Row("hub:token-revoke", signed_in_page(302, 404, {"member"}), pk_of("revoked_token"), method="post"),
    Row("hub:member-add", signed_in_page(400, 404, ACME_SESSIONS), org, method="post", data=EMPTY),
    Row("hub:member-change", signed_in_page(groups=((ACME_ADMINS, 302), (ACME_SESSIONS, 403)), others=404),
        lambda w, s: {"org": "acme", "username": "viewer"}, method="post", data={"role": "viewer"}),
    Row("hub:dataset-version-create", artifact_page(ACME_WRITERS, 200), dataset_slug, WRITE),
    Row("hub:datasheet", artifact_page(ACME_WRITERS, 200), dataset_slug, WRITE),
    Row("hub:model-version-create", artifact_page(ACME_WRITERS, 200), model_slug, WRITE),
    # The service refuses a non-admin with a message on the model's page: see test_refused_page_writes.
    Row("hub:alias-move", artifact_page(SESSIONS, 302), model_slug, WRITE, method="post", data=EMPTY),
    # Runs, evaluations and pools.
    Row("training:dashboard", signed_in_page(), lists=("datasets", "models")),
    Row("training:run-list", signed_in_page()),
    Row("training:run-create", signed_in_page()),
    Row("training:evaluation-create", signed_in_page()),
    Row("training:run", signed_in_page(200, 404, ACME_SESSIONS), pk_of("run")),
    Row("training:run-cancel", signed_in_page(groups=((ACME_SESSION_WRITERS, 302), (ACME_SESSIONS, 403)),
                                              others=404), pk_of("run"), method="post"),
    Row("training:pool-list", signed_in_page(200, 403, ACME_SESSIONS), org),
    Row("training:pool-share", signed_in_page(groups=((ACME_ADMINS, 302), (ACME_SESSIONS, 403)), others=404),
        lambda w, s: {"org": "acme", "slug": "gpus"}, method="post", data=EMPTY),
    # Governance pages. Organizations are public, so a page of one refuses an outsider with 403.
    Row("governance:access-inbox", signed_in_page(200, 403, ACME_SESSIONS), org),
    Row("governance:access-decide", signed_in_page(200, 403, ACME_ADMINS),
        lambda w, s: {"org": "acme", "pk": w.refused_request.pk}, method="post",
        data={"decision": "approve"}),
    Row("governance:access-withdraw", signed_in_page(302, 403, GLOBEX_SESSIONS),
        lambda w, s: {"org": "globex", "pk": w.refused_request.pk}, method="post"),
    Row("governance:grant-revoke", signed_in_page(200, 403, ACME_ADMINS),
        lambda w, s: {"org": "acme", "pk": w.revoked_grant.pk}, method="post", data=EMPTY),
    Row("governance:dataset-access-request", artifact_page(SESSIONS, 200), dataset_slug, ALL),
    Row("governance:model-access-request", artifact_page(SESSIONS, 200), model_slug, ALL),
    Row("governance:policy-list", anyone(200, "page"), org),
    Row("governance:policy", anyone(200, "page"), lambda w, s: {"org": "acme", "slug": "gate"}, label="gate"),
    Row("governance:policy", lambda p, s: 200 if who(p, "page") in ACME else 404,
        lambda w, s: {"org": "acme", "slug": "house"}, label="house"),
    Row("governance:policy-create", signed_in_page(200, 403, ACME_ADMINS), org),
    Row("governance:policy-version-create", signed_in_page(200, 403, ACME_ADMINS),
        lambda w, s: {"org": "acme", "slug": "gate"}),
    Row("governance:policy-attach", signed_in_page(302, 403, ACME_ADMINS),
        lambda w, s: {"org": "acme", "slug": "gate"}, method="post", data=EMPTY),
    Row("governance:dataset-policy", artifact_page(ACME_ADMINS, 302), dataset_slug, WRITE, method="post",
        data=EMPTY),
    Row("governance:model-policy", artifact_page(ACME_ADMINS, 302), model_slug, WRITE, method="post",
        data=EMPTY),
    Row("governance:report", signed_in_page(200, 404, ACME_SESSIONS), pk_of("report")),
    # The services refuse with a message on the version's page: see test_refused_page_writes.
    Row("governance:publication-request", artifact_page(SESSIONS, 302), model_number, WRITE, method="post"),
    Row("governance:version-deprecate", artifact_page(SESSIONS, 302), model_number, WRITE, method="post"),
    Row("governance:audit", signed_in_page(groups=((ACME_ADMINS, 200), (ACME_SESSIONS, 403)), others=404),
        org),
    Row("governance:card", page_view, model_number, SEEN),
    Row("governance:card-readme", page_view, model_number, SEEN),
    Row("governance:card-edit", artifact_page(ACME_WRITERS, 200), model_number, WRITE),
    Row("governance:scores", signed_in_page()),
    Row("governance:score-factor", signed_in_page(), lambda w, s: {"factor": "N_pass"}),
    Row("governance:organization-scores", signed_in_page(200, 404, ACME_SESSIONS), org),
    Row("governance:organization-score-factor", signed_in_page(200, 404, ACME_SESSIONS),
        lambda w, s: {"org": "acme", "factor": "N_pass"}),
    # The registry's API.
    Row("dataset-list", anyone(), lists=("datasets",)),
    Row("dataset-list", anyone(), query="?search=Kestrel", label="search"),
    Row("dataset-list", OWN_WRITE, method="post", data=EMPTY,
        label="create"),
    Row("dataset-detail", api_view, dataset_pk, SEEN),
    Row("dataset-datasheet", api_view, dataset_pk, SEEN),
    Row("dataset-datasheet", api_write(ACME_WRITERS), dataset_pk, WRITE, method="put", data={"nonsense": "x"},
        format="json"),
    Row("dataset-add-version", api_write(ACME_WRITERS, 201), dataset_pk, WRITE, method="post",
        data=new_version_upload),
    Row("dataset-version-list", anyone(), lists=("datasets",)),
    Row("dataset-version-detail", api_view, dataset_version_pk, SEEN),
    Row("model-list", anyone(), lists=("models",)),
    Row("model-list", anyone(), query="?search=Osprey", label="search"),
    Row("model-detail", api_view, model_pk, SEEN),
    Row("model-aliases", api_view, model_pk, SEEN),
    Row("model-aliases", api_write(ACME_ADMINS, 200), model_pk, WRITE, method="post",
        data={"name": "staging", "version": 1}, format="json"),
    Row("model-add-version", api_write(ACME_WRITERS), model_pk, WRITE, method="post", data=EMPTY),
    Row("model-version-list", anyone(), lists=("models",)),
    Row("model-version-detail", api_view, model_version_pk, SEEN),
    Row("organization-list", api_signed_in()),
    Row("organization-list", OWN_WRITE, method="post", data=EMPTY,
        label="create"),
    Row("organization-detail", api_signed_in(200, 404, ACME), lambda w, s: {"slug": "acme"}),
    Row("organization-members", api_signed_in(200, 404, ACME), lambda w, s: {"slug": "acme"}),
    Row("organization-members", api_write(ACME_ADMINS, hidden=NOT_ACME), lambda w, s: {"slug": "acme"},
        method="post", data={"username": "nobody", "role": "viewer"}, format="json", label="add"),
    Row("organization-member", api_write(ACME_ADMINS, 200, hidden=NOT_ACME),
        lambda w, s: {"slug": "acme", "username": "viewer"}, method="patch", data={"role": "viewer"},
        format="json"),
    # Runs, pools, evaluations.
    Row("run-list", api_signed_in()),
    Row("run-list", OWN_WRITE, method="post", data=EMPTY, format="json",
        label="submit"),
    Row("run-detail", api_signed_in(200, 404, ACME), pk_of("run")),
    Row("run-metrics", api_signed_in(200, 404, ACME), pk_of("run")),
    Row("run-cancel", api_write(ACME_WRITERS, hidden=NOT_ACME), pk_of("run"), method="post"),
    Row("pool-list", api_signed_in()),
    Row("pool-list", OWN_WRITE, method="post", data=EMPTY, format="json",
        label="create"),
    Row("pool-detail", api_signed_in(200, 404, ACME), pk_of("pool")),
    Row("pool-share", api_write(ACME_ADMINS, 200, hidden=NOT_ACME), pk_of("pool"), method="post", data=EMPTY,
        format="json"),
    Row("evaluation-list", api_signed_in()),
    Row("evaluation-list", OWN_WRITE, method="post", data=EMPTY, format="json",
        label="request"),
    Row("evaluation-detail", api_signed_in(200, 404, ACME), pk_of("report")),
    # Governance API.
    Row("model-card-detail", api_view, card_of, SEEN),
    Row("model-card-detail", api_write(ACME_WRITERS), card_of, WRITE, method="patch", data=EMPTY,
        format="json"),
    Row("model-card-readme", api_view, card_of, SEEN),
    Row("audit-event-list", api_signed_in()),
    Row("audit-event-detail", api_signed_in(200, 404, ACME_ADMINS), lambda w, s: {"pk": w.audit_event_id}),
    Row("publication-list", api_signed_in()),
    Row("publication-detail", api_signed_in(200, 404, ACME), pk_of("publication")),
    Row("publication-list", OWN_WRITE, method="post", data=EMPTY,
        format="json", label="request"),
    Row("publication-deprecate", OWN_WRITE, method="post",
        data=EMPTY, format="json"),
    Row("policy-list", anyone()),
    Row("policy-list", OWN_WRITE, method="post", data=EMPTY,
        format="json", label="create"),
    Row("policy-use-tags", anyone()),
    Row("policy-detail", anyone(), pk_of("gate_policy"), label="gate"),
    Row("policy-detail", lambda p, s: 401 if p in BAD_TOKENS else 200 if p in ACME else 404,
        pk_of("house_policy"), label="house"),
    Row("policy-versions", GATE_ADMIN, pk_of("gate_policy"), method="post", data=EMPTY,
        format="json", label="gate"),
    Row("policy-attach", api_write(ACME_ADMINS, 200, hidden=NOT_ACME), pk_of("house_policy"), method="post",
        data={"dataset": "acme/ds-internal"}, format="json"),
    Row("policy-detach", GATE_ADMIN, pk_of("gate_policy"), method="post", data=EMPTY,
        format="json"),
    Row("access-request-list", api_signed_in()),
    Row("access-request-list", OWN_WRITE, method="post", data=EMPTY,
        format="json", label="create"),
    Row("access-request-detail", api_signed_in(200, 404, ACME | GLOBEX), pk_of("pending_request")),
    Row("access-request-approve", api_write(ACME_ADMINS, hidden=NOT_A_PARTY), pk_of("refused_request"),
        method="post", data=EMPTY, format="json"),
    Row("access-request-refuse", api_write(ACME_ADMINS, hidden=NOT_A_PARTY), pk_of("refused_request"),
        method="post", data={"reason": "No."}, format="json"),
    Row("access-request-withdraw", api_write(GLOBEX_WRITERS, hidden=NOT_A_PARTY), pk_of("refused_request"),
        method="post", data=EMPTY, format="json"),
    Row("access-grant-list", api_signed_in()),
    Row("access-grant-detail", api_signed_in(200, 404, ACME | GLOBEX), pk_of("grant")),
    Row("access-grant-revoke", api_write(ACME_ADMINS, hidden=NOT_A_PARTY), pk_of("revoked_grant"),
        method="post", data={"reason": "Done."}, format="json"),
    Row("score-snapshot-list", api_signed_in()),
    Row("score-snapshot-detail", api_signed_in(200, 404, ACME), pk_of("snapshot")),
    Row("scores-hub", api_signed_in()),
    Row("scores-organization", api_signed_in(200, 404, ACME), lambda w, s: {"slug": "acme"}),
    Row("scores-model-version", lambda p, s: 401 if p in BAD_TOKENS | {"anonymous"} else api_view(p, s),
        model_version_pk, SEEN),
    # The Hugging Face protocol.
    Row("hf-model-info", hf_read, hf_model, SEEN),
    Row("hf-model-revision-info", hf_read, lambda w, s: hf_model(w, s, revision="main"), SEEN),
    Row("hf-model-tree", hf_read, lambda w, s: hf_model(w, s, revision="main"), SEEN),
    Row("hf-model-paths-info", hf_read, lambda w, s: hf_model(w, s, revision="main"), SEEN, method="post",
        data={"paths": ["config.json"]}),
    Row("hf-model-refs", hf_read, hf_model, SEEN),
    Row("hf-model-commits", hf_read, lambda w, s: hf_model(w, s, revision="main"), SEEN),
    Row("hf-model-resolve", hf_download, lambda w, s: hf_model(w, s, revision="main", path="config.json"),
        ALL),
    Row("hf-dataset-info", hf_read, hf_dataset, SEEN),
    Row("hf-dataset-revision-info", hf_read, lambda w, s: hf_dataset(w, s, revision="main"), SEEN),
    Row("hf-dataset-tree", hf_read, lambda w, s: hf_dataset(w, s, revision="main"), SEEN),
    Row("hf-dataset-paths-info", hf_read, lambda w, s: hf_dataset(w, s, revision="main"), SEEN, method="post",
        data={"paths": ["train.csv"]}),
    Row("hf-dataset-refs", hf_read, hf_dataset, SEEN),
    Row("hf-dataset-commits", hf_read, lambda w, s: hf_dataset(w, s, revision="main"), SEEN),
    Row("hf-dataset-resolve", hf_download,
        lambda w, s: hf_dataset(w, s, revision="main", path=train_file(w, s).path), ALL),
    Row("hf-commit-page", lambda p, s: 302 if hf_read(p, s) == 200 else hf_read(p, s),
        lambda w, s: hf_model(w, s, oid=commit_id(w.models[s])), SEEN),
    Row("hf-validate-yaml", anyone(), method="post", data={"content": "---\nlicense: mit\n---\n"},
        format="json"),
    Row("hf-xet-write-token", lambda p, s: 501, lambda w, s: hf_model(w, s, revision="main"), ("private",)),
    Row("hf-unsupported-upload", lambda p, s: 400, states=("private",), method="post",
        path=lambda w, s: f"/api/datasets/acme/{w.datasets[s].dataset.slug}/preupload/main"),
    Row("hf-repo-create", lambda p, s: hf_write(p, "public", 400) if p != "foreign_token" else 400,
        method="post", data=EMPTY, format="json"),
    Row("hf-preupload", lambda p, s: hf_write(p, s, 400), lambda w, s: hf_model(w, s, revision="main"), WRITE,
        method="post", data=EMPTY, format="json"),
    Row("hf-commit", lambda p, s: hf_write(p, s, 400), lambda w, s: hf_model(w, s, revision="main"), WRITE,
        method="post", data=EMPTY, format="json"),
    Row("hf-lfs-batch", lambda p, s: hf_write(p, s, 422), hf_model, WRITE, method="post", data=EMPTY,
        format="json"),
    Row("hf-lfs-upload", lambda p, s: 403, lambda w, s: hf_model(w, s, oid="0" * 64), ("private",),
        method="put"),
    Row("hf-lfs-verify", lambda p, s: 403, lambda w, s: hf_model(w, s, oid="0" * 64), ("private",),
        method="post"),
    Row("hub.hf.read_views.unknown_endpoint", lambda p, s: 404,
        path=lambda w, s: "/api/spaces/acme/anything"),
]
# fmt: on


# Routes with no row above, and why.
COVERED_ELSEWHERE: dict[str, str] = {}
PAGE_NAMESPACES = ("hub:", "training:", "governance:")
DOWNLOADS = ("hub:dataset-file", "hub:model-file")  # token-authenticated, like the API


def channel_of(route: str) -> str:
    is_page = route.startswith(PAGE_NAMESPACES) and route not in DOWNLOADS
    return "page" if is_page or route in ("login", "logout") else "api"


def url_of(row: Row, world: World, state: str) -> str:
    base = row.path(world, state) if row.path else reverse(row.route, kwargs=row.kwargs(world, state))
    return base + row.query


def send(client: APIClient, row: Row, world: World, state: str, url: str):
    options = {} if row.format is None else {"format": row.format}
    if row.data is None:
        return getattr(client, row.method)(url, **options)
    data = row.data(world, state) if callable(row.data) else row.data
    return getattr(client, row.method)(url, data, **options)


def body_of(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode(errors="replace")


def answered(response, expected: int | str) -> bool:
    if expected == LOGIN:
        return response.status_code == 302 and response["Location"].startswith(resolve_url("login"))
    return response.status_code == expected


def leaks(principal: str, channel: str, url: str, body: str) -> list[str]:
    """Slugs and names of artifacts the principal may not see that the answer shows anyway (a slug the
    caller wrote in the URL does not count: it told us)."""
    found = []
    for state in STATES:
        if sees(principal, state, channel):
            continue
        for mark in (*DATASET_MARKS[state], *MODEL_MARKS[state]):
            if mark in body and mark not in url:
                found.append(mark)
    return found


def unlisted(row: Row, principal: str, channel: str, body: str) -> list[str]:
    """The slugs a list leaves out although the principal may see them."""
    marks = {"datasets": DATASET_MARKS, "models": MODEL_MARKS}
    return [marks[kind][state][0] for kind in row.lists for state in STATES
            if sees(principal, state, channel) and marks[kind][state][0] not in body]  # fmt: skip


def miscounted(response) -> str | None:
    """A paginated API list whose count is not the number of results it holds (one page of them)."""
    if response.streaming or "application/json" not in response.get("Content-Type", ""):
        return None
    payload = response.json()
    paginated = isinstance(payload, dict) and {"count", "results", "next"} <= payload.keys()
    if paginated and payload["next"] is None and payload["count"] != len(payload["results"]):
        return f"count {payload['count']} for {len(payload['results'])} results"
    return None


# Pages read the session only: one token (the write token, which could do most) stands for all of them.
PAGE_PRINCIPALS = tuple(p for p in PRINCIPALS if p not in TOKENS or p == "write_token")


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.id)
def test_matrix(world, row):
    channel = channel_of(row.route)
    failures = []
    for state in row.states:
        url = url_of(row, world, state)
        for principal in row.principals or (PAGE_PRINCIPALS if channel == "page" else PRINCIPALS):
            response = send(world.clients[principal], row, world, state, url)
            cell = f"{row.id} × {principal} × {state}"
            expected = row.expect(principal, state)
            if not answered(response, expected):
                failures.append(f"{cell}: {response.status_code}, expected {expected}")
            shown = leaks(principal, channel, url, body_of(response))
            if shown:
                failures.append(f"{cell}: shows {', '.join(shown)}")
            wrong_count = miscounted(response)
            if wrong_count:
                failures.append(f"{cell}: {wrong_count}")
            if response.status_code == 200:
                missing = unlisted(row, principal, channel, body_of(response))
                if missing:
                    failures.append(f"{cell}: does not list {', '.join(missing)}")
    assert not failures, "\n".join(failures)


def test_every_route_is_in_the_matrix():
    """The route coverage test and this matrix read the same resolver: a new route needs a row here."""
    routes = {route.name for route in site_routes() if route.admin_namespace is None}
    in_table = {row.route for row in ROWS}
    missing = routes - in_table - COVERED_ELSEWHERE.keys()
    assert not missing, f"routes without a row in the authorization matrix: {sorted(missing)}"
    stale = (in_table | COVERED_ELSEWHERE.keys()) - routes
    assert not stale, f"rows for routes that no longer exist: {sorted(stale)}"


# What the matrix cannot see in a status code ---------------------------------------------------------------


def test_refused_page_writes_change_nothing(world):
    """Deprecating a version and moving an alias answer with a message on the page whoever asks; only the
    organization's admins change anything."""
    version = world.models["internal"].model.versions.get()
    deprecate = reverse("governance:version-deprecate", kwargs=model_number(world, "internal"))
    move = reverse("hub:alias-move", kwargs=model_slug(world, "internal"))
    for principal in ("outsider", "reviewer", "viewer", "member"):
        world.clients[principal].post(deprecate, {"reason": "Superseded."})
        world.clients[principal].post(move, {"name": "staging", "version": "1"})
        version.refresh_from_db()
        assert version.status == ModelVersion.Status.PUBLISHED, principal
        assert not version.model.aliases.exists(), principal
    world.clients["admin"].post(move, {"name": "staging", "version": "1"})
    world.clients["admin"].post(deprecate, {"reason": "Superseded."})
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.DEPRECATED
    assert version.model.aliases.filter(name="staging").exists()


HIDDEN_VS_MISSING = {
    "hub:dataset": lambda slug: {"org": "acme", "slug": slug},
    "governance:dataset-access-request": lambda slug: {"org": "acme", "slug": slug},
    "hf-dataset-info": lambda slug: {"org": "acme", "name": slug},
    "hf-dataset-resolve": lambda slug: {"org": "acme", "name": slug, "revision": "main", "path": "train.csv"},
}


@pytest.mark.parametrize("principal", ["anonymous", "outsider", "foreign_token"])
@pytest.mark.parametrize("route", HIDDEN_VS_MISSING)
def test_a_hidden_artifact_answers_exactly_like_a_missing_one(world, route, principal):
    """Status, error code and message are those of a dataset that does not exist: nothing tells them apart."""
    client = world.clients[principal]
    hidden = client.get(reverse(route, kwargs=HIDDEN_VS_MISSING[route]("ds-private")))
    missing = client.get(reverse(route, kwargs=HIDDEN_VS_MISSING[route]("ds-nothing")))
    assert hidden.status_code == missing.status_code
    assert hidden.status_code in (302, 401, 404)
    for header in ("X-Error-Code", "X-Error-Message", "Location"):
        assert (hidden.get(header) or "").replace("ds-private", "ds-nothing") == (missing.get(header) or "")
    assert body_of(hidden).replace("ds-private", "ds-nothing") == body_of(missing)


def test_api_counts_and_search_hold_only_what_each_may_see(world):
    """The totals of the API's lists are the visible artifacts, per principal."""
    expected = {
        "anonymous": {"public", "gated"},
        "outsider": {"public", "internal", "gated", "granted"},
        "foreign_token": {"public", "internal", "gated", "granted"},
        "viewer": set(STATES),
    }
    for principal, states in expected.items():
        for route, marks in (("dataset-list", DATASET_MARKS), ("model-list", MODEL_MARKS)):
            payload = world.clients[principal].get(reverse(route)).json()
            assert payload["count"] == len(states), (principal, route)
            assert {item["slug"] for item in payload["results"]} == {marks[s][0] for s in states}


def test_only_writers_create_datasets_in_an_organization(world):
    """A valid registration, so that only authorization can refuse it."""
    expected = {
        "anonymous": 401, "expired_token": 401, "revoked_token": 401, "foreign_token": 403, "outsider": 403,
        "reviewer": 403, "read_token": 403, "viewer": 403, "write_token": 201, "member": 201, "admin": 201,
        "owner": 201,
    }  # fmt: skip
    for principal in PRINCIPALS:
        response = world.clients[principal].post(
            reverse("dataset-list"),
            {"organization": "acme", "slug": f"new-{principal.replace('_', '-')}", "name": "New",
             "license": "MIT", "text_field": "text", "label_field": "label",
             "file": SimpleUploadedFile("n.csv", demo_csv_bytes(20))},
        )  # fmt: skip
        assert response.status_code == expected[principal], (principal, response.content[:300])


MISSING = {"model_version": 987651, "dataset_version": 987652, "dataset": 987653}
REFERENCES = {
    "run-list": lambda ids: {"organization": "globex", "base_version": ids["model_version"],
                             "dataset_version": ids["dataset_version"], "license": "MIT"},
    "evaluation-list": lambda ids: {"model_version": ids["model_version"],
                                    "dataset_version": ids["dataset_version"], "split": "test"},
    "publication-list": lambda ids: {"model_version": ids["model_version"]},
    "publication-deprecate": lambda ids: {"model_version": ids["model_version"], "reason": "Old."},
    "access-request-list": lambda ids: {"organization": "globex", "dataset": ids["dataset"],
                                        "intended_use": ["research"], "purpose": "Study",
                                        "accept_conditions": True},
}  # fmt: skip


@pytest.mark.parametrize("route", REFERENCES)
def test_a_hidden_id_in_a_request_body_is_refused_like_a_missing_one(world, route):
    """A write naming a version or a dataset by id answers the same for a hidden one as for one that does
    not exist: the error tells nothing about which ids exist."""
    client = world.clients["foreign_token"]  # restricted to globex: acme's private artifacts are hidden
    version = world.datasets["private"]
    hidden_ids = {"model_version": world.models["private"].pk, "dataset_version": version.pk,
                  "dataset": version.dataset.pk}  # fmt: skip
    hidden = client.post(reverse(route), REFERENCES[route](hidden_ids), format="json")
    missing = client.post(reverse(route), REFERENCES[route](MISSING), format="json")
    assert hidden.status_code == missing.status_code == 400
    assert hidden.content == missing.content
