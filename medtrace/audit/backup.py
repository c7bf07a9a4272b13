"""`medtrace backup PATH`: a consistent snapshot of the database and media, with a manifest.

A backup is a directory:

- ``database.sqlite3`` (SQLite, taken with SQLite's online backup API) or ``database.pgdump``
  (PostgreSQL, ``pg_dump --format=custom``);
- ``media/``: every uploaded file (scans, certificates) under ``MEDIA_ROOT``;
- ``manifest.json``: format, time, medtrace version, engine, the latest applied migration per
  app, the audit chain head of the snapshot (and whether the chain verified), and every file
  with its size and SHA-256;
- ``manifest.sha256``: the SHA-256 of ``manifest.json`` in ``sha256sum`` format, so an edited
  manifest is found (``sha256sum -c manifest.sha256`` checks it by hand).

The audit head recorded is the head *of the snapshot*: on PostgreSQL the chain is verified inside
the very transaction snapshot that ``pg_dump --snapshot`` dumps; on SQLite it is verified on the
snapshot file itself. ``medtrace restore`` (``restore.py``) holds a backup against all of this
before it replaces anything.

Not inside: ``MEDTRACE_FIELD_KEY`` and the checkpoint signing key. Without the field key the
encrypted patient data of a backup cannot be read, so keep both keys safe, apart from backups.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

FORMAT = "medtrace-backup"
VERSION = 1
MANIFEST = "manifest.json"
MANIFEST_SUM = "manifest.sha256"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
MEDIA_DIR = "media"
_CHUNK = 1 << 20
# Exit status of `medtrace backup` when the backup was written but the audit chain of the
# database did not verify (a monitoring job must notice; the backup itself is complete).
EXIT_CHAIN_BROKEN = 3

Say = Callable[[str], None]


class BackupError(Exception):
    """A backup or restore step failed; the message says what and what to do."""


@dataclass
class BackupResult:
    path: Path
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    @property
    def chain_ok(self) -> bool:
        return bool(self.manifest["audit"]["ok"])


# Shared helpers (also used by restore) ------------------------------------------------------


def engine() -> str:
    """``sqlite`` or ``postgresql``: the engine of the live database."""
    name = settings.DATABASES["default"]["ENGINE"]
    if name == "django.db.backends.sqlite3":
        return "sqlite"
    if name == "django.db.backends.postgresql":
        return "postgresql"
    raise BackupError(f"backups support SQLite and PostgreSQL, not {name}")


def medtrace_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("medtrace")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def copy_hashed(src: Path, dst: Path) -> tuple[int, str]:
    """Copy ``src`` to ``dst`` (a new file); returns the size and SHA-256 of what was copied."""
    digest = hashlib.sha256()
    size = 0
    with src.open("rb") as reader, dst.open("xb") as writer:
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    return size, digest.hexdigest()


def file_sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as reader:
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def sqlite_path() -> Path:
    return Path(settings.DATABASES["default"]["NAME"]).resolve()


def remove_sqlite_sidecars(path: Path) -> None:
    for suffix in ("-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


def sqlite_settle(path: Path) -> None:
    """Fold a SQLite file's WAL back into it and leave it in rollback-journal mode, alone."""
    conn = sqlite3.connect(str(path), timeout=30)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()
    remove_sqlite_sidecars(path)


def sqlite_quick_check(path: Path) -> str | None:
    """None if SQLite finds the file sound, else its complaint."""
    try:
        conn = sqlite3.connect(str(path), timeout=30)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    result = "; ".join(str(r[0]) for r in rows[:5])
    return None if result == "ok" else result


def pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not installed or not on PATH: install the PostgreSQL client tools "
            "(the server's major version or newer, e.g. `apt-get install postgresql-client`)"
        )
    return path


def pg_env(dbname: str | None = None) -> dict[str, str]:
    """The environment for pg_dump/pg_restore/psql: the live connection's parameters."""
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    for var in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSERVICE"):
        env.pop(var, None)
    for key, var in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER")):
        if db.get(key):
            env[var] = str(db[key])
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    env["PGDATABASE"] = dbname or str(db["NAME"])
    options = db.get("OPTIONS") or {}
    for key in ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout"):
        if options.get(key):
            env[f"PG{key.upper().replace('_', '')}"] = str(options[key])
    return env


