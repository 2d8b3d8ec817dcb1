"""Access between organizations: requests, the owner's decisions, grants and revocations, and how the
registry honours them in lists, details and downloads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone

from governance.models import (
    AccessGrant,
    AccessMode,
    AccessRequest,
    AuditEvent,
    Policy,
    PolicyAttachment,
    PolicyCheck,
    PolicyVersion,
)
from governance.services.access import (
    decide_access_request,
    request_access,
    revoke_grant,
    sync_listed_grants,
    use_refusal,
    user_use_refusal,
    withdraw_access_request,
)
from hub import permissions
from hub.models import Role, Visibility
from hub.selectors import dataset_versions_visible_to, datasets_visible_to, get_dataset
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

CONDITIONS = "Cite acme in any publication; do not redistribute the records."


def gate(
    artifact, *, mode: str = AccessMode.ON_REQUEST, number: int = 1, policy=None, **terms
) -> PolicyVersion:
    """Attach a policy (or a new version of it) governing the artifact, straight through the ORM."""
    if policy is None:
        policy = Policy.objects.create(organization=artifact.organization, slug="gated", name="Gated")
        PolicyAttachment.objects.create(policy=policy, dataset=artifact)
    listed = terms.pop("listed", [])
    version = PolicyVersion.objects.create(
        policy=policy, number=number, license="CC-BY-4.0", access_mode=mode, conditions=CONDITIONS, **terms
    )
    version.listed_organizations.set(listed)
    return version


@pytest.fixture
def beta(db):
    return OrganizationFactory(slug="beta")


@pytest.fixture
def beta_writer(beta, member_of):
    return member_of(beta, Role.MEMBER, username="beta-writer")


@pytest.fixture
def acme_admin(organization, member_of):
    return member_of(organization, Role.ADMIN, username="acme-admin")


@pytest.fixture
def private_dataset(dataset_version):
    return dataset_version.dataset  # acme/reviews, private


@pytest.fixture
def public_dataset(make_dataset_version):
    return make_dataset_version(visibility=Visibility.PUBLIC).dataset


def access_actions() -> list[str]:
    events = AuditEvent.objects.filter(action__regex=r"^(access|grant)\.").order_by("pk")
    return list(events.values_list("action", flat=True))


def ask(user, organization, dataset, **overrides) -> AccessRequest:
    arguments = {
        "intended_use": ["research"],
        "purpose": "Benchmark our sentiment models on product reviews.",
        "accept_conditions": True,
        **overrides,
    }
    return request_access(user=user, organization=organization, artifact=dataset, **arguments)


# Requests -----------------------------------------------------------------------------------------


def test_request_needs_the_conditions_accepted(public_dataset, beta, beta_writer):
    gate(public_dataset)
    with pytest.raises(ValidationError) as error:
        ask(beta_writer, beta, public_dataset, accept_conditions=False)
    assert CONDITIONS in error.value.message_dict["accept_conditions"][0]
    assert not AccessRequest.objects.exists()


def test_request_needs_a_purpose_and_known_uses(public_dataset, beta, beta_writer):
    gate(public_dataset)
    with pytest.raises(ValidationError) as error:
        ask(beta_writer, beta, public_dataset, purpose="  ", intended_use=["research", "world-domination"])
    assert set(error.value.message_dict) == {"purpose", "intended_use"}
    assert "world-domination" in error.value.message_dict["intended_use"][0]
    with pytest.raises(ValidationError) as error:
        ask(beta_writer, beta, public_dataset, intended_use=[])
    assert "intended_use" in error.value.message_dict


def test_a_pending_request_is_made_and_audited(public_dataset, beta, beta_writer):
    version = gate(public_dataset)
    access_request = ask(beta_writer, beta, public_dataset)
    assert access_request.status == AccessRequest.Status.PENDING
    assert access_request.policy_version == version
    assert access_request.accepted_conditions
    event = AuditEvent.objects.get(action="access.request")
    assert event.organization_slug == "beta" and event.actor_name == "beta-writer"
    assert not PolicyCheck.objects.exists()  # the decision, not the asking, is the check


def test_prohibited_use_is_refused_at_once_with_the_reason(public_dataset, beta, beta_writer):
    gate(public_dataset, prohibited_uses=["medical-advice"])
    access_request = ask(beta_writer, beta, public_dataset, intended_use=["research", "medical-advice"])
    assert access_request.status == AccessRequest.Status.REFUSED
    assert "medical-advice" in access_request.reason
    assert access_request.decided_by is None
    check = PolicyCheck.objects.get()
    assert check.context == PolicyCheck.Context.ACCESS and check.outcome == PolicyCheck.Outcome.REFUSED
    assert check.organization.slug == "beta"
    assert [reason["code"] for reason in check.reasons] == ["prohibited_use"]
    assert access_actions() == [
        "access.request",
        "access.refuse",
    ]
    # The automatic refusal named the use to drop: asking again without it needs no cool-down.
    assert ask(beta_writer, beta, public_dataset).status == AccessRequest.Status.PENDING


def test_use_outside_the_allowed_uses_is_refused(public_dataset, beta, beta_writer):
    gate(public_dataset, allowed_uses=["research", "education"])
    access_request = ask(beta_writer, beta, public_dataset, intended_use=["production"])
    assert access_request.status == AccessRequest.Status.REFUSED
    assert "production" in access_request.reason
    assert PolicyCheck.objects.get().reasons[0]["code"] == "use_not_allowed"


def test_commercial_use_against_the_policy_is_refused(public_dataset, beta, beta_writer):
    gate(public_dataset, commercial_use=False)
    access_request = ask(beta_writer, beta, public_dataset, intended_use=["commercial"])
    assert access_request.status == AccessRequest.Status.REFUSED
    assert "commercial" in access_request.reason


def test_open_listed_and_unpoliced_artifacts_need_no_request(public_dataset, beta, beta_writer):
    with pytest.raises(ValidationError, match="no request needed"):
        ask(beta_writer, beta, public_dataset)  # no policy
    gate(public_dataset, mode=AccessMode.OPEN)
    with pytest.raises(ValidationError, match="no request needed"):
        ask(beta_writer, beta, public_dataset)
    policy = Policy.objects.get()
    gate(public_dataset, mode=AccessMode.LISTED, number=2, policy=policy)
    with pytest.raises(ValidationError, match="only listed organizations"):
        ask(beta_writer, beta, public_dataset)


def test_the_owner_cannot_ask_for_its_own_artifact(public_dataset, organization, owner):
    gate(public_dataset)
    with pytest.raises(ValidationError) as error:
        ask(owner, organization, public_dataset)
    assert "organization" in error.value.message_dict


def test_only_writers_of_the_organization_ask(public_dataset, beta, member_of):
    gate(public_dataset)
    viewer = member_of(beta, Role.VIEWER)
    with pytest.raises(PermissionDenied):
        ask(viewer, beta, public_dataset)
    outsider = UserFactory()
    with pytest.raises(PermissionDenied):
        ask(outsider, beta, public_dataset)


def test_an_invisible_artifact_cannot_be_asked_for(private_dataset, beta, beta_writer):
    gate(private_dataset)
    with pytest.raises(ValidationError) as error:
        ask(beta_writer, beta, private_dataset)
    assert "not visible" in error.value.message_dict["dataset"][0]


def test_one_pending_request_per_organization_and_artifact(public_dataset, beta, beta_writer):
    gate(public_dataset)
    ask(beta_writer, beta, public_dataset)
    with pytest.raises(ValidationError, match="pending"):
        ask(beta_writer, beta, public_dataset)


# Decisions ----------------------------------------------------------------------------------------


def test_only_admins_of_the_owner_decide(
    public_dataset, organization, beta, beta_writer, member_of, acme_admin
):
    gate(public_dataset)
    access_request = ask(beta_writer, beta, public_dataset)
    acme_member = member_of(organization, Role.MEMBER)
    beta_owner = member_of(beta, Role.OWNER)
    for user in (acme_member, beta_owner, beta_writer):
        with pytest.raises(PermissionDenied):
            decide_access_request(user=user, access_request=access_request, approve=True, reason="")
    decided = decide_access_request(user=acme_admin, access_request=access_request, approve=True, reason="")
    assert decided.status == AccessRequest.Status.APPROVED


def test_a_refusal_needs_a_reason(public_dataset, beta, beta_writer, acme_admin):
    gate(public_dataset)
    access_request = ask(beta_writer, beta, public_dataset)
    with pytest.raises(ValidationError) as error:
        decide_access_request(user=acme_admin, access_request=access_request, approve=False, reason="  ")
    assert "reason" in error.value.message_dict
    access_request.refresh_from_db()
    assert access_request.status == AccessRequest.Status.PENDING


def test_a_decided_request_cannot_be_decided_again(public_dataset, beta, beta_writer, acme_admin):
    gate(public_dataset)
    access_request = ask(beta_writer, beta, public_dataset)
    decide_access_request(user=acme_admin, access_request=access_request, approve=False, reason="Not now.")
    with pytest.raises(ValidationError, match="already refused"):
        decide_access_request(user=acme_admin, access_request=access_request, approve=True)


def test_cool_down_after_a_refusal(public_dataset, beta, beta_writer, acme_admin):
    gate(public_dataset, request_cooldown_days=30)
    access_request = ask(beta_writer, beta, public_dataset)
    decide_access_request(
        user=acme_admin, access_request=access_request, approve=False, reason="Your purpose is too vague."
    )
    access_request.refresh_from_db()
    again_from = access_request.decided_at + timedelta(days=30)
    with pytest.raises(ValidationError) as error:
        ask(beta_writer, beta, public_dataset)
    assert f"{again_from:%Y-%m-%d}" in error.value.message_dict["organization"][0]

    AccessRequest.objects.filter(pk=access_request.pk).update(decided_at=timezone.now() - timedelta(days=31))
    assert ask(beta_writer, beta, public_dataset).status == AccessRequest.Status.PENDING


def test_approval_grants_and_records(public_dataset, beta, beta_writer, acme_admin):
    gate(public_dataset)
    access_request = ask(beta_writer, beta, public_dataset)
    decide_access_request(user=acme_admin, access_request=access_request, approve=True, reason="Welcome.")
    grant = AccessGrant.objects.get()
    assert (grant.organization, grant.dataset, grant.request) == (beta, public_dataset, access_request)
    assert grant.source == AccessGrant.Source.REQUEST and grant.granted_by == acme_admin and grant.active
    access_request.refresh_from_db()
    assert access_request.reason == "Welcome."
    event = AuditEvent.objects.get(action="access.approve")
    assert event.organization_slug == "acme" and event.after["grant"] == grant.pk
    check = PolicyCheck.objects.get()
    assert (check.context, check.outcome, check.organization) == ("access", "allowed", beta)
    assert check.created_by == acme_admin


def test_refusal_and_revocation_are_recorded(public_dataset, beta, beta_writer, acme_admin):
    gate(public_dataset)
    refused = ask(beta_writer, beta, public_dataset)
    decide_access_request(
        user=acme_admin, access_request=refused, approve=False, reason="Not for benchmarks."
    )
    AccessRequest.objects.filter(pk=refused.pk).update(decided_at=timezone.now() - timedelta(days=60))
    approved = ask(beta_writer, beta, public_dataset)
    decide_access_request(user=acme_admin, access_request=approved, approve=True)
    grant = AccessGrant.objects.get()
    with pytest.raises(ValidationError) as error:
        revoke_grant(user=acme_admin, grant=grant, reason="")
    assert "reason" in error.value.message_dict
    revoke_grant(user=acme_admin, grant=grant, reason="Records were redistributed.")
    grant.refresh_from_db()
    assert not grant.active and grant.revoked_by == acme_admin
    assert grant.revoke_reason == "Records were redistributed."

    actions = access_actions()
    assert actions == ["access.request", "access.refuse", "access.request", "access.approve", "grant.revoke"]
    checks = list(PolicyCheck.objects.order_by("pk").values_list("outcome", flat=True))
    assert checks == ["refused", "allowed", "refused"]
    codes = [
        check.reasons[0]["code"] for check in PolicyCheck.objects.exclude(outcome="allowed").order_by("pk")
    ]
    assert codes == ["access_refused", "access_revoked"]
    assert "Not for benchmarks." in PolicyCheck.objects.order_by("pk").first().reasons[0]["message"]
    with pytest.raises(ValidationError, match="already revoked"):
        revoke_grant(user=acme_admin, grant=grant, reason="Again.")


def test_only_owner_admins_revoke(public_dataset, organization, beta, beta_writer, acme_admin, member_of):
    gate(public_dataset)
    decide_access_request(
        user=acme_admin, access_request=ask(beta_writer, beta, public_dataset), approve=True
    )
    grant = AccessGrant.objects.get()
    for user in (member_of(organization, Role.MEMBER), member_of(beta, Role.OWNER)):
        with pytest.raises(PermissionDenied):
            revoke_grant(user=user, grant=grant, reason="No.")


def test_withdraw_a_pending_request(public_dataset, organization, beta, beta_writer, member_of):
    gate(public_dataset)
    access_request = ask(beta_writer, beta, public_dataset)
    with pytest.raises(PermissionDenied):
        withdraw_access_request(user=member_of(organization, Role.OWNER), access_request=access_request)
    withdrawn = withdraw_access_request(user=beta_writer, access_request=access_request)
    assert withdrawn.status == AccessRequest.Status.WITHDRAWN
    assert AuditEvent.objects.filter(action="access.withdraw").count() == 1
    with pytest.raises(ValidationError):
        withdraw_access_request(user=beta_writer, access_request=access_request)
    assert ask(beta_writer, beta, public_dataset).status == AccessRequest.Status.PENDING


def test_approval_checks_the_current_policy(public_dataset, beta, beta_writer, acme_admin):
    version = gate(public_dataset)
    access_request = ask(beta_writer, beta, public_dataset, intended_use=["production"])
    gate(public_dataset, number=2, policy=version.policy, prohibited_uses=["production"])
    with pytest.raises(ValidationError) as error:
        decide_access_request(user=acme_admin, access_request=access_request, approve=True)
    assert "production" in error.value.message_dict["intended_use"][0]
    assert not AccessGrant.objects.exists()


# The use check --------------------------------------------------------------------------------------


def test_use_refusal(public_dataset, organization, beta, beta_writer, acme_admin):
    assert use_refusal(beta, public_dataset) is None  # no policy
    version = gate(public_dataset)
    assert use_refusal(organization, public_dataset) is None  # the owner
    refusal = use_refusal(beta, public_dataset)
    assert "available on request" in refusal and "/o/acme/datasets/reviews/access/" in refusal
    assert "acme/reviews is available on request" in user_use_refusal(beta_writer, public_dataset)
    decide_access_request(
        user=acme_admin, access_request=ask(beta_writer, beta, public_dataset), approve=True
    )
    assert use_refusal(beta, public_dataset) is None
    assert user_use_refusal(beta_writer, public_dataset) is None
    assert permissions.use_refusal(beta_writer, public_dataset) is None
    gate(public_dataset, number=2, policy=version.policy, mode=AccessMode.OPEN)
    assert use_refusal(OrganizationFactory(), public_dataset) is None


def test_a_token_restricted_to_another_organization_does_not_carry_the_grant(
    public_dataset, beta, beta_writer, acme_admin
):
    gate(public_dataset)
    decide_access_request(
        user=acme_admin, access_request=ask(beta_writer, beta, public_dataset), approve=True
    )
    gamma = MembershipFactory(user=beta_writer).organization
    beta_writer.token_organization_id = gamma.pk
    assert user_use_refusal(beta_writer, public_dataset) is not None
    beta_writer.token_organization_id = beta.pk
    assert user_use_refusal(beta_writer, public_dataset) is None


# The registry honours grants -------------------------------------------------------------------------


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_grant_shows_a_private_dataset_and_lets_its_files_download(
    private_dataset, beta, beta_writer, acme_admin, owner
):
    gate(private_dataset)
    dataset_file = private_dataset.versions.get().files.get(split="train")
    client = _client(beta_writer)
    urls = ["/o/acme/datasets/reviews/", f"/files/datasets/{dataset_file.pk}/"]
    assert [client.get(url).status_code for url in urls] == [404, 404]
    assert not datasets_visible_to(beta_writer).exists()

    # The owner's admins grant beta access directly from an approved request made while it could see it.
    private_dataset.visibility = Visibility.PUBLIC
    private_dataset.save()
    access_request = ask(beta_writer, beta, private_dataset)
    private_dataset.visibility = Visibility.PRIVATE
    private_dataset.save()
    decide_access_request(user=acme_admin, access_request=access_request, approve=True)

    visible = datasets_visible_to(beta_writer)
    assert list(visible.values_list("slug", flat=True)) == ["reviews"]
    assert visible.get().version_count == 1  # the grant is a subquery: no duplicated rows
    assert dataset_versions_visible_to(beta_writer).count() == 1
    assert get_dataset(beta_writer, "acme", "reviews") == private_dataset
    assert "acme/reviews" in client.get("/datasets/").content.decode()
    page = client.get("/o/acme/datasets/reviews/")
    assert page.status_code == 200 and "Access granted" in page.content.decode()
    download = client.get(f"/files/datasets/{dataset_file.pk}/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b"text")

    revoke_grant(user=acme_admin, grant=AccessGrant.objects.get(), reason="The project ended.")
    assert [client.get(url).status_code for url in urls] == [404, 404]
    assert "acme/reviews" not in client.get("/datasets/").content.decode()
    assert _client(owner).get(f"/files/datasets/{dataset_file.pk}/").status_code == 200


def test_downloads_of_a_gated_dataset_need_access(
    public_dataset, organization, beta, beta_writer, acme_admin
):
    gate(public_dataset)
    dataset_file = public_dataset.versions.get().files.get(split="train")
    url = f"/files/datasets/{dataset_file.pk}/"
    viewer = MembershipFactory(organization=organization, role=Role.VIEWER).user
    assert _client(viewer).get(url).status_code == 200  # every member of the owner may use it

    client = _client(beta_writer)
    assert client.get("/o/acme/datasets/reviews/").status_code == 200  # seeing is not using
    refused = client.get(url)
    assert refused.status_code == 403
    assert "available on request" in refused.json()["detail"]
    assert Client().get(url).status_code == 403

    decide_access_request(
        user=acme_admin, access_request=ask(beta_writer, beta, public_dataset), approve=True
    )
    assert client.get(url).status_code == 200


def test_listed_access(public_dataset, organization, beta, beta_writer, acme_admin):
    gamma = OrganizationFactory(slug="gamma")
    delta = OrganizationFactory(slug="delta")
    version = gate(public_dataset, mode=AccessMode.LISTED, listed=[beta, gamma, organization])
    result = sync_listed_grants(version, public_dataset, acme_admin)
    assert sorted(grant.organization.slug for grant in result.granted) == ["beta", "gamma"]  # not the owner
    assert use_refusal(beta, public_dataset) is None
    assert "lists" in use_refusal(delta, public_dataset)
    assert AuditEvent.objects.filter(action="grant.create").count() == 2
    assert PolicyCheck.objects.filter(context="access", outcome="allowed").count() == 2

    # A delta grant from an earlier request survives; gamma drops off the list.
    AccessGrant.objects.create(organization=delta, dataset=public_dataset, source=AccessGrant.Source.REQUEST)
    version2 = gate(public_dataset, mode=AccessMode.LISTED, number=2, policy=version.policy, listed=[beta])
    result = sync_listed_grants(version2, public_dataset, acme_admin)
    assert [grant.organization.slug for grant in result.revoked] == ["gamma"] and not result.granted
    assert "no longer listed" in AccessGrant.objects.get(organization=gamma).revoke_reason
    assert use_refusal(gamma, public_dataset) is not None
    assert use_refusal(delta, public_dataset) is None
    assert use_refusal(beta, public_dataset) is None
    assert sync_listed_grants(version2, public_dataset, acme_admin) == type(result)()  # idempotent


def test_open_access_needs_no_grant(public_dataset, beta_writer):
    gate(public_dataset, mode=AccessMode.OPEN)
    dataset_file = public_dataset.versions.get().files.get(split="train")
    assert _client(beta_writer).get(f"/files/datasets/{dataset_file.pk}/").status_code == 200


# Pages ----------------------------------------------------------------------------------------------


def test_request_page_and_inbox(public_dataset, organization, beta, beta_writer, acme_admin, member_of):
    gate(public_dataset)
    client = _client(beta_writer)
    page = client.get("/o/acme/datasets/reviews/").content.decode()
    assert "Request access" in page and CONDITIONS in page

    form_url = "/o/acme/datasets/reviews/access/"
    response = client.post(
        form_url, {"organization": "beta", "intended_use": ["research"], "purpose": "Study."}
    )
    assert response.status_code == 200 and CONDITIONS in response.content.decode()  # conditions not accepted
    response = client.post(
        form_url,
        {
            "organization": "beta",
            "intended_use": ["research"],
            "purpose": "Study.",
            "accept_conditions": "on",
        },
    )
    assert response.status_code == 302
    access_request = AccessRequest.objects.get()
    assert "Request pending" in client.get("/o/acme/datasets/reviews/").content.decode()

    admin = _client(acme_admin)
    assert "Access requests" in admin.get("/o/acme/").content.decode()
    assert (
        "Access requests"
        not in _client(member_of(organization, Role.MEMBER)).get("/o/acme/").content.decode()
    )
    inbox = admin.get("/o/acme/access/").content.decode()
    assert "Study." in inbox and "Approve" in inbox

    decide_url = f"/o/acme/access/requests/{access_request.pk}/decide/"
    no_reason = admin.post(decide_url, {"decision": "refuse", f"request-{access_request.pk}-reason": ""})
    assert no_reason.status_code == 200 and "reason for the refusal" in no_reason.content.decode()
    assert client.post(decide_url, {"decision": "approve"}).status_code == 403
    assert _client(UserFactory()).get("/o/acme/access/").status_code == 403
    assert admin.post(decide_url, {"decision": "approve"}).status_code == 302
    assert AccessGrant.objects.get().organization == beta
    assert "Access granted" in client.get("/o/acme/datasets/reviews/").content.decode()
    assert "acme/reviews" in client.get("/o/beta/access/").content.decode()  # beta's own requests

    grant = AccessGrant.objects.get()
    revoke_url = f"/o/acme/access/grants/{grant.pk}/revoke/"
    assert admin.post(revoke_url, {f"grant-{grant.pk}-reason": ""}).status_code == 200
    assert client.post(revoke_url, {f"grant-{grant.pk}-reason": "Mine now."}).status_code == 403
    assert admin.post(revoke_url, {f"grant-{grant.pk}-reason": "Project over."}).status_code == 302
    assert "Project over." in admin.get("/o/acme/access/").content.decode()


def test_withdraw_page(public_dataset, beta, beta_writer):
    gate(public_dataset)
    access_request = ask(beta_writer, beta, public_dataset)
    client = _client(beta_writer)
    assert client.post(f"/o/beta/access/requests/{access_request.pk}/withdraw/").status_code == 302
    access_request.refresh_from_db()
    assert access_request.status == AccessRequest.Status.WITHDRAWN


def test_access_card_without_policy_and_for_anonymous(public_dataset):
    assert "No usage policy" in Client().get("/o/acme/datasets/reviews/").content.decode()
    gate(public_dataset)
    page = Client().get("/o/acme/datasets/reviews/").content.decode()
    assert "On request" in page and "log in" in page


def test_bad_request_page_inputs_are_form_errors(public_dataset, beta_writer):
    gate(public_dataset)
    client = _client(beta_writer)
    response = client.post(
        "/o/acme/datasets/reviews/access/", {"organization": "nope", "intended_use": ["x"]}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Select a valid choice" in body
    assert client.get("/o/acme/datasets/missing/access/").status_code == 404


# Runs and models ------------------------------------------------------------------------------------


@pytest.fixture
def beta_model_version(beta, beta_writer, small_checkpoint):
    from hub.services.models import import_checkpoint

    return import_checkpoint(
        user=beta_writer, organization=beta, slug="tiny", directory=small_checkpoint, license="MIT",
        visibility=Visibility.PUBLIC,
    )  # fmt: skip


def test_a_run_on_a_gated_dataset_needs_access(
    public_dataset, beta, beta_writer, acme_admin, beta_model_version
):
    from training.models import FineTuneRun
    from training.services import submit_run

    gate(public_dataset)
    dataset_version = public_dataset.versions.get()

    def run():
        return submit_run(
            user=beta_writer, organization=beta, base_version=beta_model_version,
            dataset_version=dataset_version, intended_use=["research"],
        )  # fmt: skip

    refused = run()
    assert refused.status == FineTuneRun.Status.REJECTED
    assert "request access" in refused.error
    decide_access_request(
        user=acme_admin, access_request=ask(beta_writer, beta, public_dataset), approve=True
    )
    assert run().status == FineTuneRun.Status.QUEUED


def test_a_gated_model_s_files_need_access(beta, beta_model_version, owner):
    model = beta_model_version.model
    policy = Policy.objects.create(organization=beta, slug="gated", name="Gated")
    PolicyAttachment.objects.create(policy=policy, model=model)
    PolicyVersion.objects.create(policy=policy, number=1, license="MIT", access_mode=AccessMode.ON_REQUEST)
    model_file = beta_model_version.files.get(path="config.json")
    response = _client(owner).get(f"/files/models/{model_file.pk}/")
    assert response.status_code == 403
    assert "beta/tiny is available on request" in response.json()["detail"]
    assert "/o/beta/models/tiny/access/" in response.json()["detail"]
    page = _client(owner).get("/o/beta/models/tiny/").content.decode()
    assert "Request access" in page and "/o/beta/models/tiny/access/" in page
