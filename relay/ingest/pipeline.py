"""From a raw event object to a stored event: validate, complete identity, decide consent per
connector, hash contact details, fan out deliveries."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from connectors.base import Connector
from relay import engagement
from relay.consent import ConsentSignals, decide, parse_signals, region_of, storage_allowed
from relay.consent.signals import ParsedSignals
from relay.events import (
    CONTACT_FIELDS,
    ID_FIELDS,
    EventError,
    EventIn,
    new_event_id,
    parse_event,
    resolve_event_time,
)
from relay.ingest.counters import Counters
from relay.ingest.identity import COOKIE_KEYS, CookieSpec, cookies_to_set, merge_click_ids
from relay.metrics import Metrics
from relay.normalize import hash_user, normalize_country
from relay.redact import redact_url, redact_value
from relay.settings import Settings
from relay.storage.outbox import NewDelivery, NewEvent
from relay.text import forbidden_character
from relay.types import ConsentVerdict

BROWSER_SOURCES = ("gif", "collect")
log = logging.getLogger("relay.ingest")


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
    #: the relay's first-party cookies the request carried, by cookie name
    cookies: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Prepared:
    event: NewEvent
    storage_allowed: bool


@dataclass
class Batch:
    """A request's events after the pipeline: the valid ones with their index in the body, the refused
    ones (``{"index", "error"}``), and the first-party cookies the answer sets once they are stored."""

    prepared: list[tuple[int, Prepared]]
    rejected: list[dict[str, Any]]
    cookies: list[CookieSpec]


ConsentKey = tuple[Any, ...]
CONSENT_CACHE_SIZE = 4096


@dataclass(frozen=True)
class ConsentOutcome:
    """What one combination of consent signals, country and region code means for every connector."""

    parsed: ParsedSignals
    region: str
    verdicts: Mapping[str, ConsentVerdict]
    storage_allowed: bool
    audit: Mapping[str, Any]


class Ingestor:
    """Turns raw events into :class:`NewEvent` rows ready for the outbox."""

    def __init__(self, settings: Settings, connectors: Mapping[str, Connector], metrics: Metrics) -> None:
        self.settings = settings
        self.connectors = {n: c for n, c in connectors.items() if c.settings.enabled}
        self.metrics = metrics
        self.counters = Counters(metrics)
        self._cache: dict[ConsentKey, ConsentOutcome] = {}
        self._skip_failed: set[str] = set()  # connectors whose skip_reason raised (logged once)

    def prepare_batch(self, items: Sequence[Any], ctx: RequestContext, *, plain: bool = False) -> Batch:
        """Every event of a request, each on its own (a bad one costs itself only), and the identity of
        the visit decided once: the cookies to set and the ``fbp`` a first hit carries. ``plain``: the
        body held no refused character (:func:`relay.text.plain_json`)."""
        prepared: list[tuple[int, Prepared]] = []
        rejected: list[dict[str, Any]] = []
        for index, raw in enumerate(items):
            try:
                prepared.append((index, self.prepare(raw, ctx, plain=plain)))
            except EventError as exc:
                rejected.append({"index": index, "error": str(exc)})
            except Exception:  # a bug must cost this event only, never the request
                log.exception("event could not be processed (a bug)", extra={"index": index})
                rejected.append({"index": index, "error": "could not be processed"})
        browser = ctx.source in BROWSER_SOURCES
        cookies = _first_party_cookies([p for _, p in prepared], ctx) if browser else []
        return Batch(prepared, rejected, cookies)

    def prepare(self, raw: Any, ctx: RequestContext, *, plain: bool = False) -> Prepared:
        """Validate and decide; raises :class:`relay.events.EventError` for an invalid event."""
        ev = parse_event(raw, plain=plain)
        browser = ctx.source in BROWSER_SOURCES
        # CONTRACT §4.1: website on the browser endpoints; a server event says so by its page URL
        action_source = ev.action_source or ("website" if browser or ev.event_source_url else "other")
        event_time = resolve_event_time(ev.event_time, ctx.now, action_source)
        country = ctx.country or (None if browser else _first_country(ev))
        c = ev.consent
        gcm = tuple(sorted(c.gcm.items())) if c.gcm else None
        sid = tuple(c.gpp_sid) if isinstance(c.gpp_sid, list) else c.gpp_sid
        key = (
            c.tcf,
            c.gdpr_applies,
            c.gpp,
            sid,
            c.usp,
            gcm,
            c.gcs,
            c.gpc or ctx.gpc,
            country,
            ctx.region_code,
        )
        consent = self._consent(key)
        deliveries = [self._delivery(name, ev.event_name, consent.verdicts[name]) for name in self.connectors]
        for d in deliveries:
            self.counters("consent_decisions", d.connector, d.decision).inc()
        sendable = any(d.status == "pending" for d in deliveries) or not deliveries
        new = NewEvent(
            event_id=ev.event_id or new_event_id(),
            event_name=ev.event_name,
            event_time=event_time,
            received_at=ctx.now,
            action_source=action_source,
            source=ctx.source,
            opt_out=ev.opt_out,
            consent=dict(consent.audit),
            deliveries=deliveries,
        )
        if sendable:
            self._fill_identity(new, ev, ctx, browser, consent.storage_allowed)
        elif engagement.kept(ev.event_name, [d.decision for d in deliveries]):
            new.custom = redact_value(engagement.only_engagement(ev.custom))  # for audience rules
        return Prepared(new, consent.storage_allowed)

    def _consent(self, key: ConsentKey) -> ConsentOutcome:
        """The decisions for one combination of signals and place, cached: most events of a visit
        (and many visitors) carry the same strings, so each is decoded and decided once."""
        found = self._cache.get(key)
        if found is None:
            found = self._decide(key)
            if len(self._cache) >= CONSENT_CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = found
        return found

    def _decide(self, key: ConsentKey) -> ConsentOutcome:
        tcf, gdpr_applies, gpp, sid, usp, gcm, gcs, gpc, country, code = key
        signals = ConsentSignals(
            tcf=tcf,
            gdpr_applies=gdpr_applies,
            gpp=gpp,
            gpp_sid=list(sid) if isinstance(sid, tuple) else sid,
            usp=usp,
            gcm=dict(gcm) if gcm else None,
            gcs=gcs,
            gpc=gpc,
        )
        parsed = parse_signals(signals)
        region = region_of(country, parsed)
        defaults = self.settings.consent.default
        verdicts = {
            name: decide(
                parsed,
                region=region,
                region_code=code,
                policy=conn.settings.consent,
                defaults=defaults,
            )
            for name, conn in self.connectors.items()
        }
        return ConsentOutcome(
            parsed=parsed,
            region=region,
            verdicts=verdicts,
            storage_allowed=storage_allowed(parsed, region=region, defaults=defaults),
            audit=MappingProxyType({**parsed.audit(), "region": region, "country": country}),
        )

    def _delivery(self, name: str, event_name: str, verdict: ConsentVerdict) -> NewDelivery:
        if verdict.decision == "deny":
            return NewDelivery(
                name, "skipped", "deny", verdict.reason, last_error=f"consent: {verdict.reason}"
            )
        connector = self.connectors[name]
        skip = engagement.skip_reason(event_name, connector.settings.send_engagement, name)
        skip = skip or self._skip_reason(name, event_name)
        status = "skipped" if skip else "pending"
        return NewDelivery(name, status, verdict.decision, verdict.reason, verdict.mode, verdict.ldu, skip)

    def _skip_reason(self, name: str, event_name: str) -> str | None:
        """The connector's reason not to send ``event_name``; a plugin's ``skip_reason`` that raises keeps
        the delivery (the worker then fails it alone, replayable) rather than costing the event every
        other connector's delivery. Logged once per connector: it would raise for every event."""
        try:
            return self.connectors[name].skip_reason(event_name)
        except Exception:
            if name not in self._skip_failed:
                self._skip_failed.add(name)
                log.exception(
                    "connector skip_reason failed (a bug in the connector)", extra={"connector": name}
                )
            return None

    def _fill_identity(
        self, new: NewEvent, ev: EventIn, ctx: RequestContext, browser: bool, storage_allowed: bool
    ) -> None:
        user = ev.user
        # stored and forwarded as given: e-mail addresses in them are redacted (Meta wants no PII in URLs)
        new.event_source_url = redact_url(ev.event_source_url) if ev.event_source_url else None
        new.referrer_url = redact_url(ev.referrer_url) if ev.referrer_url else None
        new.custom = redact_value(ev.custom)
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
        # a click id decoded from the URL (``fbclid=%0A``) may hold what the event's own fields may not
        new.ids = {k: v for k, v in ids.items() if forbidden_character(v) is None}


def _first_party_cookies(prepared: list[Prepared], ctx: RequestContext) -> list[CookieSpec]:
    """The cookies a browser answer sets, only when every event allows storage; a new ``_fbp`` also goes
    into the events that carry identity, so the first hit of a visit already has it."""
    if not prepared or not all(p.storage_allowed for p in prepared):
        return []
    ids: dict[str, str] = {}
    for p in prepared:
        ids.update({k: v for k, v in p.event.ids.items() if k in COOKIE_KEYS})
    specs = cookies_to_set(ctx.cookies, ids, ctx.now)
    fbp = next((spec.value for spec in specs if spec.name == "_fbp"), None)
    if fbp is not None:
        for p in prepared:
            if p.event.ids or p.event.hashed or any(d.status == "pending" for d in p.event.deliveries):
                p.event.ids.setdefault("fbp", fbp)
    return specs


def _first_country(ev: EventIn) -> str | None:
    value = ev.user.country
    first = value[0] if isinstance(value, list) and value else value
    if not isinstance(first, str):
        return None
    code = normalize_country(first)
    return code.upper() if code else None
