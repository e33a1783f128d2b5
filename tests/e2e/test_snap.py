"""Snapchat end to end: delivery through the sandbox fake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.platform_flow import delivery_flow

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


async def test_snap_delivery(tmp_path: Path) -> None:
    block = {"type": "snap", "pixel_id": "sandbox-pixel", "access_token": "sandbox-snap-token"}
    await delivery_flow(tmp_path, "snap", block, _ids, {"status": "RATE_LIMITED"})


def _ids(fake: Any) -> list[str]:
    return [e["event_id"] for e in fake.events]
