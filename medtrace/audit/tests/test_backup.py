"""`medtrace backup` and `medtrace restore`, run for real as commands on throwaway databases.

Every test drives the console script in a subprocess against its own database (a SQLite file in
tmp_path, or a scratch PostgreSQL database it creates and drops), so the suite's own test
database is never involved.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from medtrace.audit.backup import EXIT_CHAIN_BROKEN, MANIFEST, file_sha256, write_manifest

MEDTRACE = str(Path(sys.executable).with_name("medtrace"))
FIELD_KEY = "bXlweS1vbmx5LWtleS1ub3QtZm9yLWFueS1kYXRhISE="
MARK = "TEST-RESULT "

# These tests drive their own databases in subprocesses, so running them in both passes of
# `make test` would repeat the same work: the SQLite ones run in the SQLite pass, the PostgreSQL
# ones in the PostgreSQL pass (MEDTRACE_DATABASE_URL set), where the server is sure to be up.
_SUITE_ON_POSTGRESQL = os.environ.get("MEDTRACE_DATABASE_URL", "").startswith("postgres")
sqlite_pass = pytest.mark.skipif(
    _SUITE_ON_POSTGRESQL, reason="SQLite backups are exercised in the SQLite pass of make test"
)
postgresql_pass = pytest.mark.skipif(
    not _SUITE_ON_POSTGRESQL,
    reason="PostgreSQL backups are exercised in the PostgreSQL pass of make test",
)

SEED = """
from medtrace.audit.services import record
from medtrace.ledger.services import capture_document
from medtrace.ledger.tests import builders as b
from medtrace.masterdata.tests import factories
maker = factories.party(prefix="6911111", name="Backed-up maker")
factories.product(manufacturer=maker, name="Backed-up pump", model="BK-1")
capture_document(data=b.document(b.commission([b.sgtin("BK1"), b.sgtin("BK2")])), user=None)
record(action="update", object_type="test.thing", object_id=1, object_repr="thing",
       changes={"state": ["old", "new"]}, reason="backup test")
