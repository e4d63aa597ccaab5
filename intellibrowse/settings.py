"""IntelliBrowse settings: one module, driven by the environment (see .env.example).

Defaults are for a developer's laptop: SQLite under var/, in-process channel layer, django-q2 on the
ORM broker. Production switches on PostgreSQL and Redis with DATABASE_URL and REDIS_URL.
"""

import contextlib
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from core.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_rate,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("IB_VAR_DIR", str(BASE_DIR / "var")))
# Names this installation's keys in a shared Redis (channel groups, cache keys, the task queue), so
# two installations (or two test runs) on one Redis never see each other's messages or tasks.
IB_NAMESPACE = env_str("IB_NAMESPACE", "intellibrowse")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # The test suite runs in several pytest-xdist processes, each with a test database of its own
    # and the same execution ids: each needs its own keys too, which its live servers and workers
    # inherit with the environment.
    IB_NAMESPACE = f"{IB_NAMESPACE}-{os.environ['PYTEST_XDIST_WORKER']}"
VAR_DIR.mkdir(parents=True, exist_ok=True)
# The SQLite database lives here: closed to other accounts, such as the one commands run as
# (IB_COMMAND_USER). A folder someone else owns is left as it is.
with contextlib.suppress(PermissionError):
    VAR_DIR.chmod(0o700)

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_q",
    # Ours, lowest layer first (the import order pyproject.toml's import-linter contracts enforce).
    "core",
    "catalog",
    "executions",
    "results",
    "triage",
    "runners",
    "live",
    "monitoring",
    "engine",
    "dashboard",
    "intellibrowse",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.ApiErrorShapeMiddleware",
    "core.middleware.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "intellibrowse.urls"
WSGI_APPLICATION = "intellibrowse.wsgi.application"
ASGI_APPLICATION = "intellibrowse.asgi.application"

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

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_url("DATABASE_URL", ("sqlite", "postgres", "postgresql"))
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and watchdog threads all write; WAL plus IMMEDIATE transactions turns SQLite's
    # "database is locked" surprises into short waits.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # The test database is a file, not :memory:, so live tests can point a real server and worker
    # process at it; one file per test process, so concurrent test runs do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if IS_POSTGRES:
    # One test database per test process, so two test runs on one server never drop each other's.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
# The web process serves HTTP in this many threads (intellibrowse/asgi.py), each keeping its own
# persistent connection: with PostgreSQL, a web process holds up to this many for HTTP.
IB_HTTP_THREADS = env_int("IB_HTTP_THREADS", 8, minimum=1)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, channel layer, task queue ---------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", ("redis", "rediss", "unix"))

if REDIS_URL:
    # The pub/sub layer: measured p95 ~4 ms with nothing lost, where the list-based default layer
    # dropped messages under load (see docs/performance.md).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": IB_NAMESPACE},
        }
    }
else:
    # In-process layer; the web process relays events from the database (live.relay) so that
    # updates written by a separate worker process still reach browsers. LocalChannelLayer is
    # Channels' InMemoryChannelLayer without its per-receiver copies and scans (live.layers).
    CHANNEL_LAYERS = {"default": {"BACKEND": "live.layers.LocalChannelLayer"}}

# The cache holds rate-limit counters (core.throttling): in Redis they are shared by every
# web process, so a limit means the same with one process or ten.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": IB_NAMESPACE,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

Q_BROKER = env_str("Q_BROKER", "orm")
if Q_BROKER not in {"orm", "redis"}:
    raise ImproperlyConfigured(f"Q_BROKER must be 'orm' or 'redis', got {Q_BROKER!r}")
if Q_BROKER == "redis" and not REDIS_URL:
    raise ImproperlyConfigured("Q_BROKER=redis needs REDIS_URL")

