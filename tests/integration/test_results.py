"""The campaign-results report (``relay.storage.results`` + ``relay.results``) on a real SQLite file
and on PostgreSQL, over rows written with known times, URLs, visitors and outcomes."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import insert

from relay.results import ResultsQuery, campaign_results
from relay.results.touch import CLICK_IDS, DIRECT, TOUCH_MARKERS, Source, touch_of
from relay.storage import results as store
from relay.storage.db import Database
from tests.integration.stored import store_event

NOW = 1_750_000_000.0
DAY = 86400.0


def add(
    db: Database,
    at: float,
    name: str,
    url: str | None,
    fbp: str | None,
    *deliveries: dict[str, Any],
    **kw: Any,
) -> None:
    store_event(
        db,
        at,
        *({"status": "delivered", **d} for d in deliveries),
        event_name=name,
        source="collect",
        event_source_url=url,
        ids={"fbp": fbp} if fbp else {},
        **kw,
    )


def test_touches_name_utm_click_ids_and_referrers() -> None:
    assert touch_of(
        "https://s.example/?utm_source=News&utm_medium=Email&utm_campaign=Spring", None
    ) == Source("news", "email", "spring")
    assert touch_of("https://s.example/p?fbclid=abc", None) == Source("facebook", "paid")
    assert touch_of("https://s.example/p?gclid=abc&utm_campaign=x", None) == Source("google", "cpc", "x")
    for param, source in [("ttclid", "tiktok"), ("ScCid", "snapchat"), ("epik", "pinterest"),
                          ("rdt_cid", "reddit"), ("li_fat_id", "linkedin"), ("twclid", "x")]:  # fmt: skip
        assert touch_of(f"https://s.example/?{param}=1", None) == Source(source, "paid" if source else "")
    assert touch_of("https://s.example/a", "https://www.blog.example/post") == Source(
        "blog.example", "referral"
    )
    assert touch_of("https://s.example/a", "https://www.google.com/") == Source("google.com", "organic")
    assert touch_of("https://s.example/a", "https://s.example/b") is None  # same site: not a touch
    assert touch_of(None, None) is None and DIRECT.source == "(direct)"


def test_a_click_of_any_known_platform_before_the_window_is_a_touch(db: Database) -> None:
    # the lookback before the window is read through a SQL pre-filter: it must let every click id
    # relay.results.touch knows through (msclkid, say, is not "...clid=")
    for visitor, param in enumerate(CLICK_IDS):
        add(db, NOW - 8 * DAY, "PageView", f"https://s.example/?{param}=c{visitor}", f"V{visitor}")
        add(db, NOW - 2 * DAY, "Purchase", "https://s.example/done", f"V{visitor}", custom={"value": 1})
    before = store.touch_hits(db.engine, NOW - 14 * DAY, NOW - 7 * DAY, TOUCH_MARKERS)
    assert len(before) == len(CLICK_IDS)
    groups = campaign_results(db.engine, ResultsQuery("7d", "source", NOW))["groups"]
    credited = {g["source"] for g in groups if g["conversions"]}
    assert credited == {source for source, _ in CLICK_IDS.values()}


def test_last_non_direct_touch_within_the_lookback(db: Database) -> None:
    # visitor A: came from a Facebook ad 3 days before the window, browsed, bought in the window
    add(db, NOW - 8 * DAY, "PageView", "https://s.example/?fbclid=old", "A")
    add(db, NOW - 2 * DAY, "PageView", "https://s.example/p/mug", "A")
    add(
        db,
        NOW - 2 * DAY + 60,
        "Purchase",
        "https://s.example/done",
        "A",
        custom={"value": 14.0, "currency": "EUR"},
    )
    # visitor B: newsletter in the window, then a Google ad: the later touch gets the purchase
    add(
        db,
        NOW - 3 * DAY,
        "PageView",
        "https://s.example/?utm_source=news&utm_medium=email&utm_campaign=spring",
        "B",
    )
    add(db, NOW - 1 * DAY, "PageView", "https://s.example/landing?gclid=g1", "B")
    add(
        db,
        NOW - 1 * DAY + 5,
        "Purchase",
        "https://s.example/done",
        "B",
        custom={"value": 30, "currency": "usd"},
    )
    # visitor C: a touch 9 days before the window's event: past the 7-day lookback, so direct
    add(db, NOW - 12 * DAY, "PageView", "https://s.example/?utm_source=old", "C")
    add(db, NOW - 3 * DAY, "PageView", "https://s.example/", "C")
    # outside the window (before it) and after now: never counted
    add(
        db, NOW - 10 * DAY, "Purchase", "https://s.example/done", "A", custom={"value": 99, "currency": "EUR"}
    )
    data = campaign_results(db.engine, ResultsQuery("7d", "campaign", NOW))
    groups = {(g["source"], g["medium"], g["campaign"]): g for g in data["groups"]}
    fb = groups[("facebook", "paid", "")]
    # A's purchase is 6 days after the fbclid touch, within the lookback
    assert (fb["conversions"], fb["revenue"], fb["visitors"], fb["page_views"]) == (1, {"EUR": 14.0}, 1, 1)
    google = groups[("google", "cpc", "")]
    assert (google["conversions"], google["revenue"], google["conversion_rate"]) == (1, {"USD": 30.0}, 1.0)
    assert groups[("news", "email", "spring")]["conversions"] == 0
    assert groups[("(direct)", "(none)", "")]["visitors"] == 1  # C
    totals = data["totals"]
    assert (totals["events"], totals["conversions"], totals["visitors"]) == (6, 2, 3)
    assert totals["revenue"] == {"EUR": 14.0, "USD": 30.0}
    landing = {p["page"]: p for p in data["landing_pages"]}
    assert landing["s.example/p/mug"]["converters"] == 1 and landing["s.example/"]["conversion_rate"] == 1 / 2
    by_source = campaign_results(db.engine, ResultsQuery("7d", "source", NOW))["groups"]
    assert {g["source"] for g in by_source} == {"facebook", "google", "news", "(direct)"}
    assert all("campaign" not in g and "medium" not in g for g in by_source)


def test_platforms_and_consent_rates_per_place(db: Database) -> None:
    us = {"country": "US", "region": "us"}
    de = {"country": "DE", "region": "eu"}
    add(
        db,
        NOW - 60,
        "Purchase",
        None,
        "A",
        {"status": "delivered"},
        {"connector": "x", "status": "dead"},
        consent=us,
    )
    add(db, NOW - 50, "PageView", None, "B", {"status": "skipped", "decision": "deny"},
        {"connector": "x", "status": "skipped", "decision": "deny"}, consent=de)  # fmt: skip
    add(db, NOW - 40, "PageView", None, "C", {"status": "delivered", "decision": "limited"},
        {"connector": "x", "status": "skipped", "decision": "deny"}, consent=de)  # fmt: skip
    data = campaign_results(db.engine, ResultsQuery("24h", "campaign", NOW))
    platforms = {p["connector"]: p for p in data["platforms"]}
    assert platforms["meta"] == {"connector": "meta", "delivered": 2, "skipped": 1, "total": 3}
    assert platforms["x"] == {"connector": "x", "dead": 1, "skipped": 2, "total": 3}
    places = {(p["country"], p["region"]): p["connectors"] for p in data["consent"]}
    assert places[("DE", "eu")]["meta"] == {"events": 2, "allowed": 1, "share": 0.5}
    assert places[("DE", "eu")]["x"]["share"] == 0.0 and places[("US", "us")]["x"]["share"] == 1.0


def test_a_window_of_a_large_table_reads_only_the_window(db: Database) -> None:
    """5,000 old events and 200 recent ones: the report sees the 200 (the query is bounded by the
    indexed ``received_at``, so the old rows are never fetched)."""
    base = {"event_name": "PageView", "event_time": 0, "action_source": "website", "source": "collect"}
    base |= {"opt_out": False, "hashed": {}, "custom": {}, "consent": {}, "pii_purged": False}
    rows = [
        {**base, "event_id": f"old-{i}", "received_at": NOW - 60 * DAY + i, "ids": {"fbp": f"v{i}"}}
        for i in range(5000)
    ]
    with db.engine.begin() as conn:
        conn.execute(insert(store.events), rows)
    for i in range(200):
        add(db, NOW - 3600 + i, "PageView", "https://s.example/?utm_source=ad", f"n{i % 50}")
    started = time.perf_counter()
    data = campaign_results(db.engine, ResultsQuery("24h", "source", NOW))
    assert (data["totals"]["events"], data["totals"]["visitors"]) == (200, 50)
    assert time.perf_counter() - started < 5.0
