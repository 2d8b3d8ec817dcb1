"""Publication: the publish-check, review by reviewers only, immutable published versions, deprecation
and aliases."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError

from governance.models import Policy, PolicyAttachment, PolicyCheck, PolicyVersion, PublicationRequest
from governance.services.cards import update_model_card
from governance.services.publication import decide_publication, deprecate_version, request_publication
from hub.models import REVIEWERS_GROUP, ModelFile, ModelVersion, Role
from hub.services import blobs
from hub.services.models import move_alias
from tests.governance.test_cards import add_report, make_fine_tune

pytestmark = pytest.mark.django_db

PROSE = {
    "intended_use": "Sorting English product reviews by sentiment for internal dashboards.",
    "factors": "Review source (Amazon, IMDb, Yelp) changes vocabulary and length; results are per source.",
    "ethical_considerations": "Reviews may name people; the model must not be used to profile reviewers.",
    "caveats_and_recommendations": "English only; sarcasm is often misread. Re-evaluate on your own data.",
}


@pytest.fixture
def version(organization, dataset_version, owner):
    version = make_fine_tune(organization, dataset_version)
    ModelFile.objects.create(
        version=version, path="config.json", blob=blobs.store_bytes(b'{"model_type": "bert"}')
    )
    return version


@pytest.fixture
def evaluated(version, dataset_version, owner):
    add_report(version, dataset_version)
    update_model_card(owner, version, PROSE)
    return version


@pytest.fixture
def reviewer(django_user_model):
    user = django_user_model.objects.create_user("rita", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=REVIEWERS_GROUP))
    return user


def attach(model, organization, **terms):
    policy = Policy.objects.create(organization=organization, slug=f"p-{model.slug}", name="Policy")
    PolicyVersion.objects.create(policy=policy, number=1, license=model.license, **terms)
    PolicyAttachment.objects.create(policy=policy, model=model)
    return policy


def codes(publication: PublicationRequest) -> set[str]:
    return {reason["code"] for reason in publication.policy_check.reasons}


def test_without_an_evaluation_the_request_is_refused_and_the_version_stays_a_draft(version, owner):
    publication = request_publication(user=owner, version=version)
    assert publication.status == PublicationRequest.Status.REFUSED
    assert "evaluation_missing" in codes(publication)
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.DRAFT
    assert publication.policy_check.context == PolicyCheck.Context.PUBLICATION
    assert publication.policy_check.outcome == PolicyCheck.Outcome.REFUSED


def test_an_incomplete_card_is_refused_with_the_completeness(version, dataset_version, owner):
    add_report(version, dataset_version)
    publication = request_publication(user=owner, version=version)
    assert publication.status == PublicationRequest.Status.REFUSED
    assert "card_incomplete" in codes(publication)
    card_check = next(c for c in publication.checks if c["name"] == "Card completeness")
    assert not card_check["passed"] and "69%" in card_check["detail"]


def test_thresholds_of_the_models_policy_refuse_with_the_score_named(evaluated, organization, owner):
    attach(evaluated.model, organization, max_delta=0.01, requires_review=False)
    publication = request_publication(user=owner, version=evaluated)
    assert publication.status == PublicationRequest.Status.REFUSED
    reasons = [r for r in publication.policy_check.reasons if r["code"] == "threshold_exceeded"]
    assert len(reasons) == 1 and "0.05" in reasons[0]["message"] and "0.01" in reasons[0]["message"]


def test_a_policy_without_review_publishes_at_once(evaluated, organization, owner):
    attach(evaluated.model, organization, requires_review=False, max_delta=0.1)
    publication = request_publication(user=owner, version=evaluated, intended_use=["research"])
    assert publication.status == PublicationRequest.Status.PUBLISHED, publication.policy_check.reasons
    evaluated.refresh_from_db()
    assert evaluated.status == ModelVersion.Status.PUBLISHED and evaluated.published_by == owner


def test_review_then_a_reviewer_approves_with_a_reason(evaluated, owner, reviewer, member_of, organization):
    publication = request_publication(user=owner, version=evaluated)
    assert publication.status == PublicationRequest.Status.IN_REVIEW
    assert "review_required" in codes(publication) and publication.review_deadline
    evaluated.refresh_from_db()
    assert evaluated.status == ModelVersion.Status.IN_REVIEW
    # Only reviewers decide, and never without a reason.
    with pytest.raises(PermissionDenied):
        decide_publication(reviewer=owner, publication=publication, approve=True, reason="fine")
    with pytest.raises(ValidationError):
        decide_publication(reviewer=reviewer, publication=publication, approve=True, reason="  ")
    decide_publication(
        reviewer=reviewer, publication=publication, approve=True, reason="Checks and card fine."
    )
    publication.refresh_from_db()
    evaluated.refresh_from_db()
    assert publication.status == PublicationRequest.Status.PUBLISHED and publication.reviewer == reviewer
    assert evaluated.status == ModelVersion.Status.PUBLISHED


def test_a_reviewer_decides_in_the_admin(evaluated, owner, reviewer, client):
    publication = request_publication(user=owner, version=evaluated)
    client.force_login(reviewer)
    page = client.get(f"/admin/governance/publicationrequest/{publication.pk}/change/")
    assert page.status_code == 200
    for text in (b"Checks", b"Evaluation report", b"Lineage", b"Model card", b"Record the decision"):
        assert text in page.content
    url = f"/admin/governance/publicationrequest/{publication.pk}/decide/"
    client.post(url, {"decision": "reject", "reason": ""})
    publication.refresh_from_db()
    assert publication.status == PublicationRequest.Status.IN_REVIEW  # no reason, no decision
    client.post(url, {"decision": "reject", "reason": "The card misses the data's collection dates."})
    publication.refresh_from_db()
    evaluated.refresh_from_db()
    assert publication.status == PublicationRequest.Status.REJECTED
    assert evaluated.status == ModelVersion.Status.REJECTED
    # A rejected version can be put forward again.
    again = request_publication(user=owner, version=evaluated)
    assert again.status == PublicationRequest.Status.IN_REVIEW


def test_the_admin_action_asks_for_a_reason(evaluated, owner, reviewer, client):
    publication = request_publication(user=owner, version=evaluated)
    client.force_login(reviewer)
    changelist = "/admin/governance/publicationrequest/"
    form = client.post(changelist, {"action": "approve_selected", "_selected_action": [publication.pk]})
    assert form.status_code == 200 and b"Reason" in form.content
    client.post(
        changelist,
        {"action": "approve_selected", "_selected_action": [publication.pk], "apply": "1", "reason": "Good."},
    )
    publication.refresh_from_db()
    assert publication.status == PublicationRequest.Status.PUBLISHED


def test_members_who_are_not_reviewers_cannot_open_the_review_desk(evaluated, owner, client):
    request_publication(user=owner, version=evaluated)
    owner.is_staff = True
    owner.save()
    client.force_login(owner)
    assert client.get("/admin/governance/publicationrequest/").status_code == 403


@pytest.fixture
def published(evaluated, organization, owner):
    attach(evaluated.model, organization, requires_review=False)
    request_publication(user=owner, version=evaluated)
    evaluated.refresh_from_db()
    assert evaluated.status == ModelVersion.Status.PUBLISHED
    return evaluated


def test_a_published_version_cannot_change(published, owner, client):
    published.labels = ["a", "b"]
    with pytest.raises(ValidationError):
        published.save()
    published.refresh_from_db()
    with pytest.raises(ValidationError):
        ModelFile.objects.create(version=published, path="extra.txt", blob=blobs.store_bytes(b"x"))
    with pytest.raises(ValidationError):
        published.files.first().delete()
    with pytest.raises(ValidationError):
        published.delete()
    with pytest.raises(ValidationError):
        update_model_card(owner, published, PROSE)
    # Through the admin: every field is read-only and deletion is not offered.
    owner.is_staff = owner.is_superuser = True
    owner.save()
    client.force_login(owner)
    url = f"/admin/hub/modelversion/{published.pk}/change/"
    assert client.get(url).status_code == 200
    client.post(url, {"status": "draft"})
    published.refresh_from_db()
    assert published.status == ModelVersion.Status.PUBLISHED
    assert client.get(f"/admin/hub/modelversion/{published.pk}/delete/").status_code == 403


def test_deprecation_needs_an_admin_and_a_reason(published, owner, member_of, organization):
    member = member_of(organization, Role.MEMBER)
    with pytest.raises(PermissionDenied):
        deprecate_version(user=member, version=published, reason="old")
    with pytest.raises(ValidationError):
        deprecate_version(user=owner, version=published, reason="")
    deprecate_version(user=owner, version=published, reason="Superseded by v3.")
    published.refresh_from_db()
    assert published.status == ModelVersion.Status.DEPRECATED and published.deprecation_reason
    published.status = ModelVersion.Status.PUBLISHED
    with pytest.raises(ValidationError):
        published.save()


def test_aliases_point_at_published_versions_and_only_admins_move_them(
    published, dataset_version, owner, member_of, organization, api_client_for
):
    model = published.model
    draft = ModelVersion.objects.create(model=model, number=3, origin=ModelVersion.Origin.UPLOAD)
    alias = move_alias(user=owner, model=model, name="production", version=published)
    assert alias.version == published
    with pytest.raises(ValidationError) as error:
        move_alias(user=owner, model=model, name="production", version=draft)
    assert "published" in str(error.value.message_dict["version"])
    member = member_of(organization, Role.MEMBER)
    response = api_client_for(member).post(
        f"/api/v1/models/{model.pk}/aliases/", {"name": "production", "version": 2}, format="json"
    )
    assert response.status_code == 403
    response = api_client_for(owner).post(
        f"/api/v1/models/{model.pk}/aliases/", {"name": "staging", "version": 2}, format="json"
    )
    assert response.status_code == 200 and response.json()["version"] == 2
    bad = api_client_for(owner).post(f"/api/v1/models/{model.pk}/aliases/", {"name": "Prod!", "version": 2})
    assert bad.status_code == 400 and "name" in bad.json()
    url = f"/api/v1/models/{model.pk}/aliases/"
    missing = api_client_for(owner).post(url, {"name": "prod", "version": 9})
    assert missing.status_code == 400 and "no version 9" in missing.json()["version"][0]
    listed = api_client_for(member).get(f"/api/v1/models/{model.pk}/aliases/").json()
    assert sorted(a["name"] for a in listed) == ["production", "staging"]


def test_the_api_requests_publication_and_reports_the_reasons(
    version, owner, api_client_for, dataset_version
):
    api = api_client_for(owner)
    response = api.post("/api/v1/publications/", {"model_version": version.pk}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "refused" and "evaluation_missing" in {r["code"] for r in body["reasons"]}
    bad = api.post(
        "/api/v1/publications/", {"model_version": version.pk, "intended_use": ["nope"]}, format="json"
    )
    assert bad.status_code == 400 and "intended_use" in bad.json()
    missing = api.post("/api/v1/publications/", {"model_version": 999999}, format="json")
    assert missing.status_code == 400 and "model_version" in missing.json()
