"""Property: no client input makes the relay answer 5xx; the pixel always answers a GIF."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay.app import create_app
from relay.config import load_settings
from relay.testing import free_port
from tests.e2e.harness import API_KEY, write_config

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

KEYS = [
    "event_name",
    "event_id",
    "event_time",
    "action_source",
    "event_source_url",
    "referrer_url",
    "user",
    "custom",
    "consent",
    "opt_out",
    "events",
    "email",
    "phone",
    "tcf",
    "gpp",
    "gcm",
    "usp",
    "value",
    "x",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
consent_strings = st.sampled_from(
    ["CQuci4AQuci4AAfACBENCNFsAP_gAEPgAAYgLuQAYAAgu4AAAAA", "DBABMA~1YNN", "1YYN", "G100"]
)
events = st.fixed_dictionaries(
    {"event_name": st.text(max_size=20)},
    optional={
        "event_time": st.integers() | st.text(max_size=25) | st.floats(allow_nan=False),
        "user": st.dictionaries(
            st.sampled_from(
                [
                    "email",
                    "phone",
                    "first_name",
                    "date_of_birth",
                    "zip",
                    "country",
                    "state",
                    "gender",
                    "ip",
                    "fbp",
                ]
            ),
            json_values,
            max_size=5,
        ),
        "consent": st.dictionaries(
            st.sampled_from(["tcf", "gpp", "gpp_sid", "usp", "gcm", "gcs", "gpc"]),
            consent_strings | json_values,
            max_size=4,
        ),
        "custom": st.dictionaries(st.text(max_size=8), json_values, max_size=4),
        "event_source_url": st.text(max_size=60) | st.just("https://shop.example/?fbclid=abc&twclid=x"),
    },
)
bodies = (
    st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v).encode())
    | events.map(lambda v: json.dumps(v).encode())
    | st.lists(events, max_size=5).map(lambda v: json.dumps({"events": v}).encode())
)


@pytest.fixture(scope="module")
def relay_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    app = create_app(load_settings(write_config(tmp, port)), run_worker=False, announce=lambda _: None)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False)
    )
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "relay did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(
    body=bodies,
    media=st.sampled_from(["application/json", "text/plain", "text/plain;charset=UTF-8", "", "x/y"]),
)
def test_random_bodies_never_give_5xx(relay_url: str, client: httpx.Client, body: bytes, media: str) -> None:
    headers = {"content-type": media} if media else {}
    for path, extra in (
        ("/v1/collect", {"origin": "https://shop.example"}),
        ("/v1/events", {"authorization": f"Bearer {API_KEY}"}),
    ):
        response = client.post(relay_url + path, content=body, headers={**headers, **extra})
        assert response.status_code < 500, (path, response.text)
        if response.status_code >= 400:
            assert set(response.json()) >= {"error", "detail"}


@FUZZ
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "ev",
                "eid",
                "url",
                "ref",
                "value",
                "currency",
                "order_id",
                "ids",
                "xid",
                "tcf",
                "gpp",
                "gpp_sid",
                "usp",
                "gcs",
                "zz",
            ]
        ),
        st.text(max_size=40),
        max_size=8,
    )
)
def test_random_pixel_queries_always_get_a_gif(
    relay_url: str, client: httpx.Client, params: dict[str, Any]
) -> None:
    response = client.get(relay_url + "/p.gif", params=params)
    assert response.status_code == 200
    assert response.content.startswith(b"GIF89a")