"""

LATER = """
from medtrace.ledger.services import capture_document
from medtrace.ledger.tests import builders as b
from medtrace.masterdata.tests import factories
maker = factories.party(prefix="6922222", name="Made after the backup")
factories.product(manufacturer=maker, name="Later pump", model="LT-1")
capture_document(data=b.document(b.commission([b.sgtin("LATER1")])), user=None)
"""

STATE_QUERIES = {
    "parties": "SELECT name FROM masterdata_party ORDER BY name",
    "products": "SELECT name FROM masterdata_product ORDER BY name",
    "events": "SELECT event_id FROM ledger_event ORDER BY event_id",
    # A restore appends its own entry after the restored head; the state compared is the
    # history as backed up.
    "audit": "SELECT seq, hash FROM audit_auditentry WHERE action <> 'restore' ORDER BY seq",
    "head": "SELECT seq, hash FROM audit_auditentry WHERE action <> 'restore' "
    "ORDER BY seq DESC LIMIT 1",
    "restores": "SELECT object_repr FROM audit_auditentry WHERE action = 'restore'",
}


def make_env(var_dir: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDTRACE_", "PG"))}
    env.update(
        MEDTRACE_FIELD_KEY=FIELD_KEY,
        MEDTRACE_DEBUG="1",
        MEDTRACE_VAR_DIR=str(var_dir),
        MEDTRACE_DATABASE_URL=database_url,
        MEDTRACE_CHECKPOINT_KEY_FILE=str(var_dir / "checkpoint.key"),
        LANG="C.UTF-8",
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def medtrace(env: dict[str, str], *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [MEDTRACE, *args],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
        timeout=120,
    )
    assert done.returncode == expect, (
        f"medtrace {' '.join(args)} exited {done.returncode}, expected {expect}\n"
        f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    )
    return done


def python(env: dict[str, str], code: str) -> Any:
    done = medtrace(env, "shell", "-c", code)
    for line in done.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])
    return None


def state(env: dict[str, str]) -> dict[str, Any]:
    """What the database holds (read with plain SQL, so without starting medtrace)."""
    url = env["MEDTRACE_DATABASE_URL"]
    result: dict[str, Any] = {}
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            for key, sql in STATE_QUERIES.items():
                result[key] = [list(row) for row in conn.execute(sql).fetchall()]
        finally:
            conn.close()
        return result
    import psycopg

    with psycopg.connect(url) as pg:
        for key, sql in STATE_QUERIES.items():
            result[key] = [list(row) for row in pg.execute(sql).fetchall()]
    return result


def names(rows: list[list[Any]]) -> list[Any]:
    return [row[0] for row in rows]


def media_files(root: Path) -> dict[str, bytes]:
    if not root.is_dir():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x01
    path.write_bytes(bytes(data))


def reseal(backup_dir: Path) -> None:
    """Recompute every checksum in the manifest: a forger who knows the format."""
    manifest = json.loads((backup_dir / MANIFEST).read_text())
    for entry in manifest["files"]:
        entry["size"], entry["sha256"] = file_sha256(backup_dir / entry["path"])
    write_manifest(backup_dir, manifest)


def tamper_sqlite_audit_entry(path: Path, seq: int) -> None:
    conn = sqlite3.connect(str(path))
    with conn:
        conn.execute("UPDATE audit_auditentry SET reason = 'forged' WHERE seq = ?", (seq,))
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()


# SQLite -----------------------------------------------------------------------------------------


class Site:
    """A medtrace install: its var directory (database, media) and its environment."""

    def __init__(self, root: Path, database_url: str | None = None) -> None:
        self.var = root / "var"
        self.var.mkdir(parents=True, exist_ok=True)
        self.db = self.var / "medtrace.sqlite3"
        self.env = make_env(self.var, database_url or f"sqlite:///{self.db}")
        self.media = self.var / "media"


@pytest.fixture(scope="module")
def sqlite_backup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A seeded SQLite install with media, its backup, and its state at backup time."""
    root = tmp_path_factory.mktemp("sqlite-origin")
    site = Site(root)
    medtrace(site.env, "migrate", "--noinput")
    python(site.env, SEED)
    (site.media / "certificates").mkdir(parents=True)
    (site.media / "certificates" / "lot-42.pdf").write_bytes(b"%PDF-1.4 certificate of lot 42")
    (site.media / "scan.png").write_bytes(bytes(range(256)))
    before = state(site.env)
    backup_dir = root / "backups" / "2026-01-01"
    done = medtrace(site.env, "backup", str(backup_dir))
    return {
        "site": site,
        "backup": backup_dir,
        "state": before,
        "media": media_files(site.media),
        "output": done.stdout,
    }


@pytest.fixture
def live(sqlite_backup: dict[str, Any], tmp_path: Path) -> Site:
    """A copy of the backed-up install, then changed: data and media added after the backup."""
    site = Site(tmp_path / "live")
    shutil.copyfile(sqlite_backup["site"].db, site.db)
    shutil.copytree(sqlite_backup["site"].media, site.media)
    return site


@pytest.fixture
def backup_copy(sqlite_backup: dict[str, Any], tmp_path: Path) -> Path:
    copy = tmp_path / "backup-copy"
    shutil.copytree(sqlite_backup["backup"], copy)
    return copy


@sqlite_pass
def test_sqlite_backup_holds_a_manifest_with_checksums(sqlite_backup: dict[str, Any]) -> None:
    backup_dir: Path = sqlite_backup["backup"]
    manifest = json.loads((backup_dir / MANIFEST).read_text())
    before = sqlite_backup["state"]

    assert manifest["format"] == "medtrace-backup" and manifest["version"] == 1
    assert manifest["database"]["engine"] == "sqlite"
    assert manifest["created_at"].endswith("Z")
    audit_migrations = Path(__file__).resolve().parents[1] / "migrations"
    latest = max(p.stem for p in audit_migrations.glob("0*.py"))
    assert manifest["migrations"]["audit"] == latest
    assert manifest["audit"]["ok"] is True
    assert [[manifest["audit"]["head_seq"], manifest["audit"]["head_hash"]]] == before["head"]
    assert before["head"] == before["audit"][-1:]
    paths = sorted(f["path"] for f in manifest["files"])
    assert paths == ["database.sqlite3", "media/certificates/lot-42.pdf", "media/scan.png"]
    for entry in manifest["files"]:
        assert file_sha256(backup_dir / entry["path"]) == (entry["size"], entry["sha256"])
    digest = file_sha256(backup_dir / MANIFEST)[1]
    assert (backup_dir / "manifest.sha256").read_text() == f"{digest}  manifest.json\n"
    # A SQLite database on its own (no -wal/-shm beside it), and nothing half-written around.
    assert sorted(p.name for p in backup_dir.iterdir()) == [
        "database.sqlite3",
        "manifest.json",
        "manifest.sha256",
        "media",
    ]
    assert [p.name for p in backup_dir.parent.iterdir()] == [backup_dir.name]
    assert state({"MEDTRACE_DATABASE_URL": f"sqlite:///{backup_dir / 'database.sqlite3'}"}) == (
        before
    )
    assert "verifies" in sqlite_backup["output"]
    assert "MEDTRACE_FIELD_KEY" in sqlite_backup["output"]


