"""Agora's one settings module. Every deployment choice comes from an environment variable.

The defaults need no server at all: SQLite under var/, Celery over kombu's filesystem transport
under var/, and blobs on disk under var/blobs. Point DATABASE_URL, CELERY_BROKER_URL and the
storage variables (and CACHE_URL, which the rate limits count in) at real services for a multi-machine
installation.
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    try:
        return float(value) if value else default
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None


DEBUG = env_bool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "agora-development-only-key-never-use-in-production"  # noqa: S105

DATA_DIR = Path(os.environ.get("AGORA_DATA_DIR", BASE_DIR / "var"))

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",
    "axes",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "hub",
    "governance",
    "training",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "hub.middleware.AuditOriginMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a sign-in refused for too many failures into the 429 lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "hub.urls"
WSGI_APPLICATION = "hub.wsgi.application"
ASGI_APPLICATION = "hub.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite under var/ unless DATABASE_URL names a server (postgres://… uses psycopg 3).
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'agora.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, for the test database too: worker processes started by the integration
    # tests must see what the test wrote. WAL and a busy timeout let web and worker write side by side.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-agora.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The lockout check runs before the password check (settings below, "Sign-in lockout").
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "training:dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))

# Blobs: content-addressed files (see hub/blobs.py). A directory by default.
BLOB_ROOT = Path(os.environ.get("AGORA_BLOB_ROOT", DATA_DIR / "blobs"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "blobs": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(BLOB_ROOT), "file_permissions_mode": 0o644},
    },
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Blobs on S3-compatible storage: AGORA_BLOB_STORAGE=s3 and a bucket. Credentials come from the
# usual AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY variables (or the host's role), read by boto3.
AGORA_BLOB_STORAGE = os.environ.get("AGORA_BLOB_STORAGE", "filesystem")
if AGORA_BLOB_STORAGE == "s3":
    if not os.environ.get("AGORA_S3_BUCKET"):
        raise ImproperlyConfigured("AGORA_BLOB_STORAGE=s3 needs AGORA_S3_BUCKET.")
    STORAGES["blobs"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ["AGORA_S3_BUCKET"],
            "endpoint_url": os.environ.get("AGORA_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("AGORA_S3_REGION") or None,
            "location": os.environ.get("AGORA_S3_PREFIX", ""),
            "file_overwrite": False,  # blobs are never overwritten
            "default_acl": None,
        },
    }
elif AGORA_BLOB_STORAGE != "filesystem":
    raise ImproperlyConfigured(f"AGORA_BLOB_STORAGE must be filesystem or s3, not {AGORA_BLOB_STORAGE!r}")
# Uploaded files are hashed while received and written next to the blobs, which then take them
# without another copy (hub/upload_handlers.py).
FILE_UPLOAD_HANDLERS = ["hub.upload_handlers.HashingFileUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Uploaded checkpoints are loaded with transformers in a child process of each web worker (the worker
# itself never imports torch); the child stays up this long after its last use, so that later uploads
# find it ready. 0: a fresh child for each upload (3-4 s of imports each time).
AGORA_CHECKPOINT_INSPECTOR_IDLE_SECONDS = env_int("AGORA_CHECKPOINT_INSPECTOR_IDLE_SECONDS", 300)
# A blob hashed as it was stored, or read whole and found intact, is then served without hashing it
# again (by sendfile) while its file stays unchanged (same inode, size and mtime), for this long; the
# next download after that verifies it again. 0: every download re-hashes. The verifications are
# remembered in the cache (CACHE_URL: shared by every process with Redis, per process otherwise).
# `manage.py verify_blobs` remains the check of blobs at rest.
AGORA_BLOB_REVERIFY_SECONDS = env_int("AGORA_BLOB_REVERIFY_SECONDS", 24 * 3600)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
AGORA_MAX_DATASET_BYTES = env_int("AGORA_MAX_DATASET_BYTES", 512 * 1024 * 1024)
# Checkpoint archives: limits on what one upload may unpack to.
AGORA_ARCHIVE_MAX_BYTES = env_int("AGORA_ARCHIVE_MAX_BYTES", 20 * 1024**3)
AGORA_ARCHIVE_MAX_MEMBERS = env_int("AGORA_ARCHIVE_MAX_MEMBERS", 10_000)
AGORA_ARCHIVE_MAX_RATIO = env_int("AGORA_ARCHIVE_MAX_RATIO", 200)
# Scratch space for workers (unpacked checkpoints, training outputs).
AGORA_WORK_DIR = Path(os.environ.get("AGORA_WORK_DIR", DATA_DIR / "work"))

# REST API
AGORA_API_ANON_RATE = os.environ.get("AGORA_API_ANON_RATE", "1200/minute")
if not re.fullmatch(r"\d+/(s|sec|second|m|min|minute|h|hour|d|day)", AGORA_API_ANON_RATE):
    raise ImproperlyConfigured(f"AGORA_API_ANON_RATE must read like 1200/minute, not {AGORA_API_ANON_RATE!r}")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "hub.authentication.AccessTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "hub.api.schema.AgoraAutoSchema",
    "EXCEPTION_HANDLER": "hub.api.exceptions.exception_handler",
    # Anonymous API calls per client address (hub.ratelimit); signed-in callers are not throttled.
    "DEFAULT_THROTTLE_CLASSES": ["hub.ratelimit.AnonymousClientThrottle"],
    "DEFAULT_THROTTLE_RATES": {"anon": AGORA_API_ANON_RATE},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Agora API",
    "DESCRIPTION": "Datasets, checkpoints, fine-tuning runs and model versions of a collaborative model hub.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "training.models.FineTuneRun.Status",
        "ModelVersionStatusEnum": "hub.models.ModelVersion.Status",
    },
}

# Celery: kombu's filesystem transport needs no server; set CELERY_BROKER_URL=redis://… or amqp://…
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_FOLDER = DATA_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "messages"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "messages"),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Redis emulates priorities with one list per step, and 0 is its highest (training.services
    # inverts the run's 0-9). queue_order_strategy "priority" drains a worker's queues in order.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "priority_steps": list(range(10)),
        "sep": ":",
        "queue_order_strategy": "priority",
        # Longer than the hard time limit: an unacknowledged run is not redelivered while it trains.
        "visibility_timeout": env_int("AGORA_RUN_TIME_LIMIT", 24 * 3600) + 3600,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
# Message priorities: RabbitMQ honours them per queue (x-max-priority below, 9 highest); Redis by the
# steps above (inverted); the filesystem transport ignores them and delivers in arrival order.
CELERY_BROKER_PRIORITY_INVERTED = CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
CELERY_TASK_QUEUE_MAX_PRIORITY = 10
CELERY_TASK_DEFAULT_PRIORITY = 5
CELERY_TASK_IGNORE_RESULT = True  # run state lives in the database, not in a result backend
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A run may train for a day; the soft limit raises inside the task so the run ends "failed" with a
# reason, the hard one (10 minutes later) kills a worker that ignores it.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("AGORA_RUN_TIME_LIMIT", 24 * 3600)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 600
CELERY_BEAT_SCHEDULE = {
    "recover-stale-runs": {
        "task": "training.recover_stale_runs",
        "schedule": 60.0,
        "options": {"queue": "default"},
    },
    # The day's score snapshots (trends of E, C and F), after midnight in Celery's time zone (UTC).
    "snapshot-scores": {
        "task": "governance.snapshot_scores",
        "schedule": crontab(hour=0, minute=15),
        "options": {"queue": "default"},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Named queues a run may be sent to (compute pools add pool-<org>-<slug> queues of their own);
# each worker host consumes the ones it can serve.
AGORA_RUN_QUEUES = env_list("AGORA_RUN_QUEUES", "cpu,gpu")
# A running run whose worker has not written a heartbeat for this long is taken as lost: re-queued
# while it has attempts left, else failed.
AGORA_RUN_HEARTBEAT_TIMEOUT = env_int("AGORA_RUN_HEARTBEAT_TIMEOUT", 600)
AGORA_RUN_HEARTBEAT_INTERVAL = env_int("AGORA_RUN_HEARTBEAT_INTERVAL", 30)
AGORA_RUN_MAX_ATTEMPTS = env_int("AGORA_RUN_MAX_ATTEMPTS", 2)
# A queued run no worker has taken for this long has its task sent again (the broker may have lost
# it: Redis without persistence forgets queued messages on restart). A duplicate delivery does nothing.
AGORA_RUN_QUEUE_TIMEOUT = env_int("AGORA_RUN_QUEUE_TIMEOUT", 3600)
# Evaluations requested from the site or API go to this queue (a run's own report to the run's queue).
AGORA_EVALUATION_QUEUE = os.environ.get("AGORA_EVALUATION_QUEUE", AGORA_RUN_QUEUES[0])
# Training records (and as many held-out ones) scored for the membership-inference attack.
AGORA_MEMBERSHIP_SAMPLE = env_int("AGORA_MEMBERSHIP_SAMPLE", 1000)
# An evaluation still running after this long lost its worker: recovery marks it failed.
AGORA_EVALUATION_TIMEOUT = env_int("AGORA_EVALUATION_TIMEOUT", 2 * 3600)

# Publication: the card completeness a version needs, and whether a model without a policy needs a
# reviewer (the conservative default). A review is due within this many days (the N factor of the scores).
AGORA_MIN_CARD_COMPLETENESS = env_float("AGORA_MIN_CARD_COMPLETENESS", 0.8)
AGORA_REVIEW_WITHOUT_POLICY = env_bool("AGORA_REVIEW_WITHOUT_POLICY", True)
AGORA_REVIEW_DEADLINE_DAYS = env_int("AGORA_REVIEW_DEADLINE_DAYS", 7)

# The collaboration scores (docs/scores.md): their rolling window, and V0 of the big-data factor.
AGORA_SCORE_WINDOW_DAYS = env_int("AGORA_SCORE_WINDOW_DAYS", 90)
# Seconds the hub-wide scores are reused for (0: computed on every request, as in development).
AGORA_SCORES_CACHE_SECONDS = env_int("AGORA_SCORES_CACHE_SECONDS", 0 if DEBUG else 60)
AGORA_SCORE_RECORDS_SATURATION = env_int("AGORA_SCORE_RECORDS_SATURATION", 10_000)

# Security: strict unless DEBUG. Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER_NAME.
SESSION_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if os.environ.get("SECURE_PROXY_SSL_HEADER_NAME"):
    SECURE_PROXY_SSL_HEADER = (os.environ["SECURE_PROXY_SSL_HEADER_NAME"], "https")
# The audit log and the rate limits take the client's address: REMOTE_ADDR, or behind a trusted proxy
# that appends to X-Forwarded-For (never trust it when clients reach the site directly).
AGORA_TRUST_X_FORWARDED_FOR = env_bool("AGORA_TRUST_X_FORWARDED_FOR", False)
# How many proxies append to X-Forwarded-For in front of the site: the client is the entry that many
# places from the right (what the outermost trusted proxy saw); entries further left are never read.
AGORA_TRUSTED_PROXY_COUNT = env_int("AGORA_TRUSTED_PROXY_COUNT", 1)
if AGORA_TRUSTED_PROXY_COUNT < 1:
    raise ImproperlyConfigured("AGORA_TRUSTED_PROXY_COUNT must be at least 1.")

# Content-Security-Policy (django-csp), on every response in development and production alike.
# Scripts are strict: only files under /static/ (no inline code, no event-handler attributes, no eval);
# pages hand data to them with json_script or data- attributes. Styles allow 'unsafe-inline' on
# purpose: style attributes carry data-dependent widths (progress bars, score meters, label bars) and the
# Django admin and Swagger UI ship inline <style> blocks. CSS cannot run script, and with img-src,
# font-src and connect-src limited to this site it cannot send anything elsewhere either.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],  # data: for the stylesheets' inline SVG icons
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# Sign-in lockout (django-axes), for the site's /login/ and the admin's: after this many failures for
# one username from one address, sign-in is refused with a 429 page until the cool-off has passed.
AXES_FAILURE_LIMIT = env_int("AGORA_LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AGORA_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "hub.middleware.client_address"
AXES_LOCKOUT_CALLABLE = "hub.ratelimit.sign_in_lockout_response"
# Failed token authentications (REST API and Hugging Face endpoints) per client address and window:
# beyond the limit the answer is 429 with Retry-After, before any database lookup.
AGORA_TOKEN_FAILURE_LIMIT = env_int("AGORA_TOKEN_FAILURE_LIMIT", 30)
AGORA_TOKEN_FAILURE_WINDOW_SECONDS = env_int("AGORA_TOKEN_FAILURE_WINDOW_SECONDS", 60)

# No server-side fetch: checkpoints arrive as uploads and load from local directories only. Even with
# local_files_only=True, huggingface_hub reaches huggingface.co by itself (its agent registry, adapter
# look-ups for a path that is not a directory), so every process that loads these settings (web,
# workers, the checkpoint-validation child process) runs it offline. HF_HUB_OFFLINE=0 opts out.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Cache: the rate-limit counters live here. Local memory (per process) by default; with several web
# processes or hosts set CACHE_URL=redis://host:6379/1 so that they share one count.
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
elif CACHE_URL in ("", "locmem://"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    raise ImproperlyConfigured(f"CACHE_URL must be redis://… (or empty for local memory), not {CACHE_URL!r}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
