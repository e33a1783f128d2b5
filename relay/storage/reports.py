"""What the dashboard draws: time series, match-key coverage, a page of deliveries, audience sizes.

Every report reads a bounded time range of ``events`` through its ``received_at`` index and reaches
the deliveries through their ``event_pk`` index, so its cost follows the window, not the table. A
delivery is counted in the bucket its event was *received* in (a cohort: "of what arrived then, what
happened to it"), which keeps each bucket stable once its events are finished.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Integer, and_, case, cast, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from relay.storage.audiences.tables import AudienceStateRow
from relay.storage.queries import DeliverySelection, delivery_listing, listed_delivery
from relay.storage.stored_json import readable
from relay.storage.tables import DeliveryRow, EventRow

events = EventRow.__table__  # type: ignore[attr-defined]
deliveries = DeliveryRow.__table__  # type: ignore[attr-defined]
audience_state = AudienceStateRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Window:
    """A chart window: its length and the width of one bucket (seconds)."""

    name: str
    seconds: int
    bucket_seconds: int

    @property
    def buckets(self) -> int:
        return self.seconds // self.bucket_seconds

    def bounds(self, now: float) -> tuple[float, float]:
        """Start and end, aligned to whole buckets so that a bucket keeps its edges between refreshes."""
        end = math.floor(now / self.bucket_seconds + 1) * self.bucket_seconds
        return float(end - self.seconds), float(end)


#: 60 one-minute buckets, 96 of 15 minutes, 84 of 2 hours
WINDOWS = {w.name: w for w in (Window("1h", 3600, 60), Window("24h", 86400, 900), Window("7d", 604800, 7200))}
STATUSES = ("pending", "in_flight", "delivered", "skipped", "dead")
DECISIONS = ("allow", "limited", "deny")
#: upper edges (seconds) of the delivery-latency histogram the percentiles are read from
LATENCY_EDGES = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400, 604800)
#: the match keys of the coverage report and the identifiers each one is satisfied by
MATCH_KEYS = {
    "email": ("em",),
    "phone": ("ph", "ph_e164"),
    "external_id": ("external_id",),
    "fbp_fbc": ("fbp", "fbc"),
}
MAX_PAGE = 1000


def _bucket(engine: Engine, start: float, width: int) -> ColumnElement[Any]:
    offset = (events.c.received_at - literal(start)) / literal(float(width))
    # received_at >= start, so truncation is floor; PostgreSQL's cast rounds, hence floor() there
    if engine.dialect.name == "postgresql":
        offset = func.floor(offset)
    return cast(offset, Integer).label("bucket")


def timeseries(engine: Engine, window: Window, now: float) -> dict[str, Any]:
    """Events received, and per connector the deliveries by status and consent decision and the
    latency from receipt to delivery, per bucket of ``window``."""
    start, end = window.bounds(now)
    n = window.buckets
    e, d = events, deliveries
    in_window = and_(e.c.received_at >= start, e.c.received_at < end)
    bucket = _bucket(engine, start, window.bucket_seconds)
    received = [0] * n
    connectors: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for b, count in conn.execute(select(bucket, func.count()).where(in_window).group_by(bucket)):
            if 0 <= b < n:
                received[b] = count
        outcomes = (
            select(bucket, d.c.connector, d.c.status, d.c.consent_decision, func.count())
            .select_from(e.join(d, d.c.event_pk == e.c.id))
            .where(in_window)
            .group_by(bucket, d.c.connector, d.c.status, d.c.consent_decision)
        )
        for b, connector, status, decision, count in conn.execute(outcomes):
            series = connectors.setdefault(connector, _empty_series(n))
            if 0 <= b < n:
                series["status"].setdefault(status, [0] * n)[b] += count
                series["consent"].setdefault(decision, [0] * n)[b] += count
        for connector, hist in _latency_histograms(conn, engine, window, start, in_window).items():
            series = connectors.setdefault(connector, _empty_series(n))
            series["latency"] = _percentiles(hist)
    return {
        "window": window.name,
        "start": start,
        "end": end,
        "bucket_seconds": window.bucket_seconds,
        "buckets": [start + i * window.bucket_seconds for i in range(n)],
        "received": received,
        "connectors": dict(sorted(connectors.items())),
    }


def _empty_series(n: int) -> dict[str, Any]:
    return {
        "status": {s: [0] * n for s in STATUSES},
        "consent": {c: [0] * n for c in DECISIONS},
        "latency": {"p50": [None] * n, "p95": [None] * n, "max": [None] * n, "delivered": [0] * n},
    }


def _latency_histograms(
    conn: Any, engine: Engine, window: Window, start: float, in_window: ColumnElement[bool]
) -> dict[str, list[tuple[list[int], float | None]]]:
    """Per connector and bucket: counts per latency bin and the largest latency."""
    e, d = events, deliveries
    latency = d.c.delivered_at - e.c.received_at
    edges = [(latency <= edge, i) for i, edge in enumerate(LATENCY_EDGES)]
    bin_ = case(*edges, else_=len(LATENCY_EDGES)).label("bin")
    bucket = _bucket(engine, start, window.bucket_seconds)
    stmt = (
        select(bucket, d.c.connector, bin_, func.count(), func.max(latency))
        .select_from(e.join(d, d.c.event_pk == e.c.id))
        .where(in_window, d.c.status == "delivered", d.c.delivered_at.is_not(None))
        .group_by(bucket, d.c.connector, bin_)
    )
    n, bins = window.buckets, len(LATENCY_EDGES) + 1
    out: dict[str, list[tuple[list[int], float | None]]] = {}
    for b, connector, i, count, longest in conn.execute(stmt):
        rows = out.setdefault(connector, [([0] * bins, None) for _ in range(n)])
        if 0 <= b < n:
            counts, top = rows[b]
            counts[i] += count
            rows[b] = (counts, max(top or 0.0, float(longest or 0.0)))
    return out


def _percentiles(hist: list[tuple[list[int], float | None]]) -> dict[str, list[Any]]:
    """p50 and p95 per bucket, each the upper edge of the histogram bin it falls in (capped at the
    bucket's largest latency, which is exact)."""
    out: dict[str, list[Any]] = {"p50": [], "p95": [], "max": [], "delivered": []}
    for counts, longest in hist:
        total = sum(counts)
        out["delivered"].append(total)
        out["max"].append(None if longest is None else round(longest, 3))
        for key, share in (("p50", 0.5), ("p95", 0.95)):
            out[key].append(_quantile(counts, total, share, longest))
    return out


def _quantile(counts: list[int], total: int, share: float, longest: float | None) -> float | None:
    if not total:
        return None
    seen = 0
    for i, count in enumerate(counts):
        seen += count
        if seen >= share * total:
            edge = LATENCY_EDGES[i] if i < len(LATENCY_EDGES) else math.inf
            return round(min(edge, longest if longest is not None else edge), 3)
    return None  # pragma: no cover - the loop always reaches the total


def coverage(engine: Engine, since: float, until: float) -> dict[str, dict[str, Any]]:
    """Per connector, over events received in ``[since, until)`` and not refused by consent: how many
    carried each match key (email, phone, external id, fbp/fbc, IP and user agent together)."""
    e, d = events, deliveries
    columns: list[Any] = [d.c.connector, func.count().label("events")]
    for key, names in MATCH_KEYS.items():
        present = or_(
            *(_has(e.c.hashed if n in ("em", "ph", "ph_e164", "external_id") else e.c.ids, n) for n in names)
        )
        columns.append(func.sum(case((present, 1), else_=0)).label(key))
    both = and_(e.c.ip.is_not(None), e.c.user_agent.is_not(None))
    columns.append(func.sum(case((both, 1), else_=0)).label("ip_ua"))
    stmt = (
        select(*columns)
        .select_from(e.join(d, d.c.event_pk == e.c.id))
        .where(e.c.received_at >= since, e.c.received_at < until, d.c.consent_decision != "deny")
        .group_by(d.c.connector)
    )
    keys = [*MATCH_KEYS, "ip_ua"]
    out: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for row in conn.execute(stmt):
            total = int(row.events)
            counts = {k: int(getattr(row, k) or 0) for k in keys}
            shares = {k: round(v / total, 4) if total else 0.0 for k, v in counts.items()}
            out[row.connector] = {"events": total, "counts": counts, "shares": shares}
    return dict(sorted(out.items()))


def _has(column: Any, key: str) -> ColumnElement[bool]:
    # JSON_EXTRACT on SQLite, ->> on PostgreSQL: NULL when the key is absent (present values are lists)
    present: ColumnElement[bool] = readable(column)[key].as_string().is_not(None)
    return present


@dataclass(frozen=True)
class PageFilter(DeliverySelection):
    """The filters of a page of deliveries; ``before`` is the id the previous page ended at."""

    event_name: str | None = None
    before: int | None = None
    limit: int = 50


def deliveries_page(engine: Engine, f: PageFilter) -> dict[str, Any]:
    """Deliveries newest first, at most ``f.limit`` (capped at :data:`MAX_PAGE`), with the times the
    dashboard shows; ``next_before`` continues the listing, None on the last page."""
    d, e = deliveries, events
    limit = max(1, min(f.limit, MAX_PAGE))
    stmt = delivery_listing(d.c.delivered_at, e.c.received_at).limit(limit + 1)
    conditions = [
        d.c.status == f.status if f.status else None,
        d.c.connector == f.connector if f.connector else None,
        e.c.event_id == f.event_id if f.event_id else None,
        e.c.event_name == f.event_name if f.event_name else None,
        d.c.id < f.before if f.before is not None else None,
    ]
    stmt = stmt.where(*(c for c in conditions if c is not None))
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    more = len(rows) > limit
    items = [_delivery(r) for r in rows[:limit]]
    return {"items": items, "next_before": items[-1]["id"] if more else None}


def _delivery(r: Any) -> dict[str, Any]:
    return {**listed_delivery(r), "delivered_at": r.delivered_at, "received_at": r.received_at}


def audience_sizes(engine: Engine) -> dict[str, dict[str, int]]:
    """Members each platform acknowledged, per audience and destination."""
    s = audience_state
    stmt = select(s.c.audience, s.c.destination, func.count()).group_by(s.c.audience, s.c.destination)
    out: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for audience, destination, n in conn.execute(stmt):
            out.setdefault(audience, {})[destination] = int(n)
    return out


__all__ = [
    "DECISIONS",
    "LATENCY_EDGES",
    "MATCH_KEYS",
    "MAX_PAGE",
    "STATUSES",
    "WINDOWS",
    "PageFilter",
    "Window",
    "audience_sizes",
    "coverage",
    "deliveries_page",
    "timeseries",
]