@sqlite_pass
def test_backup_refuses_a_non_empty_directory(sqlite_backup: dict[str, Any]) -> None:
    from medtrace.audit.backup import BackupError, backup

    with pytest.raises(BackupError, match="already exists and is not empty"):
        backup(sqlite_backup["backup"])


@sqlite_pass
def test_sqlite_round_trip(sqlite_backup: dict[str, Any], live: Site) -> None:
    python(live.env, LATER)
    (live.media / "scan.png").write_bytes(b"overwritten after the backup")
    (live.media / "later.txt").write_text("added after the backup")
    changed = state(live.env)
    assert "Later pump" in names(changed["products"])
    assert len(changed["audit"]) > len(sqlite_backup["state"]["audit"])

    # The live database holds data: without --yes (and no terminal) nothing happens.
    refused = medtrace(live.env, "restore", str(sqlite_backup["backup"]), expect=1)
    assert "--yes" in refused.stderr and "nothing was changed" in refused.stderr
    assert state(live.env) == changed

    done = medtrace(live.env, "restore", str(sqlite_backup["backup"]), "--yes")

    assert "verifies" in done.stdout
    restored = state(live.env)
    assert len(restored.pop("restores")) == 1  # the restore itself is on the record
    assert restored == {k: v for k, v in sqlite_backup["state"].items() if k != "restores"}
    assert media_files(live.media) == sqlite_backup["media"]
    leftovers = [p.name for p in live.var.iterdir() if p.name.startswith(".")]
    assert leftovers == []


@sqlite_pass
def test_restore_into_an_empty_install_needs_no_confirmation(
    sqlite_backup: dict[str, Any], tmp_path: Path
) -> None:
    site = Site(tmp_path / "fresh")
    medtrace(site.env, "restore", str(sqlite_backup["backup"]))
    restored = state(site.env)
    assert len(restored.pop("restores")) == 1
    assert restored == {k: v for k, v in sqlite_backup["state"].items() if k != "restores"}
    assert media_files(site.media) == sqlite_backup["media"]


def _edit_manifest(d: Path) -> None:
    text = (d / MANIFEST).read_text()
    (d / MANIFEST).write_text(text.replace('"head_seq": ', '"head_seq": 1'))


@sqlite_pass
@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: flip_byte(d / "database.sqlite3", 5000), "database.sqlite3: SHA-256"),
        (lambda d: flip_byte(d / "media" / "scan.png", 7), "media/scan.png: SHA-256"),
        (lambda d: (d / "media" / "scan.png").unlink(), "media/scan.png: listed in the manifest"),
        (lambda d: (d / "media" / "extra.bin").write_bytes(b"x"), "media/extra.bin: in the backup"),
        (_edit_manifest, "manifest.json does not match manifest.sha256"),
        (lambda d: (d / "manifest.sha256").unlink(), "manifest.sha256 is missing"),
    ],
    ids=["db-byte", "media-byte", "media-missing", "extra-file", "manifest-edit", "no-sum"],
)
def test_damage_is_found_before_anything_else(backup_copy: Path, damage: Any, message: str) -> None:
    from medtrace.audit.backup import BackupError
    from medtrace.audit.restore import check_files, read_manifest

    damage(backup_copy)
    with pytest.raises(BackupError) as caught:
        check_files(backup_copy, read_manifest(backup_copy))
    assert message in str(caught.value)


