"""The connector contract and an optional base class for HTTP connectors.

A connector *type* is a class registered under the entry-point group ``relay.connectors``.
It declares ``settings_model`` (a subclass of :class:`relay.settings.ConnectorSettings`),
``capabilities`` and ``max_batch``, is built as ``cls(name, settings, client)`` and turns a
batch of consented, normalised events into platform calls, answering one outcome per event.

:class:`BaseConnector` delivers in three steps, so that one bad event never fails its batch:
``precheck`` and ``build`` map each event alone (an exception fails that event only), then the
built payloads go out in requests of at most ``max_batch``, bisected by :func:`isolate` when the
platform rejects a request for its payload.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Generic, Protocol, TypedDict, TypeVar, Unpack, runtime_checkable

import httpx

from connectors.http import classify_status, in_call_retry, parse_retry_after
from relay.delivery import requests as recorded
from relay.exceptions import (
    AuthRejectedError,
    DeliveryTimeoutError,
    PayloadRejectedError,
    PermanentDeliveryError,
    RetryableDeliveryError,
    UnavailableError,
)
from relay.masking import mask_text
from relay.settings import ConnectorSettings
from relay.types import (
    AudienceBatchResult,
    AudienceMember,
    Capability,
    Failed,
    OutboundEvent,
    Outcome,
    Retry,
)

SettingsT = TypeVar("SettingsT", bound=ConnectorSettings)
T = TypeVar("T")
R = TypeVar("R")
E = TypeVar("E", bound=Exception)
#: the longest text a connector or the worker keeps from a platform answer (after masking)
MAX_TEXT = 1000
#: calls one batch may spend isolating the items its connector raises on (a plugin's bug, not a platform's
#: answer), for deliveries and audience syncs alike: one or two culprits among ten thousand are found in
#: about 30 calls, where a bug every item hits would cost about two calls per item
BUG_CALLS = 64


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters; cut only text already masked, so that no secret is
    left half-masked across the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unmappable(exc: BaseException) -> str:
    """The reason recorded for an event its connector cannot map (mask it before storing)."""
    return f"cannot map event: {type(exc).__name__}: {exc}"


@runtime_checkable
class Connector(Protocol):
    """What the relay needs from a connector instance."""

    type_name: ClassVar[str]
    settings_model: ClassVar[type[ConnectorSettings]]
    capabilities: ClassVar[frozenset[Capability]]
    name: str
    settings: ConnectorSettings

    @property
    def max_batch(self) -> int: ...

    def skip_reason(self, event_name: str) -> str | None:
        """A reason never to send events of this name (checked when the event is stored)."""

    async def deliver(self, events: Sequence[OutboundEvent]) -> Sequence[Outcome]:
        """Send a batch; one outcome per event, in order. May raise a whole-batch DeliveryError."""

    async def aclose(self) -> None: ...


class ReplaceSession(TypedDict):
    """Where one batch stands in a replace upload (the keyword arguments of ``audience_replace``)."""

    session_id: int
    batch_seq: int
    last: bool
    estimated_total: int


@runtime_checkable
class AudienceConnector(Protocol):
    """The ``audiences`` capability: keep a hashed customer list in sync on the platform.

    ``supports_replace`` is False where the platform has no replace-all upload: a full sync then re-adds
    every member and sends the relay's computed removals (:class:`BaseConnector` says True)."""

    max_audience_batch: ClassVar[int]
    supports_replace: ClassVar[bool]

    async def audience_add(self, audience_id: str, members: Sequence[AudienceMember]) -> AudienceBatchResult:
        """Add ``members``; members the platform refuses are counted in the result, not raised."""

    async def audience_remove(
        self, audience_id: str, members: Sequence[AudienceMember]
    ) -> AudienceBatchResult:
        """Remove ``members`` (sent as they were added)."""

    async def audience_replace(
        self, audience_id: str, members: Sequence[AudienceMember], **session: Unpack[ReplaceSession]
    ) -> AudienceBatchResult:
        """One batch of a replace upload; the new membership takes effect with the ``last`` batch."""


@runtime_checkable
class VerifiableConnector(Protocol):
    """Optional: a connector that can ask its platform, harmlessly, whether its credentials are accepted
    (``relay check --connect``). Answers whether they are, and a line saying why."""

    async def verify(self) -> tuple[bool, str]: ...


@runtime_checkable
class SecretHolder(Protocol):
    """Optional: a connector that knows its own secret values, so that what it sends can be shown masked
    (:class:`BaseConnector` does)."""

    def secrets(self) -> Sequence[str]: ...


