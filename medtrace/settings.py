"""Django settings, read from the environment.

Every setting that comes from the environment is validated here, and a bad value stops the
process at start-up with a message naming the variable: a misconfigured production system must
not come up half-working.
"""

from __future__ import annotations

import base64
import binascii
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MEDTRACE_VAR_DIR", str(BASE_DIR / "var")))
# `make run` writes the local demo's settings (MEDTRACE_DEBUG=1 and a generated field key) to
# this file, so `.venv/bin/medtrace ...` works in the same checkout without exporting anything.
# Variables already in the environment win. A production install has no such file.
LOCAL_ENV_FILE = VAR_DIR / "medtrace.env"


def _load_local_env(path: Path) -> None:
    if "pytest" in sys.modules or not path.is_file():
        return
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip().startswith("MEDTRACE_"):
            raise ImproperlyConfigured(
                f"{path}:{number}: expected MEDTRACE_NAME=value, got {line[:40]!r}"
            )
        os.environ.setdefault(name.strip(), value.strip())


_load_local_env(LOCAL_ENV_FILE)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean: expected one of 1/0, true/false, yes/no, on/off"
    )


def database_from_url(url: str) -> dict[str, Any]:
    """Turn MEDTRACE_DATABASE_URL into a Django DATABASES entry, refusing unknown schemes."""
    scheme = url.split(":", 1)[0].lower()
    if scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            f"MEDTRACE_DATABASE_URL scheme {scheme!r} is not supported: "
            "expected sqlite:///path or postgresql://user@host/dbname"
        )
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    except Exception as exc:  # dj_database_url raises several types for malformed URLs
        raise ImproperlyConfigured(f"MEDTRACE_DATABASE_URL is malformed: {exc}") from exc
    if config["ENGINE"] == "django.db.backends.postgresql":
        if not config.get("NAME"):
            raise ImproperlyConfigured(
                "MEDTRACE_DATABASE_URL has no database name: expected postgresql://host/dbname"
            )
        # JIT compilation costs more than it saves on the short, index-driven queries medtrace
        # runs (it took 15 of 20 ms of a unit timeline); analytics can turn it on per session.
        config.setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
        config["CONN_HEALTH_CHECKS"] = True
    else:
        config["CONN_MAX_AGE"] = 0
        # WAL + a busy timeout keep `make run` usable while a CLI command writes.
        config.setdefault("OPTIONS", {}).update(
            {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                " PRAGMA foreign_keys=ON;",
            }
        )
    return config


DEBUG = env_bool("MEDTRACE_DEBUG", default=False)

_secret = os.environ.get("MEDTRACE_SECRET_KEY", "")
if not _secret:
    if DEBUG or "pytest" in sys.modules or os.environ.get("MEDTRACE_ALLOW_DEV_SECRET") == "1":
        _secret = "medtrace-dev-only-insecure-key-do-not-use-in-production"
    else:
        raise ImproperlyConfigured(
            "MEDTRACE_SECRET_KEY is not set: set it to a long random string "
            "(or set MEDTRACE_DEBUG=1 for a local development server)"
        )
elif len(_secret) < 32:
    raise ImproperlyConfigured(
        f"MEDTRACE_SECRET_KEY is too short ({len(_secret)} characters): expected at least 32"
    )
SECRET_KEY = _secret

# Field encryption of patient-linked data (PIPL/GDPR, DESIGN §8): 32 random bytes, urlsafe
# base64 (see the README for a one-line generator).
# Never optional: without a key the app must not start and store patient data in plain text.
_field_key = os.environ.get("MEDTRACE_FIELD_KEY", "").strip()
if not _field_key and "pytest" in sys.modules:
    _field_key = base64.urlsafe_b64encode(b"medtrace-test-field-key-32bytes!").decode()
if not _field_key:
    raise ImproperlyConfigured(
        "MEDTRACE_FIELD_KEY is not set: patient data is stored encrypted and needs a key "
        "(32 random bytes, urlsafe base64). `make run` creates one for the local demo in "
        f"{LOCAL_ENV_FILE}."
    )
try:
    FIELD_KEY = base64.urlsafe_b64decode(_field_key.encode())
except (binascii.Error, ValueError) as exc:
    raise ImproperlyConfigured(f"MEDTRACE_FIELD_KEY is not urlsafe base64: {exc}") from exc
if len(FIELD_KEY) != 32:
    raise ImproperlyConfigured(
        f"MEDTRACE_FIELD_KEY decodes to {len(FIELD_KEY)} bytes: expected exactly 32"
    )

