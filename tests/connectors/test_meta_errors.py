"""Graph API errors: classification by code/subcode, retries, pausing, and isolation of a bad event."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from connectors.meta.errors import classify, parse_graph_error
from relay.exceptions import (
    AuthRejectedError,
    PayloadRejectedError,
    RateLimitedError,
    UnavailableError,
)
from relay.sandbox.base import ScriptedResponse
from relay.sandbox.meta import FakeMeta
from relay.types import ConsentVerdict, Delivered, Failed, Retry
from tests.connectors.test_meta_capi import APP_SECRET, TOKEN, make_event, served

pytestmark = pytest.mark.connectors


def graph_error(code: int, subcode: int | None = None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"message": f"Error {code}", "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": {**error, "fbtrace_id": "AbC123", **extra}}


def response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    content = json.dumps(body).encode() if not isinstance(body, str) else body.encode()
    return httpx.Response(status, content=content, headers=headers or {})


def unmasked(text: str) -> str:
    return text


# -- classification of a single response


@pytest.mark.parametrize("code", [4, 17, 32, 341, 613, 80000, 80003, 80004, 80014])
def test_rate_limits_wait_long(code: int) -> None:
    error = classify(response(400, graph_error(code)), unmasked)
    assert isinstance(error, RateLimitedError)
    assert error.retry_after is not None and error.retry_after >= 300


def test_rate_limit_wait_from_business_use_case_header() -> None:
    usage = {"1234": [{"type": "ads_management", "call_count": 100, "estimated_time_to_regain_access": 30}]}
    headers = {"X-Business-Use-Case-Usage": json.dumps(usage)}
    error = classify(response(400, graph_error(80004), headers), unmasked)
    assert isinstance(error, RateLimitedError) and error.retry_after == 1800
    error = classify(response(429, graph_error(4), {"Retry-After": "900"}), unmasked)
    assert isinstance(error, RateLimitedError) and error.retry_after == 900


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, graph_error(1)),
        (400, graph_error(2)),
        (400, graph_error(100, is_transient=True)),
        (400, graph_error(2650)),
        (503, graph_error(100)),
        (502, "<html>Bad Gateway</html>"),
    ],
)
def test_transient_errors_are_retried(status: int, body: Any) -> None:
    assert isinstance(classify(response(status, body), unmasked), UnavailableError)


@pytest.mark.parametrize(
    ("code", "subcode"),
    [(190, 463), (190, None), (102, None), (10, None), (200, 1870034), (299, None), (368, None)],
)
def test_token_and_permission_errors_pause(code: int, subcode: int | None) -> None:
    error = classify(response(400, graph_error(code, subcode)), unmasked)
    assert isinstance(error, AuthRejectedError)
    assert f"code {code}" in error.message and "fbtrace_id AbC123" in error.message


@pytest.mark.parametrize(
    ("code", "subcode"), [(100, None), (100, 2804050), (100, 1713230), (105, None), (194, None)]
)
def test_payload_errors_are_permanent(code: int, subcode: int | None) -> None:
    assert isinstance(classify(response(400, graph_error(code, subcode)), unmasked), PayloadRejectedError)


def test_message_is_metas_with_user_message_and_secrets_masked() -> None:
    body = graph_error(
        100, 2804050, message=f"Invalid parameter for token {TOKEN}", error_user_msg="Too weak"
    )
    error = classify(response(400, body), lambda text: text.replace(TOKEN, "***"))
    assert (
        error.message
        == "Invalid parameter for token ***: Too weak (code 100, subcode 2804050, fbtrace_id AbC123)"
    )
    assert parse_graph_error(response(400, "not json")) is None


# -- the connector against the fake, over HTTP


@pytest.mark.anyio
async def test_invalid_token_raises_auth_rejected() -> None:
    fake = FakeMeta(access_token="the-right-token")
    async with served(fake) as (connector, _):
        with pytest.raises(AuthRejectedError) as caught:
            await connector.deliver([make_event(0), make_event(1)])
    assert "code 190" in caught.value.message and TOKEN not in caught.value.message
    assert fake.events == []


@pytest.mark.anyio
async def test_wrong_app_secret_pauses_instead_of_failing_events() -> None:
    fake = FakeMeta(access_token=TOKEN, app_secret=APP_SECRET)
    async with served(fake, app_secret="another-secret") as (connector, _):
        with pytest.raises(AuthRejectedError, match="appsecret_proof"):
            await connector.deliver([make_event()])
    assert len(fake.requests) == 1  # no bisection: no payload can fix it


@pytest.mark.anyio
@pytest.mark.parametrize("code", [4, 17, 613, 80004])
async def test_rate_limited_batch_is_retried_later(code: int) -> None:
    fake = FakeMeta(access_token=TOKEN)
    fake.script(ScriptedResponse(400, graph_error(code)))
    async with served(fake) as (connector, _):
        outcomes = await connector.deliver([make_event(i) for i in range(3)])
    assert all(isinstance(o, Retry) and o.retry_after is not None and o.retry_after >= 300 for o in outcomes)
    assert len(fake.requests) == 1 and fake.events == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, graph_error(1)),
        (400, graph_error(2)),
        (400, graph_error(1, is_transient=True)),
        (500, {"oops": 1}),
    ],
)
async def test_transient_batch_is_retried(status: int, body: Any) -> None:
    fake = FakeMeta(access_token=TOKEN)
    fake.script(ScriptedResponse(status, body))
    async with served(fake) as (connector, _):
        outcomes = await connector.deliver([make_event(0), make_event(1)])
    assert all(isinstance(o, Retry) and o.status_code == status for o in outcomes)


@pytest.mark.anyio
async def test_rate_limit_stops_the_remaining_chunks() -> None:
    fake = FakeMeta(access_token=TOKEN)
    fake.script(ScriptedResponse(400, graph_error(17)))
    async with served(fake, batch_size=2) as (connector, _):
        outcomes = await connector.deliver([make_event(i) for i in range(6)])
    assert len(fake.requests) == 1
    assert all(isinstance(o, Retry) and o.retry_after for o in outcomes)


@pytest.mark.anyio
async def test_timeout_is_retryable() -> None:
    fake = FakeMeta(access_token=TOKEN)
    fake.script(ScriptedResponse(200, {"events_received": 1}, delay=1.0))
    async with served(fake, timeout=0.2, real=True) as (connector, _):
        outcomes = await connector.deliver([make_event()])
    assert isinstance(outcomes[0], Retry) and "Timeout" in outcomes[0].message


@pytest.mark.anyio
async def test_bisection_isolates_exactly_the_bad_event() -> None:
    bad = ConsentVerdict("limited", "gpc", mode="ldu", ldu=(1, 5))  # a geography Meta refuses
    events = [make_event(i, consent=bad if i == 5 else ConsentVerdict("allow", "ok")) for i in range(8)]
    fake = FakeMeta(access_token=TOKEN)
    async with served(fake) as (connector, _):
        outcomes = await connector.deliver(events)
    assert [type(o) for o in outcomes] == [Delivered] * 5 + [Failed] + [Delivered] * 2
    failed = outcomes[5]
    assert isinstance(failed, Failed) and failed.status_code == 400
    assert failed.message.startswith("Invalid parameter: event 0: data_processing_options_state")
    assert "code 100" in failed.message
    assert sorted(e["event_id"] for e in fake.events) == sorted(f"evt-{i}" for i in range(8) if i != 5)
    assert len(fake.requests) <= 1 + 2 * 3  # one split per level down to the bad event


@pytest.mark.anyio
async def test_token_never_recorded() -> None:
    leak = f"Malformed access token {TOKEN}"
    fake = FakeMeta(access_token=TOKEN)
    fake.script(
        ScriptedResponse(400, graph_error(100, message=leak)),
        ScriptedResponse(400, graph_error(100, message=leak)),
        ScriptedResponse(400, graph_error(100, message=leak)),
        ScriptedResponse(500, f"upstream said {TOKEN}"),
        ScriptedResponse(400, graph_error(190, message=leak)),
    )
    async with served(fake) as (connector, _):
        outcomes = list(await connector.deliver([make_event(0), make_event(1)]))
        outcomes += await connector.deliver([make_event(2)])
        with pytest.raises(AuthRejectedError) as caught:
            await connector.deliver([make_event(3)])
    recorded = [*(o.message for o in outcomes if isinstance(o, Failed | Retry)), caught.value.message]
    assert len(recorded) == 4
    assert all(TOKEN not in text and "***" in text for text in recorded)
