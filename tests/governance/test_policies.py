"""Usage policies: immutable versions, checked terms, attachment by admins, audit, pages, admin, and the
weights of F that flow from a model's policy into its evaluation reports."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from governance.metrics.objective import Weights
from governance.models import AccessGrant, AuditEvent, EvaluationReport, ImmutableError, Policy, PolicyVersion
from governance.selectors import objective_weights_for, policies_visible_to, policy_history
from governance.services.evaluations import Predictions, complete_report
from governance.services.policies import (
    add_policy_version,
    attach_policy,
    create_policy,
    detach_policy,
    validate_terms,
)
from hub.models import Dataset, ModelVersion, RegisteredModel, Role, Visibility
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

TERMS = {
    "license": "cc-by-4.0",
    "allowed_uses": ["Research", "education"],
    "prohibited_uses": ["medical-advice"],
    "commercial_use": False,
    "max_delta": 0.2,
    "alpha": 0.5,
    "beta": 0.3,
    "gamma": 0.2,
}


@pytest.fixture
def admin(organization, member_of):
    return member_of(organization, Role.ADMIN, username="admin")


@pytest.fixture
def member(organization, member_of):
    return member_of(organization, Role.MEMBER, username="member")


@pytest.fixture
def dataset(organization):
    return Dataset.objects.create(
        organization=organization, slug="reviews", name="Reviews", license="CC-BY-4.0"
    )


@pytest.fixture
def model(organization):
    return RegisteredModel.objects.create(organization=organization, slug="sentiment", name="Sentiment",
                                          license="MIT")  # fmt: skip


@pytest.fixture
def policy(owner, organization):
    return create_policy(user=owner, organization=organization, slug="research", name="Research only",
                         terms=TERMS)  # fmt: skip


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


# Versions ---------------------------------------------------------------------------------------


def test_creating_a_policy_stores_its_normalised_terms_as_version_1(policy, owner):
    version = policy.latest_version
    assert version.number == 1 and version.created_by == owner
    assert version.license == "CC-BY-4.0"
    assert version.allowed_uses == ["research", "education"]
    assert version.prohibited_uses == ["medical-advice"]
    assert version.commercial_use is False
    assert version.attribution_required is True and version.requires_review is True  # the defaults
    assert (version.max_delta, version.max_epsilon) == (0.2, None)
    assert (version.alpha, version.beta, version.gamma) == pytest.approx((0.5, 0.3, 0.2))
    [event] = events("policy.create")
    assert event.organization_slug == "acme" and event.actor_name == "owner"
    assert event.after["slug"] == "research" and event.after["license"] == "CC-BY-4.0"


def test_a_new_version_changes_the_given_terms_and_carries_the_others_over(policy, admin):
    version = add_policy_version(user=admin, policy=policy, terms={"max_delta": 0.1}, change_note="stricter")
    assert version.number == 2 and version.change_note == "stricter"
    assert version.max_delta == 0.1 and version.license == "CC-BY-4.0"
    assert version.allowed_uses == ["research", "education"]
    assert PolicyVersion.objects.get(policy=policy, number=1).max_delta == 0.2  # v1 is untouched
    assert policy.latest_version == version
    [event] = events("policy.version")
    assert event.before == {"version": 1, "max_delta": 0.2}
    assert event.after == {"version": 2, "change_note": "stricter", "max_delta": 0.1}
    [(newest, changes), (_, none)] = policy_history(policy)
    assert newest == version and [change.field for change in changes] == ["max_delta"] and none == []


def test_a_version_that_changes_nothing_is_refused(policy, owner):
    with pytest.raises(ValidationError) as refused:
        add_policy_version(user=owner, policy=policy, terms={"license": "CC-BY-4.0"})
    assert "terms" in refused.value.message_dict
    assert policy.versions.count() == 1


def test_a_stored_version_can_never_change(policy):
    version = policy.latest_version
    version.max_delta = 0.9
    with pytest.raises(ImmutableError):
        version.save()
    assert PolicyVersion.objects.get(pk=version.pk).max_delta == 0.2


def test_list_changes_show_the_tags_added_and_removed(policy, owner):
    add_policy_version(user=owner, policy=policy, terms={"prohibited_uses": ["illegal"]})
    [(_, [change]), _] = policy_history(policy)
    assert change.field == "prohibited_uses"
    assert (change.added, change.removed) == (["illegal"], ["medical-advice"])


# Validation -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("terms", "field", "named"),
    [
        ({"license": "not-a-licence"}, "license", "not-a-licence"),
        ({"license": ""}, "license", "required"),
        ({"allowed_uses": ["research", "mind-reading"]}, "allowed_uses", "mind-reading"),
        ({"prohibited_uses": ["time-travel"]}, "prohibited_uses", "time-travel"),
        ({"allowed_uses": ["research"], "prohibited_uses": ["research"]}, "allowed_uses", "research"),
        ({"alpha": 0.5, "beta": 0.5, "gamma": 0.5}, "alpha", "sum to 1"),
        ({"alpha": 1.2, "beta": 0.0, "gamma": -0.2}, "alpha", "[0, 1]"),
        ({"max_delta": 1.5}, "max_delta", "[0, 1]"),
        ({"max_theta": -0.1}, "max_theta", "[0, 1]"),
        ({"max_objective": "high"}, "max_objective", "[0, 1]"),
        ({"access_mode": "listed"}, "listed_organizations", "at least one"),
        ({"access_mode": "listed", "listed_organizations": ["nobody"]}, "listed_organizations", "nobody"),
        ({"access_mode": "secret"}, "access_mode", "secret"),
        ({"request_cooldown_days": 400}, "request_cooldown_days", "365"),
        ({"commercial_use": "yes"}, "commercial_use", "true or false"),
        ({"max_F": 0.1}, "max_F", "not a policy term"),
    ],
)
def test_bad_terms_are_refused_naming_the_field(terms, field, named):
    with pytest.raises(ValidationError) as refused:
        validate_terms({"license": "MIT", **terms})
    assert field in refused.value.message_dict
    assert named in " ".join(refused.value.message_dict[field])


def test_creating_with_bad_terms_creates_nothing(owner, organization):
    with pytest.raises(ValidationError) as refused:
        create_policy(user=owner, organization=organization, slug="new", name="", terms={"license": "nope"})
    assert set(refused.value.message_dict) == {"slug", "name", "license"}
    assert not Policy.objects.exists() and not events("policy.create")


def test_weights_within_the_tolerance_are_stored_summing_to_1():
    terms = validate_terms({"license": "MIT", "alpha": 0.5, "beta": 0.3, "gamma": 0.2000004})
    assert terms["alpha"] + terms["beta"] + terms["gamma"] == pytest.approx(1.0, abs=1e-12)
    Weights(terms["alpha"], terms["beta"], terms["gamma"])  # the objective's own check accepts them


def test_listed_organizations_are_kept_only_in_listed_mode(owner, organization):
    OrganizationFactory(slug="beta")
    listed = validate_terms({"license": "MIT", "access_mode": "listed", "listed_organizations": "beta, acme"})
    assert listed["listed_organizations"] == ["acme", "beta"]
    opened = validate_terms({"license": "MIT", "access_mode": "open", "listed_organizations": ["beta"]})
    assert opened["listed_organizations"] == []


# Attachments ------------------------------------------------------------------------------------


def test_admins_attach_and_detach_a_policy_with_audit_events(policy, admin, dataset, model):
    attachment = attach_policy(user=admin, policy=policy, artifact=dataset)
    assert attachment.dataset == dataset and attachment.attached_by == admin
    attach_policy(user=admin, policy=policy, artifact=model)
    assert policy.attachments.count() == 2
    first = events("policy.attach")[0]
    assert first.target == "acme/reviews" and first.before is None
    assert first.after == {"policy": "acme/research", "version": 1}

    attach_policy(user=admin, policy=policy, artifact=dataset)  # already attached: nothing changes
    assert len(events("policy.attach")) == 2

    assert detach_policy(user=admin, artifact=dataset) == policy
    assert not policy.attachments.filter(dataset=dataset).exists()
    [event] = events("policy.detach")
    assert event.before == {"policy": "acme/research"} and event.after is None
    with pytest.raises(ValidationError) as refused:
        detach_policy(user=admin, artifact=dataset)
    assert "dataset" in refused.value.message_dict


def test_attaching_another_policy_replaces_the_first(policy, owner, organization, dataset):
    attach_policy(user=owner, policy=policy, artifact=dataset)
    other = create_policy(
        user=owner, organization=organization, slug="open", name="Open", terms={"license": "MIT"}
    )
    attach_policy(user=owner, policy=other, artifact=dataset)
    assert dataset.policy_attachment.policy == other
    assert events("policy.attach")[-1].before == {"policy": "acme/research"}


def test_members_may_not_write_policies(policy, member, organization, dataset):
    with pytest.raises(PermissionDenied):
        create_policy(
            user=member, organization=organization, slug="mine", name="Mine", terms={"license": "MIT"}
        )
    with pytest.raises(PermissionDenied):
        add_policy_version(user=member, policy=policy, terms={"max_delta": 0.1})
    with pytest.raises(PermissionDenied):
        attach_policy(user=member, policy=policy, artifact=dataset)
    with pytest.raises(PermissionDenied):
        detach_policy(user=member, artifact=dataset)
    assert not policy.attachments.exists() and policy.versions.count() == 1


def test_a_policy_governs_only_its_own_organizations_artifacts(policy, owner, member_of):
    globex = OrganizationFactory(slug="globex")
    theirs = Dataset.objects.create(organization=globex, slug="data", name="Data", license="MIT")
    # An admin of both organizations still may not cross them.
    MembershipFactory(organization=globex, user=owner, role=Role.ADMIN)
    with pytest.raises(ValidationError) as refused:
        attach_policy(user=owner, policy=policy, artifact=theirs)
    assert "dataset" in refused.value.message_dict
    # An owner of the other organization only may not attach acme's policy.
    with pytest.raises(PermissionDenied):
        attach_policy(user=member_of(globex, Role.OWNER), policy=policy, artifact=theirs)
    assert not policy.attachments.exists()


def test_listed_access_grants_follow_the_policy_versions(owner, organization, dataset):
    beta = OrganizationFactory(slug="beta")
    terms = {"license": "MIT", "access_mode": "listed", "listed_organizations": ["beta"]}
    listed = create_policy(
        user=owner, organization=organization, slug="partners", name="Partners", terms=terms
    )
    attach_policy(user=owner, policy=listed, artifact=dataset)
    assert AccessGrant.objects.get(dataset=dataset, revoked_at__isnull=True).organization == beta
    add_policy_version(user=owner, policy=listed, terms={"access_mode": "open"})
    assert not AccessGrant.objects.filter(dataset=dataset, revoked_at__isnull=True).exists()
    add_policy_version(
        user=owner, policy=listed, terms={"access_mode": "listed", "listed_organizations": ["beta"]}
    )
    assert AccessGrant.objects.filter(dataset=dataset, revoked_at__isnull=True).count() == 1
    detach_policy(user=owner, artifact=dataset)
    assert not AccessGrant.objects.filter(dataset=dataset, revoked_at__isnull=True).exists()


def test_who_sees_which_policies(policy, organization, dataset, member):
    outsider = UserFactory()
    assert list(policies_visible_to(member)) == [policy]
    assert not policies_visible_to(outsider).exists()
    attach_policy(user=organization.memberships.get(role=Role.OWNER).user, policy=policy, artifact=dataset)
    assert not policies_visible_to(outsider).exists()  # the dataset is private
    Dataset.objects.filter(pk=dataset.pk).update(visibility=Visibility.PUBLIC)
    assert list(policies_visible_to(outsider)) == [policy]


# Weights of F ---------------------------------------------------------------------------------


def model_version(model) -> ModelVersion:
    return ModelVersion.objects.create(model=model, number=1, origin=ModelVersion.Origin.UPLOAD,
                                       labels=["negative", "positive"])  # fmt: skip


def test_the_weights_of_f_come_from_the_models_policy(policy, owner, model):
    version = model_version(model)
    assert objective_weights_for(version) == (Weights(), "default")
    attach_policy(user=owner, policy=policy, artifact=model)
    weights, source = objective_weights_for(version)
    assert weights.to_dict() == pytest.approx({"alpha": 0.5, "beta": 0.3, "gamma": 0.2})
    assert source == "policy acme/research@v1"
    add_policy_version(user=owner, policy=policy, terms={"alpha": 0.6, "beta": 0.4, "gamma": 0.0})
    assert objective_weights_for(version)[1] == "policy acme/research@v2"


def test_a_new_report_uses_the_policy_weights(owner, organization, model, dataset_version):
    policy = create_policy(user=owner, organization=organization, slug="no-theta", name="No θ",
                           terms={"license": "MIT", "alpha": 0.5, "beta": 0.5, "gamma": 0.0})  # fmt: skip
    attach_policy(user=owner, policy=policy, artifact=model)
    report = EvaluationReport.objects.create(
        model_version=model_version(model), dataset_version=dataset_version, split="test"
    )
    rng = np.random.default_rng(0)
    positive = rng.uniform(size=80)  # two groups of 40: enough for δ
    predictions = Predictions(
        labels=["negative", "positive"],
        y_true=["positive" if rng.uniform() < p else "negative" for p in positive],
        probabilities=np.column_stack([1 - positive, positive]),
        groups=["a"] * 40 + ["b"] * 40,
    )
    complete_report(report, predictions=predictions, member_losses=None, nonmember_losses=None,
                    nonmember_split="validation", comparison=None, training_curve=None)  # fmt: skip
    report.refresh_from_db()
    objective = report.report["objective"]
    assert objective["weights_source"] == "policy acme/no-theta@v1"
    assert objective["weights"] == pytest.approx({"alpha": 0.5, "beta": 0.5, "gamma": 0.0})
    # θ is n/a (no training records) but weighs 0: F is 0.5·δ + 0.5·ε.
    assert report.theta is None and report.delta is not None and report.epsilon is not None
    assert report.objective == pytest.approx(0.5 * report.delta + 0.5 * report.epsilon)


# Pages ------------------------------------------------------------------------------------------


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_policy_list_offers_new_policy_to_admins_only(policy, admin, member):
    page = client_for(admin).get("/o/acme/policies/")
    assert page.status_code == 200
    assert b"Research only" in page.content and b"New policy" in page.content
    page = client_for(member).get("/o/acme/policies/")
    assert b"Research only" in page.content and b"New policy" not in page.content
    assert client_for(member).get("/o/acme/policies/new/").status_code == 403


def form_data(**overrides) -> dict:
    data = {"license": "Apache-2.0", "access_mode": "open", "request_cooldown_days": "30",
            "alpha": "0.5", "beta": "0.25", "gamma": "0.25", "commercial_use": "on",
            "prohibited_uses": ["illegal", "medical-advice"], "max_objective": "0.3"}  # fmt: skip
    return {**data, **overrides}


def test_an_admin_creates_a_policy_on_its_page(admin):
    client = client_for(admin)
    form = client.get("/o/acme/policies/new/")
    assert form.status_code == 200 and b'name="alpha"' in form.content
    response = client.post("/o/acme/policies/new/", form_data(name="Strict", slug="strict"))
    assert response.status_code == 302 and response["Location"] == "/o/acme/policies/strict/"
    version = Policy.objects.get(slug="strict").latest_version
    assert version.prohibited_uses == ["illegal", "medical-advice"] and version.max_objective == 0.3
    assert version.commercial_use is True and version.attribution_required is False


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"license": "Nope-1.0"}, "license"),
        ({"alpha": "0.9"}, "alpha"),
        ({"max_delta": "2"}, "max_delta"),
        ({"access_mode": "listed"}, "listed_organizations"),
        ({"slug": "new"}, "slug"),
    ],
)
def test_the_policy_form_shows_the_service_errors_on_their_fields(admin, overrides, field):
    response = client_for(admin).post(
        "/o/acme/policies/new/", form_data(**{"name": "Strict", "slug": "strict", **overrides})
    )
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert not Policy.objects.exists()


def test_the_policy_page_shows_terms_history_and_governed_artifacts(policy, owner, dataset):
    attach_policy(user=owner, policy=policy, artifact=dataset)
    add_policy_version(user=owner, policy=policy, terms={"max_delta": 0.1, "prohibited_uses": ["illegal"]},
                       change_note="stricter")  # fmt: skip
    page = client_for(owner).get("/o/acme/policies/research/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "CC-BY-4.0" in text and "medical-advice" not in text.split("Versions")[0]
    assert "Maximum fairness gap δ" in text and "stricter" in text and "+ illegal" in text
    assert "acme/reviews" in text and "New version" in text


def test_the_new_version_form_is_prefilled_and_adds_a_version(policy, owner):
    client = client_for(owner)
    form = client.get("/o/acme/policies/research/versions/new/")
    assert form.status_code == 200
    assert form.context["form"].initial["license"] == "CC-BY-4.0"
    assert form.context["form"].initial["allowed_uses"] == ["research", "education"]
    data = form_data(license="CC-BY-4.0", change_note="now commercial", allowed_uses=["research"])
    response = client.post("/o/acme/policies/research/versions/new/", data)
    assert response.status_code == 302
    assert policy.latest_version.number == 2 and policy.latest_version.change_note == "now commercial"


def test_outsiders_do_not_see_a_policy_governing_nothing_they_see(policy):
    assert client_for(UserFactory()).get("/o/acme/policies/research/").status_code == 404
    assert Client().get("/o/acme/policies/research/").status_code == 404


def test_the_dataset_page_shows_its_policy_and_lets_admins_attach_one(policy, admin, member, dataset):
    page = client_for(admin).get("/o/acme/datasets/reviews/")
    assert page.status_code == 200
    assert "none attached; licence" in page.content.decode() and b'name="policy"' in page.content

    response = client_for(admin).post(
        "/o/acme/datasets/reviews/policy/", {"policy": "research", "action": "attach"}
    )
    assert response.status_code == 302 and dataset.policy_attachment.policy == policy
    page = client_for(member).get("/o/acme/datasets/reviews/")
    assert b"Research only" in page.content and b"research" in page.content
    assert b'name="policy"' not in page.content  # members see the terms, not the form

    assert (
        client_for(member).post("/o/acme/datasets/reviews/policy/", {"action": "detach"}).status_code == 403
    )
    client_for(admin).post("/o/acme/datasets/reviews/policy/", {"action": "detach"})
    assert not Dataset.objects.filter(policy_attachment__isnull=False).exists()


def test_the_model_page_and_the_policy_page_attach_too(policy, owner, model):
    client = client_for(owner)
    assert b"Usage policy" in client.get("/o/acme/models/sentiment/").content
    response = client.post("/o/acme/policies/research/attach/", {"artifact": "model:sentiment"})
    assert response.status_code == 302 and model.policy_attachment.policy == policy
    response = client.post("/o/acme/policies/research/attach/", {"artifact": "model:missing"}, follow=True)
    assert "Artifact: choose" in response.content.decode()


def test_the_organization_page_links_to_its_policies(owner):
    assert b"/o/acme/policies/" in client_for(owner).get("/o/acme/").content


# Admin ------------------------------------------------------------------------------------------


@pytest.fixture
def superuser():
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def test_the_admin_shows_versions_read_only_and_adds_a_new_one_through_the_service(policy, superuser):
    client = client_for(superuser)
    url = f"/admin/governance/policy/{policy.pk}/change/"
    assert client.get(url).status_code == 200
    assert client.get("/admin/governance/policy/add/").status_code == 403
    version_1 = policy.latest_version
    data = {
        "versions-TOTAL_FORMS": "2", "versions-INITIAL_FORMS": "1", "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000", "versions-0-id": str(version_1.pk),
        "versions-0-policy": str(policy.pk),
        "versions-1-policy": str(policy.pk), "versions-1-license": "CC-BY-4.0",
        "versions-1-allowed_uses": '["research"]', "versions-1-prohibited_uses": "[]",
        "versions-1-access_mode": "open", "versions-1-request_cooldown_days": "30",
        "versions-1-alpha": "0.5", "versions-1-beta": "0.3", "versions-1-gamma": "0.2",
        "versions-1-change_note": "from the admin",
        "attachments-TOTAL_FORMS": "0", "attachments-INITIAL_FORMS": "0", "attachments-MIN_NUM_FORMS": "0",
        "attachments-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    response = client.post(url, data)
    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    version_2 = policy.latest_version
    assert version_2.number == 2 and version_2.change_note == "from the admin"
    assert version_2.allowed_uses == ["research"] and version_2.commercial_use is False
    assert events("policy.version")[-1].channel == "admin"
    assert PolicyVersion.objects.get(pk=version_1.pk).allowed_uses == ["research", "education"]

    data["versions-1-license"] = "not-a-licence"
    response = client.post(url, data)
    assert response.status_code == 200 and policy.versions.count() == 2
