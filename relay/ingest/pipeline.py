"""From a raw event object to a stored event: validate, complete identity, decide consent per
connector, hash contact details, fan out deliveries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.base import Connector
from relay.consent import ConsentSignals, decide, parse_signals, region_of, storage_allowed
from relay.consent.signals import ParsedSignals
from relay.events import CONTACT_FIELDS, ID_FIELDS, EventIn, new_event_id, parse_event, resolve_event_time
from relay.ingest.identity import merge_click_ids
from relay.metrics import Metrics
from relay.normalize import hash_user, normalize_country
from relay.settings import Settings
from relay.storage.outbox import NewDelivery, NewEvent
from relay.types import ConsentVerdict

BROWSER_SOURCES = ("gif", "collect")


@dataclass(frozen=True)
class RequestContext:
    """What the HTTP layer knows about the request an event came in."""

    source: str  # gif | collect | events
    now: float
    ip: str | None = None
    user_agent: str | None = None
    country: str | None = None
    region_code: str | None = None
    gpc: bool = False
    cookies: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Prepared:
    event: NewEvent
    parsed: ParsedSignals
    region: str
    storage_allowed: bool


class Ingestor:
    """Turns raw events into :class:`NewEvent` rows ready for the outbox."""

    def __init__(self, settings: Settings, connectors: Mapping[str, Connector], metrics: Metrics) -> None:
        self.settings = settings
        self.connectors = {n: c for n, c in connectors.items() if c.settings.enabled}
        self.metrics = metrics

    def prepare(self, raw: Any, ctx: RequestContext) -> Prepared:
        """Validate and decide; raises :class:`relay.events.EventError` for an invalid event."""
        ev = parse_event(raw)
        browser = ctx.source in BROWSER_SOURCES
        action_source = ev.action_source or "website"
        event_time = resolve_event_time(ev.event_time, ctx.now, action_source)
        c = ev.consent
        signals = ConsentSignals(
            tcf=c.tcf, gdpr_applies=c.gdpr_applies, gpp=c.gpp, gpp_sid=c.gpp_sid, usp=c.usp,
            gcm=c.gcm, gcs=c.gcs, gpc=c.gpc or ctx.gpc,
        )  # fmt: skip
        parsed = parse_signals(signals)
        country = ctx.country or (None if browser else _first_country(ev))
        region = region_of(country, parsed)
        deliveries = [
            self._delivery(name, conn, ev.event_name, parsed, region, ctx)
            for name, conn in self.connectors.items()
        ]
        for d in deliveries:
            self.metrics.consent_decisions.labels(d.connector, d.decision).inc()
        sendable = any(d.status == "pending" for d in deliveries) or not deliveries
        new = NewEvent(
            event_id=ev.event_id or new_event_id(),
            event_name=ev.event_name,
            event_time=event_time,
            received_at=ctx.now,
            action_source=action_source,
            source=ctx.source,
            opt_out=ev.opt_out,
            consent={**parsed.audit(), "region": region, "country": country},
            deliveries=deliveries,
        )
        allowed = storage_allowed(parsed, region=region, defaults=self.settings.consent.default)
        if sendable:
            self._fill_identity(new, ev, ctx, browser, allowed)
        return Prepared(new, parsed, region, allowed)

    def _delivery(
        self,
        name: str,
        connector: Connector,
        event_name: str,
        parsed: ParsedSignals,
        region: str,
        ctx: RequestContext,
    ) -> NewDelivery:
        verdict: ConsentVerdict = decide(
            parsed,
            region=region,
            region_code=ctx.region_code,
            policy=connector.settings.consent,
            defaults=self.settings.consent.default,
        )
        if verdict.decision == "deny":
            return NewDelivery(
                name, "skipped", "deny", verdict.reason, last_error=f"consent: {verdict.reason}"
            )
        skip = connector.skip_reason(event_name)
        status = "skipped" if skip else "pending"
        return NewDelivery(name, status, verdict.decision, verdict.reason, verdict.mode, verdict.ldu, skip)

    def _fill_identity(
        self, new: NewEvent, ev: EventIn, ctx: RequestContext, browser: bool, storage_allowed: bool
    ) -> None:
        user = ev.user
        new.event_source_url = ev.event_source_url
        new.referrer_url = ev.referrer_url
        new.custom = dict(ev.custom)
        raw_user = {k: getattr(user, k) for k in CONTACT_FIELDS if getattr(user, k) is not None}
        if raw_user:
            new.hashed = hash_user(raw_user, default_country=self.settings.server.default_country).hashed
        ids = {k: getattr(user, k) for k in ID_FIELDS if getattr(user, k)}
        if browser:
            new.ip, new.user_agent = ctx.ip, ctx.user_agent
            # reading first-party cookies is device storage too: only with storage consent
            cookies = ctx.cookies if storage_allowed else {}
            ids = {**merge_click_ids(cookies, ev.event_source_url, ctx.now), **ids}
        else:
            new.ip, new.user_agent = user.ip, user.user_agent
        new.ids = ids


def _first_country(ev: EventIn) -> str | None:
    value = ev.user.country
    first = value[0] if isinstance(value, list) and value else value
    if not isinstance(first, str):
        return None
    code = normalize_country(first)
    return code.upper() if code else None
