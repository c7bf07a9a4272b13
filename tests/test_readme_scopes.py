"""The README's list of API token scopes is the code's list (accounts.services.KNOWN_SCOPES)."""

from __future__ import annotations

import re
from pathlib import Path

from medtrace.accounts.services import KNOWN_SCOPES

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_lists_every_token_scope_and_no_other() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("Scopes: ")
    listed = set(re.findall(r"`([a-z]+:[a-z]+)`", text[start : text.index("(default:", start)]))
    assert listed == set(KNOWN_SCOPES)
