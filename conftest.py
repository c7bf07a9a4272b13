"""Shared pytest fixtures: the personas used across the suite (CONVENTIONS: alice/bob/charlie)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

# Django-dependent imports stay inside the fixtures: the pure-Python suites under medtrace/lib
# also run with `-p no:django`, where importing Django models here would fail.


def _allow_ledger_truncate(sender: Any, connection: Any, **kwargs: Any) -> None:
    # Transactional tests empty the throwaway test database with TRUNCATE, which the ledger's
    # append-only trigger refuses unless the session opts in (migration ledger/0002).
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET medtrace.allow_truncate = 'on'")


def pytest_configure(config: Any) -> None:
    if not hasattr(config, "workerinput") and getattr(config.option, "dist", "no") in (
        "loadfile",
        "loadscope",
    ):
        # The xdist controller keeps the files in the order the workers collected them (longest
        # first, see pytest_collection_modifyitems) instead of sorting them by test count.
        config.option.loadscopereorder = False
    try:
        from django.db.backends.signals import connection_created
    except ImportError:  # pragma: no cover - pure-Python suites without Django
        return
    connection_created.connect(_allow_ledger_truncate, dispatch_uid="medtrace_tests_truncate")


# Under pytest-xdist (`make test`: --dist loadfile) each worker takes whole files, in the order
# collected. Longest first keeps a long file from starting last while the other workers idle;
# xdist's own order (most tests first) misses files with few but slow tests. The estimate is
# rough, seconds per test by kind of file:
_SECONDS_PER_TEST = (
    ("medtrace/audit/tests/test_backup.py", 10.0),  # real medtrace migrate/backup/restore runs
    ("tests/browser/", 10.0),  # Chromium against a live server on the demo
    ("/test_demo", 10.0),  # the demo, loaded through the real services
    ("medtrace/lib/", 0.03),  # pure Python
)
_DEFAULT_SECONDS_PER_TEST = 0.5


def _estimated_seconds(path: str, tests: int) -> float:
    for fragment, seconds in _SECONDS_PER_TEST:
        if fragment in path:
            return tests * seconds
    return tests * _DEFAULT_SECONDS_PER_TEST


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    if not hasattr(config, "workerinput"):  # not an xdist worker: the usual order
        return
    by_file: dict[str, list[Any]] = {}
    for item in items:
        by_file.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    files = sorted(by_file.items(), key=lambda kv: -_estimated_seconds(kv[0], len(kv[1])))
    items[:] = [item for _path, group in files for item in group]


# What the migrations write into the test database (department roles, default signal and alert
# rules, ...). A flush empties every table: pytest-django's after each transactional test, the
# browser tests' after their module. Run alone, those tests came last, but under pytest-xdist any
# file may follow them on the same worker, so after a flush the migrated data is put back.
_MIGRATED: dict[str, str] = {}
_flushed: list[bool] = []


def _note_flush(sender: Any, **kwargs: Any) -> None:
    # A flush sends post_migrate (so do the migrations themselves, before _MIGRATED is filled).
    if _MIGRATED:
        _flushed.append(True)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Any:
    """pytest-django's test database, and a copy of what the migrations wrote into it."""
    from django.db import connections
    from django.db.models.signals import post_migrate

    with django_db_blocker.unblock():
        for alias in connections:
            _MIGRATED[alias] = connections[alias].creation.serialize_db_to_string()
    post_migrate.connect(_note_flush, dispatch_uid="medtrace_tests_flush")
    yield
    post_migrate.disconnect(dispatch_uid="medtrace_tests_flush")
    _MIGRATED.clear()
    # A session some test's process or thread left behind (still closing) would keep
    # pytest-django from dropping the test database.
    with django_db_blocker.unblock():
        for alias in connections:
            if connections[alias].vendor == "postgresql":
                with connections[alias].cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )


