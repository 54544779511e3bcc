"""Suite-wide test settings."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (trio is not a dependency)."""
    return "asyncio"
