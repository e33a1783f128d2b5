"""A webhook receiver for the sandbox: it checks what a careful receiver checks.

``X-Relay-Signature`` must verify against one of the configured secrets over ``X-Relay-Timestamp`` and
the exact body, and the timestamp must be within 5 minutes (401 otherwise); the body must be
``{"events": [...]}`` with 1 to 1,000 canonical events, contact details only as SHA-256 digests and
``custom.value`` a number (422 naming the event otherwise). Accepted events are kept in :attr:`events`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.webhook.signature import verify
from relay.sandbox.base import BaseConversionFake
from relay.sandbox.checks import configured
from relay.settings import Settings

MAX_EVENTS = 1000
EVENT_KEYS = frozenset(
    {"event_id", "event_name", "event_time", "action_source", "event_source_url", "referrer_url", "opt_out"}
    | {"user", "custom", "consent"}
)
_HEX64 = re.compile(r"[0-9a-f]{64}")


def event_problem(event: Any) -> str | None:
    """Why a received event is refused (``None`` when it is valid)."""
    if not isinstance(event, dict) or set(event) != EVENT_KEYS:
        return f"an event has exactly the keys {sorted(EVENT_KEYS)}"
    if not isinstance(event["event_id"], str) or not event["event_id"]:
        return "event_id must be a non-empty string"
    if not isinstance(event["event_time"], int) or isinstance(event["event_time"], bool):
        return "event_time must be Unix seconds"
    hashed = event["user"].get("hashed") if isinstance(event["user"], dict) else None
    if not isinstance(hashed, dict) or not all(
        isinstance(v, list) and all(isinstance(d, str) and _HEX64.fullmatch(d) for d in v)
        for v in hashed.values()
    ):
        return "user.hashed values must be lists of SHA-256 hex digests"
    value = event["custom"].get("value") if isinstance(event["custom"], dict) else None
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        return "custom.value must be a number"
    if event["consent"].get("decision") not in ("allow", "limited"):
        return "consent.decision must be allow or limited"
    return None


class FakeWebhook(BaseConversionFake):
    """The receiver; ``secrets`` are the HMAC keys it accepts (none: it refuses everything)."""

    platform = "webhook"
    token_keys = ("secret",)

    def __init__(self, *, secrets: Iterable[str] = (), clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock=clock)
        self.secrets = set(secrets)

    def routes(self) -> list[BaseRoute]:
        return [Route("/{path:path}", self._receive, methods=["POST"])]

    @classmethod
    def for_settings(cls, settings: Settings, *, mount: str | None = None) -> FakeWebhook:
        # a webhook's URL may go on below the mount (any path is received)
        mount = mount or "/sandbox/webhook"
        blocks = configured(settings, cls.platform, mount, *cls.token_keys, within=True)
        return cls(secrets={b["secret"] for b in blocks if b["secret"]})

    def state(self) -> dict[str, Any]:
        return {"events": len(self.events), "recent": self.events[-20:][::-1]}

    async def _receive(self, request: Request) -> Response:
        recorded, answer = await self.receive(request)
        if answer is not None:
            return answer
        timestamp = recorded.headers.get("x-relay-timestamp", "")
        signature = recorded.headers.get("x-relay-signature", "")
        now = self.clock()
        if not any(verify(s, timestamp, recorded.body, signature, now=now) for s in self.secrets):
            return JSONResponse({"error": "bad signature or stale timestamp"}, status_code=401)
        try:
            body = json.loads(recorded.body)
        except ValueError:
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        events = body.get("events") if isinstance(body, dict) else None
        if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS:
            return JSONResponse({"error": f"events must hold 1 to {MAX_EVENTS} events"}, status_code=400)
        for index, event in enumerate(events):
            problem = event_problem(event)
            if problem:
                return JSONResponse({"error": problem, "index": index}, status_code=422)
        self.events.extend(events)
        return JSONResponse({"received": len(events)})


__all__ = ["MAX_EVENTS", "FakeWebhook", "event_problem"]
