"""TikTok end to end: delivery through the sandbox fake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.platform_flow import delivery_flow

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


async def test_tiktok_delivery(tmp_path: Path) -> None:
    block = {"type": "tiktok", "pixel_code": "CSANDBOX", "access_token": "sandbox-tiktok-token"}
    await delivery_flow(tmp_path, "tiktok", block, _ids, {"code": 40100, "message": "Too many requests"})


def _ids(fake: Any) -> list[str]:
    return [e["event_id"] for e in fake.events]
