"""Site-wide behaviour: settings from the environment, the API schema and docs, pages for each role."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml
from openapi_spec_validator import validate

from tests.conftest import REPO


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=REPO, env={**env, "DJANGO_SETTINGS_MODULE": "hub.settings"}, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_database_url_selects_postgresql_through_psycopg():
    code = "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": "postgres://u@db.example:5432/agora"}
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=REPO, env={**env, "DJANGO_SETTINGS_MODULE": "hub.settings"}, capture_output=True, text=True,
    )  # fmt: skip
    assert result.stdout.strip() == "django.db.backends.postgresql", result.stderr


def test_openapi_schema_is_valid(client, db):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    validate(schema)
    assert "/api/v1/runs/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_swagger_ui_is_served_from_local_static_files(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()


@pytest.mark.parametrize(
    "path", ["/", "/datasets/", "/datasets/new/", "/models/", "/runs/", "/runs/new/", "/settings/tokens/"]
)
def test_pages_need_login_or_render_for_a_member(client, owner, path):
    anonymous = client.get(path)
    assert anonymous.status_code in (200, 302)
    if anonymous.status_code == 302:
        assert anonymous["Location"].startswith("/login/")
    client.force_login(owner)
    assert client.get(path).status_code == 200


def test_login_page_logs_in(client, owner):
    response = client.post("/login/", {"username": "owner", "password": "pass-word-123"})
    assert response.status_code == 302
    assert client.get("/").context["user"] == owner


def test_dataset_form_shows_a_service_error_on_its_field(client, owner):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(owner)
    response = client.post(
        "/datasets/new/",
        {
            "organization": "acme", "name": "Reviews", "slug": "reviews", "license": "CC-BY-4.0",
            "visibility": "private", "text_field": "text", "label_field": "label",
            "validation_fraction": "0.1", "test_fraction": "0.1", "seed": "42",
            "file": SimpleUploadedFile("r.csv", b"text,label\n" + b"good,pos\n" * 20),
        },
    )  # fmt: skip
    assert response.status_code == 200
    assert "at least two classes" in " ".join(response.context["form"].errors["label_field"])
