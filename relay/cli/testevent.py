"""``relay send-test-event``: one realistic event through one connector, request and response shown
with secrets masked."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from connectors.base import SecretHolder
from relay.exceptions import ConfigError, DeliveryError, RetryableDeliveryError
from relay.masking import mask_field, mask_text, mask_url
from relay.normalize import hash_user
from relay.settings import Settings
from relay.state import build_connectors, make_client
from relay.types import Delivered, Failed, OutboundEvent, Outcome, Retry, Skipped

#: request headers that carry credentials: never printed
SECRET_HEADERS = ("authorization", "x-pixel-token", "access-token", "developer-token")

SAMPLE_USER = {
    "email": "jane.doe@example.com",
    "phone": "+1 650 555 1212",
    "first_name": "Jane",
    "last_name": "Doe",
    "city": "Menlo Park",
    "state": "CA",
    "zip": "94025",
    "country": "US",
    "external_id": "test-customer-1",
}


def sample_event(event_name: str, now: float) -> OutboundEvent:
    """A realistic web event with the identifiers a platform may use; no ``fbc``: Meta's docs say never to
    make one up when there was no click (the other platforms' click ids are needed for them to take it)."""
    return OutboundEvent(
        delivery_id=0,
        event_id=f"test-{uuid.uuid4()}",
        event_name=event_name,
        event_time=int(now),
        action_source="website",
        event_source_url="https://shop.example/checkout/done",
        referrer_url="https://shop.example/cart",
        hashed=hash_user(SAMPLE_USER).hashed,
        ids={
            "fbp": f"fb.1.{int(now * 1000)}.1116446470",
            "twclid": "23opevjt88psuo13lu8d020qkn",
            "li_fat_id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            "gclid": "Cj0KCQjw-relay-test-gclid",
        },
        ip="203.0.113.9",
        user_agent="Mozilla/5.0 (X11; Linux x86_64) conversion-relay test event",
        custom={
            "value": 42.5,
            "currency": "EUR",
            "order_id": "test-order-1",
            "contents": [{"id": "sku-1", "quantity": 2, "price": 21.25, "name": "Mug"}],
        },
        received_at=now,
    )


async def send_test_event(settings: Settings, name: str, event_name: str, say: Callable[[str], None]) -> int:
    if name not in settings.connectors:
        raise ConfigError(f"no connector named {name!r}", key="connectors")
    exchanges: list[dict[str, Any]] = []

    async def on_request(request: httpx.Request) -> None:
        exchanges.append({"request": request})

    async def on_response(response: httpx.Response) -> None:
        await response.aread()
        exchanges[-1]["response"] = response

    client = make_client(settings)
    client.event_hooks = {"request": [on_request], "response": [on_response]}
    connector = build_connectors(
        settings.model_copy(update={"connectors": {name: settings.connectors[name]}}), client
    )[name]
    secrets: list[str] = list(connector.secrets()) if isinstance(connector, SecretHolder) else []
    block = settings.connectors[name]
    if block.type == "meta" and not getattr(block, "test_event_code", None):
        say(
            f"note: connectors.{name} has no test_event_code: Meta counts this {event_name} like a real one "
            "(set test_event_code to see it in Events Manager's Test Events instead)"
        )
    try:
        outcomes = await connector.deliver([sample_event(event_name, time.time())])
        outcome: Outcome | DeliveryError = outcomes[0]
    except DeliveryError as exc:
        outcome = exc
    finally:
        await client.aclose()
    for exchange in exchanges:
        _show(exchange, secrets, say)
    if not exchanges:
        say("(no request was sent)")
    say(f"outcome: {mask_text(describe_outcome(outcome), secrets)}")
    return 0 if isinstance(outcome, Delivered) else 1


def describe_outcome(outcome: Outcome | DeliveryError) -> str:
    """One readable line: what happened and why (the platform's answer is shown above it, once)."""
    code = None if isinstance(outcome, Skipped) else outcome.status_code
    http = f" (HTTP {code})" if code else ""
    if isinstance(outcome, Delivered):
        return f"Delivered{http}: the platform accepted the event"
    if isinstance(outcome, Skipped):
        return f"Skipped: {outcome.reason}"
    if isinstance(outcome, Retry):
        later = f", retry after {outcome.retry_after:g}s" if outcome.retry_after else ""
        return f"Not delivered, would be retried{http}{later}: {outcome.message}"
    if isinstance(outcome, Failed):
        return f"Refused by the platform{http}, not retried: {outcome.message}"
    kind = "would be retried" if isinstance(outcome, RetryableDeliveryError) else "not retried"
    return f"Failed, {kind}{http}: {outcome}"


def _show(exchange: dict[str, Any], secrets: list[str], say: Callable[[str], None]) -> None:
    request: httpx.Request = exchange["request"]
    say(f"> {request.method} {mask_text(mask_url(str(request.url)), secrets)}")
    for key, value in request.headers.items():
        shown = "***" if key.lower() in SECRET_HEADERS else mask_field(key, value, secrets)
        say(f"> {key}: {shown}")
    say(mask_text(_pretty(request.content), secrets))
    response: httpx.Response | None = exchange.get("response")
    if response is not None:
        say(f"< {response.status_code} {response.reason_phrase}")
        say(mask_text(_pretty(response.content), secrets))


def _pretty(body: bytes) -> str:
    try:
        return json.dumps(json.loads(body), indent=2)
    except ValueError:
        return body.decode("utf-8", "replace")
