"""Storage trouble: clients get 503 (retry), the pixel still answers a GIF, nothing is acknowledged falsely,
and the relay recovers by itself when the database is back."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.e2e.harness import purchase, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.anyio]


def set_connections(pg_url: str, allowed: bool) -> None:
    """Refuse (or allow again) new connections to the test database and cut the existing ones."""
    name = make_url(pg_url).database
    admin = create_engine(pg_url.rsplit("/", 1)[0] + "/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"true" if allowed else "false"}'))
        if not allowed:
            terminate = (
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = :d AND pid <> pg_backend_pid()"
            )
            conn.execute(text(terminate), {"d": name})
    admin.dispose()


async def test_database_outage_gives_503_and_recovers(tmp_path: Path, pg_fresh_url: str) -> None:
    async with run_relay(tmp_path, run_worker=False, storage={"url": pg_fresh_url}) as relay:
        assert (await relay.post_events(purchase("before"))).status_code == 202
        set_connections(pg_fresh_url, allowed=False)
        try:
            down = await relay.post_events(purchase("during"))
            assert down.status_code == 503
            assert down.json()["error"] == "storage_unavailable"
            ready = await relay.client.get(f"{relay.base}/readyz")
            assert ready.status_code == 503
            assert (await relay.client.get(f"{relay.base}/healthz")).status_code == 200
            gif = await relay.client.get(f"{relay.base}/p.gif", params={"ev": "PageView"})
            assert gif.status_code == 200 and gif.content.startswith(b"GIF89a")
            metrics = (await relay.client.get(f"{relay.base}/metrics")).text
            assert 'relay_events_rejected_total{reason="storage"} 2.0' in metrics
        finally:
            set_connections(pg_fresh_url, allowed=True)
        again = await relay.post_events(purchase("after"))
        assert again.status_code == 202
        assert (await relay.client.get(f"{relay.base}/readyz")).status_code == 200
        ids = {d["event_id"] for d in await relay.deliveries()}
        assert ids == {"before", "after"}  # the refused event was not stored behind the client's back


async def test_a_schema_the_relay_cannot_write_gives_503_not_400(tmp_path: Path, pg_fresh_url: str) -> None:
    """A table gone or renamed behind the relay's back (PostgreSQL says 42P01, a "programming" error) is
    the database's trouble, not the event's: the client is told to retry, and the event is stored once the
    schema is back."""
    engine = create_engine(pg_fresh_url, isolation_level="AUTOCOMMIT")
    async with run_relay(tmp_path, run_worker=False, storage={"url": pg_fresh_url}) as relay:
        assert (await relay.post_events(purchase("before"))).status_code == 202
        with engine.connect() as conn:
            conn.execute(text("ALTER TABLE deliveries RENAME TO deliveries_elsewhere"))
        try:
            down = await relay.post_events({"events": [purchase("during-1"), purchase("during-2")]})
            assert down.status_code == 503, down.text
            assert down.json()["error"] == "storage_unavailable"
            collect = await relay.client.post(
                f"{relay.base}/v1/collect",
                json={"event_name": "PageView"},
                headers={"origin": "https://shop.example"},
            )
            assert collect.status_code == 503
        finally:
            with engine.connect() as conn:
                conn.execute(text("ALTER TABLE deliveries_elsewhere RENAME TO deliveries"))
        again = await relay.post_events(purchase("during-1"))
        assert again.status_code == 202
        ids = {d["event_id"] for d in await relay.deliveries()}
        assert ids == {"before", "during-1"}
    engine.dispose()
