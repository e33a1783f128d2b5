"""``relay reconcile`` end to end: Purchase events posted over HTTP to a real relay (uvicorn, SQLite
file, fake Meta), delivered (or not) by its worker, then an orders CSV reconciled against that outbox
by the real command line: exit codes, text and JSON reports, the stored run read back through the
admin API, and ``--send-missing`` sending only the orders whose consent allows."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from relay.cli import main
from relay.sandbox.base import ScriptedResponse
from tests.e2e.harness import Relay, purchase, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

HEADER = "order_id,time,value,currency,email,country,consent_usp,consent_tcf\n"
#: a US Privacy string without an opt-out: a consent basis under which Meta (us_opt_out: ldu) sends
NO_OPT_OUT = "1YNN"


@contextlib.asynccontextmanager
async def shop(tmp_path: Path) -> AsyncIterator[Relay]:
    """A relay that received: o-1 (delivered), o-2 from Germany (refused by consent), o-3 (42.5 EUR,
    the order says 50), o-4 twice under another id (matched by custom.order_id only), o-dead."""
    async with run_relay(tmp_path, server={"country_header": "CF-IPCountry"}) as relay:
        invalid = {"error": {"message": "Invalid parameter", "code": 100}}
        relay.fake("meta").script(ScriptedResponse(status=400, body=invalid))
        await send(relay, purchase("o-dead"))
        await relay.wait_status("o-dead", "meta", "dead")
        for event_id in ("o-1", "o-3"):
            await send(relay, purchase(event_id))
        await send(relay, purchase("o-2"), country="DE")
        for event_id in ("o-1", "o-3"):
            await relay.wait_status(event_id, "meta", "delivered")
        await relay.wait_status("o-2", "meta", "skipped")
        yield relay


async def send(relay: Relay, event: dict[str, Any], country: str = "US") -> None:
    response = await relay.post_events(event, headers={"cf-ipcountry": country})
    assert response.status_code == 202, response.text


def orders_csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


async def reconcile(relay: Relay, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    argv = ["reconcile", "--config", str(relay.config_path), *args]
    code = await anyio.to_thread.run_sync(main, argv)
    out, err = capsys.readouterr()
    return code, out, err


async def test_differences_are_reported_stored_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with shop(tmp_path) as relay:
        csv = orders_csv(
            tmp_path,
            [
                "o-1,1700000000,42.5,EUR,,,,",
                "o-2,1700000000,42.5,EUR,,,,",
                "o-3,1700000000,50,EUR,,,,",
                "o-dead,1700000000,42.5,EUR,,,,",
                "o-missing,1700000000,10,EUR,,,,",
                "o-1,1700000000,42.5,EUR,,,,",
                ",not-a-time,1,EUR,,,,",
            ],
        )
        code, out, err = await reconcile(
            relay, capsys, "--orders", str(csv), "--since", "0", "--format", "json"
        )
        assert code == 1, err
        assert "relay reconcile: read 6 orders (1 invalid rows" in err and "stored as run" in err
        report = json.loads(out)
        kinds = {(f["order_id"], f["kind"], f.get("connector")) for f in report["findings"]}
        assert ("o-missing", "not_tracked", None) in kinds
        assert ("o-1", "duplicate_order", None) in kinds
        assert ("o-3", "value_mismatch", None) in kinds
        assert ("o-2", "not_delivered_consent", "meta") in kinds
        assert ("o-dead", "dead", "meta") in kinds
        assert ("line 8", "invalid", None) in kinds
        s = report["summary"]
        assert (s["orders"], s["not_tracked"], s["duplicates"], s["value_mismatch"], s["invalid"]) == (
            6,
            1,
            1,
            1,
            1,
        )
        assert s["delivered"] == {"meta": 2} and s["not_delivered"] == {"meta": {"consent": 1, "dead": 1}}
        assert s["matched"] == 1  # o-2: tracked, refused by consent, not a difference
        assert "o-2" not in {
            f["order_id"] for f in report["findings"] if f["kind"] in ("not_tracked", "dead")
        }
        code, text, _ = await reconcile(relay, capsys, "--orders", str(csv), "--since", "0")
        assert code == 1
        assert "not tracked" in text and "not delivered to meta: consent 1, dead 1" in text
        assert "o-missing  not_tracked" in text.replace("     ", "  ") or "o-missing" in text
        assert text.rstrip().endswith("status: differences (exit 1)")
        stored = (await relay.admin("reconcile")).json()
        assert len(stored["runs"]) == 2 and stored["latest"]["status"] == "differences"
        assert {i["order_id"] for i in stored["latest"]["items"]} >= {"o-missing", "o-3", "o-dead", "o-2"}
        assert "jane" not in json.dumps(stored).lower()  # never a contact detail


async def test_everything_matched_exits_0_and_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with shop(tmp_path) as relay:
        csv = orders_csv(tmp_path, ["o-1,2023-11-14T22:13:20Z,42.5,EUR,,,,", "o-2,1700000000,42.50,eur,,,,"])
        code, out, err = await reconcile(relay, capsys, "--orders", str(csv), "--since", "0")
        assert code == 0, out + err
        assert "status: matched (exit 0)" in out
        code, _, err = await reconcile(relay, capsys, "--orders", str(tmp_path / "nope.csv"))
        assert code == 2 and "cannot read" in err
        bad = tmp_path / "bad.csv"
        bad.write_text("when,amount\n1,2\n")
        code, _, err = await reconcile(relay, capsys, "--orders", str(bad))
        assert code == 2 and "no order_id or time column" in err
        code, _, err = await reconcile(relay, capsys)  # no --orders and no reconcile: section
        assert code == 2 and "no orders to reconcile" in err
        code, _, err = await reconcile(relay, capsys, "--orders", str(csv), "--match", "custom.a b")
        assert code == 2 and "--match" in err
        assert (await relay.admin("reconcile")).json()["runs"][0]["status"] == "error"


async def test_match_by_a_custom_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with shop(tmp_path) as relay:
        for event_id in ("web-1", "web-2"):  # the same order tracked twice under different event ids
            await send(relay, purchase(event_id, custom={"value": 9.5, "currency": "EUR", "order_id": "A-7"}))
        csv = orders_csv(tmp_path, [f"A-7,{int(time.time())},9.5,EUR,,,,"])
        code, out, _ = await reconcile(
            relay,
            capsys,
            "--orders",
            str(csv),
            "--since",
            "0",
            "--match",
            "custom.order_id",
            "--format",
            "json",
        )
        assert code == 1
        findings = json.loads(out)["findings"]
        assert next(f["kind"] for f in findings if f["order_id"] == "A-7") == "duplicate_conversion"
        assert "web-1, web-2" in findings[0]["detail"]


async def test_send_missing_sends_only_orders_with_a_consent_basis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with shop(tmp_path) as relay:
        now = int(time.time())
        csv = orders_csv(
            tmp_path,
            [
                f"o-1,{now},42.5,EUR,,,,",
                f"o-new,{now},19.9,EUR,Buyer@Example.com,US,{NO_OPT_OUT},",
                f"o-nobasis,{now},5,EUR,x@example.com,US,,",
                f"o-eu,{now},5,EUR,y@example.com,DE,{NO_OPT_OUT},",
            ],
        )
        code, out, err = await reconcile(
            relay, capsys, "--orders", str(csv), "--send-missing", "--format", "json"
        )
        assert code == 1, err
        sent = json.loads(out)["send_missing"]
        assert sent["sent"] == ["o-new"]
        assert sent["no_consent_basis"] == ["o-nobasis"]
        assert sent["consent_refused"] == ["o-eu"]  # a US Privacy string is no basis in the EU
        delivered = await relay.wait_status("o-new", "meta", "delivered")
        assert delivered["event_name"] == "Purchase"
        body = b"".join(r.body for r in relay.fake("meta").requests).decode()
        assert "o-new" in body and "buyer@example.com" not in body.lower()  # hashed before it was stored
        # now tracked: the next run finds it, and sends nothing twice
        code, out, _ = await reconcile(
            relay, capsys, "--orders", str(csv), "--send-missing", "--format", "json"
        )
        data = json.loads(out)
        assert "o-new" not in {f["order_id"] for f in data["findings"] if f["kind"] == "not_tracked"}
        assert data["send_missing"]["sent"] == []
        assert len(await relay.deliveries(event_id="o-nobasis")) == 0


async def test_send_missing_by_a_custom_key_holds_back_orders_whose_browser_event_may_still_come(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Matched by custom.order_id, a browser Purchase has its own event_id: had the relay sent an order of a
    minute ago, its late browser event would be a second conversion. Orders younger than
    ``send_missing_after`` (1h) wait for a later run; older ones are sent."""
    async with shop(tmp_path) as relay:
        now = int(time.time())
        csv = orders_csv(
            tmp_path,
            [
                f"c-old,{now - 2 * 3600},19.9,EUR,old@example.com,US,{NO_OPT_OUT},",
                f"c-new,{now - 60},19.9,EUR,new@example.com,US,{NO_OPT_OUT},",
            ],
        )
        args = ("--orders", str(csv), "--match", "custom.order_id", "--send-missing", "--format", "json")
        code, out, err = await reconcile(relay, capsys, *args)
        assert code == 1, err
        sent = json.loads(out)["send_missing"]
        assert (sent["sent"], sent["too_recent"]) == (["c-old"], ["c-new"])
        await relay.wait_status("c-old", "meta", "delivered")
        assert await relay.deliveries(event_id="c-new") == []
        # its browser event arrives: matched, and nothing was sent for it by the relay
        await send(relay, purchase("web-77", custom={"value": 19.9, "currency": "EUR", "order_id": "c-new"}))
        code, out, _ = await reconcile(relay, capsys, *args)
        data = json.loads(out)
        assert "c-new" not in {f["order_id"] for f in data["findings"] if f["kind"] == "not_tracked"}
        assert data["send_missing"]["sent"] == [] and data["send_missing"]["too_recent"] == []
        text = await reconcile(relay, capsys, *args[:-2])
        assert "too recent, sent by a later run 0" in text[1]


async def test_the_scheduled_job_runs_and_stores_its_runs(tmp_path: Path) -> None:
    now = int(time.time())
    csv = orders_csv(tmp_path, [f"s-1,{now},42.5,EUR,,,,", f"s-2,{now},1,EUR,a@example.com,US,{NO_OPT_OUT},"])
    config = {"source": {"type": "csv", "path": str(csv)}, "schedule": "1s", "send_missing": True}
    async with run_relay(tmp_path / "relay", reconcile=config) as relay:
        await send(relay, purchase("s-1"))

        async def scheduled() -> Any:
            body = (await relay.admin("reconcile")).json()
            return body if any(r["trigger"] == "schedule" for r in body["runs"]) else None

        body = await relay.wait_for(scheduled, what="a scheduled run")
        assert body["configured"] is True and body["schedule"] == "1s"
        # the never-tracked order with a consent basis was sent by the job, then delivered
        await relay.wait_status("s-2", "meta", "delivered")
        latest = body["latest"]
        assert latest["trigger"] == "schedule" and latest["summary"]["orders"] == 2