@runtime_checkable
class AudienceSettingsCheck(Protocol):
    """Optional, on a connector's settings model: why these settings cannot sync audiences (None when they
    can), checked when the config is loaded."""

    def audience_problem(self) -> str | None: ...


@runtime_checkable
class WindowedConnector(Protocol):
    """Optional: a connector whose platform refuses events older than a window (:class:`BaseConnector`
    says None, no window); the worker stops retrying at it."""

    def acceptance_window(self, action_source: str) -> float | None: ...


@runtime_checkable
class MaskingConnector(Protocol):
    """Optional: a connector that masks its own secrets in the texts it answers (:class:`BaseConnector`
    does); the worker masks the texts of any other connector with the relay's generic masking."""

    def mask(self, text: str) -> str: ...


DAY = 86400.0


class BaseConnector(Generic[SettingsT]):
    """Shared plumbing: settings, the shared ``httpx.AsyncClient``, error translation, isolation."""

    type_name: ClassVar[str] = ""
    settings_model: ClassVar[type[ConnectorSettings]] = ConnectorSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"conversions"})
    #: the platform's documented batch limit
    platform_max_batch: ClassVar[int] = 100
    #: for the ``audiences`` capability (:class:`AudienceConnector`): whether a replace upload exists
    supports_replace: ClassVar[bool] = True

    def __init__(self, name: str, settings: SettingsT, client: httpx.AsyncClient) -> None:
        self.name = name
        self.settings = settings
        self.client = client

    @property
    def max_batch(self) -> int:
        configured = self.settings.batch_size or self.platform_max_batch
        return min(configured, self.platform_max_batch)

    def skip_reason(self, event_name: str) -> str | None:
        return None

    def acceptance_window(self, action_source: str) -> float | None:
        """How long after ``event_time`` (seconds) the platform still accepts an event; None when the
        platform documents no limit. Retries stop at this window (or earlier, ``delivery.max_age_hours``)."""
        return None

    def secrets(self) -> Sequence[str]:
        """Secret strings of this connector, masked wherever a request is recorded."""
        return ()

    def mask(self, text: str) -> str:
        """``text`` with this connector's secrets, credential parameters and contact details masked."""
        return mask_text(text, self.secrets())

    def precheck(self, event: OutboundEvent) -> Outcome | None:
        """The outcome of an event that must not be sent (skipped, refused), or None when it may go."""
        return None

    def build(self, event: OutboundEvent) -> Any:
        """The platform payload of one event (by default the event itself, for :meth:`send_batch`).

        An exception here fails this event alone, recorded as "cannot map event: ..."."""
        return event

    def prepare_one(self, event: OutboundEvent) -> tuple[Outcome | None, Any]:
        """``(outcome, None)`` for an event that will not be sent, ``(None, payload)`` for one that will: by
        default :meth:`precheck`, then :meth:`build`. Override it to let the build reuse what the check
        computed (Meta's ``user_data``). An exception fails this event alone, as in :meth:`build`."""
        outcome = self.precheck(event)
        return (outcome, None) if outcome is not None else (None, self.build(event))

    def prepare(self, events: Sequence[OutboundEvent]) -> tuple[list[Outcome | None], list[tuple[int, Any]]]:
        """Map each event alone (:meth:`prepare_one`): the outcomes of events that will not be sent (None
        for the others) and ``(index, payload)`` of those that will."""
        outcomes: list[Outcome | None] = []
        built: list[tuple[int, Any]] = []
        for index, event in enumerate(events):
            try:
                outcome, payload = self.prepare_one(event)
                if outcome is None:
                    built.append((index, payload))
            except Exception as exc:  # bad stored data or a mapper bug: this event only
                outcome = Failed(clip(self.mask(unmappable(exc))))
            outcomes.append(outcome)
        return outcomes, built

    async def deliver(self, events: Sequence[OutboundEvent]) -> Sequence[Outcome]:
        """Prepare each event, send the payloads in requests of at most :attr:`max_batch`."""
        outcomes, built = self.prepare(events)
        try:
            await self._send_built(built, outcomes)
        finally:  # also when the platform refused the whole batch (credentials): the trace shows why
            recorded.delivered(events, built)
        return [o if o is not None else Retry("not attempted") for o in outcomes]

    async def _send_built(self, built: Sequence[tuple[int, Any]], outcomes: list[Outcome | None]) -> None:
        """Send the built payloads in requests of at most :attr:`max_batch`, filling in ``outcomes``."""
        size = self.max_batch
        for start in range(0, len(built), size):
            chunk = built[start : start + size]
            results = await self.send_chunk([payload for _, payload in chunk])
            for (index, _), result in zip(chunk, results, strict=True):
                outcomes[index] = result
            if results and all(isinstance(r, Retry) for r in results):
                # the platform is throttling or down: the rest would meet the same answer
                for index, _ in built[start + size :]:
                    outcomes[index] = results[0]
                break

    async def send_chunk(self, payloads: Sequence[Any]) -> list[Outcome]:
        """One request's worth of payloads, bisected on a payload rejection."""
        try:
            return await isolate(payloads, self._send_recorded)
        except AuthRejectedError:
            raise
        except PermanentDeliveryError as exc:  # e.g. an unknown pixel: nothing in this request can pass
            return [Failed(exc.message, exc.status_code) for _ in payloads]

    async def _send_recorded(self, payloads: Sequence[Any]) -> Sequence[Outcome]:
        """:meth:`send_payloads`, noting the request that carried them (bisected: the last, smallest one)."""
        before = recorded.mark()
        try:
            return await self.send_payloads(payloads)
        finally:
            recorded.carried(payloads, before)

    async def send_payloads(self, payloads: Sequence[Any]) -> Sequence[Outcome]:
        """Send one request for built payloads; by default they are the events, for :meth:`send_batch`."""
        return await self.send_batch(payloads)

    async def send_batch(self, events: Sequence[OutboundEvent]) -> Sequence[Outcome]:
        """Send one request for ``events``; raise a :class:`DeliveryError` for a whole-batch failure."""
        raise NotImplementedError

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One HTTP call; transport errors become retryable errors, connect errors are retried briefly.
        Recorded (masked, headers left out) for the event trace while the worker delivers."""
        recorded.sent(method, url, kwargs, self.mask, self.secrets())
        try:
            async for attempt in in_call_retry(httpx.ConnectError):
                with attempt:
                    return await self.client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise DeliveryTimeoutError(f"{type(exc).__name__} after the request timeout") from None
        except httpx.HTTPError as exc:
            raise UnavailableError(self.mask(f"{type(exc).__name__}: {exc}")) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        """The shared client belongs to the app; nothing of our own to close."""


SendBatch = Callable[[Sequence[OutboundEvent]], Awaitable[Sequence[Outcome]]]


async def bisect(
    items: Sequence[T],
    send: Callable[[Sequence[T]], Awaitable[R]],
    *,
    refused: Callable[[E], R],
    join: Callable[[R, R, int], R],
    split_on: type[E] = PayloadRejectedError,  # type: ignore[assignment]
) -> R:
    """``send(items)``; when the platform refuses the whole request for its payload, halve it and send each
    half, down to single items, so that one bad item never fails the others.

    ``refused`` is the result of one item the platform refuses; ``join(left, right, offset)`` puts the
    results of two halves together (``offset`` = the right half's first position). ``split_on`` is the
    exception that halves a batch (a payload rejection unless the caller has its own). Every other error
    propagates."""
    try:
        return await send(items)
    except split_on as exc:
        if len(items) <= 1:
            return refused(exc)
    middle = len(items) // 2
    left = await bisect(items[:middle], send, refused=refused, join=join, split_on=split_on)
    right = await bisect(items[middle:], send, refused=refused, join=join, split_on=split_on)
    return join(left, right, middle)


async def isolate(
    events: Sequence[T], send: Callable[[Sequence[T]], Awaitable[Sequence[Outcome]]]
) -> list[Outcome]:
    """Send ``events`` (or their built payloads), bisected (:func:`bisect`) on a payload rejection, so
    that good events are delivered and only bad ones fail.

    Whole-batch retryable errors become :class:`Retry` for every event; auth errors propagate
    (the worker pauses the connector).
    """

    async def attempt(part: Sequence[T]) -> list[Outcome]:
        try:
            return list(await send(part))
        except RetryableDeliveryError as exc:
            return [Retry(exc.message, exc.retry_after, exc.status_code) for _ in part]

    if not events:
        return []
    return await bisect(events, attempt, refused=_refused, join=_concat)


def _refused(exc: PayloadRejectedError) -> list[Outcome]:
    return [Failed(exc.message, status_code=exc.status_code)]


def _concat(left: list[Outcome], right: list[Outcome], offset: int) -> list[Outcome]:
    return left + right


__all__ = [
    "BUG_CALLS",
    "DAY",
    "MAX_TEXT",
    "AudienceConnector",
    "AudienceSettingsCheck",
    "BaseConnector",
    "Connector",
    "MaskingConnector",
    "ReplaceSession",
    "SecretHolder",
    "SendBatch",
    "VerifiableConnector",
    "WindowedConnector",
    "bisect",
    "classify_status",
    "clip",
    "in_call_retry",
    "isolate",
    "parse_retry_after",
    "unmappable",
]
