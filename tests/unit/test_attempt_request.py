"""The request recorded for an event's trace: masked like platform answers, tied to the request that
carried the event (also when a batch is bisected), nothing recorded outside a delivery."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from connectors.base import BaseConnector
from relay.delivery import requests as recorded
from relay.delivery.requests import describe, recording
from relay.exceptions import PayloadRejectedError
from relay.masking import mask_text
from relay.settings import ConnectorSettings
from relay.types import Delivered, OutboundEvent, Outcome
from tests.connectors.platform_kit import make_event

pytestmark = [pytest.mark.unit, pytest.mark.anyio]

TOKEN = "tok-9f8e7d6c5b4a3210"


def masked(method: str, url: str, **kwargs: Any) -> str:
    return mask_text(describe(method, url, kwargs), [TOKEN])


def test_tokens_in_urls_and_bodies_are_masked() -> None:
    text = masked("post", "https://graph.example/v1/events", params={"access_token": TOKEN}, json={"a": 1})
    assert text == 'POST https://graph.example/v1/events?access_token=***\n{"a":1}'
    form = masked(
        "POST", "https://oauth.example/token", data={"client_secret": "cs-1234567", "refresh": TOKEN}
    )
    assert "cs-1234567" not in form and TOKEN not in form and "client_secret=***" in form
    echoed = masked("POST", "https://x.example/c", content=json.dumps({"debug": f"token {TOKEN}"}).encode())
    assert TOKEN not in echoed and "***" in echoed


def test_lists_are_cut_between_items_and_large_plain_bodies_left_out() -> None:
    text = describe("POST", "https://p.example/e", {"json": {"data": [{"id": i} for i in range(500)]}})
    assert text.endswith('{"data":[{"id":0},"... 499 more"]}')
    big = describe("PUT", "https://p.example/upload", {"content": b"x" * 100_000})
    assert big == "PUT https://p.example/upload\n[a body of 100000 characters]"
    assert describe("GET", "https://p.example/ping", {}) == "GET https://p.example/ping"


class ListConnector(BaseConnector[ConnectorSettings]):
    """Posts ``{"items": [...]}`` with the token in the URL; the platform refuses a batch with a bad item."""

    platform_max_batch = 10

    def secrets(self) -> Sequence[str]:
        return [TOKEN]

    def build(self, event: OutboundEvent) -> dict[str, Any]:
        return {"id": event.event_id}

    async def send_payloads(self, payloads: Sequence[Any]) -> Sequence[Outcome]:
        response = await self.request("POST", f"http://p.example/e?token={TOKEN}", json={"items": payloads})
        if response.status_code == 400:
            raise PayloadRejectedError("bad item", status_code=400)
        return [Delivered(200, "ok") for _ in payloads]


def platform(request: httpx.Request) -> httpx.Response:
    items = json.loads(request.content)["items"]
    return httpx.Response(400 if any(i["id"] == "evt-2" for i in items) and len(items) > 1 else 200)


async def test_each_event_gets_the_request_that_decided_it() -> None:
    events = [make_event(i) for i in range(4)]
    async with httpx.AsyncClient(transport=httpx.MockTransport(platform)) as client:
        connector = ListConnector("list", ConnectorSettings(type="list", api_base="http://p.example"), client)
        with recording() as recorder:
            outcomes = await connector.deliver(events)
    assert all(isinstance(o, Delivered) for o in outcomes)
    assert len(recorder.sent) == 5  # 4 refused, 2 + 2, then 1 + 1 for the half with evt-2
    shown = {e.event_id: recorder.request_of(e) for e in events}
    assert all(text is not None and TOKEN not in text and "token=***" in text for text in shown.values())
    assert shown["evt-2"] == 'POST http://p.example/e?token=***\n{"items":[{"id":"evt-2"}]}'
    assert shown["evt-0"] == 'POST http://p.example/e?token=***\n{"items":[{"id":"evt-0"},"... 1 more"]}'
    # each event sees its own item of the batch, never another event's
    assert shown["evt-1"] == 'POST http://p.example/e?token=***\n{"items":[{"id":"evt-1"},"... 1 more"]}'
    assert shown["evt-3"] == 'POST http://p.example/e?token=***\n{"items":[{"id":"evt-3"}]}'


def test_the_batch_list_is_cut_to_the_picked_item_and_other_lists_to_their_first() -> None:
    body = {"data": [{"id": i, "tags": ["a", "b", "c"]} for i in range(3)], "pairs": [[1], [2], [3]]}
    text = describe("POST", "https://p.example/e", {"json": body}, 2, 3)
    assert text.endswith('{"data":[{"id":2,"tags":["a","b","c"]},"... 2 more"],"pairs":[[1],"... 2 more"]}')


async def test_nothing_is_recorded_outside_a_delivery() -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(platform)) as client:
        connector = ListConnector("list", ConnectorSettings(type="list", api_base="http://p.example"), client)
        await connector.deliver([make_event(0)])
        with recording() as recorder:
            pass
    assert recorder.sent == [] and recorded.mark() == 0


@pytest.mark.parametrize(
    "body, shown",
    [
        ({"n": 2**70, "city": "Zürich"}, '{"n":1180591620717411303424,"city":"Zürich"}'),
        ({1: "a", "b": None}, '{"1":"a","b":null}'),
        ({"at": 1.5, "ok": True}, '{"at":1.5,"ok":true}'),
    ],
)
def test_a_body_is_shown_as_compact_json_whatever_it_holds(body: dict[Any, Any], shown: str) -> None:
    # orjson first, the standard library for what it refuses (an integer beyond 64 bits): one text
    assert describe("POST", "https://x.example/c", {"json": body}) == f"POST https://x.example/c\n{shown}"
