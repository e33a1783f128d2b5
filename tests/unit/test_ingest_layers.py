"""Ingest decides an event's identity once, in the pipeline; the layers point one way."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from relay.config import parse_settings
from relay.ingest.pipeline import Ingestor, RequestContext
from relay.metrics import Metrics
from relay.state import build_connectors

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def ingestor() -> Iterator[Ingestor]:
    settings = parse_settings(
        {
            "server": {"api_keys": ["k" * 20], "admin_token": "t" * 20},
            "consent": {"default": {"eu": "deny", "us": "allow", "other": "allow", "unknown": "allow"}},
            "connectors": {"meta": {"type": "meta", "pixel_id": "1234567890", "access_token": "token"}},
        }
    )
    yield Ingestor(settings, build_connectors(settings, httpx.AsyncClient()), Metrics())


def ctx(source: str = "collect", country: str | None = None, **cookies: str) -> RequestContext:
    return RequestContext(source=source, now=time.time(), ip="203.0.113.9", country=country, cookies=cookies)


def test_a_first_hit_gets_its_cookies_and_its_fbp_from_the_pipeline(ingestor: Ingestor) -> None:
    landing = "https://shop.example/?fbclid=AbC&twclid=tw1"
    raw = [{"event_name": "PageView", "event_source_url": landing}, {"event_name": "ViewContent"}, 5]
    batch = ingestor.prepare_batch(raw, ctx())
    assert [i for i, _ in batch.prepared] == [0, 1] and [r["index"] for r in batch.rejected] == [2]
    cookies = {c.name: c for c in batch.cookies}
    assert set(cookies) == {"_rl_id", "_fbp", "_fbc", "_twclid"}
    assert cookies["_rl_id"].httponly and not cookies["_fbp"].httponly
    # the _fbp the answer sets is already in every event that carries identity
    assert {p.event.ids["fbp"] for _, p in batch.prepared} == {cookies["_fbp"].value}
    assert batch.prepared[0][1].event.ids["fbc"] == cookies["_fbc"].value


def test_a_returning_visitor_keeps_the_cookies_it_has(ingestor: Ingestor) -> None:
    batch = ingestor.prepare_batch([{"event_name": "PageView"}], ctx(_rl_id="v1", _fbp="fb.1.1.2"))
    assert batch.cookies == []
    assert batch.prepared[0][1].event.ids["fbp"] == "fb.1.1.2"


def test_no_cookie_without_storage_consent_nor_for_server_events(ingestor: Ingestor) -> None:
    landing = {"event_name": "PageView", "event_source_url": "https://shop.example/?fbclid=AbC"}
    eu = ingestor.prepare_batch([landing], ctx(country="DE"))  # eu: deny by default, no signal
    assert len(eu.prepared) == 1 and eu.cookies == [] and eu.prepared[0][1].event.ids == {}
    server = ingestor.prepare_batch([{"event_name": "Purchase"}], ctx("events"))
    assert server.cookies == [] and "fbp" not in server.prepared[0][1].event.ids


def test_state_and_worker_parts_import_no_ingest_module() -> None:
    """``RelayState`` (what every command shares) and the delivery side never reach up into ingest."""
    code = (
        "import sys, relay.state, relay.delivery.worker, relay.http.ops; "
        "print(sorted(m for m in sys.modules if m.startswith('relay.ingest')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
