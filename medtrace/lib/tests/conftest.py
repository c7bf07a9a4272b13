"""Shared helpers for the pure-Python tests of ``medtrace.lib`` (no Django needed).

Conformance material lives outside the repository, in ``../shared/conformance`` next to the repo
root; tests read it in place (it is never copied into the repo, and the app never reads it).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[3]


def conformance_dir(*parts: str) -> Path:
    """A path inside ``../shared/conformance`` (resolved from the repository root)."""
    path = (REPO_ROOT / ".." / "shared" / "conformance").resolve().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"conformance material missing at {path}: the tests expect ../shared/conformance "
            "beside the repository"
        )
    return path


@cache
def gs1_vectors() -> list[dict[str, Any]]:
    """The GS1/UDI barcode vectors, in file order."""
    document = json.loads(conformance_dir("gs1-barcodes", "vectors.json").read_text("utf-8"))
    vectors: list[dict[str, Any]] = document["vectors"]
    if len(vectors) != document["count"]:
        raise ValueError("vectors.json count does not match its vectors")
    return vectors


def gs1_syntax_dictionary() -> str:
    return conformance_dir("gs1-barcodes", "gs1-syntax-dictionary.txt").read_text("utf-8")
