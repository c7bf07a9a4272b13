"""Bulk imports of N rows (issue 7 item 4: 100k rows in under a minute).

    ../.venv/bin/python bench_import.py --db medtrace_bench_import --rows 100000
    ../.venv/bin/python bench_import.py --sqlite /tmp/bench_import.sqlite3 --rows 100000
    ../.venv/bin/python bench_import.py --db medtrace_bench_import --kinds history --grouping none

For each kind (parties, locations, products, materials, history) and format (CSV, XLSX): a
generated file of N data rows, imported end to end and committed through
``imports.services`` (``import_create`` + ``import_run``, what ``medtrace import`` and the API
call): stream and validate every row, check the database, bulk insert, audit entries (and for
history: the EPCIS events through the ledger's capture path, projections and seal). A dry run
of the same file (validation only) is timed too. Writes ``results/import_<db>.json``.

History rows: N/5 units of one product, each produced, shipped to a distributor, received
there, installed at a hospital and serviced. ``--grouping lots`` (default): units made in lots
of 100 and shipped by delivery notes of 20 share events, as real legacy data does (~0.42 events
per row); ``--grouping none``: every row its own time, so one event per row (the worst case).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from common import BIN, bench_env, machine, now_iso, save

KINDS = ("parties", "locations", "products", "materials", "history")
TMP = Path("/tmp/medtrace_bench_import")


def _gln(prefix: str, ref: int) -> str:
    from medtrace.lib import udi

    body = prefix + str(ref).rjust(12 - len(prefix), "0")
    return body + udi.gs1_check_digit(body)


def _gtin(prefix: str, item: int) -> str:
    from medtrace.lib import udi

    body = "0" + prefix + str(item).rjust(12 - len(prefix), "0")
    return body + udi.gs1_check_digit(body)


def rows_of(
    kind: str, n: int, world: dict[str, Any], grouping: str, tag: str = "A"
) -> tuple[list[str], Any]:
    """Header and a generator of N rows of ``kind``."""
    if kind == "parties":
        header = ["name", "role", "gln", "country", "province", "city", "contact_email"]
        return header, (
            [f"医院 {i}", "hospital", _gln(f"695{i // 10000:04d}", i % 10000), "CN",
             "江苏", "苏州", f"h{i}@example.com"]
            for i in range(n)
        )  # fmt: skip
    if kind == "locations":
        owner = world["site_owner"]
        header = ["party_gln", "parent_code", "kind", "code", "name", "gln", "extension"]

        def locations() -> Any:
            sites = max(1, n // 100)
            for i in range(n):
                if i < sites:
                    yield [owner.gln, "", "site", f"S{i}", f"厂区 {i}", owner.gln, f"S{i}"]
                else:
                    yield [owner.gln, f"S{i % sites}", "warehouse", f"W{i}", f"仓库 {i}",
                           owner.gln, f"W{i}"]  # fmt: skip

        return header, locations()
    if kind == "products":
        header = ["manufacturer_gln", "name", "model", "nmpa_registration_no", "risk_class",
                  "tracking", "udi_pi_elements", "unit_di", "pack_di", "pack_quantity"]  # fmt: skip
        makers = world["makers"]

        def products() -> Any:
            for i in range(n):
                maker = makers[i // 50000]  # 50,000 models (two DIs each) per company prefix
                unit, pack = (_gtin(maker.gs1_company_prefix, i % 50000 * 2 + k) for k in (0, 1))
                yield [maker.gln, f"输液泵 {i}", f"IP-{i}", "国械注准20203140123", "II",
                       "serial", "serial;lot", unit, pack, 10]  # fmt: skip

        return header, products()
    if kind == "materials":
        header = ["code", "name", "kind", "tracking", "uom"]
        return header, (
            [f"MAT-{i:07d}", f"物料 {i}", "component", "serial" if i % 2 else "lot",
             "EA" if i % 2 else "KGM"]
            for i in range(n)
        )  # fmt: skip
    return _history(n, world, grouping, tag)


def _history(n: int, world: dict[str, Any], grouping: str, tag: str) -> tuple[list[str], Any]:
    header = ["di", "serial", "lot", "event", "event_time", "location", "party", "document"]
    gtin, plant, dc, ward = world["gtin"], world["plant"], world["dc"], world["ward"]
    dist, hosp = world["distributor"].gln, world["hospital"].gln

    def rows() -> Any:
        units = n // 5
        for u in range(units):
            serial = f"{tag}{u:07d}"
            if grouping == "lots":
                lot, day = f"{tag}L{u // 100:05d}", u // 100
                base = f"2018-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}"
                dn = f"DN-{u // 20:06d}"
                shipped, received = f"{base}T10:00:00+08:00", f"{base}T16:00:00+08:00"
                made = f"{base}T08:00:00+08:00"
            else:
                lot, dn = f"{tag}L{u:07d}", f"DN-{tag}{u:07d}"
                second = u % 86400
                stamp = f"T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}+08:00"
                made = f"2018-01-{1 + u // 86400:02d}{stamp}"
                shipped = f"2018-02-{1 + u // 86400:02d}{stamp}"
                received = f"2018-03-{1 + u // 86400:02d}{stamp}"
            yield [gtin, serial, lot, "produced", made, plant, "", f"WO-{lot}"]
            yield [gtin, serial, "", "shipped", shipped, plant, dist, dn]
            yield [gtin, serial, "", "received", received, dc, "", dn]
            minute = u % 1440
            clock = f"{minute // 60:02d}:{minute % 60:02d}"
            yield [
                gtin,
                serial,
                "",
                "installed",
                f"2019-{1 + u // 1440 % 12:02d}-{1 + u // 17280 % 28:02d}T{clock}:00+08:00",
                ward,
                hosp,
                f"INST-{u}",
            ]
            yield [
                gtin,
                serial,
                "",
                "serviced",
                f"2020-{1 + u // 1440 % 12:02d}-{1 + u // 17280 % 28:02d}T{clock}:00+08:00",
                ward,
                "",
                f"SR-{u}",
            ]

    return header, rows()


def write_file(path: Path, fmt: str, header: list[str], rows: Any) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerows(rows)
    else:
        import openpyxl

        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        book.save(path)
    return path.stat().st_size


def _world() -> dict[str, Any]:
    """Master data the generated rows refer to (made through the services, not timed)."""
    from medtrace.masterdata.tests import factories as md

    maker = md.party(role="manufacturer", prefix="6901234", name="苏州康迈医疗科技 (bench)")
    distributor = md.party(role="distributor", prefix="6920002", name="华东医疗器械经销 (bench)")
    hospital = md.party(role="hospital", prefix="6920003", name="第一人民医院 (bench)")
    site_owner = md.party(role="distributor", prefix="6920004", name="物流中心 (bench)")
    makers = [md.party(role="manufacturer", prefix=p) for p in ("6930001", "6930002")]
    plant = md.location(owner=maker, kind="site", ref=1, name="Plant")
    dc = md.location(owner=distributor, kind="site", ref=1, name="DC")
    ward = md.location(owner=hospital, kind="site", ref=1, name="ICU")
    device = md.product(
        manufacturer=maker,
        name="输液泵",
        model="IP-LEGACY",
        udi_pi_elements=["serial", "lot"],
        identifiers=[{"packaging_level": "unit", "di": md.gtin("6901234", 10003)}],
    )
    return {
        "distributor": distributor,
        "hospital": hospital,
        "site_owner": site_owner,
        "makers": makers,
        "plant": plant.gln,
        "dc": dc.sgln,
        "ward": ward.code,
        "gtin": device.identifiers.get().di,
    }


def _run(kind: str, path: Path, *, dry_run: bool) -> tuple[float, float, Any]:
    """Wall seconds, this process's CPU seconds (on SQLite: all of the work; the machine is
    shared, so wall time depends on the others' load), and the job."""
    from medtrace.imports import services

    started, cpu = time.perf_counter(), time.process_time()
    with path.open("rb") as stream:
        job = services.import_create(
            kind=kind, name=path.name, stream=stream, dry_run=dry_run, user=None
        )
    job = services.import_run(job=job, user=None)
    return time.perf_counter() - started, time.process_time() - cpu, job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="medtrace_bench_import", help="PostgreSQL database")
    parser.add_argument("--sqlite", type=Path, help="a SQLite file instead of PostgreSQL")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--formats", nargs="+", default=["csv", "xlsx"], choices=["csv", "xlsx"])
    parser.add_argument("--grouping", default="lots", choices=["lots", "none"])
    args = parser.parse_args()

    env = bench_env(args.db)
    if args.sqlite:
        args.sqlite.unlink(missing_ok=True)
        env["MEDTRACE_DATABASE_URL"] = f"sqlite:///{args.sqlite}"
        name = f"sqlite_{args.sqlite.stem}"
    else:
        subprocess.run(["dropdb", "--if-exists", args.db], check=True, capture_output=True)
        subprocess.run(["createdb", args.db], check=True, capture_output=True)
        name = args.db
    env["MEDTRACE_ATTACHMENT_DIR"] = str(TMP / "attachments")
    subprocess.run([str(BIN / "medtrace"), "migrate", "--noinput", "-v0"], env=env, check=True)
    os.environ.update({k: v for k, v in env.items() if k.startswith("MEDTRACE_")})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medtrace.settings")
    import django

    django.setup()
    from django.db import connection

    world = _world()
    results: list[dict[str, Any]] = []
    for kind in args.kinds:
        for fmt in args.formats:
            if kind != "parties" and fmt == "xlsx" and kind != "history":
                continue  # XLSX reading is the same for every kind: parties and history show it
            path = TMP / f"{kind}_{args.rows}.{fmt}"
            header, rows = rows_of(kind, args.rows, world, args.grouping, tag=fmt.upper())
            size = write_file(path, fmt, header, rows)
            load = os.getloadavg()[0]
            dry_s, _dry_cpu, dry = _run(kind, path, dry_run=True)
            assert dry.status == "valid", (kind, dry.errors[:5])
            real_s, real_cpu, job = _run(kind, path, dry_run=False)
            assert job.status == "imported", (kind, job.errors[:5])
            result = {
                "kind": kind,
                "format": fmt,
                "rows": args.rows,
                "file_mb": round(size / 2**20, 1),
                "dry_run_s": round(dry_s, 2),
                "import_s": round(real_s, 2),
                "import_cpu_s": round(real_cpu, 2),
                "rows_per_s": round(args.rows / real_s),
                "load_avg_1min": round(load, 1),
                "created": job.summary,
            }
            results.append(result)
            print(result, flush=True)
            _undo(kind)
    save(
        f"import_{name}{'_ungrouped' if args.grouping == 'none' else ''}",
        {
            "benchmark": "import",
            "when": now_iso(),
            "machine": machine(),
            "database": connection.vendor,
            "grouping": args.grouping,
            "results": results,
        },
    )


def _undo(kind: str) -> None:
    """Make room to import the same keys again from the other format (not timed)."""
    from django.db import connection

    from medtrace.masterdata.models import (
        Location,
        Material,
        MaterialSupplier,
        Party,
        Product,
        ProductIdentifier,
    )

    if kind == "history":
        # The ledger is append-only (a trigger on PostgreSQL): import the next run's units
        # under other serials instead.
        return
    model = {"parties": Party, "locations": Location, "products": Product, "materials": Material}
    with connection.cursor():
        if kind == "products":
            ProductIdentifier.objects.filter(product__model__startswith="IP-").exclude(
                product__model="IP-LEGACY"
            ).delete()
            Product.objects.filter(model__startswith="IP-").exclude(model="IP-LEGACY").delete()
        elif kind == "materials":
            MaterialSupplier.objects.all().delete()
            Material.objects.filter(code__startswith="MAT-").delete()
        elif kind == "parties":
            Party.objects.filter(name__startswith="医院 ").delete()
        else:  # warehouses before the sites they are in (PROTECT)
            model[kind].objects.filter(code__regex=r"^W\d").delete()
            model[kind].objects.filter(code__regex=r"^S\d").delete()


if __name__ == "__main__":
    main()
