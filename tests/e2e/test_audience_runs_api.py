"""``GET /admin/api/audiences/{name}/runs``, the runs in ``GET /admin/api/audiences`` and ``relay audiences
status`` on a real relay (uvicorn, SQLite file, fake Meta): members pushed over HTTP, synced, the history
read back page by page."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from relay.audiences import SyncEnv, SyncOptions, sync_audience
from relay.audiences.overview import RUN_COLUMNS
from relay.cli import main
from relay.sandbox.base import ScriptedResponse
from tests.e2e.harness import API_KEY, Relay, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

AUDIENCES = {
    "pushed": {
        "source": {"type": "api"},
        "schedule": "manual",
        "destinations": {"meta": {"audience_id": "77"}},
    }
}
FAST = SyncOptions(attempts=1)


async def push(relay: Relay, body: dict[str, Any]) -> None:
    url = f"{relay.base}/v1/audiences/pushed/members"
    response = await relay.client.post(url, json=body, headers={"authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 202, response.text


async def three_runs(relay: Relay) -> None:
    """Add 3; then remove 1; then a failed run (Meta down) that leaves 2 members unsent."""
    env = SyncEnv.from_relay(relay.state)
    await push(relay, {"add": [{"email": f"p{i}@example.com"} for i in range(3)]})
    assert (await sync_audience(env, "pushed", FAST)).status == "ok"
    await push(relay, {"remove": [{"email": "p0@example.com"}]})
    assert (await sync_audience(env, "pushed", FAST)).status == "ok"
    await push(relay, {"add": [{"email": "p7@example.com"}, {"phone": "+1 650 555 0107"}]})
    relay.fake("meta").script(ScriptedResponse(status=500, body={"error": {"message": "down", "code": 2}}))
    assert (await sync_audience(env, "pushed", FAST)).status == "failed"


async def test_runs_newest_first_in_pages(tmp_path: Path) -> None:
    async with run_relay(tmp_path, run_worker=False, audiences=AUDIENCES) as relay:
        empty = await relay.admin("audiences/pushed/runs")
        assert empty.status_code == 200 and empty.json() == {
            "audience": "pushed",
            "items": [],
            "next_before": None,
        }
        await three_runs(relay)
        response = await relay.admin("audiences/pushed/runs")
        assert (
            response.status_code == 200
            and "example.com" not in response.text
            and "650 555" not in response.text
            and "6505550107" not in response.text
        )
        failed, removed, added = response.json()["items"]
        assert (added["added"], added["removed"], added["members"], added["status"]) == (3, 0, 3, "ok")
        assert (removed["added"], removed["removed"], removed["members"]) == (0, 1, 2)
        assert (failed["status"], failed["failed"], failed["members"], failed["trigger"]) == (
            "failed",
            2,
            4,
            "api",
        )
        assert failed["destinations"]["meta"]["size"] == 2 and failed["connectors"] == ["meta"]
        assert (
            "meta:" in failed["error"] and failed["finished_at"] >= failed["started_at"] > added["started_at"]
        )

        first = (await relay.admin("audiences/pushed/runs", params={"limit": "2"})).json()
        assert [r["id"] for r in first["items"]] == [failed["id"], removed["id"]]
        assert first["next_before"] == removed["id"]
        rest = (await relay.admin("audiences/pushed/runs", params={"before": first["next_before"]})).json()
        assert [r["id"] for r in rest["items"]] == [added["id"]] and rest["next_before"] is None

        (item,) = (await relay.admin("audiences")).json()["items"]
        assert [r["id"] for r in item["runs"]] == [failed["id"], removed["id"], added["id"]]
        assert item["members"] == 4 and item["destinations"][0]["size"] == 2


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"before": "abc"}, "before must be a run id"),
        ({"before": "0"}, "before must be a run id"),
        ({"before": "99999999999999999999"}, "before must be a run id"),
        ({"limit": "ten"}, "limit must be a whole number"),
        ({"limit": "1e3"}, "limit must be a whole number"),
    ],
)
async def test_bad_cursors_are_refused_clearly(tmp_path: Path, params: dict[str, str], detail: str) -> None:
    async with run_relay(tmp_path, run_worker=False, audiences=AUDIENCES) as relay:
        response = await relay.admin("audiences/pushed/runs", params=params)
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"
        assert detail in response.json()["detail"]


async def test_unknown_audience_and_missing_token(tmp_path: Path) -> None:
    async with run_relay(tmp_path, run_worker=False, audiences=AUDIENCES) as relay:
        missing = await relay.admin("audiences/nope/runs")
        assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
        assert "nope" in missing.json()["detail"]
        anonymous = await relay.client.get(f"{relay.base}/admin/api/audiences/pushed/runs")
        assert (anonymous.status_code, anonymous.json()["error"]) == (401, "unauthorized")
        clamped = await relay.admin("audiences/pushed/runs", params={"limit": "100000"})
        assert clamped.status_code == 200


async def test_cli_status_lists_the_last_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with run_relay(tmp_path, run_worker=False, audiences=AUDIENCES) as relay:
        config = str(relay.config_path)
        assert await asyncio.to_thread(main, ["audiences", "status", "--config", config]) == 0
        assert "no runs recorded yet" in capsys.readouterr().out
        await three_runs(relay)
        code = await asyncio.to_thread(
            main, ["audiences", "status", "pushed", "--runs", "2", "--config", config]
        )
        out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("pushed: failed · api source · schedule manual · last run 20")
    assert lines[1] == "  size: 4 in the source at the last run; acknowledged: meta 2"
    assert re.split(r"\s{2,}", lines[2].strip()) == list(RUN_COLUMNS)
    newest, error, older = lines[3:6]
    assert re.split(r"\s{2,}", newest.strip())[1:] == ["api", "failed", "0", "0", "2", "4"]
    assert error.startswith("    meta: ") and "down" in error
    assert re.split(r"\s{2,}", older.strip())[1:] == ["api", "ok", "0", "1", "0", "2"]
    assert len(lines) == 6 and "example.com" not in out  # --runs 2: the first run is left out
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", re.split(r"\s{2,}", newest.strip())[0])


async def test_cli_status_refuses_an_unknown_audience(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with run_relay(tmp_path, run_worker=False, audiences=AUDIENCES) as relay:
        config = str(relay.config_path)
        code = await asyncio.to_thread(main, ["audiences", "status", "nope", "--config", config])
        assert code == 2 and "no audience named 'nope'" in capsys.readouterr().err
        with pytest.raises(SystemExit):
            main(["audiences", "status", "--runs", "0", "--config", config])
