"""Opt-in regions end to end (issue 12): with the README's "EU shop (strict)" policy, an EU visitor
whose signals grant nothing reaches no platform, whatever the connector type, through either endpoint."""

from __future__ import annotations

import importlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from relay.testing import free_port, serve
from tests.consent_encoders import consented_tc, gpp_string, usnat
from tests.e2e.harness import Relay, purchase, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
ROOT = Path(__file__).resolve().parents[2]
GCM_TYPES = ("ad_storage", "ad_user_data", "ad_personalization", "analytics_storage")
ALL_DENIED = dict.fromkeys(GCM_TYPES, "denied")
_USNAT = {
    "Version": 1,
    "SharingNotice": 1,
    "SaleOptOutNotice": 1,
    "SharingOptOutNotice": 1,
    "TargetedAdvertisingOptOutNotice": 1,
    "SensitiveDataProcessingOptOutNotice": 0,
    "SensitiveDataLimitUseNotice": 0,
    "SaleOptOut": 2,
    "SharingOptOut": 2,
    "TargetedAdvertisingOptOut": 2,
    "SensitiveDataProcessing": [0] * 12,
    "KnownChildSensitiveDataConsents": [0, 0],
    "PersonalDataConsents": 0,
    "MspaCoveredTransaction": 2,
    "MspaOptOutOptionMode": 0,
    "MspaServiceProviderMode": 0,
}
#: signals that are present but grant nothing: each must be a deny in the EU
GRANTS_NOTHING: dict[str, dict[str, Any]] = {
    "issue-gcm-denied": {"gdpr_applies": True, "gcm": ALL_DENIED},
    "usp": {"gdpr_applies": True, "usp": "1YNN"},
    "gpc": {"usp": "1YNN", "gpc": True},
    "gpp-usnat": {"gpp": gpp_string([(7, usnat(_USNAT))]), "gpp_sid": [7]},
    "gcs-storage-only": {
        "gdpr_applies": True,
        "gcm": {"ad_storage": "granted", "analytics_storage": "granted"},
    },
}


def eu_strict_example() -> dict[str, Any]:
    """The README's "EU shop (strict)" YAML block, parsed."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("Example policy for an **EU shop**")
    match = re.search(r"```yaml\n(.*?)```", readme[start:], re.S)
    assert match is not None, "the README lost its EU shop example"
    example: dict[str, Any] = yaml.safe_load(match.group(1))
    return example


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Distribution metadata for a third-party 'relay-webhook' package, as pip would install it."""
    dist = tmp_path / "site" / "relay_webhook-1.2.3.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: relay-webhook\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text(
        "[relay.connectors]\nwebhook = tests.plugin_webhook:WebhookConnector\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()


class Hook:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

    async def endpoint(self, request: Request) -> JSONResponse:
        self.received.extend(await request.json())
        return JSONResponse({"ok": True})


@pytest.fixture
async def strict_relay(installed_plugin: None, tmp_path: Path) -> AsyncIterator[tuple[Relay, Hook]]:
    example = eu_strict_example()
    hook = Hook()
    port = free_port()
    sandbox = f"http://127.0.0.1:{port}/sandbox"
    blocks = example["connectors"]
    async with serve(Starlette(routes=[Route("/hook", hook.endpoint, methods=["POST"])])) as hook_base:
        connectors = {
            "meta": {
                "type": "meta",
                "pixel_id": "1234567890",
                "access_token": "sandbox-meta-token",
                "api_base": f"{sandbox}/meta",
                "consent": blocks["meta"]["consent"],
            },
            "x": {
                "type": "x",
                "pixel_id": "o8z6j",
                "event_tags": {"Purchase": "o87ne"},
                "pixel_token": "sandbox-pixel",
                "api_base": f"{sandbox}/x",
                "consent": blocks["x"]["consent"],
            },
            # a third-party connector type with the most lenient policy the README shows
            "hook": {"type": "webhook", "api_base": hook_base, "consent": {"tcf_purposes": [1]}},
        }
        async with run_relay(
            tmp_path,
            port=port,
            server=example["server"],
            consent=example["consent"],
            connectors=connectors,
        ) as relay:
            yield relay, hook


