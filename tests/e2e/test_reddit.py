"""Reddit end to end: delivery through the sandbox fake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.platform_flow import delivery_flow

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


async def test_reddit_delivery(tmp_path: Path) -> None:
    block = {"type": "reddit", "pixel_id": "a2_sandbox", "access_token": "sandbox-reddit-token"}
    await delivery_flow(tmp_path, "reddit", block, _ids, {"error": {"code": 429, "message": "slow down"}})


def _ids(fake: Any) -> list[str]:
    return [e["metadata"]["conversion_id"] for e in fake.events]
