"""Shared pieces of the TikTok, Snap, Pinterest and Reddit connector tests: events and in-process fakes."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import httpx

from relay.normalize import hash_user
from relay.types import OutboundEvent

UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"
USER = {"email": "Jane.Doe@Example.com", "phone": "+1 (650) 555-1212", "first_name": "Jane", "country": "US"}


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def make_event(index: int = 0, **overrides: Any) -> OutboundEvent:
    fields: dict[str, Any] = {
        "delivery_id": index,
        "event_id": f"evt-{index}",
        "event_name": "Purchase",
        "event_time": int(time.time()) - 60,
        "event_source_url": "https://shop.example/checkout/done",
        "hashed": hash_user({**USER, "email": f"user{index}@example.com"}).hashed,
        "ip": "203.0.113.9",
        "user_agent": UA,
        "custom": {"value": 42.5, "currency": "eur", "order_id": f"order-{index}"},
        **overrides,
    }
    return OutboundEvent(**fields)


def asgi_client(app: Any) -> httpx.AsyncClient:
    """A client whose requests go to ``app`` in process, at ``http://fake``."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fake")
