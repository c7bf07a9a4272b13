"""`medtrace restore PATH`: check a backup completely, then replace the live database with it.

Nothing live is touched until the backup has passed every check, in this order:

1. ``manifest.json`` matches ``manifest.sha256``, and is a medtrace backup of a known version;
2. every file listed has its size and SHA-256, and no file is there that the manifest does not
   list;
3. the backup is of the live database's engine and of migrations this medtrace knows;
4. the database is restored into a scratch copy (SQLite: a temporary file next to the live one;
   PostgreSQL: a scratch database) and the audit chain and ledger seals verify there, with the
   head the manifest recorded.

Only then is the live database replaced (SQLite: the verified scratch file is moved into place;
PostgreSQL: the dump is restored in one transaction, so a failure leaves the live database as it
was) and the media folder with it. The append-only triggers refuse UPDATE, DELETE and TRUNCATE but
not DROP TABLE, which is how ``pg_restore --clean`` replaces the tables.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings

from .backup import (
    FORMAT,
    MANIFEST,
    MANIFEST_SUM,
    MEDIA_DIR,
    VERSION,
    BackupError,
    Say,
    copy_hashed,
    database_url_for,
    engine,
    file_sha256,
    inspect_database,
    pg_env,
    pg_tool,
    remove_sqlite_sidecars,
    run_tool,
    sqlite_path,
    sqlite_quick_check,
    sqlite_settle,
)

Confirm = Callable[[str], bool]


@dataclass
class RestoreResult:
    manifest: dict[str, Any]
    audit: dict[str, Any]
    media_files: int
    notes: list[str] = field(default_factory=list)


# 1-3: the backup itself ---------------------------------------------------------------------


def read_manifest(root: Path) -> dict[str, Any]:
    """The manifest, once it matches its checksum file; refuses anything else."""
    if not root.is_dir():
        raise BackupError(f"{root} is not a directory: give the directory `medtrace backup` wrote")
    manifest_file, sum_file = root / MANIFEST, root / MANIFEST_SUM
    for needed in (manifest_file, sum_file):
        if not needed.is_file():
            raise BackupError(f"{needed.name} is missing from {root}: not a complete backup")
    recorded = sum_file.read_text(encoding="ascii", errors="replace").split()
    if len(recorded) != 2 or recorded[1] != MANIFEST or len(recorded[0]) != 64:
        raise BackupError(
            f"{MANIFEST_SUM} is malformed: expected '<sha256>  {MANIFEST}' (the backup was edited)"
        )
    _size, actual = file_sha256(manifest_file)
    if actual != recorded[0].lower():
        raise BackupError(
            f"{MANIFEST} does not match {MANIFEST_SUM} (SHA-256 {actual[:16]}…, recorded "
            f"{recorded[0][:16]}…): the manifest was edited or damaged"
        )
    try:
        manifest = json.loads(manifest_file.read_bytes())
    except ValueError as exc:
        raise BackupError(f"{MANIFEST} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{MANIFEST} is not a {FORMAT} manifest")
    if manifest.get("version") != VERSION:
        raise BackupError(
            f"{MANIFEST} is backup format version {manifest.get('version')!r}; this medtrace "
            f"reads version {VERSION}"
        )
    for key in ("database", "audit", "files", "migrations"):
        if key not in manifest:
            raise BackupError(f"{MANIFEST} has no {key!r} section")
    return manifest


def _safe_relative(name: Any) -> PurePosixPath:
    rel = PurePosixPath(str(name))
    if not name or rel.is_absolute() or ".." in rel.parts or str(rel) != str(name):
        raise BackupError(f"{MANIFEST} lists an unsafe path {name!r}: refusing the backup")
    return rel


def check_files(root: Path, manifest: dict[str, Any]) -> None:
    """Every listed file is there with its size and SHA-256; nothing else is there."""
    listed: set[str] = set()
    for entry in manifest["files"]:
        rel = _safe_relative(entry.get("path"))
        listed.add(str(rel))
        path = root / rel
        if not path.is_file():
            raise BackupError(f"{rel}: listed in the manifest but missing from the backup")
        size, digest = file_sha256(path)
        if size != entry.get("size"):
            raise BackupError(
                f"{rel}: {size} bytes, but the manifest says {entry.get('size')}: the file is "
                "damaged or was changed"
            )
        if digest != entry.get("sha256"):
            raise BackupError(
                f"{rel}: SHA-256 {digest[:16]}… does not match the manifest's "
                f"{str(entry.get('sha256'))[:16]}…: the file is damaged or was changed"
            )
    database_file = manifest["database"].get("file")
    if database_file not in listed:
        raise BackupError(f"{MANIFEST} does not list the database file {database_file!r}")
    for directory, _dirs, files in os.walk(root):
        for name in files:
            rel_path = (Path(directory) / name).relative_to(root).as_posix()
            if rel_path not in listed and rel_path not in (MANIFEST, MANIFEST_SUM):
                raise BackupError(
                    f"{rel_path}: in the backup directory but not in the manifest (added "
                    "after the backup was written?)"
                )


def _check_compatible(manifest: dict[str, Any]) -> list[str]:
    from django.db.migrations.loader import MigrationLoader

    kind = engine()
    theirs = manifest["database"].get("engine")
    if theirs != kind:
        raise BackupError(
            f"this is a backup of a {theirs} database, but the live database is {kind}: "
            "restore it into a medtrace configured for the same engine"
        )
    known = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    unknown = [
        f"{app}.{name}"
        for app, name in sorted(manifest["migrations"].items())
        if (app, name) not in known
    ]
    if unknown:
        raise BackupError(
            "the backup has migrations this medtrace does not know ("
            + ", ".join(unknown)
            + "): it was made by a newer version; upgrade medtrace before restoring it"
        )
    latest: dict[str, str] = {}
    for app, name in known:
        latest[app] = max(latest.get(app, ""), name)
    behind = [
        app for app, name in sorted(latest.items()) if manifest["migrations"].get(app, "") < name
    ]
    if behind:
        return [
            "the backup is from an older schema (" + ", ".join(behind) + "): run "
            "`medtrace migrate` after the restore"
        ]
    return []


# The live database ----------------------------------------------------------------------------


def live_description() -> tuple[bool, str]:
    """(holds data?, what it holds) for the confirmation prompt."""
    from django.db import DatabaseError, connection

    if engine() == "sqlite":
        where = str(sqlite_path())
        if not sqlite_path().exists():
            return False, f"{where} (does not exist yet)"
    else:
        where = f"PostgreSQL database {settings.DATABASES['default']['NAME']}"
    try:
        tables = set(connection.introspection.table_names())
    except DatabaseError as exc:
        raise BackupError(f"cannot open the live database {where}: {exc}") from exc
    if "audit_auditentry" not in tables:
        return bool(tables), f"{where} ({len(tables)} tables, no medtrace data)"
    counts = []
    with connection.cursor() as cursor:
        for table, label in (
            ("audit_auditentry", "audit entries"),
            ("ledger_event", "ledger events"),
            ("accounts_user", "users"),
            ("masterdata_party", "parties"),
        ):
            if table in tables:
                cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
                counts.append((int(cursor.fetchone()[0]), label))
    text = ", ".join(f"{n} {label}" for n, label in counts)
    return any(n for n, _ in counts), f"{where} ({text})"


def _media_description() -> tuple[int, str]:
    root = Path(settings.MEDIA_ROOT)
    count = sum(len(files) for _d, _s, files in os.walk(root)) if root.is_dir() else 0
    return count, f"the media folder {root} ({count} files)"


def _stage_media(root: Path, manifest: dict[str, Any]) -> Path:
    media_root = Path(settings.MEDIA_ROOT)
    media_root.parent.mkdir(parents=True, exist_ok=True)
    staged = media_root.parent / f".{media_root.name}.restore-{secrets.token_hex(4)}"
    staged.mkdir()
    try:
        for entry in manifest["files"]:
            rel = PurePosixPath(entry["path"])
            if rel.parts[0] != MEDIA_DIR:
                continue
            dst = staged.joinpath(*rel.parts[1:])
            dst.parent.mkdir(parents=True, exist_ok=True)
            _size, digest = copy_hashed(root / rel, dst)
            if digest != entry["sha256"]:
                raise BackupError(f"{rel}: changed while it was being restored")
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return staged


def _swap_media(staged: Path) -> None:
    media_root = Path(settings.MEDIA_ROOT)
    if media_root.is_symlink() or os.path.ismount(media_root):
        # A mounted volume or a link to one: keep it, and replace what is inside it.
        for child in list(media_root.iterdir()):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        for child in list(staged.iterdir()):
            shutil.move(str(child), str(media_root / child.name))
        shutil.rmtree(staged, ignore_errors=True)
        return
    old = media_root.parent / f".{media_root.name}.replaced-{secrets.token_hex(4)}"
    if media_root.exists():
        os.replace(media_root, old)
    try:
        os.replace(staged, media_root)
    except OSError:
        if old.exists():
            os.replace(old, media_root)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _check_scratch(inspected: dict[str, Any], manifest: dict[str, Any], where: str) -> None:
    report, recorded = inspected["verify"], manifest["audit"]
    if not report["ok"]:
        first = report["problems"][0]
        seq = f"audit entry #{first['seq']}: " if first.get("seq") is not None else ""
        already = (
            " (the manifest shows it already failed when the backup was taken)"
            if not recorded.get("ok")
            else ""
        )
        raise BackupError(
            f"the audit chain of the backup does not verify in {where}"
            f"{already}: {len(report['problems'])} problem(s), first: {seq}{first['message']}"
        )
    if (report["head_seq"], report["head_hash"]) != (recorded["head_seq"], recorded["head_hash"]):
        raise BackupError(
            f"the restored audit chain ends at #{report['head_seq']} "
            f"({report['head_hash'][:16]}…) but the manifest recorded "
            f"#{recorded['head_seq']} ({str(recorded['head_hash'])[:16]}…): the backup does "
            "not hold the database the manifest describes"
        )
    if inspected["migrations"] != manifest["migrations"]:
        raise BackupError(
            "the restored database's migrations differ from the manifest's: the backup does "
            "not hold the database the manifest describes"
        )


# SQLite ---------------------------------------------------------------------------------------


def _sqlite_prepare(root: Path, manifest: dict[str, Any], say: Say) -> Path:
    """A verified scratch copy of the backup next to the live file (same filesystem)."""
    live = sqlite_path()
    live.parent.mkdir(parents=True, exist_ok=True)
    scratch = live.parent / f".{live.name}.restore-{secrets.token_hex(4)}"
    entry = next(f for f in manifest["files"] if f["path"] == manifest["database"]["file"])
    try:
        _size, digest = copy_hashed(root / entry["path"], scratch)
        if digest != entry["sha256"]:
            raise BackupError(f"{entry['path']}: changed while it was being restored")
        complaint = sqlite_quick_check(scratch)
        if complaint:
            raise BackupError(f"{entry['path']}: SQLite finds the database damaged: {complaint}")
        say("Verifying the audit chain in a scratch copy ...")
        inspected = inspect_database(database_url_for(str(scratch)), what="the scratch copy")
        sqlite_settle(scratch)
        _check_scratch(inspected, manifest, "the scratch copy")
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            scratch.unlink()
        remove_sqlite_sidecars(scratch)
        raise
    return scratch


def _sqlite_replace(scratch: Path) -> None:
    from django.db import connections

    connections.close_all()
    live = sqlite_path()
    if live.exists():
        # Fold the live WAL away first: a stale -wal next to the new file would be replayed
        # into it on the next open.
        with contextlib.suppress(Exception):
            sqlite_settle(live)
    remove_sqlite_sidecars(live)
    os.replace(scratch, live)


# PostgreSQL -----------------------------------------------------------------------------------


def _pg_scratch_name() -> str:
    base = str(settings.DATABASES["default"]["NAME"])[:40]
    return f"{base}_restore_{secrets.token_hex(4)}"


def _pg_admin(sql: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql)


def _pg_verify_scratch(dump: Path, manifest: dict[str, Any], say: Say) -> None:
    from django.db import DatabaseError, connection

    pg_restore = pg_tool("pg_restore")
    scratch = _pg_scratch_name()
    quoted = connection.ops.quote_name(scratch)
    try:
        _pg_admin(f"CREATE DATABASE {quoted} TEMPLATE template0")
    except DatabaseError as exc:
        raise BackupError(
            f"cannot create the scratch database {scratch} to check the backup in: {exc} "
            "(the database user needs the CREATEDB privilege)"
        ) from exc
    try:
        say(f"Restoring into the scratch database {scratch} ...")
        run_tool(
            [
                pg_restore,
                "--no-owner",
                "--no-acl",
                "--exit-on-error",
                f"--dbname={scratch}",
                str(dump),
            ],
            env=pg_env(scratch),
            what="pg_restore into the scratch database",
        )
        say("Verifying the audit chain in the scratch database ...")
        inspected = inspect_database(database_url_for(scratch), what="the scratch database")
        _check_scratch(inspected, manifest, f"the scratch database {scratch}")
    finally:
        try:
            _pg_admin(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        except DatabaseError as exc:  # pragma: no cover - reported, not fatal
            say(f"warning: could not drop the scratch database {scratch}: {exc}")


def _pg_replace(dump: Path) -> None:
    """Restore the dump over the live database in one transaction (all or nothing)."""
    from django.apps import apps
    from django.db import connection, connections

    pg_restore, psql = pg_tool("pg_restore"), pg_tool("psql")
    # Tables of medtrace that the dump may not hold (a newer schema): dropped first, so the live
    # database ends up exactly as the backup. The dump's own objects go with --clean.
    ours = {
        m._meta.db_table
        for m in apps.get_models(include_auto_created=True)
        if m._meta.managed and not m._meta.proxy
    }
    ours.add("django_migrations")
    present = sorted(ours & set(connection.introspection.table_names()))
    connections.close_all()
    with tempfile.TemporaryDirectory(prefix="medtrace-restore-") as tmp:
        pre = Path(tmp) / "pre.sql"
        lines = ["SET lock_timeout = '60s';"]
        if present:
            names = ", ".join(connection.ops.quote_name(t) for t in present)
            lines.append(f"DROP TABLE IF EXISTS {names} CASCADE;")
        pre.write_text("\n".join(lines) + "\n", encoding="utf-8")
        restore_err = Path(tmp) / "pg_restore.err"
        env = pg_env()
        with restore_err.open("w") as err:
            producer = subprocess.Popen(
                [
                    pg_restore,
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--no-acl",
                    "--file=-",
                    str(dump),
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=err,
            )
            assert producer.stdout is not None
            consumer = subprocess.run(
                [
                    psql,
                    "-X",
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "--single-transaction",
                    "-f",
                    str(pre),
                    "-f",
                    "-",
                ],
                env=env,
                stdin=producer.stdout,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                check=False,
            )
            producer.stdout.close()
            producer_status = producer.wait()
        if consumer.returncode != 0 or producer_status != 0:
            detail = (consumer.stderr.strip() + "\n" + restore_err.read_text().strip()).strip()
            raise BackupError(
                "restoring the live database failed and was rolled back (the live database is "
                f"unchanged; is medtrace still running and holding its tables?):\n{detail}"
            )


# Restore ----------------------------------------------------------------------------------------


def restore(path: str | Path, *, confirm: Confirm, say: Say = lambda _: None) -> RestoreResult:
    """Check the backup at ``path`` completely, then replace the live database and media."""
    from django.db import connections

    from medtrace.audit.verify import verify

    root = Path(path).expanduser().resolve()
    manifest = read_manifest(root)
    say(f"Checking {len(manifest['files'])} files against the manifest ...")
    check_files(root, manifest)
    notes = _check_compatible(manifest)
    kind = engine()
    dump = root / manifest["database"]["file"]
    has_data, live = live_description()
    media_count, media = _media_description()
    if has_data or media_count:
        recorded = manifest["audit"]
        question = (
            f"This replaces {live} and {media} with the backup taken "
            f"{manifest.get('created_at')} (audit chain at #{recorded['head_seq']}, "
            f"{sum(1 for f in manifest['files'] if f['path'].startswith(MEDIA_DIR + '/'))} "
            "media files). Everything changed since that backup is lost."
        )
        if not confirm(question):
            raise BackupError("cancelled at your request: nothing was changed")
    scratch: Path | None = None
    if kind == "sqlite":
        scratch = _sqlite_prepare(root, manifest, say)
    else:
        _pg_verify_scratch(dump, manifest, say)
    staged: Path | None = None
    try:
        staged = _stage_media(root, manifest)
        say("Replacing the live database ...")
        if scratch is not None:
            _sqlite_replace(scratch)
            scratch = None
        else:
            size_digest = file_sha256(dump)
            entry = next(f for f in manifest["files"] if f["path"] == manifest["database"]["file"])
            if size_digest != (entry["size"], entry["sha256"]):
                raise BackupError(f"{entry['path']}: changed while it was being restored")
            _pg_replace(dump)
        _swap_media(staged)
        staged = None
    finally:
        if scratch is not None:
            with contextlib.suppress(FileNotFoundError):
                scratch.unlink()
            remove_sqlite_sidecars(scratch)
        if staged is not None:
            shutil.rmtree(staged, ignore_errors=True)
    connections.close_all()
    report = verify().as_dict()
    if not report["ok"] or report["head_seq"] != manifest["audit"]["head_seq"]:
        raise BackupError(  # pragma: no cover - the scratch copy verified the same data
            "the restored live database does not verify: " + json.dumps(report["problems"][:3])
        )
    _record_restore(Path(path), manifest)
    media_files = sum(1 for f in manifest["files"] if f["path"].startswith(MEDIA_DIR + "/"))
    return RestoreResult(manifest=manifest, audit=report, media_files=media_files, notes=notes)


def _record_restore(path: Path, manifest: dict[str, Any]) -> None:
    """The restore itself goes on the record, after the restored (and verified) history."""
    from medtrace.audit import services as audit
    from medtrace.audit.models import AuditAction

    audit.record(
        action=AuditAction.RESTORE,
        object_type="audit.backup",
        object_id=str(manifest.get("created_at", ""))[:64],
        object_repr=str(path.resolve())[:300],
        changes={
            "backup_created_at": manifest.get("created_at"),
            "engine": manifest["database"]["engine"],
            "head_seq": manifest["audit"]["head_seq"],
            "head_hash": manifest["audit"]["head_hash"],
        },
        reason="restored from backup",
    )