# A task is only a doorbell ("claim and run the best queued execution"); the database decides
# what runs. django-q2 must never retry by itself, and timeout must stay below retry.
Q_TASK_TIMEOUT = env_int("Q_TASK_TIMEOUT", 3600, minimum=10)
Q_CLUSTER = {
    "name": IB_NAMESPACE,
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    "timeout": Q_TASK_TIMEOUT,
    "retry": Q_TASK_TIMEOUT + 60,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": -1,  # a doorbell's result is worthless: keep failures only
    "poll": env_float("Q_POLL_SECONDS", 0.05, minimum=0.01),
    "sync": env_bool("Q_SYNC", False),
    "label": "Task queue",
}
if Q_BROKER == "redis":
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Engine ---------------------------------------------------------------------------------
IB_HEARTBEAT_SECONDS = env_float("IB_HEARTBEAT_SECONDS", 2.0, minimum=0.1)
# A worker that missed four heartbeats is presumed dead: recovery within ~10 s of a crash.
IB_LEASE_SECONDS = env_float("IB_LEASE_SECONDS", 8.0, minimum=1.0)
IB_CANCEL_POLL_SECONDS = env_float("IB_CANCEL_POLL_SECONDS", 0.25, minimum=0.05)
IB_REAP_SECONDS = env_float("IB_REAP_SECONDS", 2.0, minimum=0.5)
IB_REQUEUE_LOST_AFTER_SECONDS = env_float("IB_REQUEUE_LOST_AFTER_SECONDS", 5.0, minimum=1.0)
IB_DEFAULT_TIMEOUT_SECONDS = env_int("IB_DEFAULT_TIMEOUT_SECONDS", 1800, minimum=1)
IB_MANUAL_TIMEOUT_SECONDS = env_int("IB_MANUAL_TIMEOUT_SECONDS", 7 * 24 * 3600, minimum=60)
# Where appending to an inline trace starts to cost more than appending a row (bench/traces.py,
# docs/performance.md "Traces"): below it a trace is one JSON list, from it on step rows.
IB_TRACE_INLINE_MAX_STEPS = env_int("IB_TRACE_INLINE_MAX_STEPS", 35, minimum=1)
# Results: the largest JUnit XML upload accepted (413 above it); flaky detection looks at a case's
# last IB_FLAKY_WINDOW results and calls it flaky from IB_FLAKY_MIN_FLIPS pass<->fail changes.
IB_JUNIT_MAX_BYTES = env_int("IB_JUNIT_MAX_BYTES", 256 * 1024 * 1024, minimum=1024)
IB_FLAKY_WINDOW = env_int("IB_FLAKY_WINDOW", 20, minimum=3)
IB_FLAKY_MIN_FLIPS = env_int("IB_FLAKY_MIN_FLIPS", 2, minimum=1)
# Compare (results.compare): a test that passed both times is "slower" when its duration grew by
# IB_COMPARE_SLOWER_RATIO times and by IB_COMPARE_MIN_DELTA_MS at least (1 ms -> 3 ms is no news).
IB_COMPARE_SLOWER_RATIO = env_float("IB_COMPARE_SLOWER_RATIO", 1.5, minimum=1.0)
IB_COMPARE_MIN_DELTA_MS = env_int("IB_COMPARE_MIN_DELTA_MS", 200, minimum=0)
# Run notifications (results.notify): the project's webhook is called with this timeout, tried
# IB_WEBHOOK_MAX_TRIES times, waiting IB_WEBHOOK_BACKOFF_SECONDS * 4**(try - 1) between tries.
# A webhook host that resolves to a private, loopback or link-local address is refused unless
# it is listed in IB_WEBHOOK_PRIVATE_HOSTS (SSRF: docs/results.md, "Notifications").
IB_WEBHOOK_TIMEOUT_SECONDS = env_float("IB_WEBHOOK_TIMEOUT_SECONDS", 5.0, minimum=0.1)
IB_WEBHOOK_MAX_TRIES = env_int("IB_WEBHOOK_MAX_TRIES", 5, minimum=1)
IB_WEBHOOK_BACKOFF_SECONDS = env_float("IB_WEBHOOK_BACKOFF_SECONDS", 30.0, minimum=0.0)
IB_WEBHOOK_PRIVATE_HOSTS = env_list("IB_WEBHOOK_PRIVATE_HOSTS", [])