@sqlite_pass
def test_restore_refuses_a_damaged_backup(live: Site, backup_copy: Path) -> None:
    (live.media / "later.txt").write_text("added after the backup")
    before = file_sha256(live.db)
    flip_byte(backup_copy / "database.sqlite3", 5000)

    done = medtrace(live.env, "restore", str(backup_copy), "--yes", expect=1)

    assert "restore refused: database.sqlite3: SHA-256" in done.stderr, done.stderr
    assert file_sha256(live.db) == before
    assert "later.txt" in media_files(live.media)


@sqlite_pass
def test_restore_refuses_a_forged_audit_entry_with_a_recomputed_manifest(
    live: Site, backup_copy: Path
) -> None:
    tamper_sqlite_audit_entry(backup_copy / "database.sqlite3", seq=2)
    reseal(backup_copy)  # every checksum matches again: only the chain can tell
    before = file_sha256(live.db)

    done = medtrace(live.env, "restore", str(backup_copy), "--yes", expect=1)

    assert "audit chain of the backup does not verify" in done.stderr, done.stderr
    assert "audit entry #2" in done.stderr
    assert file_sha256(live.db) == before
    assert not [p for p in live.var.iterdir() if p.name.startswith(".")]


@sqlite_pass
def test_a_broken_chain_is_backed_up_loudly_and_never_restored(live: Site, tmp_path: Path) -> None:
    tamper_sqlite_audit_entry(live.db, seq=1)
    backup_dir = tmp_path / "broken-backup"

    done = medtrace(live.env, "backup", str(backup_dir), expect=EXIT_CHAIN_BROKEN)

    assert "DOES NOT VERIFY" in done.stdout and "WARNING" in done.stderr
    manifest = json.loads((backup_dir / MANIFEST).read_text())
    assert manifest["audit"]["ok"] is False
    assert manifest["audit"]["problems"][0].startswith("audit entry #1")
    refused = medtrace(live.env, "restore", str(backup_dir), "--yes", expect=1)
    assert "already failed when the backup was taken" in refused.stderr


@sqlite_pass
def test_restore_refuses_a_backup_of_another_engine(backup_copy: Path) -> None:
    from medtrace.audit.backup import BackupError, engine
    from medtrace.audit.restore import _check_compatible, read_manifest

    manifest = read_manifest(backup_copy)
    other = "postgresql" if engine() == "sqlite" else "sqlite"
    manifest["database"]["engine"] = other
    with pytest.raises(BackupError, match=f"backup of a {other} database, but the live"):
        _check_compatible(manifest)
    manifest["database"]["engine"] = engine()
    manifest["migrations"]["audit"] = "0999_from_the_future"
    with pytest.raises(BackupError, match=r"audit\.0999_from_the_future.*newer version"):
        _check_compatible(manifest)


# PostgreSQL -------------------------------------------------------------------------------------


def _server_url() -> str:
    for name in ("MEDTRACE_TEST_PG_URL", "MEDTRACE_DATABASE_URL"):
        url = os.environ.get(name, "")
        if url.startswith(("postgres://", "postgresql://")):
            return url
    return "postgresql://%2Fvar%2Frun%2Fpostgresql/postgres"


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


pg_tools = pytest.mark.skipif(
    shutil.which("pg_dump") is None, reason="pg_dump is not installed (PostgreSQL client tools)"
)


@pytest.fixture(scope="module")
def pg_server() -> Iterator[Any]:
    import psycopg

    conn = psycopg.connect(_with_database(_server_url(), "postgres"), autocommit=True)
    created: list[str] = []

    class Server:
        def create(self, name: str, template: str | None = None) -> str:
            extra = f" TEMPLATE {template}" if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{extra}')
            created.append(name)
            return _with_database(_server_url(), name)

        def databases(self, prefix: str) -> list[str]:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",)
            ).fetchall()
            return [r[0] for r in rows]

    try:
        yield Server()
    finally:
        for name in reversed(created):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


