"""Security headers on every kind of response, and markup the Content-Security-Policy lets run: no inline
script, no event-handler attribute and no javascript: URL in any template or rendered page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO

TEMPLATES = REPO / "templates"
STATIC_JS = REPO / "static" / "js"

# An opening <script> tag without a src attribute: inline code. json_script's data block is not code.
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"javascript:", re.IGNORECASE)


def csp_directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_security_headers(response) -> None:
    directives = csp_directives(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'self'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["img-src"] == ["'self'", "data:"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/login/",
        "/datasets/",
        "/models/",
        "/runs/",
        "/api/v1/",
        "/api/schema/",
        "/api/docs/",
        "/admin/login/",
    ],
)
def test_anonymous_responses_carry_the_security_headers(client, db, path):
    response = client.get(path)
    assert response.status_code in (200, 302), path  # pages for members only redirect to sign-in
    assert_security_headers(response)


def test_signed_in_pages_and_refusals_carry_the_security_headers(client, owner):
    client.force_login(owner)
    for path in ("/", "/settings/tokens/", "/scores/", "/o/acme/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_security_headers(response)
    # A refusal is a response too.
    refused = client.post("/api/v1/organizations/", {"name": ""}, content_type="application/json")
    assert refused.status_code == 400
    assert_security_headers(refused)


def test_swagger_ui_loads_its_start_up_code_as_a_script_file(client, db):
    page = client.get("/api/docs/")
    html = page.content.decode()
    assert not INLINE_SCRIPT.search(html), html
    script_urls = re.findall(r'<script src="([^"]+)"', html)
    start_up = next(url for url in script_urls if "script" in url.split("?", 1)[-1])
    script = client.get(start_up.replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle(" in script.content
    assert b'url: "/api/schema/' in script.content


def template_files() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("template", template_files(), ids=lambda path: str(path.relative_to(TEMPLATES)))
def test_templates_hold_no_inline_script(template):
    text = template.read_text()
    assert not INLINE_SCRIPT.search(text), "move the code to a file under static/js/"
    assert not EVENT_HANDLER.search(text), "use data- attributes and a listener in static/js/"
    assert not JAVASCRIPT_URL.search(text)


def test_every_script_a_template_loads_exists():
    for template in template_files():
        for name in re.findall(r"<script src=\"\{% static '([^']+)' %\}\"", template.read_text()):
            assert (REPO / "static" / name).is_file(), f"{template.name} loads missing {name}"


def test_scripts_do_not_evaluate_strings():
    for script in STATIC_JS.glob("*.js"):
        text = script.read_text()
        for pattern in (r"\beval\(", r"new Function\(", r"setTimeout\(\s*[\"']", r"setInterval\(\s*[\"']"):
            assert not re.search(pattern, text), f"{script.name}: {pattern} needs 'unsafe-eval'"


def test_rendered_pages_hold_no_inline_script(client, owner, organization, dataset_version, base_version):
    """The pages as an owner sees them, with data: what the templates render must obey the policy too."""
    client.force_login(owner)
    pages = [
        "/",
        "/datasets/",
        "/datasets/new/",
        "/models/",
        "/models/new/",
        "/runs/",
        "/runs/new/",
        "/settings/tokens/",
        "/o/acme/",
        "/o/acme/datasets/reviews/",
        "/o/acme/datasets/reviews/datasheet/",
        "/o/acme/models/tiny/",
        "/o/acme/models/tiny/v1/",
        "/o/acme/policies/",
        "/o/acme/access/",
        "/scores/",
        "/search/?q=acme",
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        assert not INLINE_SCRIPT.search(html), path
        assert not EVENT_HANDLER.search(html), path
        assert not JAVASCRIPT_URL.search(html), path
