"""The hashing vectors end to end: raw values posted over HTTP arrive at the fake platforms hashed exactly
as the platforms document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from relay.testing import free_port
from tests.e2e.harness import run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
USER_KEY = {
    "em": "email",
    "ph": "phone",
    "fn": "first_name",
    "ln": "last_name",
    "db": "date_of_birth",
    "country": "country",
    "ge": "gender",
    "ct": "city",
    "st": "state",
    "zp": "zip",
}


def event(event_id: str, user: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_id": event_id,
        "event_source_url": "https://shop.example/done",
        "user": {**user, "ip": "203.0.113.9", "user_agent": "Mozilla/5.0 (vectors)"},
    }


async def test_meta_docs_vectors_arrive_hashed_at_meta(tmp_path: Path, vectors_dir: Path) -> None:
    vectors = json.loads((vectors_dir / "meta_docs_examples.json").read_text())
    events = [event(f"v{i}", {USER_KEY[v["field"]]: v["input"]}) for i, v in enumerate(vectors)]
    async with run_relay(tmp_path, server={"default_country": None}) as relay:
        response = await relay.post_events({"events": events})
        assert response.json() == {"accepted": len(events), "rejected": []}
        meta = relay.fake("meta")
        await relay.wait_for(lambda: len(meta.events) == len(events), what="every vector delivered")
        sent = {e["event_id"]: e["user_data"] for e in meta.events}
    for i, v in enumerate(vectors):
        assert sent[f"v{i}"][v["field"]] == [v["expected_sha256"]], (v["field"], v["input"])


async def test_x_vectors_arrive_hashed_at_x(tmp_path: Path, vectors_dir: Path) -> None:
    vectors = json.loads((vectors_dir / "x_hashing_vectors.json").read_text())["vectors"]
    capi = [v for v in vectors if v["platform"] == "x_capi"]
    key = {"hashed_email": "email", "hashed_phone_number": "phone"}
    port = free_port()
    x = {
        "type": "x",
        "pixel_id": "o8z6j",
        "event_tags": {"Purchase": "o87ne"},
        "pixel_token": "sandbox-pixel",
        "api_base": f"http://127.0.0.1:{port}/sandbox/x",
        "consent": {"tcf_purposes": [1]},
    }
    events = [event(f"x{i}", {key[v["field"]]: v["normalized_input"]}) for i, v in enumerate(capi)]
    async with run_relay(tmp_path, port=port, connectors={"x": x}) as relay:
        await relay.post_events({"events": events})
        fake = relay.fake("x")
        await relay.wait_for(lambda: len(fake.conversions) == len(events), what="every vector delivered")
        sent = {c["conversion_id"]: c["identifiers"] for c in fake.conversions}
    for i, v in enumerate(capi):
        assert {v["field"]: v["sha256"]} in sent[f"x{i}"], (v["field"], v["normalized_input"])
