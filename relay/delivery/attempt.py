"""One delivery attempt of a claimed batch, in which a failure stays with the event it belongs to.

A connector answers one outcome per event and raises only for whole-batch failures. Any other
exception is a connector bug or an event it cannot handle: the batch is bisected so that the
events around the culprit are delivered on this attempt, and an event that still raises on its own
goes dead with the reason (``relay replay`` brings it back once the connector is fixed). The halving
spends at most :data:`BUG_CALLS` calls a batch: a bug every event hits would otherwise cost about two
calls per event (each maybe a request); what is not isolated by then is retried later, never failed.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from connectors.base import BUG_CALLS, Connector, MaskingConnector, clip
from relay.exceptions import AuthRejectedError, PermanentDeliveryError, RetryableDeliveryError, raised_at
from relay.masking import mask_text
from relay.storage.records import ClaimedDelivery
from relay.types import Delivered, Failed, OutboundEvent, Outcome, Retry, Skipped

log = logging.getLogger("relay.delivery")
Mask = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Paused:
    """The platform refused the connector's credentials: the connector pauses, the event waits."""

    message: str
    status_code: int | None = None


Result = Outcome | Paused


class ConnectorBugError(Exception):
    """A connector broke its contract (an outcome count that does not match the batch)."""


def masker(connector: Connector) -> Mask:
    """Mask then clip: the connector's own masking (its secrets) when it has one. Made per batch and
    memoised: a platform answers a whole batch with one text, masked once rather than once per event."""
    mask: Mask = connector.mask if isinstance(connector, MaskingConnector) else mask_text

    @functools.lru_cache(maxsize=64)
    def masked(text: str) -> str:
        return clip(mask(text))

    return masked


def outbound(
    ready: Sequence[ClaimedDelivery], mask: Mask
) -> tuple[list[tuple[ClaimedDelivery, OutboundEvent]], list[tuple[ClaimedDelivery, Failed]]]:
    """The claimed deliveries as connector events; a stored row that cannot be read fails alone."""
    mapped: list[tuple[ClaimedDelivery, OutboundEvent]] = []
    failed: list[tuple[ClaimedDelivery, Failed]] = []
    for claimed in ready:
        if claimed.unreadable is None:
            mapped.append((claimed, claimed.event))
        else:  # a row written before today's validation, or by hand
            failed.append((claimed, Failed(mask(claimed.unreadable))))
    return mapped, failed


async def attempt(connector: Connector, events: Sequence[OutboundEvent], mask: Mask) -> list[Result]:
    """Deliver ``events``; one result per event, in order."""
    return await _attempt(connector, events, mask, [BUG_CALLS])


async def _attempt(
    connector: Connector, events: Sequence[OutboundEvent], mask: Mask, budget: list[int]
) -> list[Result]:
    """:func:`attempt` with ``budget[0]`` the calls left for isolating a connector's exceptions."""
    if not events:
        return []
    try:
        outcomes: list[Result] = list(await connector.deliver(events))
    except AuthRejectedError as exc:
        return [Paused(mask(exc.message), exc.status_code) for _ in events]
    except RetryableDeliveryError as exc:
        return [Retry(exc.message, exc.retry_after, exc.status_code) for _ in events]
    except PermanentDeliveryError as exc:
        return [Failed(exc.message, exc.status_code) for _ in events]
    except Exception as exc:
        return await _isolate(connector, events, mask, exc, budget)
    if len(outcomes) != len(events):
        bug = ConnectorBugError(f"connector answered {len(outcomes)} outcomes for {len(events)} events")
        return await _isolate(connector, events, mask, bug, budget)
    return [o if _readable(o) else _mend(o) for o in outcomes]


def _readable(o: object) -> bool:
    """Whether an outcome is what the worker records as it is (the common case, checked cheaply)."""
    if isinstance(o, Delivered):
        return _code(o.status_code) and _text(o.response)
    if isinstance(o, Retry | Failed):
        after = o.retry_after if isinstance(o, Retry) else None
        fields = type(o.message) is str and _code(o.status_code) and _text(o.response)
        return fields and (after is None or _delay(after) is not None)
    return isinstance(o, Skipped) and type(o.reason) is str


def _code(value: object) -> bool:
    return value is None or type(value) is int


def _text(value: object) -> bool:
    return value is None or type(value) is str


def _delay(value: object) -> float | None:
    """A ``retry_after`` the retry policy can use: a finite number of seconds, not negative."""
    if type(value) in (int, float) and 0 <= value < math.inf:  # type: ignore[operator]
        return float(value)  # type: ignore[arg-type]
    return None


def _mend(o: object) -> Result:
    """A plugin's outcome the worker cannot record as it is, made recordable for its event alone: what
    can be read is kept (a send the platform acknowledged stays delivered), the rest is named as the
    connector's bug. Never the batch's failure: its other outcomes are recorded as they are."""
    bug = f"connector bug: an outcome that is a {type(o).__name__}"
    if isinstance(o, Delivered | Retry | Failed):
        code = o.status_code if type(o.status_code) is int else None
        response = o.response if type(o.response) is str else None
        if isinstance(o, Delivered):
            return Delivered(code, response)
        message = o.message if type(o.message) is str else f"{bug} with a {type(o.message).__name__} message"
        if isinstance(o, Failed):
            return Failed(message, code, response)
        return Retry(message, _delay(o.retry_after), code, response)
    if isinstance(o, Skipped):
        return Skipped(f"{bug} with a {type(o.reason).__name__} reason")
    return Failed(f"{bug}, not Delivered, Retry, Failed or Skipped")


async def _isolate(
    connector: Connector, events: Sequence[OutboundEvent], mask: Mask, exc: Exception, budget: list[int]
) -> list[Result]:
    reason = mask(f"connector error: {type(exc).__name__}: {exc}")
    extra = {"connector": connector.name, "error": reason, "where": _where(exc)}
    if len(events) == 1:
        event = events[0]
        log.error("connector failed on one event", extra={**extra, "event_id": event.event_id})
        return [Failed(reason)]
    if budget[0] < 2:  # isolating these would take more calls than a batch may spend: try them later
        log.error("connector failed on %d events, not isolated on this attempt", len(events), extra=extra)
        return [Retry(f"{reason} (not isolated on this attempt: tried again later)") for _ in events]
    budget[0] -= 2
    log.warning("connector failed on a batch of %d events, isolating", len(events), extra=extra)
    middle = len(events) // 2
    left = await _attempt(connector, events[:middle], mask, budget)
    paused = next((r for r in left if isinstance(r, Paused)), None)
    if paused is not None:  # credentials refused: nothing more goes out
        return left + [paused] * (len(events) - middle)
    if all(isinstance(r, Retry) for r in left):  # the platform is down or throttling: spare it
        return left + [left[0]] * (len(events) - middle)
    return left + await _attempt(connector, events[middle:], mask, budget)


def _where(exc: BaseException) -> str:
    """Where the exception was raised (file:line), for the log, without its possibly sensitive values."""
    place = raised_at(exc)
    return f"{place[0]}:{place[1]}" if place else "-"


__all__ = ["BUG_CALLS", "ConnectorBugError", "Mask", "Paused", "Result", "attempt", "masker", "outbound"]
