"""Pinterest end to end: delivery through the sandbox fake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.platform_flow import delivery_flow

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


async def test_pinterest_delivery(tmp_path: Path) -> None:
    block = {"type": "pinterest", "ad_account_id": "549755885175", "access_token": "sandbox-pinterest-token"}
    await delivery_flow(tmp_path, "pinterest", block, _ids, {"code": 8, "message": "Rate limit exceeded"})


def _ids(fake: Any) -> list[str]:
    return [e["event_id"] for e in fake.events]