_hosts = os.environ.get("MEDTRACE_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
ALLOWED_HOSTS = [h.strip() for h in _hosts.split(",") if h.strip()]

_default_db = f"sqlite:///{VAR_DIR / 'medtrace.sqlite3'}"
DATABASE_URL = os.environ.get("MEDTRACE_DATABASE_URL", "").strip() or _default_db
DATABASES = {"default": database_from_url(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "medtrace.audit",
    "medtrace.accounts",
    "medtrace.masterdata",
    "medtrace.ledger",
    "medtrace.trace",
    "medtrace.lifecycle",
    "medtrace.procurement",
    "medtrace.production",
    "medtrace.quality",
    "medtrace.warehouse",
    "medtrace.distribution",
    "medtrace.conditions",
    "medtrace.alerts",
    "medtrace.service",
    "medtrace.complaints",
    "medtrace.recalls",
    "medtrace.imports",
    "medtrace.exports",
    "medtrace.dashboards",
    "medtrace.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "medtrace.web.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "medtrace.audit.middleware.RequestIdMiddleware",
    # /api/ refuses text no database can store (NUL, lone surrogates) with a 422 naming the field.
    "medtrace.core.input_text.ApiTextMiddleware",
    # After authentication (it counts capture per token or user): 429 beyond RATE_LIMITS.
    "medtrace.core.ratelimit.RateLimitMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "medtrace.urls"
WSGI_APPLICATION = "medtrace.wsgi.application"
ASGI_APPLICATION = "medtrace.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a locked-out username/IP before the password is checked.
    "medtrace.accounts.backends.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Argon2id first: new and re-saved passwords are hashed with it.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = os.environ.get("MEDTRACE_LANGUAGE", "zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "medtrace" / "locale"]
TIME_ZONE = os.environ.get("MEDTRACE_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = VAR_DIR / "media"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is too small: expected at least {minimum}")
    return value


# Login hardening (DESIGN §9). Cookies are Secure outside DEBUG unless a plain-HTTP deployment
# opts out with MEDTRACE_SECURE_COOKIES=0.
SESSION_COOKIE_SECURE = not DEBUG and env_bool("MEDTRACE_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# An idle session ends after MEDTRACE_SESSION_MINUTES (21 CFR 11.300: unattended terminals).
SESSION_COOKIE_AGE = 60 * env_int("MEDTRACE_SESSION_MINUTES", 30, minimum=1)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

AXES_FAILURE_LIMIT = env_int("MEDTRACE_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("MEDTRACE_LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# 429 with Retry-After (axes' own answer has no Retry-After).
AXES_LOCKOUT_CALLABLE = "medtrace.accounts.lockout.lockout_response"

# Rate limits: "requests/seconds" per client. Over the limit the answer is 429 with Retry-After.
RATE_LIMITS = {
    "login": os.environ.get("MEDTRACE_RATE_LOGIN", "20/60"),
    # Capture is machine-to-machine (MES stations, partners): the limit stops a runaway client
    # (100 requests/s sustained per token), not a production line.
    "capture": os.environ.get("MEDTRACE_RATE_CAPTURE", "6000/60"),
}
for _name, _rule in RATE_LIMITS.items():
    _count, _slash, _seconds = _rule.partition("/")
    if not (_slash and _count.isdigit() and _seconds.isdigit() and int(_count) and int(_seconds)):
        raise ImproperlyConfigured(
            f"MEDTRACE_RATE_{_name.upper()}={_rule!r}: expected requests/seconds, e.g. 20/60"
        )
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}

# E-signatures (21 CFR 11.200): this many wrong passwords in a row lock the user's signing.
SIGNING_MAX_FAILURES = env_int("MEDTRACE_SIGNING_MAX_FAILURES", 3, minimum=1)
# The Ed25519 key that signs audit checkpoints; created (mode 0600) on first use.
CHECKPOINT_KEY_FILE = Path(
    os.environ.get("MEDTRACE_CHECKPOINT_KEY_FILE", str(VAR_DIR / "audit-checkpoint.key"))
)

# Stored attachments (certificates of conformity, licence scans, test data), named by SHA-256.
ATTACHMENT_DIR = Path(os.environ.get("MEDTRACE_ATTACHMENT_DIR", str(VAR_DIR / "attachments")))
# Largest attachment accepted, in bytes.
ATTACHMENT_MAX_BYTES = env_int("MEDTRACE_ATTACHMENT_MAX_BYTES", 20 * 1024 * 1024, minimum=1024)
# Our own company (the maker) as a GLN; empty = the one active party with the role manufacturer.
OWN_PARTY_GLN = os.environ.get("MEDTRACE_OWN_PARTY_GLN", "")

# Email (recall notices to consignees, issue 6). MEDTRACE_EMAIL_BACKEND names a backend:
# "smtp", "console", "locmem", "file", "dummy" or a dotted path. Outside DEBUG the default is SMTP;
# in DEBUG the console backend prints mail instead, unless MEDTRACE_EMAIL_HOST names a server.
_EMAIL_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "dummy": "django.core.mail.backends.dummy.EmailBackend",
}
_email_host = os.environ.get("MEDTRACE_EMAIL_HOST", "").strip()
_email_backend = os.environ.get("MEDTRACE_EMAIL_BACKEND", "").strip() or (
    "console" if DEBUG and not _email_host else "smtp"
)
if _email_backend not in _EMAIL_BACKENDS and "." not in _email_backend:
    raise ImproperlyConfigured(
        f"MEDTRACE_EMAIL_BACKEND={_email_backend!r}: expected one of "
        f"{', '.join(_EMAIL_BACKENDS)} or a dotted path to an email backend class"
    )
EMAIL_BACKEND = _EMAIL_BACKENDS.get(_email_backend, _email_backend)
EMAIL_HOST = _email_host or "localhost"
EMAIL_USE_TLS = env_bool("MEDTRACE_EMAIL_USE_TLS", default=False)  # STARTTLS, usually port 587
EMAIL_USE_SSL = env_bool("MEDTRACE_EMAIL_USE_SSL", default=False)  # implicit TLS, port 465
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured(
        "MEDTRACE_EMAIL_USE_TLS and MEDTRACE_EMAIL_USE_SSL are both on: choose one "
        "(STARTTLS on port 587, or implicit TLS on port 465)"
    )
EMAIL_PORT = env_int(
    "MEDTRACE_EMAIL_PORT", 587 if EMAIL_USE_TLS else 465 if EMAIL_USE_SSL else 25, minimum=1
)
EMAIL_HOST_USER = os.environ.get("MEDTRACE_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("MEDTRACE_EMAIL_HOST_PASSWORD", "")
# Seconds before a silent mail server counts as a failed delivery (the notice stays in the portal).
EMAIL_TIMEOUT = env_int("MEDTRACE_EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = os.environ.get("MEDTRACE_EMAIL_FROM", "medtrace@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where partners reach this installation (e.g. https://trace.example.com): makes the links in
# notices, emails and webhooks absolute; empty = paths only.
PUBLIC_URL = os.environ.get("MEDTRACE_PUBLIC_URL", "").strip().rstrip("/")
# Seconds a webhook receiver has to answer before the delivery counts as failed.
WEBHOOK_TIMEOUT = env_int("MEDTRACE_WEBHOOK_TIMEOUT", 5, minimum=1)

# Background work (DESIGN §2, django-tasks). "database" (the default) queues tasks in the
# database for `medtrace worker`; "immediate" runs each task at once in the process that queues
# it (after the commit): a single-process install without a worker, and the test suite's
# default (its worker tests choose the database backend themselves).
_TASK_BACKENDS = {
    "database": "django_tasks_db.DatabaseBackend",
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
}
_tasks_backend = os.environ.get("MEDTRACE_TASKS_BACKEND", "").strip() or (
    "immediate" if "pytest" in sys.modules else "database"
)
if _tasks_backend not in _TASK_BACKENDS:
    raise ImproperlyConfigured(
        f"MEDTRACE_TASKS_BACKEND={_tasks_backend!r}: expected one of {', '.join(_TASK_BACKENDS)}"
    )
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[_tasks_backend]}}
# The outbox (alerts/outbox.py): attempts before a message becomes a dead letter, the first
# retry delay (doubling on each failure, up to the cap), and how long a worker may hold a message
# before another worker takes it over (a worker that died mid-attempt).
OUTBOX_MAX_ATTEMPTS = env_int("MEDTRACE_OUTBOX_MAX_ATTEMPTS", 8, minimum=1)
OUTBOX_BACKOFF_SECONDS = env_int("MEDTRACE_OUTBOX_BACKOFF_SECONDS", 30, minimum=1)
OUTBOX_BACKOFF_MAX_SECONDS = env_int("MEDTRACE_OUTBOX_BACKOFF_MAX_SECONDS", 6 * 3600, minimum=1)
OUTBOX_LEASE_SECONDS = env_int("MEDTRACE_OUTBOX_LEASE_SECONDS", 120, minimum=1)
# How often the worker sweeps for due outbox messages and runs the scheduled alert rules.
WORKER_SWEEP_SECONDS = env_int("MEDTRACE_WORKER_SWEEP_SECONDS", 15, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("MEDTRACE_LOG_LEVEL", "INFO")},
    # django-axes logs every login at INFO; lockouts (WARNING) are what an operator needs. The
    # task worker logs every task start and end at INFO (the sweep runs every few seconds);
    # failures are logged as warnings, and the outbox keeps every attempt on record.
    "loggers": {
        "axes": {"level": "WARNING"},
        "django_tasks": {"level": "WARNING"},
        "django_tasks_db": {"level": "WARNING"},
        "django.tasks": {"level": "WARNING"},
    },
}
