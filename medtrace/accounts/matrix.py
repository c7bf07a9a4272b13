"""The role permission matrix as a Markdown table, generated from ``roles.ROLE_PERMISSIONS``.

The README's "Roles and permissions" table is this output (``medtrace roles --write-readme``),
and a test fails when the two differ. Rows are the records a permission is about; a cell lists
what the role may do with them: R read, A add, C change, D delete; a special permission (such as
revealing patient data) is a row of its own with ✓. A permission without a row below still
appears, under its ``app.model`` name.
"""

from __future__ import annotations

import re
from pathlib import Path

from .roles import ROLE_PERMISSIONS, Role

BEGIN = "<!-- roles:begin -->"
END = "<!-- roles:end -->"

ACTIONS = {"view": "R", "add": "A", "change": "C", "delete": "D"}

# (app.model, row label), in table order.
ROWS: tuple[tuple[str, str], ...] = (
    ("masterdata.party", "Master data: parties"),
    ("masterdata.partylicence", "Master data: party licences"),
    ("masterdata.location", "Master data: locations"),
    ("masterdata.product", "Master data: products"),
    ("masterdata.productidentifier", "Master data: product DIs"),
    ("masterdata.material", "Master data: materials"),
    ("masterdata.materialsupplier", "Master data: approved sources"),
    ("masterdata.bom", "Master data: BOMs"),
    ("masterdata.bomline", "Master data: BOM lines"),
    ("ledger.event", "Ledger: EPCIS events"),
    ("ledger.unitstate", "Ledger: unit states (trace)"),
    ("ledger.genealogyedge", "Ledger: genealogy"),
    ("audit.auditentry", "Audit trail"),
    ("audit.auditcheckpoint", "Audit checkpoints"),
    ("audit.signature", "E-signatures (A: sign records)"),
    ("audit.signingstate", "E-signing lock (C: unlock a user's signing)"),
    ("alerts.alert", "Alerts"),
    ("alerts.alertrule", "Alert rules (C: thresholds, windows, recipients)"),
    ("alerts.outboxmessage", "Outbox (C: replay dead letters)"),
    ("accounts.user", "Users"),
    ("service.implantrecord", "Implant records (masked)"),
    ("production.serialrule", "Production: serial rules"),
    ("production.allocatedserial", "Production: allocated serials (A: allocate)"),
)
SPECIAL: dict[str, str] = {
    "service.reveal_implantrecord": "Implant records: reveal patient data (audited)",
}


def _split(permission: str) -> tuple[str, str, str]:
    app_label, codename = permission.split(".", 1)
    action, _sep, model = codename.partition("_")
    return app_label, action, model


def rows() -> list[tuple[str, dict[str, str]]]:
    """(label, {role: cell}) for every row of the matrix."""
    held = {role: set(perms) for role, perms in ROLE_PERMISSIONS.items()}
    every = sorted({p for perms in held.values() for p in perms})
    models = [key for key, _label in ROWS]
    labels = dict(ROWS)
    specials = [p for p in SPECIAL if p in every]
    for permission in every:
        app_label, action, model = _split(permission)
        key = f"{app_label}.{model}"
        if action in ACTIONS and key not in labels:
            models.append(key)
            labels[key] = key
        elif action not in ACTIONS and permission not in specials:
            specials.append(permission)
    out: list[tuple[str, dict[str, str]]] = []
    for key in models:
        app_label, model = key.split(".")
        cells = {}
        for role in Role:
            letters = "".join(
                letter
                for action, letter in ACTIONS.items()
                if f"{app_label}.{action}_{model}" in held.get(role, set())
            )
            cells[str(role)] = letters or "—"
        if any(cell != "—" for cell in cells.values()):
            out.append((labels[key], cells))
    for permission in specials:
        cells = {str(r): "✓" if permission in held.get(r, set()) else "—" for r in Role}
        out.append((SPECIAL.get(permission, permission), cells))
    return out


def markdown() -> str:
    """The matrix as a Markdown table (roles as columns, by their code names)."""
    header = "| capability | " + " | ".join(f"`{r}`" for r in Role.values) + " |"
    rule = "|---|" + "---|" * len(Role.values)
    lines = [header, rule]
    for label, cells in rows():
        lines.append(f"| {label} | " + " | ".join(cells[r] for r in Role.values) + " |")
    return "\n".join(lines) + "\n"


def readme_block() -> str:
    return f"{BEGIN}\n{markdown()}{END}"


_BLOCK = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)


def readme_table(text: str) -> str | None:
    """The generated block as it stands in README text, or None when the markers are missing."""
    found = _BLOCK.search(text)
    return found.group(0) if found else None


def write_readme(path: Path) -> bool:
    """Replace the block between the markers in ``path``; True when the file changed."""
    text = path.read_text(encoding="utf-8")
    if readme_table(text) is None:
        raise ValueError(f"{path} has no {BEGIN} … {END} block")
    new = _BLOCK.sub(lambda _m: readme_block(), text, count=1)
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text