def run_tool(args: list[str], *, env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise BackupError(f"{what}: could not run {args[0]}: {exc}") from exc
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip() or "(no output)"
        raise BackupError(f"{what} failed (exit status {done.returncode}):\n{detail}")


def database_url_for(name_or_path: str) -> str:
    """MEDTRACE_DATABASE_URL for another database on the same server (or another SQLite file)."""
    if engine() == "sqlite":
        return f"sqlite:///{Path(name_or_path).resolve()}"
    parts = urlsplit(settings.DATABASE_URL)
    return urlunsplit(parts._replace(path="/" + name_or_path))


# Run verify() against another database -----------------------------------------------------

_CHILD = "from medtrace.audit.backup import _child_main; _child_main()"
_CHILD_MARK = "MEDTRACE-BACKUP-RESULT "


def latest_migrations() -> dict[str, str]:
    """The latest applied migration of each app, on the default connection."""
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return {}
    latest: dict[str, str] = {}
    for app, name in recorder.applied_migrations():
        if name > latest.get(app, ""):
            latest[app] = name
    return dict(sorted(latest.items()))


def _child_main() -> None:  # pragma: no cover - runs in a subprocess
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medtrace.settings")
    import django

    django.setup()
    from medtrace.audit.verify import verify

    result: dict[str, Any]
    try:
        result = {"verify": verify().as_dict(), "migrations": latest_migrations()}
    except Exception as exc:
        result = {"error": f"{type(exc).__name__}: {exc}"}
    print(_CHILD_MARK + json.dumps(result), flush=True)


def inspect_database(database_url: str, *, what: str) -> dict[str, Any]:
    """Run verify() and read the migrations of another database, in a subprocess."""
    env = dict(os.environ, MEDTRACE_DATABASE_URL=database_url)
    env.setdefault("DJANGO_SETTINGS_MODULE", "medtrace.settings")
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=False
    )
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(_CHILD_MARK):
            result: dict[str, Any] = json.loads(line[len(_CHILD_MARK) :])
            if "error" in result:
                raise BackupError(f"{what}: the audit check could not run: {result['error']}")
            return result
    tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
    raise BackupError(
        f"{what}: the audit check could not run (exit status {done.returncode}):\n{tail}"
    )


def audit_summary(report: dict[str, Any]) -> dict[str, Any]:
    problems = report.get("problems") or []
    return {
        "ok": bool(report["ok"]),
        "entries": report["entries"],
        "head_seq": report["head_seq"],
        "head_hash": report["head_hash"],
        "problems": [
            (f"audit entry #{p['seq']}: " if p.get("seq") is not None else "audit trail: ")
            + p["message"]
            for p in problems[:20]
        ],
        "problem_count": len(problems),
    }


# Backup -----------------------------------------------------------------------------------


