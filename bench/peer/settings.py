"""Minimal Django settings to run quartet-epcis (the DESIGN §10 peer) against its own database.

Only for bench/peer/run_peer.py, in its own throwaway venv (see bench/README.md); never imported
by medtrace. The database name comes from QUARTET_DB (a local-socket PostgreSQL database).
"""

import os

SECRET_KEY = "bench-peer-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "quartet_capture",
    "quartet_epcis",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("QUARTET_DB", "quartet_bench"),
        "HOST": "/var/run/postgresql",
        "CONN_MAX_AGE": 60,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "WARNING", "handlers": []},
}
