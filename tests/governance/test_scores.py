"""E and C computed from records, against every factor worked out by hand from scores.md §1 and §2.

A small hub of two organizations is built with the ORM (no services, so no audit events but the ones
written here), with records on both sides of the window's start."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.utils import timezone

from governance.metrics.scores import CapabilityCounts, EffectCounts, collaboration_effect, ratio, saturation
from governance.models import (
    AccessGrant,
    AuditEvent,
    EvaluationReport,
    JobStatus,
    Policy,
    PolicyAttachment,
    PolicyCheck,
    PublicationRequest,
)
from governance.scores import hub_scores, organization_scores, window_ending
from hub.models import Dataset, DatasetVersion, Download, ModelVersion, RegisteredModel, Role, Visibility
from tests.factories import MembershipFactory, OrganizationFactory
from training.models import ComputePool, FineTuneRun

pytestmark = pytest.mark.django_db
NOW = timezone.now()
INSIDE = NOW - timedelta(days=10)
OUTSIDE = NOW - timedelta(days=100)  # before the 90-day window


def factor(score, key):
    for item in score.factors:
        if item.key == key:
            return item
        for part in item.parts:
            if part.key == key:
                return part
    raise KeyError(key)


def dataset(org, slug, visibility=Visibility.PRIVATE, train_rows=1000, completeness=None, updated=INSIDE):
    data = Dataset.objects.create(
        organization=org, slug=slug, name=slug, license="CC-BY-4.0", visibility=visibility
    )
    Dataset.objects.filter(pk=data.pk).update(card_completeness=completeness, updated_at=updated)
    version = DatasetVersion.objects.create(
        dataset=data, number=1, text_field="text", label_field="label", labels=["a", "b"],
        row_counts={"train": train_rows, "validation": 10, "test": 10},
    )  # fmt: skip
    return data, version


def model(
    org,
    slug,
    card=None,
    touched=INSIDE,
    status=ModelVersion.Status.DRAFT,
    published=None,
    visibility="private",
):
    registered = RegisteredModel.objects.create(organization=org, slug=slug, name=slug, license="MIT",
                                                visibility=visibility)  # fmt: skip
    version = ModelVersion.objects.create(model=registered, number=1, origin="upload", labels=["a", "b"])
    ModelVersion.objects.filter(pk=version.pk).update(
        card_completeness=card, card_touched_at=touched, status=status, published_at=published
    )
    version.refresh_from_db()
    return version


def run(
    org, user, base, data_version, status="succeeded", created=INSIDE, finished=INSIDE, pool=None, seconds=0.0
):
    item = FineTuneRun.objects.create(
        organization=org, created_by=user, base_version=base, dataset_version=data_version, status=status,
        pool=pool, accelerator_seconds=seconds, queue="cpu",
    )  # fmt: skip
    FineTuneRun.objects.filter(pk=item.pk).update(created_at=created, finished_at=finished)
    return item


def check(org, outcome, at=INSIDE, version=None):
    item = PolicyCheck.objects.create(context="run", outcome=outcome, organization=org, model_version=version)
    PolicyCheck.objects.filter(pk=item.pk).update(created_at=at)
    return item


def publication(
    version, *, review=False, created=INSIDE, deadline=None, decided=None, report=None, status="published"
):
    helper_check = PolicyCheck.objects.create(context="publication", outcome="allowed")  # no organization
    item = PublicationRequest.objects.create(
        model_version=version, status=status, policy_check=helper_check, review_required=review,
        review_deadline=deadline, decided_at=decided, report=report,
    )  # fmt: skip
    PublicationRequest.objects.filter(pk=item.pk).update(created_at=created)
    return item


def report(version, data_version, accuracy, gain, created=INSIDE):
    item = EvaluationReport.objects.create(
        model_version=version, dataset_version=data_version, split="test", status=JobStatus.SUCCEEDED,
        accuracy=accuracy, relative_gain=gain,
    )  # fmt: skip
    EvaluationReport.objects.filter(pk=item.pk).update(created_at=created)
    return item


@pytest.fixture
def hub():
    acme, beta = OrganizationFactory(slug="acme"), OrganizationFactory(slug="beta")
    alice, anna, andy = (MembershipFactory(organization=acme, role=Role.OWNER).user, *(
        MembershipFactory(organization=acme).user for _ in range(2)))  # fmt: skip
    bob = MembershipFactory(organization=beta, role=Role.OWNER).user
    # Activity: alice in acme inside the window; anna in acme before it; andy active, but in beta.
    AuditEvent.objects.create(actor=alice, organization=acme, action="x.y", target_type="t", at=INSIDE)
    AuditEvent.objects.create(actor=anna, organization=acme, action="x.y", target_type="t", at=OUTSIDE)
    AuditEvent.objects.create(actor=andy, organization=beta, action="x.y", target_type="t", at=INSIDE)

    # acme's datasets: d1 public, d2 private but granted to beta, d3 private and updated long ago.
    d1, d1v = dataset(acme, "d1", Visibility.PUBLIC, train_rows=1000, completeness=0.5)
    d2, _ = dataset(acme, "d2", train_rows=500, completeness=1.0)
    d3, d3v = dataset(acme, "d3", train_rows=700, completeness=0.2, updated=OUTSIDE)
    AccessGrant.objects.create(organization=beta, dataset=d2)
    _, e1v = dataset(beta, "e1", Visibility.INTERNAL, train_rows=3000)

    # acme's models: v1 and v2 published in the window, v3 published before it; beta's base.
    v1 = model(acme, "m1", card=0.75, status="published", published=INSIDE)
    v2 = model(acme, "m2", card=None, touched=None, status="published", published=INSIDE)
    v3 = model(acme, "m3", card=0.1, touched=OUTSIDE, status="published", published=OUTSIDE)
    base_b = model(beta, "base", card=None, touched=None, visibility="public")
    policy = Policy.objects.create(organization=acme, slug="p", name="P")
    PolicyAttachment.objects.create(policy=policy, model=v1.model)
    PolicyAttachment.objects.create(policy=policy, dataset=d1)
    # Gains and new bests on e1's test split: v3's old 0.8, then v1's 0.9 (a new best), then v2's 0.85.
    r1 = report(v1, e1v, accuracy=0.9, gain=0.5, created=INSIDE)
    r2 = report(v2, e1v, accuracy=0.85, gain=0.2, created=INSIDE + timedelta(hours=1))
    publication(v1, report=r1)
    publication(v2, report=r2)
    publication(v3, report=report(v3, e1v, accuracy=0.8, gain=0.9, created=OUTSIDE), created=OUTSIDE)

    # Policy checks of acme: three passed and one refused inside, one outside.
    for outcome in ("allowed", "review", "allowed", "refused"):
        check(acme, outcome)
    check(acme, "refused", at=OUTSIDE)
    # Reviews of acme: on time; late; past its deadline undecided; not yet due (left out).
    publication(v1, review=True, deadline=INSIDE + timedelta(days=7), decided=INSIDE + timedelta(days=1),
                status="in_review")  # fmt: skip
    publication(v1, review=True, deadline=INSIDE + timedelta(days=7), decided=INSIDE + timedelta(days=8),
                status="rejected")  # fmt: skip
    publication(v2, review=True, deadline=NOW - timedelta(days=1), status="in_review")
    publication(v2, review=True, deadline=NOW + timedelta(days=5), status="in_review")

    pool = ComputePool.objects.create(organization=beta, slug="gpus", name="GPUs", queue="pool-beta-gpus")
    acme_pool = ComputePool.objects.create(organization=acme, slug="box", name="Box", queue="pool-acme-box")
    base_a = model(acme, "base-a", card=None, touched=None)
    # acme's finished runs: own data and base (single); beta's base (multi); beta's pool (multi);
    # a rejected one (not finished work); one finished before the window.
    run(acme, alice, base_a, d1v)
    run(acme, alice, base_b, d1v)
    run(acme, alice, base_a, d3v, pool=pool, seconds=50)
    run(acme, alice, base_a, d1v, status="rejected")
    run(acme, alice, base_a, e1v, created=OUTSIDE, finished=OUTSIDE)
    run(acme, alice, base_a, e1v, status="running", finished=None)  # consumes e1 inside the window
    # beta uses acme's public d1 (a cross-organization run) and acme's model m1 as a base, on acme's pool.
    run(beta, bob, v1, d1v, pool=acme_pool, seconds=100)
    run(acme, alice, base_a, d3v, pool=acme_pool, seconds=300)
    # beta downloads d2 inside the window; an old download of d3 does not count (and d3 is not shared).
    recent = Download.objects.create(user=bob, dataset=d2, path="train.csv", cross_organization=True)
    Download.objects.filter(pk=recent.pk).update(at=INSIDE)
    old = Download.objects.create(user=bob, dataset=d3, path="train.csv", cross_organization=True)
    Download.objects.filter(pk=old.pk).update(at=OUTSIDE)
    return {"acme": acme, "beta": beta}


def test_every_factor_of_e_for_an_organization(hub):
    scores = organization_scores(window_ending(NOW))[hub["acme"].pk]
    e = scores.effect
    # D: 2 of 3 datasets shared (public d1, granted d2); both used across organizations (beta's run on
    # d1, beta's download of d2).
    assert factor(e, "D_scale").value == pytest.approx(2 / 3)
    assert factor(e, "D_use").value == pytest.approx(1.0)
    assert factor(e, "D").value == pytest.approx(math.sqrt(2 / 3))
    # T: d1 0.5, d2 1.0 and v1's card 0.75 were touched inside the window; d3 and v3 before it.
    assert factor(e, "T").value == pytest.approx((0.5 + 1.0 + 0.75) / 3)
    assert factor(e, "T").inputs == {"card_completeness_sum": pytest.approx(2.25), "cards_touched": 3}
    # N_cover: v1, v2, v3 published + d1, d2 shared = 5; under a policy: v1 (m1) and d1.
    assert factor(e, "N_cover").inputs == {"numerator": 2, "denominator": 5}
    # N_pass: 3 of 4 checks inside the window passed (review counts as passed).
    assert factor(e, "N_pass").value == pytest.approx(3 / 4)
    # N_review: on time 1 of 3 (late, overdue; the one not yet due is left out).
    assert factor(e, "N_review").inputs == {"numerator": 1, "denominator": 3}
    assert factor(e, "N").value == pytest.approx((2 / 5 * 3 / 4 * 1 / 3) ** (1 / 3))
    # M_multi: finished inside the window: own (single), beta's base (multi), beta's pool (multi), own on
    # acme's pool (single) = 2 of 4; the rejected, running and old runs do not count.
    assert factor(e, "M_multi").inputs == {"numerator": 2, "denominator": 4}
    # M_active: alice only (anna was active before the window, andy in beta).
    assert factor(e, "M_active").inputs == {"numerator": 1, "denominator": 3}
    assert factor(e, "M").value == pytest.approx(math.sqrt(2 / 4 * 1 / 3))
    expected = math.sqrt(2 / 3) * 0.75 * (2 / 5 * 3 / 4 * 1 / 3) ** (1 / 3) * math.sqrt(1 / 6)
    assert e.value == pytest.approx(expected)
    assert e.geometric_mean == pytest.approx(expected ** (1 / 4))
    assert e.bottleneck.key == "M"


def test_every_factor_of_c_for_an_organization(hub, settings):
    c = organization_scores(window_ending(NOW))[hub["acme"].pk].capability
    # A: gains 0.5 (v1) and 0.2 (v2) of versions published inside the window; v3 is older.
    assert factor(c, "A").value == pytest.approx(0.35)
    # B: distinct shared dataset versions consumed by acme's runs created inside the window: d1 (1,000,
    # twice but once), e1 (3,000; the running run) = 4,000; d3 is private, the rejected run is left out.
    assert factor(c, "B").inputs["shared_records"] == 4000
    assert factor(c, "B").value == pytest.approx(4000 / (4000 + settings.AGORA_SCORE_RECORDS_SATURATION))
    # S: v1 set the first best on e1's test split; v2 came after and lower. 1 of 2.
    assert factor(c, "S").inputs == {"numerator": 1, "denominator": 2}
    # K: published models m1, m2, m3; m1 was beta's base inside the window. 1 of 3.
    assert factor(c, "K").inputs == {"numerator": 1, "denominator": 3}
    # R: acme's pool ran beta's 100 s and acme's 300 s.
    assert factor(c, "R").value == pytest.approx(100 / 400)
    assert c.value == pytest.approx(0.35 * 4000 / 14000 * 0.5 * (1 / 3) * 0.25)


def test_the_hub_sums_the_organizations_and_counts_active_organizations(hub):
    window = window_ending(NOW)
    per_organization = organization_scores(window)
    scores = hub_scores(window, per_organization)
    e = scores.effect
    assert factor(e, "D_scale").inputs == {"numerator": 3, "denominator": 4}  # d1, d2, e1 of 4
    # Both organizations have an audit event inside the window.
    assert factor(e, "M_active").inputs == {"numerator": 2, "denominator": 2}
    # Distinct over the hub: d1 (acme, beta), e1 (acme) = 4,000 records.
    assert factor(scores.capability, "B").inputs["shared_records"] == 4000


def test_the_window_boundary(hub):
    # A window ending before the records inside it sees only the old ones.
    early = organization_scores(window_ending(NOW - timedelta(days=50), days=90))[hub["acme"].pk]
    assert factor(early.effect, "N_pass").inputs == {"numerator": 0, "denominator": 1}
    assert factor(early.capability, "A").inputs["published_versions"] == 1  # v3 only
    # Exactly at the start is inside; a microsecond before is outside.
    start = INSIDE
    inside = organization_scores(window_ending(start + timedelta(days=90), days=90))[hub["acme"].pk]
    assert factor(inside.effect, "N_pass").inputs["denominator"] == 4
    outside = organization_scores(window_ending(start + timedelta(days=90, microseconds=1), days=90))
    assert factor(outside[hub["acme"].pk].effect, "N_pass").inputs["denominator"] == 0


def test_zero_denominators_are_n_a_never_zero(db):
    lonely = OrganizationFactory(slug="lonely")
    scores = organization_scores(window_ending(NOW))[lonely.pk]
    assert factor(scores.effect, "D_scale").value is None
    assert scores.effect.value is None and scores.effect.geometric_mean is None
    assert scores.capability.value is None
    assert factor(scores.capability, "B").value == 0.0  # sat(0; V0) is a number, not n/a


def test_the_arithmetic_helpers():
    assert ratio(1, 0) is None and ratio(0, 5) == 0.0 and ratio(3, 4) == 0.75
    assert saturation(10_000, 10_000) == 0.5
    counts = EffectCounts(
        datasets=2, shared_datasets=1, shared_datasets_used=1, cards_touched=1, card_completeness_sum=0.5,
        published_artifacts=1, published_with_policy=1, policy_checks=2, policy_checks_passed=2,
        reviews_requested=1, reviews_on_time=1, finished_runs=4, multi_organization_runs=1, members=2,
        active_members=2,
    )  # fmt: skip
    score = collaboration_effect(counts)
    assert score.value == pytest.approx(math.sqrt(0.5) * 0.5 * 1.0 * math.sqrt(0.25))
    assert score.to_dict()["bottleneck"] == "T"
    assert CapabilityCounts().published_versions == 0