@pytest.fixture(scope="module")
def pg_origin(pg_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A migrated, seeded PostgreSQL database, used as the template of each test's database."""
    name = f"medtrace_backup_test_{secrets.token_hex(4)}"
    url = pg_server.create(name)
    site = Site(tmp_path_factory.mktemp("pg-origin"), url)
    medtrace(site.env, "migrate", "--noinput")
    python(site.env, SEED)
    return {"name": name, "state": state(site.env)}


@pytest.fixture
def pg_live(pg_server: Any, pg_origin: dict[str, Any], tmp_path: Path) -> Site:
    name = f"{pg_origin['name']}_{secrets.token_hex(2)}"
    return Site(tmp_path / "pg-live", pg_server.create(name, template=pg_origin["name"]))


def _pg_exec(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)


@postgresql_pass
@pg_tools
def test_postgresql_round_trip(pg_server: Any, pg_origin: dict[str, Any], pg_live: Site) -> None:
    (pg_live.media / "certificates").mkdir(parents=True)
    (pg_live.media / "certificates" / "c1.pdf").write_bytes(b"%PDF certificate")
    backup_dir = pg_live.var.parent / "pg-backup"

    done = medtrace(pg_live.env, "backup", str(backup_dir))

    assert "database.pgdump" in done.stdout
    manifest = json.loads((backup_dir / MANIFEST).read_text())
    assert manifest["database"]["engine"] == "postgresql"
    head = [[manifest["audit"]["head_seq"], manifest["audit"]["head_hash"]]]
    assert head == pg_origin["state"]["head"]
    python(pg_live.env, LATER)
    (pg_live.media / "later.txt").write_text("after")
    assert "Later pump" in names(state(pg_live.env)["products"])

    done = medtrace(pg_live.env, "restore", str(backup_dir), "--yes")

    assert "verifies" in done.stdout
    restored = state(pg_live.env)
    assert len(restored.pop("restores")) == 1  # the restore itself is on the record
    assert restored == {k: v for k, v in pg_origin["state"].items() if k != "restores"}
    assert media_files(pg_live.media) == {"certificates/c1.pdf": b"%PDF certificate"}
    live_name = urlsplit(pg_live.env["MEDTRACE_DATABASE_URL"]).path.lstrip("/")
    assert pg_server.databases(live_name + "_restore_") == []  # the scratch database is gone
    # The append-only triggers came back with the tables.
    with pytest.raises(Exception, match="append-only"):
        _pg_exec(pg_live.env["MEDTRACE_DATABASE_URL"], "UPDATE audit_auditentry SET reason = 'x'")


@postgresql_pass
@pg_tools
def test_postgresql_restore_refuses_a_damaged_dump_and_a_tampered_chain(
    pg_server: Any, pg_live: Site
) -> None:
    url = pg_live.env["MEDTRACE_DATABASE_URL"]
    live_name = urlsplit(url).path.lstrip("/")
    backup_dir = pg_live.var.parent / "pg-backup"
    medtrace(pg_live.env, "backup", str(backup_dir))
    # A dump cut short on disk, its manifest recomputed: pg_restore fails in the scratch database.
    dump = backup_dir / "database.pgdump"
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    reseal(backup_dir)

    done = medtrace(pg_live.env, "restore", str(backup_dir), "--yes", expect=1)
    assert "pg_restore into the scratch database failed" in done.stderr, done.stderr

    # An audit entry edited behind the trigger's back, then backed up: the manifest matches.
    _pg_exec(
        url,
        "ALTER TABLE audit_auditentry DISABLE TRIGGER USER",
        "UPDATE audit_auditentry SET reason = 'forged' WHERE seq = 2",
        "ALTER TABLE audit_auditentry ENABLE TRIGGER USER",
    )
    forged = pg_live.var.parent / "pg-forged"
    medtrace(pg_live.env, "backup", str(forged), expect=EXIT_CHAIN_BROKEN)
    before = state(pg_live.env)

    done = medtrace(pg_live.env, "restore", str(forged), "--yes", expect=1)

    assert "does not verify" in done.stderr and "audit entry #2" in done.stderr, done.stderr
    assert state(pg_live.env) == before  # nothing changed
    assert pg_server.databases(live_name + "_restore_") == []