def _restore_migrated_data(config: Any) -> None:
    from django.apps import apps
    from django.core.management import call_command
    from django.core.management.color import no_style
    from django.db import connections
    from pytest_django.plugin import blocking_manager_key

    with config.stash[blocking_manager_key].unblock():
        for alias, data in _MIGRATED.items():
            connection = connections[alias]
            # Empty again without post_migrate's own re-creations (content types, permissions,
            # roles, under new keys), then load the copy under its original keys.
            call_command(
                "flush",
                database=alias,
                interactive=False,
                verbosity=0,
                reset_sequences=False,
                inhibit_post_migrate=True,
            )
            connection.creation.deserialize_db_from_string(data)
            # The flush may have reset the sequences: move them past the rows put back.
            models = apps.get_models(include_auto_created=True)
            with connection.cursor() as cursor:
                for sql in connection.ops.sequence_reset_sql(no_style(), models):
                    cursor.execute(sql)
    _flushed.clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: Any, nextitem: Any) -> Any:
    yield  # the test's fixtures, and those of its module if the next test is in another file
    if _flushed and nextitem is not None:
        _restore_migrated_data(item.config)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, tmp_path_factory: Any
) -> None:
    """SQLite tests use a file database in this run's temporary directory (per xdist worker),
    not shared memory: a real worker process (alerts/tests/test_worker.py) must open it too."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.getbasetemp() / "test.sqlite3")


@pytest.fixture(autouse=True)
def _english_outside_requests() -> Any:
    """Service-level messages in tests are English; requests still pick their own language."""
    from django.conf import settings

    if not settings.configured:  # pure-Python suites run with `-p no:django`
        yield
        return
    from django.utils import translation

    with translation.override("en"):
        yield


# Argon2 as configured for production (100 MiB, 8 lanes) costs ~0.15 s per hash or check, and
# the suite creates users, signs records and logs in thousands of times. Tests hash with the same
# algorithm (argon2id, same encoding) at the smallest cost; the tests about password storage
# itself ask for the production hashers (``production_password_hashers``).
FAST_PASSWORD_HASHERS = ["conftest.FastArgon2PasswordHasher"]


try:
    from django.contrib.auth.hashers import Argon2PasswordHasher
except ImportError:  # pragma: no cover - Django is always installed with the dev extras
    pass
else:

    class FastArgon2PasswordHasher(Argon2PasswordHasher):
        """Argon2id with minimal work factors, for tests only."""

        time_cost = 1
        memory_cost = 8
        parallelism = 1


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> Any:
    from django.conf import settings

    if not settings.configured:  # pure-Python suites run with `-p no:django`
        yield
        return
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=FAST_PASSWORD_HASHERS):
        yield


@pytest.fixture
def production_password_hashers(settings: Any) -> list[str]:
    """The PASSWORD_HASHERS of medtrace.settings, for a test about how passwords are stored."""
    from medtrace import settings as configured

    settings.PASSWORD_HASHERS = list(configured.PASSWORD_HASHERS)
    return list(configured.PASSWORD_HASHERS)


@pytest.fixture(autouse=True, scope="session")
def _attachment_dir(tmp_path_factory: Any) -> Any:
    """Attachments written by a test go to a temporary directory, never to var/ (session-wide,
    so that module-scoped worlds, e.g. the authorization matrix's, write there too)."""
    from django.conf import settings

    if settings.configured:
        settings.ATTACHMENT_DIR = tmp_path_factory.getbasetemp() / "attachments"
    yield


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Any:
    """Rate-limit counters live in the cache; every test starts without any."""
    from django.conf import settings

    if settings.configured:
        from django.core.cache import cache

        cache.clear()
    yield


def _user(
    username: str, *, role: str | None = None, party: Any = None, superuser: bool = False
) -> Any:
    from django.contrib.auth.models import Group

    from medtrace.accounts.models import User

    user = User.objects.create_user(
        username=username,
        password="pw-" + username,
        printed_name=username.replace("_", " ").title(),
        party=party,
        is_superuser=superuser,
        is_staff=superuser,
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def admin_user(db: None) -> Any:
    return _user("admin_user", role="admin", superuser=True)


@pytest.fixture
def qa_manager(db: None) -> Any:
    return _user("qa_manager", role="qa_ra")


@pytest.fixture
def warehouse_clerk(db: None) -> Any:
    return _user("warehouse_clerk", role="warehouse")


@pytest.fixture
def auditor(db: None) -> Any:
    return _user("auditor", role="auditor")


@pytest.fixture
def hospital_a(db: None) -> Any:
    from medtrace.masterdata.tests import factories

    return _user("hospital_a", party=factories.party(role="hospital", prefix="6920106"))


@pytest.fixture
def hospital_b(db: None) -> Any:
    from medtrace.masterdata.tests import factories

    return _user("hospital_b", party=factories.party(role="hospital", prefix="6920107"))


@pytest.fixture
def api_client() -> Callable[..., Any]:
    """A test client authenticated with a fresh bearer token for the given user."""
    from django.test import Client

    from medtrace.accounts.services import token_create

    def make(user: Any, scopes: list[str] | None = None) -> Client:
        _token, raw = token_create(
            user=user, scopes=scopes or ["masterdata:read", "masterdata:write", "labels:read"]
        )
        return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")

    return make
