"""Production settings (DEBUG off): secure cookies, HSTS, HTTPS redirect, a clean ``check --deploy``; and
password validation wherever a password is set."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from tests.conftest import REPO

PRODUCTION_SECRET = "x9!Kq2@vL7#pZ4$wR8%tY3^mN6&bC1*hJ5(dF0)gS-aE_uI+oP=zX"


@pytest.fixture
def production_env(tmp_path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SECURE_", "DJANGO_"))}
    env.update(
        DEBUG="0",
        SECRET_KEY=PRODUCTION_SECRET,
        ALLOWED_HOSTS="agora.example.org",
        AGORA_DATA_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="hub.settings",
    )
    return env


def test_production_settings_are_strict(production_env):
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; print(json.dumps({"
        "'session_secure': s.SESSION_COOKIE_SECURE, 'csrf_secure': s.CSRF_COOKIE_SECURE, "
        "'session_httponly': s.SESSION_COOKIE_HTTPONLY, 'hsts': s.SECURE_HSTS_SECONDS, "
        "'hsts_subdomains': s.SECURE_HSTS_INCLUDE_SUBDOMAINS, 'ssl_redirect': s.SECURE_SSL_REDIRECT, "
        "'nosniff': s.SECURE_CONTENT_TYPE_NOSNIFF, 'frames': s.X_FRAME_OPTIONS, "
        "'coop': s.SECURE_CROSS_ORIGIN_OPENER_POLICY, 'middleware': s.MIDDLEWARE, "
        "'script_src': s.CONTENT_SECURITY_POLICY['DIRECTIVES']['script-src'], 'validators': "
        "[v['NAME'].rsplit('.', 1)[-1] for v in s.AUTH_PASSWORD_VALIDATORS]}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=production_env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["session_secure"] is True
    assert values["csrf_secure"] is True
    assert values["session_httponly"] is True
    assert values["hsts"] >= 31_536_000
    assert values["hsts_subdomains"] is True
    assert values["ssl_redirect"] is True
    assert values["nosniff"] is True
    assert values["frames"] == "DENY"
    assert values["coop"] == "same-origin"
    assert values["script_src"] == ["'self'"]
    assert "csp.middleware.CSPMiddleware" in values["middleware"]
    assert values["middleware"][-1] == "axes.middleware.AxesMiddleware"
    assert {"MinimumLengthValidator", "CommonPasswordValidator", "NumericPasswordValidator"} <= set(
        values["validators"]
    )


def test_check_deploy_passes_at_warning_level(production_env):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=production_env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_fails_on_a_weak_production_setting(production_env):
    """The check above can fail: switching the HTTPS redirect off is reported."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env={**production_env, "SECURE_SSL_REDIRECT": "0"},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "security.W008" in result.stdout + result.stderr


@pytest.mark.parametrize("password", ["password", "12345678", "alice2024", "short"])
def test_weak_passwords_are_refused_by_the_validators(db, password):
    user = User(username="alice2024", email="alice2024@example.org")
    with pytest.raises(ValidationError):
        validate_password(password, user)


def test_a_strong_password_passes_the_validators(db):
    validate_password("correct-horse-battery-staple-42", User(username="alice"))


def test_the_admin_refuses_a_weak_password_for_a_new_user(admin_client):
    response = admin_client.post(
        "/admin/auth/user/add/",
        {"username": "newcomer", "password1": "password", "password2": "password", "usable_password": "true"},
    )
    assert response.status_code == 200  # the form again, with the validators' errors
    assert b"This password is too common." in response.content
    assert not User.objects.filter(username="newcomer").exists()


def test_the_admin_password_change_refuses_a_weak_password(admin_client, admin_user):
    response = admin_client.post(
        f"/admin/auth/user/{admin_user.pk}/password/",
        {"password1": "12345678", "password2": "12345678", "usable_password": "true"},
    )
    assert response.status_code == 200
    assert b"This password is entirely numeric." in response.content
    admin_user.refresh_from_db()
    assert not admin_user.check_password("12345678")


def test_no_site_form_sets_a_password():
    """Passwords are set only in the admin and by createsuperuser/changepassword, which validate them;
    a page of the site that sets one must validate it too (and get a test here)."""
    for app in ("hub", "governance", "training"):
        for module in (REPO / app).rglob("*.py"):
            text = module.read_text()
            assert "set_password(" not in text, f"{module.relative_to(REPO)} sets a password"
            assert "PasswordInput" not in text, f"{module.relative_to(REPO)} has a password field"
