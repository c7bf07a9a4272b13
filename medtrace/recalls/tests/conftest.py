from __future__ import annotations

import pytest

from .factories import R, recall_world


@pytest.fixture
def r(db: None) -> R:
    return recall_world()
