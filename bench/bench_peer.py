"""medtrace vs quartet-epcis (DESIGN §10 peer) on the same 10k EPCIS ObjectEvents.

    .venv/bin/python bench/bench_peer.py [--events 10000]

Needs the peer venv (see README): /tmp/peer-venv with quartet-epcis, quartet-capture,
haikunator and psycopg. Steps, all in one run:
1. take the first N ObjectEvents of the generator's story (renamed, see events.py) and 50 pumps
   that have two ObjectEvents each (inspecting, installing);
2. medtrace: fresh database medtrace_bench_peer (migrate + demo master data), capture the N
   events as one EPCIS 2.0 JSON document in process (capture_document(data=bytes), no
   eventIDs, so every event hash is computed); look up each pump's events in process:
   GET /epcis/events?MATCH_anyEPC= (test Client) and the unit timeline selector;
3. quartet-epcis: fresh database quartet_bench, migrate, parse the same events written as an
   EPCIS 1.2 XML document with QuartetParser, then a fresh one with BusinessEPCISParser;
   EPCISDBProxy().get_events_by_epc for the same pumps (bench/peer/run_peer.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape

from common import BIN, ROOT, create_token, machine, now_iso, save, setup_django, summary_ms
from events import iter_fresh, run_tag

PEER_PY = Path("/tmp/peer-venv/bin/python")
CBV = {
    "bizStep": "urn:epcglobal:cbv:bizstep:",
    "disposition": "urn:epcglobal:cbv:disp:",
    "sdt": "urn:epcglobal:cbv:sdt:",
    "btt": "urn:epcglobal:cbv:btt:",
}


def object_events(n: int) -> list[dict]:
    out = []
    for event in iter_fresh(run_tag()):
        if event["type"] == "ObjectEvent":
            out.append(event)
            if len(out) == n:
                return out
    return out


def to_xml(events: list[dict]) -> str:
    """EPCIS 1.2 XML (ObjectEvent only), CBV 1.2 URNs for the bare CBV terms."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<epcis:EPCISDocument '
        'xmlns:epcis="urn:epcglobal:epcis:xsd:1" xmlns:cbvmda="urn:epcglobal:cbv:mda" '
        'schemaVersion="1.2" creationDate="2026-01-01T00:00:00Z">\n<EPCISBody><EventList>\n'
    ]
    for e in events:
        x = [
            f"<ObjectEvent><eventTime>{e['eventTime']}</eventTime>"
            f"<eventTimeZoneOffset>{e['eventTimeZoneOffset']}</eventTimeZoneOffset><epcList>"
        ]
        x += [f"<epc>{escape(epc)}</epc>" for epc in e.get("epcList", [])]
        x.append(f"</epcList><action>{e['action']}</action>")
        x.append(f"<bizStep>{CBV['bizStep']}{e['bizStep']}</bizStep>")
        x.append(f"<disposition>{CBV['disposition']}{e['disposition']}</disposition>")
        if "readPoint" in e:
            x.append(f"<readPoint><id>{e['readPoint']['id']}</id></readPoint>")
        if "bizLocation" in e:
            x.append(f"<bizLocation><id>{e['bizLocation']['id']}</id></bizLocation>")
        if e.get("bizTransactionList"):
            x.append("<bizTransactionList>")
            x += [
                f'<bizTransaction type="{CBV["btt"]}{b["type"]}">{b["bizTransaction"]}'
                "</bizTransaction>"
                for b in e["bizTransactionList"]
            ]
            x.append("</bizTransactionList>")
        ext = []
        if e.get("quantityList"):
            ext.append("<quantityList>")
            ext += [
                f"<quantityElement><epcClass>{q['epcClass']}</epcClass>"
                f"<quantity>{q['quantity']}</quantity><uom>{q['uom']}</uom>"
                "</quantityElement>"
                for q in e["quantityList"]
            ]
            ext.append("</quantityList>")
        for key, tag in (("sourceList", "source"), ("destinationList", "destination")):
            if e.get(key):
                ext.append(f"<{key}>")
                ext += [f'<{tag} type="{CBV["sdt"]}{s["type"]}">{s[tag]}</{tag}>' for s in e[key]]
                ext.append(f"</{key}>")
        if e.get("ilmd"):
            ext.append("<ilmd>")
            ext += [
                f"<cbvmda:{k.split(':')[1]}>{v}</cbvmda:{k.split(':')[1]}>"
                for k, v in e["ilmd"].items()
            ]
            ext.append("</ilmd>")
        if ext:
            x.append("<extension>" + "".join(ext) + "</extension>")
        x.append("</ObjectEvent>\n")
        parts.append("".join(x))
    parts.append("</EventList></EPCISBody>\n</epcis:EPCISDocument>\n")
    return "".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000)
    args = ap.parse_args()
    events = object_events(args.events)
    counts: dict[str, int] = {}
    for e in events:
        for epc in e.get("epcList", []):
            if ".010001." in epc:
                counts[epc] = counts.get(epc, 0) + 1
    pumps = [epc for epc, n in counts.items() if n >= 2][:50]
    xml = to_xml(events)
    xml_path = Path("/tmp/bench_peer_events.xml")
    xml_path.write_text(xml)
    result = {
        "command": f"bench/bench_peer.py --events {args.events}",
        "date": now_iso(),
        "machine": machine(),
        "events": len(events),
        "xml_bytes": len(xml),
        "lookup_epcs": len(pumps),
    }
    print(f"{len(events)} ObjectEvents, {len(pumps)} pumps to look up", flush=True)

    # medtrace ------------------------------------------------------------------------------
    subprocess.run(
        [
            str(BIN / "python"),
            str(ROOT / "bench" / "dataset.py"),
            "--name",
            "medtrace_bench_peer",
            "--units",
            "0",
        ],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    setup_django("medtrace_bench_peer")
    from django.test import Client
    from events import document

    from medtrace.ledger.models import Event
    from medtrace.ledger.services import capture_document
    from medtrace.trace import selectors

    body = json.dumps(document(events)).encode()
    before = Event.objects.count()
    t0 = time.perf_counter()
    job = capture_document(data=body, user=None)
    took = time.perf_counter() - t0
    stored = Event.objects.count() - before
    mt = {
        "capture_s": round(took, 2),
        "events_stored": stored,
        "events_per_s": round(stored / took),
        "captured_count": job.captured_count,
    }
    token = create_token("medtrace_bench_peer", ["epcis:query"])
    client = Client()
    lat, lat_tl, found = [], [], []
    for rnd in range(3):
        for epc in pumps:
            t = time.perf_counter()
            resp = client.get(
                f"/epcis/events?MATCH_anyEPC={quote(epc, safe='')}",
                HTTP_AUTHORIZATION=f"Bearer {token}",
            )
            if rnd:
                lat.append(time.perf_counter() - t)
            assert resp.status_code == 200, resp.content[:300]
            found.append(len(resp.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]))
            t = time.perf_counter()
            selectors.unit_timeline(id=epc, user=None)
            if rnd:
                lat_tl.append(time.perf_counter() - t)
    mt["epcis_events_MATCH_anyEPC"] = summary_ms(lat)
    mt["unit_timeline_selector"] = summary_ms(lat_tl)
    mt["events_per_lookup"] = round(sum(found) / len(found), 1)
    result["medtrace"] = mt
    print("medtrace", json.dumps(mt), flush=True)

    # quartet-epcis -------------------------------------------------------------------------
    peer_dir = ROOT / "bench" / "peer"
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(peer_dir),
        "QUARTET_DB": "quartet_bench",
        "DJANGO_SETTINGS_MODULE": "settings",
    }
    result["quartet"] = {}
    if not PEER_PY.exists():
        result["quartet"] = {"error": f"{PEER_PY} missing: create the peer venv (README)"}
    for parser in ("quartet", "business"):
        if not PEER_PY.exists():
            break
        subprocess.run(
            [
                "psql",
                "postgresql://%2Fvar%2Frun%2Fpostgresql/postgres",
                "-q",
                "-c",
                "DROP DATABASE IF EXISTS quartet_bench WITH (FORCE)",
                "-c",
                "CREATE DATABASE quartet_bench",
            ],
            check=True,
        )
        subprocess.run(
            [str(PEER_PY), "-m", "django", "migrate", "-v", "0"], env=env, cwd=peer_dir, check=True
        )
        proc = subprocess.run(
            [str(PEER_PY), "run_peer.py", str(xml_path), ",".join(pumps), "--parser", parser],
            env=env,
            cwd=peer_dir,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            result["quartet"][parser] = {"error": proc.stderr.strip().splitlines()[-1][:600]}
        else:
            result["quartet"][parser] = json.loads(proc.stdout.strip().splitlines()[-1])
        print("quartet", parser, json.dumps(result["quartet"][parser]), flush=True)
    q = result["quartet"].get("quartet", {})
    if "events_per_s" in q:
        result["ratio_capture_medtrace_over_quartet"] = round(
            mt["events_per_s"] / q["events_per_s"], 1
        )
        result["ratio_lookup_quartet_over_medtrace_epcis_query"] = round(
            q["lookup_p50_ms"] / mt["epcis_events_MATCH_anyEPC"]["p50_ms"], 1
        )
    save("peer_quartet", result)
    print(json.dumps({k: v for k, v in result.items() if k.startswith("ratio")}, indent=2))


if __name__ == "__main__":
    main()
