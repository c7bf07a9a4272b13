"""Django settings, read from the environment.

Every setting that comes from the environment is validated here, and a bad value stops the
process at start-up with a message naming the variable: a misconfigured production system must
not come up half-working.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MEDTRACE_VAR_DIR", str(BASE_DIR / "var")))

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
    "medtrace.accounts",
    "medtrace.masterdata",
    "medtrace.ledger",
    "medtrace.trace",
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

SESSION_COOKIE_SECURE = not DEBUG and env_bool("MEDTRACE_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("MEDTRACE_LOG_LEVEL", "INFO")},
}
