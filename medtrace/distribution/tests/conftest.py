from __future__ import annotations

import pytest

from .factories import Dist, dist


@pytest.fixture
def d(db: None) -> Dist:
    return dist()
