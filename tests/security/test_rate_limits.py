"""Rate limits: sign-in lockout (django-axes) on the site and the admin, failed token authentications on the
REST API and the Hugging Face endpoints, anonymous API calls; and the settings that configure them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from django.test import Client

from hub import ratelimit
from hub.services.tokens import issue_token
from tests.conftest import REPO
from tests.factories import UserFactory

PASSWORD = "pass-word-123"


@pytest.fixture
def login_limit(settings):
    settings.AXES_FAILURE_LIMIT = 3
    return 3


def sign_in(client: Client, path: str, username: str, password: str, address: str = "10.0.0.1", **extra):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address, **extra)


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_sign_in_locks_out_after_the_failure_limit(client, db, login_limit, path):
    UserFactory(username="alice", is_staff=True)
    for _ in range(login_limit - 1):
        response = sign_in(client, path, "alice", "wrong")
        assert response.status_code == 200  # the form again, with its error
    locked = sign_in(client, path, "alice", "wrong")
    assert locked.status_code == 429
    assert b"Too many failed sign-ins" in locked.content
    assert int(locked["Retry-After"]) == 15 * 60
    # Locked out: even the right password is refused, with the same page, not a 500.
    again = sign_in(client, path, "alice", PASSWORD)
    assert again.status_code == 429
    assert "_auth_user_id" not in client.session
    # The lock holds this username from this address only.
    assert sign_in(Client(), path, "alice", PASSWORD, address="10.0.0.2").status_code == 302
    UserFactory(username="bob", is_staff=True)
    assert sign_in(Client(), path, "bob", PASSWORD).status_code == 302


def test_a_successful_sign_in_resets_the_count(client, db, login_limit):
    UserFactory(username="alice")
    for _ in range(login_limit - 1):
        sign_in(client, "/login/", "alice", "wrong")
    assert sign_in(client, "/login/", "alice", PASSWORD).status_code == 302
    client.logout()
    for _ in range(login_limit - 1):
        assert sign_in(client, "/login/", "alice", "wrong").status_code == 200


def test_a_forged_forwarded_for_header_does_not_escape_the_lockout(client, db, login_limit):
    UserFactory(username="alice")
    for n in range(login_limit):
        sign_in(client, "/login/", "alice", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert (
        sign_in(client, "/login/", "alice", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.200").status_code == 429
    )


def test_behind_a_trusted_proxy_the_forwarded_address_counts(client, db, login_limit, settings):
    settings.AGORA_TRUST_X_FORWARDED_FOR = True
    UserFactory(username="alice")
    proxy = "10.9.9.9"
    for _ in range(login_limit):
        sign_in(client, "/login/", "alice", "wrong", address=proxy, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert (
        sign_in(
            client, "/login/", "alice", PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="198.51.100.7"
        ).status_code
        == 429
    )
    # Another client behind the same proxy is not locked out.
    other = sign_in(
        Client(), "/login/", "alice", PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="198.51.100.8"
    )
    assert other.status_code == 302


def test_behind_a_trusted_proxy_entries_the_client_prepends_are_ignored(client, db, login_limit, settings):
    # The proxy appends the address it saw; a client varying what it sends itself stays one address.
    settings.AGORA_TRUST_X_FORWARDED_FOR = True
    UserFactory(username="alice")
    for n in range(login_limit):
        forwarded = f"192.0.2.{n}, 198.51.100.7"
        sign_in(client, "/login/", "alice", "wrong", address="10.9.9.9", HTTP_X_FORWARDED_FOR=forwarded)
    locked = sign_in(client, "/login/", "alice", PASSWORD, address="10.9.9.9",
                     HTTP_X_FORWARDED_FOR="192.0.2.250, 198.51.100.7")  # fmt: skip
    assert locked.status_code == 429


def test_force_login_still_works_with_the_lockout_backend(client, owner):
    client.force_login(owner)
    assert client.get("/settings/tokens/").status_code == 200


# Token authentication ---------------------------------------------------------------------------------


@pytest.fixture
def token_limit(settings):
    settings.AGORA_TOKEN_FAILURE_LIMIT = 4
    settings.AGORA_TOKEN_FAILURE_WINDOW_SECONDS = 60
    return 4


def api_get(client: Client, path: str, secret: str, address: str = "10.0.0.1"):
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {secret}", REMOTE_ADDR=address)


def test_failed_api_tokens_are_limited_before_any_lookup(
    client, owner, token_limit, django_assert_num_queries
):
    valid = issue_token(user=owner, name="ci", scope="read").secret
    for n in range(token_limit):
        assert api_get(client, "/api/v1/datasets/", f"agora_wrong{n}").status_code == 401
    with django_assert_num_queries(0):
        limited = api_get(client, "/api/v1/datasets/", "agora_wrong-again")
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert "Too many failed token authentications" in limited.json()["detail"]
    # Guessing must stop, so a right token from this address waits too; other addresses are not affected.
    assert api_get(client, "/api/v1/datasets/", valid).status_code == 429
    assert api_get(client, "/api/v1/datasets/", valid, address="10.0.0.2").status_code == 200


def test_valid_tokens_are_not_counted(client, owner, token_limit):
    valid = issue_token(user=owner, name="ci", scope="read").secret
    for _ in range(token_limit * 3):
        assert api_get(client, "/api/v1/datasets/", valid).status_code == 200


def test_the_token_limit_lasts_one_window(client, owner, token_limit, monkeypatch):
    for n in range(token_limit):
        api_get(client, "/api/v1/datasets/", f"agora_wrong{n}")
    assert api_get(client, "/api/v1/datasets/", "agora_wrong").status_code == 429
    later = time.time() + 61
    monkeypatch.setattr(ratelimit.time, "time", lambda: later)
    assert api_get(client, "/api/v1/datasets/", "agora_wrong").status_code == 401


def test_failed_hf_tokens_are_limited_with_the_hub_error_format(client, owner, token_limit):
    path = "/api/models/acme/tiny"
    for n in range(token_limit):
        assert api_get(client, path, f"agora_wrong{n}").status_code == 401
    limited = api_get(client, path, "agora_wrong")
    assert limited.status_code == 429
    assert limited["X-Error-Code"] == "TooManyRequests"
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert "Too many failed token authentications" in limited.json()["error"]


def test_the_api_and_hf_endpoints_share_one_count(client, owner, token_limit):
    for n in range(token_limit):
        api_get(client, "/api/v1/datasets/", f"agora_wrong{n}")
    assert api_get(client, "/api/models/acme/tiny", "agora_wrong").status_code == 429


def test_fixed_window_counts_per_identity():
    window = ratelimit.FixedWindow("test", limit=2, seconds=60)
    assert window.retry_after("a") is None
    window.hit("a")
    window.hit("a")
    assert 1 <= window.retry_after("a") <= 60
    assert window.retry_after("b") is None


# Anonymous API calls ----------------------------------------------------------------------------------


@pytest.fixture
def anonymous_rate(monkeypatch):
    # DRF reads the rates into the class when it is imported; the test narrows them on the class.
    monkeypatch.setattr(ratelimit.AnonymousClientThrottle, "THROTTLE_RATES", {"anon": "3/minute"})
    return 3


def test_anonymous_api_calls_are_throttled_per_address(client, owner, anonymous_rate):
    for n in range(anonymous_rate):
        # A forged X-Forwarded-For does not make a new client.
        response = client.get(
            "/api/v1/datasets/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}"
        )
        assert response.status_code == 200
    throttled = client.get("/api/v1/datasets/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) >= 1
    assert client.get("/api/v1/datasets/", REMOTE_ADDR="10.0.0.2").status_code == 200
    # Signed-in callers are not throttled as anonymous.
    secret = issue_token(user=owner, name="ci", scope="read").secret
    assert api_get(client, "/api/v1/datasets/", secret).status_code == 200


# Settings from the environment --------------------------------------------------------------------------


def settings_in_subprocess(**environment: str) -> subprocess.CompletedProcess:
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'limit': s.AXES_FAILURE_LIMIT, 'cooloff': s.AXES_COOLOFF_TIME.total_seconds(), "
        "'backends': s.AUTHENTICATION_BACKENDS, 'cache': s.CACHES['default'], "
        "'token_limit': s.AGORA_TOKEN_FAILURE_LIMIT, 'anon': s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']}))"
    )
    env = {**os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "hub.settings", **environment}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)


def test_limits_and_cache_come_from_the_environment():
    result = settings_in_subprocess(
        AGORA_LOGIN_FAILURE_LIMIT="5",
        AGORA_LOGIN_COOLOFF_MINUTES="30",
        AGORA_TOKEN_FAILURE_LIMIT="7",
        AGORA_API_ANON_RATE="50/minute",
        CACHE_URL="redis://cache.internal:6379/1",
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["limit"] == 5
    assert values["cooloff"] == 30 * 60
    assert values["backends"][0] == "axes.backends.AxesStandaloneBackend"
    assert values["cache"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://cache.internal:6379/1",
    }
    assert values["token_limit"] == 7
    assert values["anon"] == {"anon": "50/minute"}


def test_the_default_cache_is_local_memory():
    result = settings_in_subprocess(CACHE_URL="")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cache"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_an_unknown_cache_url_is_refused_with_its_name():
    result = settings_in_subprocess(CACHE_URL="memcached://cache:11211")
    assert result.returncode != 0
    assert "CACHE_URL must be redis://" in result.stderr


def test_a_malformed_anonymous_rate_is_refused_with_its_name():
    result = settings_in_subprocess(AGORA_API_ANON_RATE="lots")
    assert result.returncode != 0
    assert "AGORA_API_ANON_RATE must read like 1200/minute" in result.stderr
