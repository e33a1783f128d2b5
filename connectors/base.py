"""The connector contract and an optional base class for HTTP connectors.

A connector *type* is a class registered under the entry-point group ``relay.connectors``.
It declares ``settings_model`` (a subclass of :class:`relay.settings.ConnectorSettings`),
``capabilities`` and ``max_batch``, is built as ``cls(name, settings, client)`` and turns a
batch of consented, normalised events into platform calls, answering one outcome per event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from relay.exceptions import (
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


@runtime_checkable
class AudienceConnector(Protocol):
    """The ``audiences`` capability: keep a hashed customer list in sync on the platform."""

    max_audience_batch: ClassVar[int]

    async def audience_add(
        self, audience_id: str, members: Sequence[AudienceMember]
    ) -> AudienceBatchResult: ...

    async def audience_remove(
        self, audience_id: str, members: Sequence[AudienceMember]
    ) -> AudienceBatchResult: ...

    async def audience_replace(
        self,
        audience_id: str,
        members: Sequence[AudienceMember],
        *,
        session_id: int,
        batch_seq: int,
        last: bool,
        estimated_total: int,
    ) -> AudienceBatchResult: ...


class BaseConnector(Generic[SettingsT]):
    """Shared plumbing: settings, the shared ``httpx.AsyncClient``, error translation, isolation."""

    type_name: ClassVar[str] = ""
    settings_model: ClassVar[type[ConnectorSettings]] = ConnectorSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"conversions"})
    #: the platform's documented batch limit
    platform_max_batch: ClassVar[int] = 100

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

    def secrets(self) -> Sequence[str]:
        """Secret strings of this connector, masked wherever a request is recorded."""
        return ()

    def mask(self, text: str) -> str:
        return mask_text(text, self.secrets())

    async def deliver(self, events: Sequence[OutboundEvent]) -> Sequence[Outcome]:
        return await isolate(events, self.send_batch)

    async def send_batch(self, events: Sequence[OutboundEvent]) -> Sequence[Outcome]:
        """Send one request for ``events``; raise a :class:`DeliveryError` for a whole-batch failure."""
        raise NotImplementedError

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One HTTP call; transport errors become retryable errors, connect errors are retried briefly."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(httpx.ConnectError),
            stop=stop_after_attempt(3),
            wait=wait_random_exponential(multiplier=0.05, max=0.5),
            reraise=True,
        )
        try:
            async for attempt in retrying:
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


async def isolate(events: Sequence[OutboundEvent], send: SendBatch) -> list[Outcome]:
    """Send ``events``; when the platform rejects the whole batch for its payload, split it in
    halves and retry each, so that good events are delivered and only bad ones fail.

    Whole-batch retryable errors become :class:`Retry` for every event; auth errors propagate
    (the worker pauses the connector).
    """
    if not events:
        return []
    try:
        return list(await send(events))
    except PayloadRejectedError as exc:
        if len(events) == 1:
            return [Failed(exc.message, status_code=exc.status_code)]
    except RetryableDeliveryError as exc:
        return [Retry(exc.message, exc.retry_after, exc.status_code) for _ in events]
    except PermanentDeliveryError:
        raise
    middle = len(events) // 2
    return await isolate(events[:middle], send) + await isolate(events[middle:], send)


__all__ = ["AudienceConnector", "BaseConnector", "Connector", "SendBatch", "isolate"]
