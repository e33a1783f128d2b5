"""The sandbox as a newcomer sees it (issue 15): an index page, readable ``/_state`` pages for a browser
(JSON for everyone else), and the shop panel's status answer telling delivered, skipped and refused
events apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay.testing import free_port
from tests.e2e.harness import config_dict, purchase, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
HTML = {"accept": "text/html,application/xhtml+xml"}
META = {"consent": {"tcf_purposes": [1], "gcm": ["ad_user_data"], "us_opt_out": "ldu"}}


async def test_index_and_readable_state_pages(tmp_path: Path) -> None:
    async with run_relay(tmp_path) as relay:
        index = await relay.client.get(f"{relay.base}/sandbox/", headers=HTML)
        assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
        for name in relay.app.state.sandbox:
            assert f'href="/sandbox/{name}/_state"' in index.text
        assert 'href="/sandbox/shop/"' in index.text
        assert (await relay.client.get(f"{relay.base}/sandbox")).status_code == 200

        assert (await relay.post_events(purchase("page-1"))).status_code == 202
        await relay.wait_status("page-1", "meta", "delivered")
        relay.fake("meta").audiences["23842000000000001"] = {(("EMAIL", "ab" * 32),), (("PHONE", "cd" * 32),)}

        page = await relay.client.get(f"{relay.base}/sandbox/meta/_state", headers=HTML)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        text = page.text
        assert "Fake meta: what it received" in text and "<table>" in text
        assert "page-1" in text and "Purchase" in text  # the event received
        assert "23842000000000001" in text and "ab" * 32 in text and "cd" * 32 in text  # its members
        # a value from a platform request is escaped, never markup
        assert "<script" not in text.split("</style>", 1)[1]

        # every other client keeps the JSON the tests and scripts read
        data = (await relay.client.get(f"{relay.base}/sandbox/meta/_state")).json()
        assert data["events"] >= 1 and data["audiences"] == {"23842000000000001": 2}
        assert {"EMAIL": "ab" * 32} in data["members"]["23842000000000001"]
        forced = await relay.client.get(f"{relay.base}/sandbox/meta/_state?format=json", headers=HTML)
        assert forced.headers["content-type"].startswith("application/json")
        # other routes of a fake are untouched by the HTML wrapper
        assert (await relay.client.get(f"{relay.base}/sandbox/meta/nope", headers=HTML)).status_code == 404


async def test_shop_status_tells_delivered_skipped_and_refused_apart(tmp_path: Path) -> None:
    port = free_port()
    meta = {**config_dict(port, tmp_path / "x.db")["connectors"]["meta"], **META}
    origins = {"allowed_origins": ["https://shop.example"]}
    async with run_relay(tmp_path, port=port, server=origins, connectors={"meta": meta}) as relay:
        connectors = dict(relay.state.settings.connectors)
        assert set(connectors) == {"meta"}
        await relay.post_events(purchase("ok-1"))
        denied = purchase("skip-1", consent={"gcm": {"ad_user_data": "denied"}})
        await relay.post_events(denied)
        await relay.wait_status("ok-1", "meta", "delivered")
        url = f"{relay.base}/sandbox/shop/api/status"
        answer = (await relay.client.get(url, params={"ids": "ok-1,skip-1,never-1"})).json()
        events = answer["events"]
        assert events["ok-1"]["stored"] is True
        assert [(d["connector"], d["status"]) for d in events["ok-1"]["deliveries"]] == [
            ("meta", "delivered")
        ]
        [skipped] = events["skip-1"]["deliveries"]
        assert skipped["status"] == "skipped" and "ad_user_data" in skipped["reason"]
        assert events["never-1"] == {"stored": False, "deliveries": []}
        # the page's origin is not allowed here: the panel can say why its events were refused
        assert answer["origin"] == relay.base and answer["origin_allowed"] is False
        script = (await relay.client.get(f"{relay.base}/sandbox/shop/static/shop.js")).text
        assert "origin_not_allowed" in script and "'refused'" in script and "'skipped'" in script
        css = (await relay.client.get(f"{relay.base}/sandbox/shop/static/shop.css")).text
        assert "li.refused" in css and "li.skipped" in css


async def test_shop_status_allows_the_shops_own_origin(tmp_path: Path) -> None:
    async with run_relay(tmp_path) as relay:
        answer = (await relay.client.get(f"{relay.base}/sandbox/shop/api/status?ids=")).json()
        assert answer == {"origin": relay.base, "origin_allowed": True, "events": {}}
