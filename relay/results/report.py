"""The campaign-results report: one pass over a window's events, oldest first.

Attribution rule: each event is credited to its visitor's **last non-direct touch within
:data:`ATTRIBUTION_DAYS` days** (a touch is an event whose URL carries UTM parameters or a click id,
or whose referrer is another site; see ``relay.results.touch``). Campaign touches in the lookback before
the window count (referrals only inside it); an event with no such touch is ``(direct) / (none)``.
A visitor is the first-party ``fbp`` id, else the hashed external id or email, else IP and user agent.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from relay.results.touch import DIRECT, TOUCH_MARKERS, Source, landing_page, touch_of
from relay.storage import results as store
from relay.storage.results import Hit

ATTRIBUTION_DAYS = 7
WINDOWS = {"24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
#: the group a row of the table is: source; source and medium; source, medium and campaign
GROUPS = {"source": 1, "medium": 2, "campaign": 3}
CONVERSIONS = frozenset({"Purchase"})
PAGE_VIEW = "PageView"
MAX_ROWS = 100


@dataclass(frozen=True)
class ResultsQuery:
    window: str
    group: str
    now: float

    @property
    def since(self) -> float:
        return self.now - WINDOWS[self.window]


@dataclass
class Tally:
    """What one group (or landing page) adds up to."""

    events: int = 0
    page_views: int = 0
    conversions: int = 0
    visitors: set[str] = field(default_factory=set)
    converters: set[str] = field(default_factory=set)
    revenue: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, hit: Hit, visitor: str) -> None:
        self.events += 1
        self.visitors.add(visitor)
        if hit.name == PAGE_VIEW:
            self.page_views += 1
        if hit.name in CONVERSIONS:
            self.conversions += 1
            self.converters.add(visitor)
            if hit.value is not None:
                self.revenue[(hit.currency or "").upper() or "(none)"] += hit.value

    def as_dict(self) -> dict[str, Any]:
        visitors = len(self.visitors)
        return {
            "events": self.events,
            "page_views": self.page_views,
            "visitors": visitors,
            "conversions": self.conversions,
            "converters": len(self.converters),
            "conversion_rate": round(len(self.converters) / visitors, 4) if visitors else 0.0,
            "revenue": {c: round(v, 2) for c, v in sorted(self.revenue.items())},
        }


class Attribution:
    """Each visitor's last touch, fed in time order."""

    def __init__(self, lookback: float) -> None:
        self.lookback = lookback
        self.last: dict[str, tuple[Source, float]] = {}
        self._anonymous = itertools.count()

    def visitor(self, hit: Hit) -> str:
        return hit.visitor or f"anonymous-{next(self._anonymous)}"

    def see(self, hit: Hit, visitor: str) -> Source:
        """Record ``hit``'s touch (if any) and answer the source it is credited to."""
        touch = touch_of(hit.url, hit.referrer)
        if touch is not None:
            self.last[visitor] = (touch, hit.at)
            return touch
        found = self.last.get(visitor)
        if found is not None and hit.at - found[1] <= self.lookback:
            return found[0]
        return DIRECT


def _key(source: Source, depth: int) -> tuple[str, ...]:
    return (source.source, source.medium, source.campaign)[:depth]


def attribute(before: Iterable[Hit], hits: Iterable[Hit], depth: int, lookback: float) -> dict[str, Any]:
    """Groups, landing pages and totals of ``hits``, with ``before``'s touches as history."""
    attribution = Attribution(lookback)
    for hit in before:
        if hit.visitor:
            attribution.see(hit, hit.visitor)
    groups: dict[tuple[str, ...], Tally] = defaultdict(Tally)
    landings: dict[str, Tally] = defaultdict(Tally)
    landed: dict[str, str] = {}
    total = Tally()
    for hit in hits:
        visitor = attribution.visitor(hit)
        source = attribution.see(hit, visitor)
        groups[_key(source, depth)].add(hit, visitor)
        page = landed.get(visitor)
        if page is None:
            page = landed[visitor] = landing_page(hit.url)
        landings[page].add(hit, visitor)
        total.add(hit, visitor)
    return {
        "totals": total.as_dict(),
        "groups": _rows(groups.items(), ("source", "medium", "campaign")[:depth]),
        "landing_pages": _rows(((k,), t) for k, t in landings.items()) if landings else [],
    }


def _rows(items: Iterable[tuple[tuple[str, ...], Tally]], names: tuple[str, ...] = ("page",)) -> list[Any]:
    rows = [{**dict(zip(names, key, strict=True)), **tally.as_dict()} for key, tally in items]
    rows.sort(key=lambda r: (-r["conversions"], -r["visitors"], -r["events"]))
    return rows[:MAX_ROWS]


Breakdown = tuple[str, str, str, str, str, int]


def platform_counts(rows: Iterable[Breakdown]) -> list[dict[str, Any]]:
    """Per connector, its deliveries by status."""
    per: dict[str, dict[str, int]] = defaultdict(dict)
    for connector, status, _, _, _, n in rows:
        per[connector][status] = per[connector].get(status, 0) + n
    return [{"connector": c, **counts, "total": sum(counts.values())} for c, counts in sorted(per.items())]


def consent_rates(rows: Iterable[Breakdown]) -> list[dict[str, Any]]:
    """Per place (country, region) and connector: the share of events it was allowed to send
    (consent ``allow`` or ``limited``), most events first."""
    places: dict[tuple[str, str], dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for connector, _, decision, country, region, n in rows:
        counts = places[(country, region)][connector]
        counts[decision] = counts.get(decision, 0) + n
    out: list[dict[str, Any]] = []
    for (country, region), connectors in places.items():
        per: dict[str, dict[str, Any]] = {}
        for connector, counts in sorted(connectors.items()):
            n = sum(counts.values())
            allowed = counts.get("allow", 0) + counts.get("limited", 0)
            per[connector] = {"events": n, "allowed": allowed, "share": round(allowed / n, 4)}
        most = max(int(c["events"]) for c in per.values())
        out.append({"country": country or "(unknown)", "region": region, "events": most, "connectors": per})
    out.sort(key=lambda p: (-int(p["events"]), str(p["country"]), str(p["region"])))
    return out[:MAX_ROWS]


def campaign_results(engine: Engine, query: ResultsQuery) -> dict[str, Any]:
    """The whole report for ``query`` (a blocking call: run it in the database thread)."""
    since, until = query.since, query.now + 1
    lookback = ATTRIBUTION_DAYS * 86400.0
    before = store.touch_hits(engine, since - lookback, since, TOUCH_MARKERS)
    report = attribute(before, store.window_hits(engine, since, until), GROUPS[query.group], lookback)
    breakdown = store.delivery_breakdown(engine, since, until)
    return {
        "window": query.window,
        "group": query.group,
        "since": since,
        "until": until,
        "attribution": {"rule": "last non-direct touch", "lookback_days": ATTRIBUTION_DAYS},
        **report,
        "platforms": platform_counts(breakdown),
        "consent": consent_rates(breakdown),
    }


__all__ = ["ATTRIBUTION_DAYS", "GROUPS", "WINDOWS", "ResultsQuery", "attribute", "campaign_results"]
