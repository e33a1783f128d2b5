"""The ``events`` source: a retargeting audience built first-party from the relay's own events.

``{type: events, include: [ViewContent, AddToCart], exclude: [Purchase], window: 7d}`` holds the people
who did an ``include`` event in the window and no ``exclude`` event in it. An item may put conditions on
the time on page and scroll depth of the page view the event was in (:mod:`relay.engagement`):
``ViewContent with engaged_seconds >= 30 and scroll_depth >= 50``. Only events whose delivery to
the destination consent allowed count (CONTRACT §5.1), so the audience is computed per destination.

The database selects the events (names, window, consent) and orders them by person — the strongest
stored identifier: external id, else email, else phone, else device id — so one person's events stream
together and are merged into one member in constant memory. The identifiers of excluded people are set
aside in a scratch table first, and each chunk of people is checked against it with one indexed query.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from relay.audiences.members import MAX_VALUES, MEMBER_KEYS, Encoded, encode, idents, is_suppressed
from relay.audiences.sources import CHUNK, SourceContext, SourceError, SourceStats
from relay.duration import parse_duration
from relay.engagement import RuleTerm, parse_term
from relay.normalize import normalize_madid
from relay.settings import AudienceSourceSettings
from relay.storage import audiences as store
from relay.types import AudienceMember


def _member(hashed: Mapping[str, Any], ids: Mapping[str, Any]) -> AudienceMember:
    raw = ids.get("madid")
    madid = normalize_madid(raw) if isinstance(raw, str) else None
    return AudienceMember(hashed=_strings(hashed), madid=madid)


def _strings(hashed: Mapping[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key in MEMBER_KEYS:
        values = hashed.get(key)
        if isinstance(values, list):
            kept = [v for v in values if isinstance(v, str)]
            if kept:
                out[key] = kept
    return out


class _Person:
    """One person's identifiers, merged over their events."""

    def __init__(self) -> None:
        self.hashed: dict[str, list[str]] = {}
        self.madid: str | None = None

    def add(self, event: AudienceMember) -> None:
        for key, values in event.hashed.items():
            merged = self.hashed.setdefault(key, [])
            for value in values:
                if value not in merged and len(merged) < MAX_VALUES:
                    merged.append(value)
        self.madid = self.madid or event.madid

    def member(self) -> AudienceMember:
        return AudienceMember(hashed=self.hashed, madid=self.madid)


def people(pages: Iterator[list[store.EventIdentity]], stats: SourceStats) -> Iterator[AudienceMember]:
    """Events ordered by person key → one member per person."""
    current: str | None = None
    person = _Person()
    for page in pages:
        for key, hashed, ids in page:
            stats.read += 1
            if key != current and current is not None:
                yield person.member()
                person = _Person()
            current = key
            person.add(_member(hashed, ids))
    if current is not None:
        yield person.member()


def terms(items: Sequence[str], key: str) -> list[RuleTerm]:
    """The rule's ``include`` or ``exclude`` items parsed; :class:`SourceError` naming the bad one."""
    try:
        return [parse_term(item) for item in items]
    except ValueError as exc:
        raise SourceError(f"{key}: {exc}") from None


def _set_aside(source: AudienceSourceSettings, ctx: SourceContext, since: float | None) -> None:
    for rows in store.excluded_events(ctx.db.engine, terms(source.exclude, "exclude"), since):
        found: set[str] = set()
        for hashed, ids in rows:
            found |= idents(_member(hashed, ids))
        if found:
            ctx.run_db(store.add_scratch, ctx.audience, ctx.scope, found)


def _kept(
    members: Sequence[AudienceMember], ctx: SourceContext, stats: SourceStats, exclude: bool
) -> list[Encoded]:
    hits: set[str] = set()
    if exclude:
        wanted = set().union(*(idents(m) for m in members))
        hits = ctx.run_db(store.scratch_hits, ctx.audience, ctx.scope, wanted)
    out = []
    for member in members:
        if hits and not hits.isdisjoint(idents(member)):
            stats.excluded += 1
        elif ctx.suppressed and is_suppressed(member, ctx.suppressed):
            stats.suppressed += 1
        else:
            stats.members += 1
            out.append(encode(member))
    return out


def rule_members(
    source: AudienceSourceSettings, ctx: SourceContext, stats: SourceStats, size: int = CHUNK
) -> Iterator[list[Encoded]]:
    """The people the rule holds for destination ``ctx.scope``, in chunks of encoded members."""
    try:
        since = ctx.now - parse_duration(source.window) if source.window else None
    except ValueError as exc:
        raise SourceError(f"window: {exc}") from None
    include = terms(source.include, "include")
    exclude = bool(source.exclude)
    if exclude:
        _set_aside(source, ctx, since)
    pending: list[AudienceMember] = []
    for member in people(store.included_events(ctx.db.engine, ctx.scope, include, since), stats):
        pending.append(member)
        if len(pending) >= size:
            yield _kept(pending, ctx, stats, exclude)
            pending = []
    if pending:
        yield _kept(pending, ctx, stats, exclude)


__all__ = ["people", "rule_members", "terms"]
