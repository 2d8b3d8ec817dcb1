"""The scores pages, the records behind each factor, the badges and the scores API.

A small hub is built with the ORM: acme (the organization under test), beta (which uses acme's data
and lends its base model) and gamma (private, whose records nobody else may see)."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from governance.models import (
    AccessGrant,
    AuditEvent,
    EvaluationReport,
    JobStatus,
    Policy,
    PolicyAttachment,
    PolicyCheck,
    PublicationRequest,
    ScoreSnapshot,
)
from governance.score_records import SCORE_FACTOR_KEYS
from governance.scores import hub_scores, organization_scores, window_ending
from hub.models import Dataset, DatasetVersion, ModelVersion, RegisteredModel, Role, Visibility
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from training.models import ComputePool, FineTuneRun

pytestmark = pytest.mark.django_db
NOW = timezone.now()
INSIDE = NOW - timedelta(days=10)
OUTSIDE = NOW - timedelta(days=200)


def make_dataset(
    org, slug, visibility=Visibility.PRIVATE, train_rows=1000, completeness=None, updated=INSIDE
):
    dataset = Dataset.objects.create(
        organization=org, slug=slug, name=slug, license="CC-BY-4.0", visibility=visibility
    )
    Dataset.objects.filter(pk=dataset.pk).update(card_completeness=completeness, updated_at=updated)
    version = DatasetVersion.objects.create(
        dataset=dataset, number=1, text_field="text", label_field="label", labels=["a", "b"],
        row_counts={"train": train_rows, "validation": 10, "test": 10},
    )  # fmt: skip
    return dataset, version


def make_version(org, slug, *, visibility=Visibility.PRIVATE, status="draft", published=None, card=None):
    model = RegisteredModel.objects.create(
        organization=org, slug=slug, name=slug, license="MIT", visibility=visibility
    )
    version = ModelVersion.objects.create(model=model, number=1, origin="upload", labels=["a", "b"])
    ModelVersion.objects.filter(pk=version.pk).update(
        status=status,
        published_at=published,
        card_completeness=card,
        card_touched_at=INSIDE if card else None,
    )
    version.refresh_from_db()
    return version


def make_run(org, user, base, data_version, *, status="succeeded", pool=None, seconds=0.0):
    run = FineTuneRun.objects.create(
        organization=org, created_by=user, base_version=base, dataset_version=data_version, status=status,
        pool=pool, accelerator_seconds=seconds, queue="cpu",
    )  # fmt: skip
    FineTuneRun.objects.filter(pk=run.pk).update(created_at=INSIDE, finished_at=INSIDE)
    return run


def make_report(version, data_version, *, accuracy, gain, objective=None):
    report = EvaluationReport.objects.create(
        model_version=version, dataset_version=data_version, split="test", status=JobStatus.SUCCEEDED,
        accuracy=accuracy, relative_gain=gain, delta=0.1, epsilon=0.2, theta=0.3, objective=objective,
        report={"objective": {"weights": {"alpha": 1 / 3, "beta": 1 / 3, "gamma": 1 / 3},
                              "weights_source": "default", "missing": []}},
    )  # fmt: skip
    EvaluationReport.objects.filter(pk=report.pk).update(created_at=INSIDE)
    return report


def publish(version, report=None, *, review=False, decided=None, deadline=None, status="published"):
    check = PolicyCheck.objects.create(context="publication", outcome="allowed")
    request = PublicationRequest.objects.create(
        model_version=version, status=status, policy_check=check, report=report, review_required=review,
        review_deadline=deadline, decided_at=decided,
    )  # fmt: skip
    PublicationRequest.objects.filter(pk=request.pk).update(created_at=INSIDE)
    return request


@pytest.fixture
def hub():
    acme, beta, gamma = (OrganizationFactory(slug=slug) for slug in ("acme", "beta", "gamma"))
    alice = MembershipFactory(organization=acme, role=Role.OWNER, user=UserFactory(username="alice")).user
    anna = MembershipFactory(organization=acme, user=UserFactory(username="anna")).user
    bob = MembershipFactory(organization=beta, role=Role.OWNER, user=UserFactory(username="bob")).user
    MembershipFactory(organization=gamma, role=Role.OWNER, user=UserFactory(username="gina"))
    AuditEvent.objects.create(actor=alice, organization=acme, action="x.y", target_type="t", at=INSIDE)
    AuditEvent.objects.create(actor=anna, organization=acme, action="x.y", target_type="t", at=OUTSIDE)

    d1, d1v = make_dataset(acme, "d1", Visibility.PUBLIC, completeness=0.5)
    d2, _ = make_dataset(acme, "d2", completeness=1.0)
    make_dataset(acme, "d3", completeness=0.2, updated=OUTSIDE)
    AccessGrant.objects.create(organization=beta, dataset=d2)
    _, e1v = make_dataset(beta, "e1", Visibility.INTERNAL, train_rows=3000)
    make_dataset(gamma, "secret", completeness=0.9)

    m1 = make_version(acme, "m1", status="published", published=INSIDE, card=0.75)
    m2 = make_version(acme, "m2", status="published", published=INSIDE)
    base_b = make_version(beta, "base", visibility=Visibility.PUBLIC)
    base_a = make_version(acme, "base-a")
    hidden = make_version(gamma, "hidden", status="published", published=INSIDE)
    policy = Policy.objects.create(organization=acme, slug="p", name="Research only")
    PolicyAttachment.objects.create(policy=policy, model=m1.model)
    PolicyAttachment.objects.create(policy=policy, dataset=d1)
    r1 = make_report(m1, e1v, accuracy=0.9, gain=0.5, objective=0.2)
    publish(m1, r1)
    publish(m2)  # no report: no gain, left out of A
    publish(hidden)
    publish(m1, review=True, deadline=INSIDE + timedelta(days=7), decided=INSIDE + timedelta(days=1))
    publish(m2, review=True, deadline=INSIDE + timedelta(days=7), decided=INSIDE + timedelta(days=9))

    for outcome in ("allowed", "review", "refused"):
        check = PolicyCheck.objects.create(
            context="run",
            outcome=outcome,
            organization=acme,
            reasons=[{"code": "c", "message": f"{outcome}!"}],
        )
        PolicyCheck.objects.filter(pk=check.pk).update(created_at=INSIDE)

    acme_pool = ComputePool.objects.create(organization=acme, slug="box", name="Box", queue="pool-acme-box")
    make_run(acme, alice, base_a, d1v)
    make_run(acme, alice, base_b, d1v)
    make_run(beta, bob, m1, d1v, pool=acme_pool, seconds=100)
    make_run(acme, alice, base_a, d1v, pool=acme_pool, seconds=300)
    return {
        "acme": acme,
        "beta": beta,
        "gamma": gamma,
        "alice": alice,
        "bob": bob,
        "m1": m1,
        "hidden": hidden,
    }


@pytest.fixture
def outsider(db):
    return UserFactory(username="outsider")


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def every_factor(score: dict):
    for factor in score["factors"]:
        yield factor
        yield from factor["parts"]


# Pages -------------------------------------------------------------------------------------------


def test_the_hub_page_needs_a_sign_in_and_shows_both_scores(hub, outsider):
    assert Client().get("/scores/").status_code == 302
    response = signed_in(outsider).get("/scores/")
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("Collaboration effect", "Collaborative capability", "product, as the source defines it",
                 "geometric mean", "E = D × T × N × M", "C = A × B × S × K × R"):  # fmt: skip
        assert text in html
    hub_e = hub_scores(window_ending()).effect
    assert response.context["panels"][0].geometric_mean == pytest.approx(hub_e.geometric_mean)
    assert 'id="scores-data"' in html and "js/scores.js" in html


def test_the_organization_page_names_the_bottleneck_and_links_every_factor(hub):
    response = signed_in(hub["alice"]).get("/o/acme/scores/")
    assert response.status_code == 200
    html = response.content.decode()
    scores = organization_scores(window_ending())[hub["acme"].pk]
    for score in (scores.effect, scores.capability):
        bottleneck = score.bottleneck
        assert bottleneck is not None
        assert f"{bottleneck.key}</span>: {bottleneck.name}</strong>" in html
    assert "Held back by" in html
    for key in SCORE_FACTOR_KEYS:
        assert f"/o/acme/scores/{key}/" in html
    # The sub-factors show the counts behind them.
    assert "2 of 3 datasets shared" in html
    assert "2 of 3 policy checks passed" in html


def test_an_organizations_scores_are_for_its_members_only(hub, outsider, superuser):
    assert signed_in(outsider).get("/o/gamma/scores/").status_code == 404
    assert signed_in(outsider).get("/o/gamma/scores/D_scale/").status_code == 404
    assert signed_in(hub["alice"]).get("/o/gamma/scores/").status_code == 404
    assert signed_in(superuser).get("/o/gamma/scores/").status_code == 200
    assert signed_in(outsider).get("/o/nobody/scores/").status_code == 404


def test_na_factors_show_their_reason_and_make_the_score_na(outsider):
    empty = OrganizationFactory(slug="empty")
    MembershipFactory(organization=empty, user=outsider)
    response = signed_in(outsider).get("/o/empty/scores/")
    assert response.status_code == 200
    html = response.content.decode()
    effect, capability = response.context["panels"]
    assert effect.geometric_mean is None and effect.value is None
    assert capability.geometric_mean is None
    n_pass = next(part for factor in effect.factors for part in factor.parts if part.key == "N_pass")
    assert n_pass.value is None and n_pass.na_reason == "no policy checks in the window"
    assert "no policy checks in the window" in html
    assert "E is <span" in html and "C is <span" in html
    assert 'class="na"' in html
    # B is sat(0; V0) = 0, a real zero; T, N and the rest are n/a, never shown as 0.
    b = next(factor for factor in capability.factors if factor.key == "B")
    assert b.value == 0.0
    assert 'style="width: 0.0%"' in html  # B's bar only


@pytest.mark.parametrize("days", ["abc", "3", "366", "-5", "1e9", "9" * 30])
def test_a_bad_window_is_a_message_and_the_default(hub, days):
    for path in ("/scores/", "/o/acme/scores/", "/o/acme/scores/T/", "/scores/K/"):
        response = signed_in(hub["alice"]).get(path, {"days": days})
        assert response.status_code == 200
        assert response.context["window"].days == 90
        assert any("The window must be" in str(message) for message in response.context["messages"])


def test_a_good_window_is_used_and_kept_in_the_links(hub):
    response = signed_in(hub["alice"]).get("/o/acme/scores/", {"days": "30"})
    assert response.context["window"].days == 30
    assert "/o/acme/scores/D_use/?days=30" in response.content.decode()


def test_an_unknown_factor_is_404(hub):
    client = signed_in(hub["alice"])
    assert client.get("/scores/Z/").status_code == 404
    assert client.get("/o/acme/scores/D/").status_code == 404  # a composite: its parts have the records


def _check_records_recompute(factor, records) -> None:
    rows = records.rows
    inputs = factor.inputs
    if factor.key == "T":
        assert len(rows) == inputs["cards_touched"]
        assert sum(row.counts for row in rows) == pytest.approx(inputs["card_completeness_sum"])
    elif factor.key == "A":
        gains = [row.counts for row in rows if row.counts is not None]
        assert len(rows) == inputs["published_versions"]
        assert len(gains) == inputs["versions_with_gain"]
        assert sum(gains) == pytest.approx(inputs["gain_sum"])
    elif factor.key == "B":
        assert sum(row.counts for row in rows) == inputs["shared_records"]
    elif factor.key == "R":
        assert sum(row.facts[1] for row in rows) == pytest.approx(inputs["denominator"])
        assert sum(row.facts[1] for row in rows if row.counts) == pytest.approx(inputs["numerator"])
    else:
        assert len(rows) == inputs["denominator"]
        assert sum(1 for row in rows if row.counts is True) == inputs["numerator"]


@pytest.mark.parametrize("key", SCORE_FACTOR_KEYS)
def test_each_factors_records_add_up_to_its_inputs(hub, superuser, key):
    from governance.views.scores import find_factor

    organization_page = signed_in(hub["alice"]).get(f"/o/acme/scores/{key}/")
    assert organization_page.status_code == 200
    _, factor = find_factor(organization_scores(window_ending())[hub["acme"].pk], key)
    _check_records_recompute(factor, organization_page.context["records"])
    assert organization_page.context["records"].hidden == 0

    hub_page = signed_in(superuser).get(f"/scores/{key}/")
    assert hub_page.status_code == 200
    _, factor = find_factor(hub_scores(window_ending()), key)
    _check_records_recompute(factor, hub_page.context["records"])
    html = hub_page.content.decode()
    assert escape(factor.formula) in html and escape(hub_page.context["records"].description) in html


def test_the_drilldown_shows_why_a_run_involves_two_organizations(hub):
    response = signed_in(hub["alice"]).get("/o/acme/scores/M_multi/")
    html = response.content.decode()
    assert "base of beta" in html
    assert "Multi-organization" in html
    response = signed_in(hub["alice"]).get("/o/acme/scores/N_pass/")
    assert "refused!" in response.content.decode()


def test_the_hub_drilldown_lists_only_what_the_viewer_may_see(hub):
    response = signed_in(hub["bob"]).get("/scores/D_scale/")
    records = response.context["records"]
    labels = [row.label for row in records.rows]
    assert "gamma/secret" not in labels and "acme/d3" not in labels
    assert "acme/d1" in labels and "beta/e1" in labels
    assert "acme/d2" in labels  # granted to beta
    assert records.hidden == 2
    assert "2 records not visible to you are counted" in response.content.decode()
    # Runs are private to their organization: bob sees beta's, not acme's.
    runs = signed_in(hub["bob"]).get("/scores/M_multi/").context["records"]
    assert [row.label.split(" · ")[1] for row in runs.rows] == ["beta"]
    assert runs.hidden == 3


def test_the_drilldown_cuts_long_lists(hub, monkeypatch):
    from governance import score_records

    monkeypatch.setattr(score_records, "FACTOR_RECORDS_LIMIT", 1)
    response = signed_in(hub["alice"]).get("/o/acme/scores/D_scale/")
    assert len(response.context["rows"]) == 1
    assert "Showing the first 1 of the 3 records" in response.content.decode()


# Trends ------------------------------------------------------------------------------------------


def test_without_snapshots_the_trend_says_how_they_are_taken(hub):
    html = signed_in(hub["alice"]).get("/o/acme/scores/").content.decode()
    assert "No snapshots yet" in html and "manage.py compute_scores" in html


def test_snapshots_draw_the_trend(hub):
    scores = organization_scores(window_ending())[hub["acme"].pk]
    today = timezone.localdate()
    for offset in (2, 1):
        for score in (scores.effect, scores.capability):
            ScoreSnapshot.objects.create(
                date=today - timedelta(days=offset), scope="organization", organization=hub["acme"],
                score=score.symbol, value=score.value, geometric_mean=score.geometric_mean,
                factors=score.to_dict(), window_days=90,
            )  # fmt: skip
    response = signed_in(hub["alice"]).get("/o/acme/scores/")
    assert "No snapshots yet" not in response.content.decode()
    trend = response.context["chart_data"]["E"]["trend"]
    headline = trend["headline"][0]["points"]
    assert headline == [[-2, scores.effect.geometric_mean], [-1, scores.effect.geometric_mean]]
    assert [series["label"] for series in trend["factors"]] == ["D", "T", "N", "M"]
    # Another organization's snapshots stay on its page.
    assert signed_in(hub["bob"]).get("/o/beta/scores/").context["has_snapshots"] is False


# Badges ------------------------------------------------------------------------------------------


def test_the_organization_page_shows_e_and_c_of_the_latest_snapshot_to_its_members(hub, outsider):
    client = signed_in(hub["alice"])
    html = client.get("/o/acme/").content.decode()
    assert 'class="score-badge"' in html and 'href="/o/acme/scores/"' in html
    assert "No daily snapshot of the scores yet" in html
    today = timezone.localdate()
    for date, effect, capability in ((today - timedelta(days=1), 0.25, 0.5), (today, 0.375, None)):
        ScoreSnapshot.objects.create(date=date, scope="organization", organization=hub["acme"], score="E",
                                     value=0.01, geometric_mean=effect, window_days=90)  # fmt: skip
        ScoreSnapshot.objects.create(date=date, scope="organization", organization=hub["acme"], score="C",
                                     value=None, geometric_mean=capability, window_days=90)  # fmt: skip
    html = client.get("/o/acme/").content.decode()
    badge = html[html.index('class="score-badge"') : html.index("</a>", html.index('class="score-badge"'))]
    assert "0.375" in badge and "n/a" in badge and "0.250" not in badge
    assert f"snapshot of {today.isoformat()}" in badge
    assert "score-badge" not in signed_in(outsider).get("/o/acme/").content.decode()


def test_model_pages_show_the_governance_score_of_the_latest_evaluated_version(hub):
    m1 = hub["m1"]
    client = signed_in(hub["alice"])
    report = EvaluationReport.objects.get(model_version=m1)
    for path in (m1.model.get_absolute_url(), m1.get_absolute_url()):
        html = client.get(path).content.decode()
        assert "governance 1 − F" in html
        assert "0.800" in html  # 1 − F with F = 0.2
        assert f'href="/reports/{report.pk}/"' in html
    # A model with no evaluation has no badge.
    html = client.get(RegisteredModel.objects.get(slug="m2").get_absolute_url()).content.decode()
    assert "governance 1 − F" not in html


# API ---------------------------------------------------------------------------------------------


def _assert_recomputable(score: dict) -> None:
    values = []
    for factor in score["factors"]:
        for part in factor["parts"]:
            inputs = part["inputs"]
            if "numerator" in inputs:
                expected = inputs["numerator"] / inputs["denominator"] if inputs["denominator"] else None
                assert part["value"] == (None if expected is None else pytest.approx(min(expected, 1.0)))
        if factor["parts"]:
            parts = [part["value"] for part in factor["parts"]]
            expected = None if None in parts else math.prod(parts) ** (1 / len(parts))
        elif factor["key"] == "T":
            inputs = factor["inputs"]
            expected = (
                inputs["card_completeness_sum"] / inputs["cards_touched"] if inputs["cards_touched"] else None
            )
        elif factor["key"] == "A":
            inputs = factor["inputs"]
            expected = (
                inputs["gain_sum"] / inputs["versions_with_gain"] if inputs["versions_with_gain"] else None
            )
        elif factor["key"] == "B":
            expected = factor["inputs"]["shared_records"] / (
                factor["inputs"]["shared_records"] + factor["inputs"]["V0"]
            )
        else:
            inputs = factor["inputs"]
            expected = inputs["numerator"] / inputs["denominator"] if inputs["denominator"] else None
        assert factor["value"] == (None if expected is None else pytest.approx(expected)), factor["key"]
        values.append(factor["value"])
    product = None if None in values else math.prod(values)
    assert score["value"] == (None if product is None else pytest.approx(product))
    mean = None if product is None else product ** (1 / len(values))
    assert score["geometric_mean"] == (None if mean is None else pytest.approx(mean))
    known = [factor for factor in score["factors"] if factor["value"] is not None]
    assert score["bottleneck"] == (min(known, key=lambda f: f["value"])["key"] if known else None)


def test_the_hub_api_returns_inputs_that_recompute_every_factor(hub, outsider, api_client_for):
    response = api_client_for(outsider).get("/api/v1/scores/")
    assert response.status_code == 200
    body = response.json()
    assert body["scope"] == "hub" and body["organization"] is None
    assert body["window"]["days"] == 90
    assert [factor["key"] for factor in body["E"]["factors"]] == ["D", "T", "N", "M"]
    assert [factor["key"] for factor in body["C"]["factors"]] == ["A", "B", "S", "K", "R"]
    _assert_recomputable(body["E"])
    _assert_recomputable(body["C"])
    assert Client().get("/api/v1/scores/").status_code in (401, 403)


def test_the_organization_api_is_for_members_and_recomputes(hub, outsider, api_client_for):
    response = api_client_for(hub["alice"]).get("/api/v1/scores/organizations/acme/", {"days": 30})
    assert response.status_code == 200
    body = response.json()
    assert body["organization"] == "acme" and body["window"]["days"] == 30
    _assert_recomputable(body["E"])
    _assert_recomputable(body["C"])
    d_scale = next(
        part for factor in body["E"]["factors"] for part in factor["parts"] if part["key"] == "D_scale"
    )
    assert d_scale["inputs"] == {"numerator": 2, "denominator": 3}
    assert api_client_for(outsider).get("/api/v1/scores/organizations/acme/").status_code == 404
    assert api_client_for(outsider).get("/api/v1/scores/organizations/nobody/").status_code == 404


@pytest.mark.parametrize("days", ["3", "366", "abc", "-1"])
def test_the_api_refuses_a_bad_window_naming_days(hub, api_client_for, days):
    client = api_client_for(hub["alice"])
    for path in ("/api/v1/scores/", "/api/v1/scores/organizations/acme/"):
        response = client.get(path, {"days": days})
        assert response.status_code == 400
        assert "days" in response.json()


def test_the_model_version_api_gives_f_for_visible_versions(hub, outsider, api_client_for):
    m1 = hub["m1"]
    response = api_client_for(hub["alice"]).get(f"/api/v1/scores/model-versions/{m1.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["score"] == "F" and body["value"] == pytest.approx(0.2)
    assert body["governance_score"] == pytest.approx(0.8)
    assert body["terms"] == {"delta": 0.1, "epsilon": 0.2, "theta": 0.3}
    assert body["report"] == EvaluationReport.objects.get(model_version=m1).pk
    # m1 is private to acme: nobody else sees it, nor gamma's hidden version.
    assert api_client_for(outsider).get(f"/api/v1/scores/model-versions/{m1.pk}/").status_code == 404
    hidden = hub["hidden"]
    assert api_client_for(hub["alice"]).get(f"/api/v1/scores/model-versions/{hidden.pk}/").status_code == 404
    m2 = ModelVersion.objects.get(model__slug="m2")
    body = api_client_for(hub["alice"]).get(f"/api/v1/scores/model-versions/{m2.pk}/").json()
    assert body["value"] is None and body["missing"] == ["evaluation"]


def test_snapshots_are_listed_by_organization_score_and_date(hub, outsider, api_client_for):
    today = timezone.localdate()
    for organization in (hub["acme"], hub["gamma"]):
        for offset in (5, 1):
            for score in ("E", "C"):
                ScoreSnapshot.objects.create(
                    date=today - timedelta(days=offset), scope="organization", organization=organization,
                    score=score, value=0.1, geometric_mean=0.5, factors={"score": score}, window_days=90,
                )  # fmt: skip
    ScoreSnapshot.objects.create(
        date=today, scope="hub", score="E", value=0.2, geometric_mean=0.6, window_days=90
    )
    since = (today - timedelta(days=2)).isoformat()
    response = api_client_for(hub["alice"]).get(
        "/api/v1/score-snapshots/", {"organization": "acme", "score": "E", "since": since}
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(row["organization"], row["score"], row["date"]) for row in results] == [
        ("acme", "E", (today - timedelta(days=1)).isoformat())
    ]
    assert results[0]["geometric_mean"] == 0.5 and results[0]["value"] == 0.1
    # Outsiders see the hub's snapshots only; gamma's are gamma's.
    seen = api_client_for(outsider).get("/api/v1/score-snapshots/").json()["results"]
    assert [row["scope"] for row in seen] == ["hub"]
    assert (
        api_client_for(hub["alice"])
        .get("/api/v1/score-snapshots/", {"organization": "gamma"})
        .json()["results"]
        == []
    )
    assert (
        api_client_for(hub["alice"]).get("/api/v1/score-snapshots/", {"since": "yesterday"}).status_code
        == 400
    )


def test_the_schema_documents_the_scores_api(client, db):
    import yaml

    schema = yaml.safe_load(client.get("/api/schema/").content)
    for path in ("/api/v1/scores/", "/api/v1/scores/organizations/{slug}/",
                 "/api/v1/scores/model-versions/{id}/", "/api/v1/score-snapshots/"):  # fmt: skip
        assert path in schema["paths"], path