# --- Runners (docs/runners.md) -------------------------------------------------------------------
IB_BROWSER_EXECUTABLE = env_str("IB_BROWSER_EXECUTABLE", "/usr/bin/chromium")
# Extra modules that register actions, python checks and BDD step definitions at start-up.
IB_ACTION_MODULES = env_list("IB_ACTION_MODULES", [])
IB_CHECK_MODULES = env_list("IB_CHECK_MODULES", [])
IB_STEP_MODULES = env_list("IB_STEP_MODULES", [])
# Folders the `file_contains` check may read (empty: the check is off).
IB_CHECK_FILE_ROOTS = env_list("IB_CHECK_FILE_ROOTS", [])
IB_ATTACHMENT_MAX_BYTES = env_int("IB_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
# A worker running as root starts commands and Chromium as this account (a name or a uid), never
# as root unless IB_COMMAND_AS_ROOT says so (runners.command_user).
IB_COMMAND_USER = env_str("IB_COMMAND_USER", "nobody")
IB_COMMAND_AS_ROOT = env_bool("IB_COMMAND_AS_ROOT", False)
if not IB_COMMAND_USER.strip():
    raise ImproperlyConfigured("IB_COMMAND_USER must name an account (default: nobody)")

# --- Monitoring (live feed, metrics, health, alerts) ---------------------------------------------
# How often the web process's relay reads new events from the log (only without REDIS_URL).
IB_RELAY_POLL_SECONDS = env_float("IB_RELAY_POLL_SECONDS", 0.1, minimum=0.01)
# How often an open socket re-checks the event log for what the channel layer may have lost
# (a Redis restart); the catch-up sends only what the client has not seen.
IB_WS_SWEEP_SECONDS = env_float("IB_WS_SWEEP_SECONDS", 5.0, minimum=0.5)
# A worker whose watchdog has not reported for this long counts as gone.
IB_WORKER_ALIVE_SECONDS = env_float("IB_WORKER_ALIVE_SECONDS", 30.0, minimum=1.0)
# Bearer token for /metrics; empty leaves it open (scrapers on a private network).
IB_METRICS_TOKEN = env_str("IB_METRICS_TOKEN", "")
# Alerts: evaluated by each web process this often (0 turns the loop off), "queue stuck" after
# claimable work has waited this long, and POSTed as JSON to the webhook when one is set.
IB_ALERT_EVALUATE_SECONDS = env_float("IB_ALERT_EVALUATE_SECONDS", 30.0, minimum=0)
IB_ALERT_QUEUE_STUCK_MINUTES = env_float("IB_ALERT_QUEUE_STUCK_MINUTES", 10.0, minimum=0.1)
IB_ALERT_WEBHOOK_URL = env_url("IB_ALERT_WEBHOOK_URL", ("http", "https"))

# --- Auth, API --------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# The largest request body (JSON included, core.parsers); 413 above it. JUnit uploads have
# their own limit (IB_JUNIT_MAX_BYTES), attachments theirs (IB_ATTACHMENT_MAX_BYTES).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("IB_MAX_BODY_BYTES", 2_621_440, minimum=1024)
# Rate limits ("<count>/<s|min|hour|day>", core.throttling): failed sign-ins per client
# address and username, token requests per client address, JUnit imports per user.
IB_RATE_LOGIN = env_rate("IB_RATE_LOGIN", "10/min")
IB_RATE_TOKEN = env_rate("IB_RATE_TOKEN", "10/min")
IB_RATE_IMPORTS = env_rate("IB_RATE_IMPORTS", "60/min")

REST_FRAMEWORK = {
    # Token first: DRF takes the WWW-Authenticate header from the first class, so an anonymous
    # client gets 401 (with "Token") instead of the 403 that SessionAuthentication implies.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only: what the schema advertises is what the API accepts (form encodings turned nulls
    # and nested fields into strings); views that take files add MultiPartParser themselves.
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "core.filters.FilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api_errors.exception_handler",
    # A view opts in with `throttle_scope = "<one of the rates below>"`; views without one are
    # not throttled.
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.ScopedRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "token": IB_RATE_TOKEN,
        "imports": IB_RATE_IMPORTS,
    },
    # Proxies in front of the app whose X-Forwarded-For is trusted for the client address; 0
    # means none (a client cannot then pick its own address, and its own rate-limit bucket).
    "NUM_PROXIES": env_int("IB_NUM_PROXIES", 0, minimum=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "IntelliBrowse API",
    "DESCRIPTION": "Keep tests, run them for real, watch them live, learn from the results.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI from our own static files (no CDN), its init script a URL of its own
    # (SpectacularSwaggerSplitView): the Content-Security-Policy below allows neither inline
    # script nor another origin.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # `<id:pk>` (core.ids): ids are integers the database can hold.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.openapi.require_bodies_with_required_fields",
        "core.openapi.add_error_responses",
    ],
    # Several models have a `status` / `priority`; name each choice set once.
    "ENUM_NAME_OVERRIDES": {
        "ExecutionStatusEnum": "executions.models.runs.ExecutionStatus",
        "ExecutionPriorityEnum": "executions.models.runs.Priority",
        "CaseStatusEnum": "catalog.models.projects.CaseStatus",
        "CasePriorityEnum": "catalog.models.projects.CasePriority",
        "CaseOutcomeEnum": "results.models.CaseOutcome",
        "FailureGroupStateEnum": "triage.models.GroupState",
    },
}

# --- I18N, static -----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request when it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploads and files captured by runs. Outside the project folder (BASE_DIR), which is where runner
# profiles' working directories are (runners.actions.command): no stored file may sit
# where a test command imports or collects code. Refused inside it.
MEDIA_ROOT = Path(
    env_str(
        "IB_MEDIA_ROOT",
        str(
            Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
            / "intellibrowse"
            / IB_NAMESPACE
            / "media"
        ),
    )
).resolve()
if MEDIA_ROOT.is_relative_to(BASE_DIR.resolve()):
    raise ImproperlyConfigured(
        f"IB_MEDIA_ROOT ({MEDIA_ROOT}) must lie outside the project folder {BASE_DIR}, where "
        "runner profiles run commands"
    )
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Content-Security-Policy (django-csp) -------------------------------------------------------
# On every page we render: the dashboard, the admin, the browsable API, Swagger UI, HTML reports.
# Scripts only from our own static files, never inline, never another origin, so text a user
# managed to get into a page cannot run. Styles may be inline (style attributes in our templates,
# the admin's and DRF's): a style cannot read a cookie or send a request. Attachments carry a
# stricter policy of their own (executions.views).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- Production hardening (on when DEBUG is off) ----------------------------------------------
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "httpx": {"level": "WARNING"},  # one line per HTTP step is noise; the trace has it all
    },
}
