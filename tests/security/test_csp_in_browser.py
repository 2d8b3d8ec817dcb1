"""The Content-Security-Policy in a real browser (headless Chromium), without a worker: every main page,
its scripts and charts, Swagger UI and the admin run with nothing refused and no script error, and the
confirmations that moved out of inline handlers still ask before a form is sent."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User

import tests.integration.test_browser_flow as browser_flow
from hub.models import AccessToken, Membership, Role
from hub.services.tokens import issue_token
from tests.governance.test_cards import add_report, make_fine_tune
from training.models import FineTuneRun, RunMetric
from training.services import submit_run

PASSWORD = browser_flow.PASSWORD
browser = browser_flow.browser  # the headless Chromium fixture


@pytest.fixture
def world(transactional_db, owner, organization, dataset_version, base_version):
    """A running run with a loss curve, a fine-tuned version with its evaluation report, and a token."""
    owner.set_password(PASSWORD)
    owner.save()
    run = submit_run(
        user=owner, organization=organization, base_version=base_version, dataset_version=dataset_version
    )
    FineTuneRun.objects.filter(pk=run.pk).update(status=FineTuneRun.Status.RUNNING)
    RunMetric.objects.bulk_create(
        RunMetric(run=run, step=step, name=name, value=value)
        for step in range(1, 21)
        for name, value in (
            ("loss", 1.0 / step),
            ("learning_rate", 5e-5),
            ("examples_per_second", 40.0 + step),
        )
    )
    version = make_fine_tune(organization, dataset_version)
    report = add_report(version, dataset_version)
    token = issue_token(user=owner, name="ci", scope="read").token
    User.objects.create_superuser("root", "root@example.org", PASSWORD)
    return {"run": run, "version": version, "report": report, "token": token}


def test_main_pages_run_under_the_policy(browser, live_server, world):
    violations: list[str] = []
    page = browser_flow.signed_in_page(browser, live_server.url, "owner", violations)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))

    version = world["version"]
    model_path = f"/o/acme/models/{version.model.slug}"
    for path in (
        "/",
        "/datasets/",
        "/o/acme/datasets/reviews/",
        "/models/",
        "/o/acme/models/tiny/",
        f"{model_path}/v{version.number}/",
        f"{model_path}/v{version.number}/card/",
        "/o/acme/",
        "/o/acme/policies/",
    ):
        page.goto(path)
        page.get_by_role("heading", level=1).first.wait_for()

    # The run page draws its curves from the API and keeps polling.
    page.goto(f"/runs/{world['run'].pk}/")
    page.locator("#loss-chart svg").wait_for()
    page.wait_for_timeout(2500)  # one polling round

    page.goto(f"/reports/{world['report'].pk}/")
    page.locator("#confusion-chart svg").wait_for()

    page.goto("/scores/")
    assert page.locator("tr.score-factor").count() > 0

    page.goto("/api/docs/")
    page.locator(".swagger-ui .info .title").wait_for()

    admin = browser_flow.signed_in_page(browser, live_server.url, "root", violations)
    admin.on("pageerror", lambda error: errors.append(f"{admin.url}: {error}"))
    admin.goto("/admin/")
    admin.locator("#content-main").wait_for()
    admin.goto("/admin/auth/user/")
    admin.locator("#result_list").wait_for()

    assert violations == []
    assert errors == []


def test_a_confirmation_still_guards_a_destructive_form(browser, live_server, world, organization, member_of):
    member_of(organization, Role.MEMBER, username="bob")
    violations: list[str] = []
    page = browser_flow.signed_in_page(browser, live_server.url, "owner", violations)
    page.goto("/settings/tokens/")
    revoke = page.get_by_role("button", name=re.compile("Revoke"))

    page.once("dialog", lambda dialog: dialog.dismiss())
    revoke.click()
    page.wait_for_timeout(500)
    assert AccessToken.objects.get(pk=world["token"].pk).revoked_at is None

    page.once("dialog", lambda dialog: dialog.accept())
    revoke.click()
    page.get_by_text("revoked").first.wait_for()
    assert AccessToken.objects.get(pk=world["token"].pk).revoked_at is not None

    # A confirmation on the submitting button rather than on the form.
    page.goto("/o/acme/")
    remove = page.locator("button[data-confirm='Remove bob from acme?']")
    page.once("dialog", lambda dialog: dialog.dismiss())
    remove.click()
    page.wait_for_timeout(500)
    assert Membership.objects.filter(organization__slug="acme", user__username="bob").exists()
    page.once("dialog", lambda dialog: dialog.accept())
    remove.click()
    page.wait_for_load_state()
    page.wait_for_timeout(500)
    assert not Membership.objects.filter(organization__slug="acme", user__username="bob").exists()
    assert violations == []