def _check_target(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise BackupError(f"{target} exists and is not a directory: give a new directory")
    if target.is_dir() and any(target.iterdir()):
        raise BackupError(
            f"{target} already exists and is not empty: a backup never overwrites anything; "
            "give a new directory (e.g. with the date in its name)"
        )


def _sqlite_snapshot(dest: Path) -> dict[str, Any]:
    live = sqlite_path()
    if not live.is_file():
        raise BackupError(
            f"the SQLite database {live} does not exist: nothing to back up "
            "(is MEDTRACE_DATABASE_URL right?)"
        )
    src = sqlite3.connect(str(live), timeout=30)
    dst = sqlite3.connect(str(dest))
    try:
        # One step: the whole copy is read inside one read transaction, a consistent snapshot
        # (writers go on in WAL mode meanwhile).
        src.backup(dst)
    except sqlite3.Error as exc:
        raise BackupError(f"the SQLite online backup of {live} failed: {exc}") from exc
    finally:
        dst.close()
        src.close()
    sqlite_settle(dest)
    complaint = sqlite_quick_check(dest)
    if complaint:
        raise BackupError(f"the snapshot of {live} fails SQLite's quick_check: {complaint}")
    inspected = inspect_database(database_url_for(str(dest)), what="the SQLite snapshot")
    # Opening the snapshot (WAL mode on connect) must leave no sidecar files behind.
    sqlite_settle(dest)
    return {
        "engine": "sqlite",
        "file": SQLITE_FILE,
        "source": str(live),
        "server_version": sqlite3.sqlite_version,
        "audit": inspected["verify"],
        "migrations": inspected["migrations"],
    }


def _pg_snapshot(dest: Path) -> dict[str, Any]:
    from django.db import connection, transaction

    from medtrace.audit.verify import verify

    pg_dump = pg_tool("pg_dump")
    name = str(settings.DATABASES["default"]["NAME"])
    with transaction.atomic():
        with connection.cursor() as cursor:
            # pg_dump dumps exactly this transaction's snapshot, and verify() reads it too, so
            # the audit head in the manifest is the head inside the dump.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
            snapshot, server_version = cursor.fetchone()
        run_tool(
            [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={dest}"],
            env=pg_env(),
            what=f"pg_dump of database {name}",
        )
        report = verify().as_dict()
        migrations = latest_migrations()
    return {
        "engine": "postgresql",
        "file": PG_FILE,
        "source": name,
        "server_version": server_version,
        "audit": report,
        "migrations": migrations,
    }


def _walk_files(root: Path) -> Iterator[Path]:
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for filename in sorted(filenames):
            yield Path(directory) / filename


def _copy_media(staging: Path, warnings: list[str]) -> list[dict[str, Any]]:
    media_root = Path(settings.MEDIA_ROOT)
    entries: list[dict[str, Any]] = []
    if not media_root.is_dir():
        return entries
    for src in _walk_files(media_root):
        rel = src.relative_to(media_root)
        if src.is_symlink() or not src.is_file():
            warnings.append(f"media/{rel.as_posix()} is not a regular file: not backed up")
            continue
        dst = staging / MEDIA_DIR / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        size, digest = copy_hashed(src, dst)
        entries.append({"path": f"{MEDIA_DIR}/{rel.as_posix()}", "size": size, "sha256": digest})
    return entries


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    """Write manifest.json and manifest.sha256 (also used by tests that forge a backup)."""
    data = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
    (directory / MANIFEST).write_bytes(data)
    (directory / MANIFEST_SUM).write_text(
        f"{hashlib.sha256(data).hexdigest()}  {MANIFEST}\n", encoding="ascii"
    )


def _fsync_tree(root: Path) -> None:
    for directory, _dirs, _files in os.walk(root):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def backup(path: str | Path, *, say: Say = lambda _: None) -> BackupResult:
    """Write a backup into the new directory ``path``; nothing is left behind if it fails."""
    target = Path(path).expanduser().resolve()
    _check_target(target)
    media_root = Path(settings.MEDIA_ROOT).resolve()
    if target == media_root or media_root in target.parents:
        raise BackupError(f"{target} is inside the media folder {media_root}: choose another place")
    kind = engine()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.partial-{secrets.token_hex(4)}"
    staging.mkdir()
    warnings: list[str] = []
    try:
        created = datetime.now(UTC)
        say(f"Taking a snapshot of the {kind} database ...")
        if kind == "sqlite":
            database = _sqlite_snapshot(staging / SQLITE_FILE)
        else:
            database = _pg_snapshot(staging / PG_FILE)
        size, digest = file_sha256(staging / database["file"])
        files = [{"path": database["file"], "size": size, "sha256": digest}]
        files += _copy_media(staging, warnings)
        audit = audit_summary(database.pop("audit"))
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": created.isoformat().replace("+00:00", "Z"),
            "medtrace_version": medtrace_version(),
            "database": {
                "engine": database["engine"],
                "file": database["file"],
                "source": database["source"],
                "server_version": database["server_version"],
            },
            "migrations": database["migrations"],
            "audit": audit,
            "not_included": [
                "MEDTRACE_FIELD_KEY (needed to read the encrypted patient data)",
                "the audit checkpoint signing key (MEDTRACE_CHECKPOINT_KEY_FILE)",
            ],
            "files": files,
        }
        write_manifest(staging, manifest)
        _fsync_tree(staging)
        _check_target(target)
        if target.is_dir():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if not audit["ok"]:
        warnings.insert(
            0,
            f"THE AUDIT CHAIN OF THIS DATABASE DOES NOT VERIFY ({audit['problem_count']} "
            "problem(s)); the backup was written and records this, but `medtrace restore` will "
            "refuse it. First problem: " + (audit["problems"][0] if audit["problems"] else "?"),
        )
    return BackupResult(path=target, manifest=manifest, warnings=warnings)
