"""The dashboard end to end in headless Chromium, with a real worker: sign in, register a dataset, launch a
run and watch it reach 100%, read its evaluation report, write the model card, request publication, approve
it in the admin as a reviewer, then see the published version, the scores, the API docs and the admin, with
nothing refused by the Content-Security-Policy on the way. Each main page is saved as a
screenshot (to AGORA_SCREENSHOTS_DIR when set; `make screenshots` writes docs/screenshots/)."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from itertools import islice
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

from governance.models import PublicationRequest
from hub.models import REVIEWERS_GROUP, DatasetVersion, ModelVersion
from hub.services.models import import_checkpoint
from tests.conftest import DEMO_CSV, MINILM_DIR
from training.models import FineTuneRun

pytestmark = pytest.mark.integration

PASSWORD = "pass-word-123"
VIEWPORT = {"width": 1280, "height": 800}
RUN_TIMEOUT_MS = 180_000
PROSE = {
    "intended_use": "Research on review sentiment; not for decisions about people.",
    "factors": "Review source and length change accuracy; results are reported per split.",
    "ethical_considerations": "Reviews may mention people; outputs must not be used to profile authors.",
    "caveats_and_recommendations": "Tiny research model: evaluate on your own data before any use.",
}


def mixed_sources_csv(rows_per_source_and_label: int) -> bytes:
    """Demo rows from every source and label, interleaved, so the report measures fairness across sources."""
    with open(DEMO_CSV, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    cells: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        cells.setdefault((row["source"], row["label"]), []).append(row)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["text", "label", "source"], lineterminator="\n")
    writer.writeheader()
    for batch in zip(*(islice(cell, rows_per_source_and_label) for cell in cells.values()), strict=True):
        writer.writerows({key: row[key] for key in ("text", "label", "source")} for row in batch)
    return out.getvalue().encode()


def system_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-headless-shell")


@pytest.fixture
def browser(monkeypatch):
    """Headless system Chromium through Playwright; in CI a missing browser fails the test, never skips it."""
    executable = system_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if executable is None or sync_playwright is None:
        missing = "Chromium (apt-get install chromium)" if executable is None else "Playwright for Python"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the browser tests need {missing}")
        pytest.skip(f"the browser tests need {missing}")
    # Playwright's sync API runs an event loop in this thread; the test's ORM calls stay synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def screenshots(tmp_path):
    directory = Path(os.environ.get("AGORA_SCREENSHOTS_DIR") or tmp_path / "screenshots")
    directory.mkdir(parents=True, exist_ok=True)

    def save(page, name: str) -> None:
        page.screenshot(path=str(directory / f"{name}.png"), full_page=True)

    return save


def is_csp_violation(text: str) -> bool:
    return text.startswith("Refused to") or "Content Security Policy" in text


def signed_in_page(browser, base_url: str, username: str, csp_violations: list[str]):
    page = browser.new_context(viewport=VIEWPORT, base_url=base_url).new_page()
    page.set_default_timeout(30_000)

    # Chromium reports each resource or inline code the Content-Security-Policy blocks on the console.
    def record_violation(message) -> None:
        if is_csp_violation(message.text):
            csp_violations.append(f"{page.url}: {message.text}")

    page.on("console", record_violation)
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))
    return page


def test_the_dashboard_flow_in_a_browser(
    browser, screenshots, live_server, celery_worker, owner, organization, tmp_path
):
    owner.set_password(PASSWORD)
    owner.save()
    # The real MiniLM checkpoint, so that the report and the screenshots show a model that learned.
    base = import_checkpoint(
        user=owner, organization=organization, slug="minilm", directory=MINILM_DIR, license="Apache-2.0"
    )
    reviews_csv = tmp_path / "reviews.csv"
    reviews_csv.write_bytes(mixed_sources_csv(100))  # 600 rows; a 20% test split holds ~40 per source

    # 1. Sign in as acme's owner: the dashboard.
    csp_violations: list[str] = []
    page = signed_in_page(browser, live_server.url, owner.username, csp_violations)
    screenshots(page, "01-dashboard")

    # 2. Register a dataset through the form, with a group column for fairness.
    page.goto("/datasets/new/")
    page.fill("#id_name", "Reviews")
    page.fill("#id_slug", "reviews")
    page.fill("#id_license", "CC-BY-4.0")
    page.set_input_files("#id_file", str(reviews_csv))
    page.fill("#id_text_field", "text")
    page.fill("#id_label_field", "label")
    page.fill("#id_group_field", "source")
    page.fill("#id_test_fraction", "0.2")
    page.get_by_role("button", name="Register dataset").click()
    page.wait_for_url(re.compile(r"/o/acme/datasets/reviews/"))
    dataset_version = DatasetVersion.objects.get(dataset__organization=organization, dataset__slug="reviews")
    page.get_by_role("heading", level=1).wait_for()
    screenshots(page, "02-dataset")

    # 3. Launch a run on the worker's queue.
    page.goto("/runs/new/")
    page.select_option("#id_base_version", str(base.pk))
    page.select_option("#id_dataset_version", str(dataset_version.pk))
    offered = page.eval_on_selector_all("#id_queue option", "options => options.map(o => o.value)")
    assert celery_worker in offered, offered
    page.select_option("#id_queue", celery_worker)
    page.fill("#id_epochs", "1")
    page.fill("#id_max_length", "64")
    page.fill("#id_batch_size", "16")
    page.fill("#id_learning_rate", "0.0001")
    page.get_by_role("button", name="Queue the run").click()
    page.wait_for_url(re.compile(r"/runs/\d+/$"))
    run = FineTuneRun.objects.get(organization=organization)

    # 4. The page polls: the bar reaches 100% and the badge says Succeeded in this same document.
    page.evaluate("window.agoraSameDocument = true")
    page.wait_for_function(
        """() => window.agoraSameDocument === true
            && ["succeeded", "failed", "cancelled", "rejected"].includes(
                document.getElementById("run-status").className.replace("badge badge--", ""))""",
        timeout=RUN_TIMEOUT_MS,
        polling=250,
    )
    run.refresh_from_db()
    assert page.locator("#run-status").inner_text() == "Succeeded", run.error
    assert page.locator("#run-progress").get_attribute("aria-valuenow") == "100"
    assert page.locator("#run-progress-label").inner_text().endswith("· 100%")
    # Then it reloads once to show the server-rendered result.
    page.locator(".result-box").wait_for()
    screenshots(page, "03-run")

    # 5. The evaluation report: it reloads itself when ready; the confusion matrix is drawn.
    page.get_by_role("link", name=re.compile(r"^Evaluation report")).click()
    page.wait_for_url(re.compile(r"/reports/\d+/$"))
    page.locator("#confusion-chart svg").wait_for(timeout=RUN_TIMEOUT_MS)
    assert page.locator("#confusion-chart svg rect").count() >= 4
    screenshots(page, "04-report")

    # 6. Write the card's prose, then request publication from the version page.
    run.refresh_from_db()
    version = run.output_version
    model_path = f"/o/acme/models/{version.model.slug}"
    page.goto(f"{model_path}/v{version.number}/card/edit/")
    for key, text in PROSE.items():
        page.fill(f"#id_{key}", text)
    page.get_by_role("button", name="Save model card").click()
    page.wait_for_url(re.compile(r"/card/$"))
    screenshots(page, "05-model-card")

    page.goto(f"{model_path}/v{version.number}/")
    page.locator("#publication-heading").wait_for()
    page.get_by_role("button", name="Request publication").click()
    page.get_by_text("In review.").wait_for()
    publication = PublicationRequest.objects.get(model_version=version)
    assert publication.status == PublicationRequest.Status.IN_REVIEW, publication.checks

    # 7. A reviewer approves in the admin, with a reason.
    reviewer = User.objects.create_user("rita", password=PASSWORD, is_staff=True)
    reviewer.groups.add(Group.objects.get_or_create(name=REVIEWERS_GROUP)[0])
    admin = signed_in_page(browser, live_server.url, reviewer.username, csp_violations)
    admin.goto("/admin/governance/publicationrequest/")
    admin.locator(f'#result_list a[href$="/{publication.pk}/change/"]').first.click()
    admin.get_by_text("Record the decision").wait_for()
    admin.select_option("select[name=decision]", "approve")
    admin.fill("[name=reason]", "Checks pass; card complete.")
    screenshots(admin, "06-admin-review")
    admin.get_by_role("button", name="Record the decision").click()
    admin.wait_for_load_state()
    publication.refresh_from_db()
    assert publication.status == PublicationRequest.Status.PUBLISHED

    # 8. Back as the owner: the version and the model page show it published.
    page.goto(f"{model_path}/v{version.number}/")
    assert "Published" in page.locator("#publication-heading + .card").inner_text()
    screenshots(page, "07-version")
    page.goto(f"{model_path}/")
    assert page.get_by_text("Published").first.is_visible()
    screenshots(page, "08-model")
    assert ModelVersion.objects.get(pk=version.pk).status == ModelVersion.Status.PUBLISHED

    # 9. The scores of the hub and of acme show their factors with bars.
    for path, name in (("/scores/", "09-scores"), ("/o/acme/scores/", "10-organization-scores")):
        page.goto(path)
        assert page.locator("tr.score-factor").count() > 0
        assert page.locator(".score-meter__fill").count() > 0
        screenshots(page, name)

    # 10. Swagger UI starts (its start-up script is a file) and the admin index renders; no page visited
    # above or here had anything refused by the Content-Security-Policy.
    page.goto("/api/docs/")
    page.locator(".swagger-ui .info .title").wait_for()
    admin.goto("/admin/")
    admin.locator("#content-main").wait_for()
    assert csp_violations == []
