"""Where the EPCIS conformance material lives, for the tests only.

CONVENTIONS: conformance tests read ``../shared/conformance/`` directly, resolved from the repo
root; the files are never copied into the repo and the app never reads them at run time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[4]
CONFORMANCE_DIR = (REPO_ROOT / ".." / "shared" / "conformance").resolve()
EPCIS_DIR = CONFORMANCE_DIR / "epcis"
OPENEPCIS_JSON_DIR = EPCIS_DIR / "openepcis-test-resources" / "2.0" / "EPCIS" / "JSON"


def load_json(path: Path) -> Any:
    with path.open("rb") as handle:
        return json.load(handle)


JSON_LD_EXAMPLES = sorted(EPCIS_DIR.glob("examples/json-ld/**/*.jsonld"))
SIMPLE_CONTEXT_DIR = EPCIS_DIR / "examples" / "json-ld-simple-context"
SIMPLE_CONTEXT_EXAMPLES = sorted(SIMPLE_CONTEXT_DIR.glob("**/*.jsonld"))
CAPTURE_DOCUMENTS = sorted((OPENEPCIS_JSON_DIR / "Capture" / "Documents").glob("*.json"))
CAPTURE_EVENTS = sorted((OPENEPCIS_JSON_DIR / "Capture" / "Events").glob("*.json"))
INVALID_DOCUMENTS = sorted((OPENEPCIS_JSON_DIR / "Capture" / "Invalid").glob("*.json"))
SCHEMA_PATH = EPCIS_DIR / "json-schema" / "EPCIS-JSON-Schema.json"


def relative_id(path: Path) -> str:
    """A readable test id: the path inside conformance/epcis."""
    return path.relative_to(EPCIS_DIR).as_posix()


@pytest.fixture(autouse=True)
def _english_outside_requests() -> Any:
    """Overrides the repo-root fixture of the same name, which switches Django's language.

    This package is pure Python and its messages are English only; the root fixture needs Django
    settings, which are not configured under ``pytest -p no:django``.
    """
    yield
