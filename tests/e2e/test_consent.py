"""Consent end to end: decisions per connector, what reaches each platform, reasons and metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.consent_encoders import consented_tc
from tests.e2e.harness import run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
ALL_PURPOSES = consented_tc(range(1, 12))
NO_PURPOSE_4 = consented_tc([1, 2, 3, 5, 6, 7, 8, 9, 10, 11])
UA = "Mozilla/5.0 (consent test)"


def overrides(port_placeholder: str = "") -> dict[str, Any]:
    return {
        "server": {"country_header": "CF-IPCountry", "region_header": "CF-Region-Code"},
        "consent": {"default": {"eu": "deny", "us": "allow", "other": "allow", "unknown": "deny"}},
    }


def connectors(base: str) -> dict[str, Any]:
    return {
        "meta": {
            "type": "meta",
            "pixel_id": "1234567890",
            "access_token": "sandbox-meta-token",
            "api_base": f"{base}/sandbox/meta",
            "consent": {
                "tcf_purposes": [1, 3, 4, 7],
                "gcm": ["ad_storage", "ad_user_data"],
                "us_opt_out": "ldu",
            },
        },
        "x": {
            "type": "x",
            "pixel_id": "o8z6j",
            "event_tags": {"Purchase": "o87ne"},
            "pixel_token": "sandbox-pixel",
            "api_base": f"{base}/sandbox/x",
            "consent": {"tcf_purposes": [1, 3, 4, 7], "us_opt_out": "drop"},
        },
        "meta_strict": {
            "type": "meta",
            "pixel_id": "999",
            "access_token": "sandbox-meta-token",
            "api_base": f"{base}/sandbox/meta",
            "consent": {"tcf_purposes": [1], "us_opt_out": "strip"},
        },
    }


def purchase(event_id: str, consent: dict[str, Any] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_id": event_id,
        "event_source_url": "https://shop.example/done?twclid=23opevjt88psuo13lu8d020qkn",
        "user": {"email": "jane@example.com", "phone": "+1 650 555 1212"},
        "custom": {"value": 10, "currency": "USD"},
    }
    if consent is not None:
        event["consent"] = consent
    return event


async def send(relay: Any, event: dict[str, Any], **headers: str) -> Any:
    response = await relay.client.post(
        f"{relay.base}/v1/collect",
        json=event,
        headers={"origin": "https://shop.example", "user-agent": UA, **headers},
    )
    assert response.status_code == 202, response.text
    return response


async def by_connector(relay: Any, event_id: str) -> dict[str, dict[str, Any]]:
    return {d["connector"]: d for d in await relay.deliveries(event_id=event_id)}


async def settle(relay: Any, event_id: str) -> dict[str, dict[str, Any]]:
    async def done() -> dict[str, dict[str, Any]] | None:
        found = await by_connector(relay, event_id)
        return (
            found
            if found and all(d["status"] not in ("pending", "in_flight") for d in found.values())
            else None
        )

    settled: dict[str, dict[str, Any]] = await relay.wait_for(done, what=f"{event_id} settled")
    return settled


@pytest.fixture
async def relay(tmp_path: Path) -> Any:
    from relay.testing import free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with run_relay(tmp_path, port=port, connectors=connectors(base), **overrides()) as running:
        yield running


async def test_eu_visitor_with_full_consent_reaches_every_platform(relay: Any) -> None:
    response = await send(
        relay, purchase("eu-ok", {"tcf": ALL_PURPOSES, "gdpr_applies": True}), **{"cf-ipcountry": "FR"}
    )
    assert {c.split("=")[0] for c in response.headers.get_list("set-cookie")} >= {"_rl_id", "_fbp", "_twclid"}
    found = await settle(relay, "eu-ok")
    assert {name: d["status"] for name, d in found.items()} == {
        "meta": "delivered",
        "x": "delivered",
        "meta_strict": "delivered",
    }
    sent = [e for e in relay.fake("meta").events if e["event_id"] == "eu-ok"]
    assert len(sent) == 2 and all(e["data_processing_options"] == [] for e in sent)
    [conversion] = relay.fake("x").conversions
    assert conversion["conversion_id"] == "eu-ok"


async def test_missing_purpose_skips_and_sends_nothing(relay: Any) -> None:
    response = await send(relay, purchase("eu-no4", {"tcf": NO_PURPOSE_4}), **{"cf-ipcountry": "DE"})
    assert response.headers.get_list("set-cookie")  # purpose 1 is consented: storage is allowed
    found = await settle(relay, "eu-no4")
    assert found["meta"]["status"] == "skipped" and found["x"]["status"] == "skipped"
    assert found["meta"]["consent"] == {
        "decision": "deny",
        "reason": "tcf purpose 4 not consented",
        "mode": None,
    }
    assert found["meta_strict"]["status"] == "delivered"  # needs purpose 1 only
    assert all(e["event_id"] != "eu-no4" or e.get("pixel_id") == "999" for e in relay.fake("meta").events)
    assert relay.fake("x").conversions == []


async def test_no_signal_in_the_eu_denies_everything_and_sets_no_cookie(relay: Any) -> None:
    response = await send(relay, purchase("eu-none"), **{"cf-ipcountry": "IT"})
    assert response.headers.get_list("set-cookie") == []
    found = await settle(relay, "eu-none")
    assert {d["consent"]["decision"] for d in found.values()} == {"deny"}
    assert "region eu" in found["meta"]["consent"]["reason"]
    [trace] = (await relay.admin("events/eu-none")).json()["events"]
    assert trace["identifiers"] == [] and trace["consent"]["region"] == "eu"


async def test_gpc_in_california_gives_meta_ldu_and_drops_x(relay: Any) -> None:
    await send(relay, purchase("ca-gpc"), **{"cf-ipcountry": "US", "cf-region-code": "CA", "sec-gpc": "1"})
    found = await settle(relay, "ca-gpc")
    assert found["meta"]["status"] == "delivered" and found["meta"]["consent"]["mode"] == "ldu"
    assert found["x"]["status"] == "skipped" and found["x"]["consent"]["decision"] == "deny"
    assert "gpc" in found["x"]["consent"]["reason"]
    [ldu] = [
        e for e in relay.fake("meta").events if e["event_id"] == "ca-gpc" and e["pixel_id"] == "1234567890"
    ]
    assert ldu["data_processing_options"] == ["LDU"]
    assert (ldu["data_processing_options_country"], ldu["data_processing_options_state"]) == (1, 1000)
    # strip: sent, but without contact details
    [stripped] = [
        e for e in relay.fake("meta").events if e["event_id"] == "ca-gpc" and e["pixel_id"] == "999"
    ]
    assert "em" not in stripped["user_data"] and "ph" not in stripped["user_data"]
    assert stripped["user_data"]["client_user_agent"] == UA
    assert relay.fake("x").conversions == []


async def test_us_privacy_opt_out_elsewhere_in_the_us_lets_meta_geolocate(relay: Any) -> None:
    await send(relay, purchase("tx-usp", {"usp": "1YYN"}), **{"cf-ipcountry": "US", "cf-region-code": "TX"})
    found = await settle(relay, "tx-usp")
    [ldu] = [
        e for e in relay.fake("meta").events if e["event_id"] == "tx-usp" and e["pixel_id"] == "1234567890"
    ]
    assert ldu["data_processing_options"] == ["LDU"]
    assert (ldu["data_processing_options_country"], ldu["data_processing_options_state"]) == (0, 0)
    assert found["x"]["status"] == "skipped"


async def test_consent_mode_denial_and_the_metrics(relay: Any) -> None:
    consent = {"gcm": {"ad_storage": "granted", "ad_user_data": "denied"}}
    await send(relay, purchase("us-gcm", consent), **{"cf-ipcountry": "US"})
    found = await settle(relay, "us-gcm")
    assert found["meta"]["status"] == "skipped" and "ad_user_data" in found["meta"]["consent"]["reason"]
    assert found["x"]["status"] == "delivered"  # X requires no consent-mode flag
    metrics = (await relay.client.get(f"{relay.base}/metrics")).text
    assert 'relay_consent_decisions_total{connector="meta",decision="deny"} 1.0' in metrics
    assert 'relay_consent_decisions_total{connector="x",decision="allow"} 1.0' in metrics
    stats = (await relay.admin("stats")).json()
    assert stats["consent"]["meta"] == {"deny": 1}
    [trace] = (await relay.admin("events/us-gcm")).json()["events"]
    assert trace["consent"]["region"] == "us"
    assert "ad_user_data" in str(trace["consent"])