async def send(relay: Relay, endpoint: str, event: dict[str, Any], country: str) -> None:
    headers = {"cf-ipcountry": country, "user-agent": "Mozilla/5.0 (opt-in test)"}
    if endpoint == "collect":
        response = await relay.client.post(
            f"{relay.base}/v1/collect", json=event, headers={"origin": "https://shop.example", **headers}
        )
    else:
        response = await relay.post_events(event, headers=headers)
    assert response.status_code == 202, response.text


async def settled(relay: Relay, event_id: str) -> dict[str, dict[str, Any]]:
    async def check() -> dict[str, dict[str, Any]] | None:
        found = {d["connector"]: d for d in await relay.deliveries(event_id=event_id)}
        done = len(found) == 3 and all(d["status"] not in ("pending", "in_flight") for d in found.values())
        return found if done else None

    result: dict[str, dict[str, Any]] = await relay.wait_for(check, what=f"{event_id} settled")
    return result


async def test_eu_visitor_granting_nothing_reaches_no_platform(strict_relay: tuple[Relay, Hook]) -> None:
    relay, hook = strict_relay
    ids = []
    for endpoint in ("collect", "events"):
        for name, consent in GRANTS_NOTHING.items():
            event_id = f"{endpoint}-{name}"
            ids.append(event_id)
            await send(relay, endpoint, purchase(event_id, consent=consent), country="DE")
    for event_id in ids:
        found = await settled(relay, event_id)
        for connector, delivery in found.items():
            assert delivery["status"] == "skipped", (event_id, connector, delivery)
            assert delivery["consent"]["decision"] == "deny", (event_id, connector, delivery)
            # either the missing grant in the opt-in region, or a refusal the connector's policy names
            reason = delivery["consent"]["reason"]
            assert "region eu default deny" in reason or "denied" in reason, (event_id, connector, reason)
        [trace] = (await relay.admin(f"events/{event_id}")).json()["events"]
        assert trace["consent"]["region"] == "eu"
    # the reported case names what was missing, for X as for the plugin
    found = await settled(relay, "collect-issue-gcm-denied")
    assert found["x"]["consent"]["reason"].startswith("no signal grants tcf purposes 1,3,4,7")
    assert found["hook"]["consent"]["reason"].startswith("no signal grants tcf purposes 1")
    assert "ad_storage denied" in found["meta"]["consent"]["reason"]
    assert relay.fake("meta").requests == [] and relay.fake("meta").events == []
    assert relay.fake("x").requests == [] and relay.fake("x").conversions == []
    assert hook.received == []


async def test_a_grant_or_an_opt_out_region_still_delivers(strict_relay: tuple[Relay, Hook]) -> None:
    # the control for the test above: the same relay delivers once a signal grants, and regions
    # whose default is allow keep honouring signals that grant nothing
    relay, hook = strict_relay
    baseline = {"ad_storage": "granted", "ad_user_data": "granted", "ad_personalization": "denied"}
    cases = {
        "eu-gcm-granted": ({"gdpr_applies": True, "gcm": baseline}, "FR"),
        "eu-tcf": ({"tcf": consented_tc(), "gdpr_applies": True}, "IT"),
        "us-usp": ({"usp": "1YNN"}, "US"),
        "other-gcm-denied": ({"gcm": ALL_DENIED}, "JP"),
    }
    for event_id, (consent, country) in cases.items():
        await send(relay, "events", purchase(event_id, consent=consent), country=country)
    statuses = {event_id: await settled(relay, event_id) for event_id in cases}
    assert {e: {c: d["status"] for c, d in found.items()} for e, found in statuses.items()} == {
        "eu-gcm-granted": {"meta": "delivered", "x": "delivered", "hook": "delivered"},
        "eu-tcf": {"meta": "delivered", "x": "delivered", "hook": "delivered"},
        "us-usp": {"meta": "delivered", "x": "delivered", "hook": "delivered"},
        # Meta lists ad_storage/ad_user_data: their denial is a refusal in every region
        "other-gcm-denied": {"meta": "skipped", "x": "delivered", "hook": "delivered"},
    }
    assert (
        statuses["eu-gcm-granted"]["x"]["consent"]["reason"] == "consent mode ad_storage,ad_user_data granted"
    )
    assert {e["event_id"] for e in relay.fake("meta").events} == {"eu-gcm-granted", "eu-tcf", "us-usp"}
    assert {h["event_id"] for h in hook.received} == set(cases)
