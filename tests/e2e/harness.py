"""A real relay (uvicorn on loopback, SQLite file, built-in sandbox) for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from starlette.applications import Starlette

from relay.app import create_app
from relay.config import load_settings
from relay.ingest.intake import Intake
from relay.state import RelayState
from relay.testing import free_port, serve

API_KEY = "test-api-key-0123456789"
ADMIN_TOKEN = "test-admin-token-0123456789"


def config_dict(port: int, db: Path, **overrides: Any) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}/sandbox"
    config: dict[str, Any] = {
        "server": {
            "host": "127.0.0.1",
            "port": port,
            "allowed_origins": [f"http://127.0.0.1:{port}", "https://shop.example"],
            "trusted_proxies": ["127.0.0.1/32"],
            "default_country": "US",
            "api_keys": [API_KEY],
            "admin_token": ADMIN_TOKEN,
        },
        "storage": {"url": f"sqlite:///{db}"},
        "delivery": {
            "max_attempts": 5,
            "backoff_base_seconds": 0.05,
            "backoff_max_seconds": 0.2,
            "lease_seconds": 1,
            "poll_interval_ms": 20,
            "request_timeout_seconds": 0.5,
        },
        "sandbox": True,
        "consent": {"default": {"eu": "deny", "us": "allow", "other": "allow", "unknown": "allow"}},
        "connectors": {
            "meta": {
                "type": "meta",
                "pixel_id": "1234567890",
                "access_token": "sandbox-meta-token",
                "api_base": f"{base}/meta",
                "consent": {"tcf_purposes": [1, 3, 4, 7], "us_opt_out": "ldu"},
            },
        },
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


@dataclass
class Relay:
    base: str
    app: Starlette
    config_path: Path
    client: httpx.AsyncClient

    @property
    def state(self) -> RelayState:
        relay: RelayState = self.app.state.relay
        return relay

    @property
    def intake(self) -> Intake:
        intake: Intake = self.app.state.intake
        return intake

    def fake(self, platform: str) -> Any:
        return self.app.state.sandbox[platform]

    async def post_events(self, body: Any, **kw: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {API_KEY}", **kw.pop("headers", {})}
        return await self.client.post(f"{self.base}/v1/events", json=body, headers=headers, **kw)

    async def admin(self, path: str, method: str = "GET", **kw: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        return await self.client.request(method, f"{self.base}/admin/api/{path}", headers=headers, **kw)

    async def deliveries(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.admin("deliveries", params={"limit": 1000, **params})
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def wait_for(self, check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")

    async def wait_status(
        self, event_id: str, connector: str, status: str, timeout: float = 10.0
    ) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            for d in await self.deliveries(event_id=event_id, connector=connector):
                if d["status"] == status:
                    return d
            return None

        found: dict[str, Any] = await self.wait_for(check, timeout, f"{event_id} {connector} {status}")
        return found


def write_config(tmp_path: Path, port: int, **overrides: Any) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "relay.yaml"
    path.write_text(yaml.safe_dump(config_dict(port, tmp_path / "relay.db", **overrides)))
    return path


@contextlib.asynccontextmanager
async def run_relay(
    tmp_path: Path, *, run_worker: bool = True, port: int | None = None, **overrides: Any
) -> AsyncIterator[Relay]:
    port = port or free_port()
    path = write_config(tmp_path, port, **overrides)
    app = create_app(load_settings(path), run_worker=run_worker, announce=lambda _: None)
    async with serve(app, port=port) as base, httpx.AsyncClient(timeout=10) as client:
        yield Relay(base, app, path, client)


def purchase(event_id: str, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_id": event_id,
        "event_source_url": "https://shop.example/checkout/done",
        "user": {
            "email": "Jane.Doe@Example.com",
            "phone": "+1 (650) 555-1212",
            "country": "US",
            "ip": "203.0.113.9",
            "user_agent": "Mozilla/5.0 (test)",
            "twclid": "23opevjt88psuo13lu8d020qkn",
        },
        "custom": {"value": 42.5, "currency": "EUR", "order_id": event_id},
    }
    event.update(extra)
    return event
