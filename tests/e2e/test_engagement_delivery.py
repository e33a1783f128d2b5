"""Engagement events over real HTTP: validated at ingest, delivered only to connectors with
``send_engagement: true`` (Meta: ``custom_data.engaged_seconds`` / ``scroll_depth``, never the
relay-internal ``page_event_ids``), skipped with the reason for the others; a second copy of a page
view's engagement is stored once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from relay.testing import free_port
from tests.e2e.harness import config_dict, run_relay
from tests.e2e.test_ingest import collect

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


def engagement(seconds: Any = 42, depth: Any = 80) -> dict[str, Any]:
    return {
        "event_name": "PageEngagement",
        "event_id": "pv-1:engagement",
        "event_source_url": "https://shop.example/product/mug",
        "user": {"email": "reader@example.com"},
        "custom": {"engaged_seconds": seconds, "scroll_depth": depth, "page_event_ids": ["pv-1", "vc-1"]},
    }


async def test_engagement_goes_only_where_it_is_wanted(tmp_path: Path) -> None:
    port = free_port()
    meta = config_dict(port, tmp_path / "relay.db")["connectors"]["meta"]
    wanting = {**meta, "send_engagement": True}
    connectors = {"meta": wanting, "meta_plain": {**meta, "pixel_id": "999"}}
    async with run_relay(tmp_path, port=port, connectors=connectors) as relay:
        bad = await collect(relay, {"events": [engagement(seconds=-3), engagement(depth=140)]})
        errors = [r["error"] for r in bad.json()["rejected"]]
        assert errors == [
            "custom.engaged_seconds: must be a number of seconds from 0 to 86400",
            "custom.scroll_depth: must be a percentage from 0 to 100",
        ]

        assert (await collect(relay, {"events": [engagement()]})).status_code == 202
        await relay.wait_status("pv-1:engagement", "meta", "delivered")
        skipped = await relay.wait_status("pv-1:engagement", "meta_plain", "skipped")
        assert "engagement not sent to meta_plain (send_engagement: false)" in str(skipped)
        [sent] = [e for e in relay.fake("meta").events if e["event_id"] == "pv-1:engagement"]
        assert sent["event_name"] == "PageEngagement"
        assert sent["custom_data"] == {"engaged_seconds": 42, "scroll_depth": 80}

        # the snippet sends once per page view; a copy (a retried request) is stored once
        assert (await collect(relay, {"events": [engagement(seconds=50)]})).status_code == 202
        with relay.state.db.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT custom FROM events WHERE event_name = 'PageEngagement'").all()
        assert [json.loads(r[0])["engaged_seconds"] for r in rows] == [42]
