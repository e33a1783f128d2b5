"""One end-to-end scenario run against each new platform's sandbox fake (TikTok, Snap, Pinterest,
Reddit): HTTP in through ``/v1/events``, the real worker, the fake platform out over loopback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from relay.sandbox.base import ScriptedResponse
from relay.testing import free_port
from tests.e2e.harness import purchase, run_relay


async def delivery_flow(
    tmp_path: Path,
    name: str,
    block: dict[str, Any],
    delivered_ids: Callable[[Any], list[str]],
    rate_limited: Any,
) -> None:
    """Batching, one bad event isolated, an auth error pausing the connector until resumed, and a
    rate limit retried. ``delivered_ids`` reads the fake's accepted event ids; ``rate_limited`` is the
    body of the platform's rate-limit answer."""
    port = free_port()
    block = {**block, "api_base": f"http://127.0.0.1:{port}/sandbox/{name}"}
    async with run_relay(tmp_path, port=port, connectors={name: block}) as relay:
        fake = relay.fake(name)
        good = [purchase(f"{name}-{i}") for i in range(3)]
        bad = purchase(f"{name}-bad", event_source_url="checkout-page")  # the platform wants an absolute URL
        assert (await relay.post_events({"events": [*good, bad]})).status_code == 202
        for i in range(3):
            await relay.wait_status(f"{name}-{i}", name, "delivered")
        dead = await relay.wait_status(f"{name}-bad", name, "dead")
        assert "absolute" in dead["last_error"]
        assert sorted(delivered_ids(fake)) == sorted(f"{name}-{i}" for i in range(3))

        # credentials refused: the connector pauses, nothing is lost, a resume delivers
        accepted, fake.access_tokens = fake.access_tokens, {"revoked"}
        await relay.post_events(purchase(f"{name}-auth"))

        async def paused() -> dict[str, Any] | None:
            items = (await relay.admin("connectors")).json()["items"]
            return next((c for c in items if c["name"] == name and c["state"] == "paused"), None)

        state = await relay.wait_for(paused, what=f"{name} to pause")
        assert block["access_token"] not in str(state)
        fake.access_tokens = accepted
        assert (await relay.admin(f"connectors/{name}/resume", "POST")).json() == {"state": "active"}
        await relay.wait_status(f"{name}-auth", name, "delivered")

        # rate limited: retried after Retry-After, then delivered
        fake.script(ScriptedResponse(429, rate_limited, headers={"Retry-After": "0"}))
        await relay.post_events(purchase(f"{name}-rate"))
        await relay.wait_status(f"{name}-rate", name, "delivered")
        assert [r.path for r in fake.requests].count(fake.requests[-1].path) >= 2
        assert f"{name}-rate" in delivered_ids(fake)
