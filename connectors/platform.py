"""The scaffolding of a connector that maps each event alone and posts JSON (TikTok, Snapchat, Pinterest,
Reddit, LinkedIn): the facts of the platform's API (:class:`PlatformApi`: endpoint, batch limit, the window
it accepts events in, its standard event names, the builder of one event), the secrets of its block, event
names (the block's ``events`` overrides over the platform's standard names), the checks made before an
event is built (a rule to skip its name, a consent denial, then the platform's own condition) and the one
request that sends a batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypedDict, TypeVar

import httpx

from connectors import payload as p
from connectors.base import DAY, BaseConnector, clip
from connectors.settings import EventMapSettings, TokenSettings
from relay.exceptions import DeliveryError
from relay.types import Delivered, OutboundEvent, Outcome, Skipped

SettingsT = TypeVar("SettingsT", bound=TokenSettings)


@dataclass(frozen=True, slots=True)
class PlatformApi:
    """What a connector knows of its platform's conversions API."""

    #: the platform's name in errors ("Reddit answered 400: ...")
    label: str
    #: the events endpoint after ``api_base``; ``{s.<key>}`` stands for a key of the connector block
    events_path: str
    #: the documented number of events per request
    max_batch: int
    #: one event's payload, sent under the given event name (None: the connector builds its own)
    item: Callable[[OutboundEvent, str], dict[str, Any]] | None = None
    #: days after ``event_time`` the platform still takes an event (None: it names no limit)
    window_days: float | None = None
    #: the platform's names of the relay's standard events
    standard_events: Mapping[str, str] = field(default_factory=dict)


class RequestParts(TypedDict, total=False):
    """The parts of the events request besides its method and URL."""

    params: dict[str, str] | None
    json: Any
    headers: dict[str, str]


class PlatformConnector(BaseConnector[SettingsT]):
    """A :class:`BaseConnector` whose subclasses say what differs: their :class:`PlatformApi`,
    :meth:`other_event_name`, :meth:`unsendable`, :meth:`request_parts` and, where the platform answers
    more than a status, :meth:`error_of` and :meth:`outcomes`."""

    api: ClassVar[PlatformApi]

    @property
    def max_batch(self) -> int:
        return min(self.settings.batch_size or self.api.max_batch, self.api.max_batch)

    @property
    def events_url(self) -> str:
        return self.settings.api_base + self.api.events_path.format(s=self.settings)

    def secrets(self) -> Sequence[str]:
        return self.settings.secret_values()

    def bearer(self) -> dict[str, str]:
        """The ``Authorization: Bearer`` header carrying the block's ``access_token``."""
        return {"Authorization": f"Bearer {self.settings.access_token.get_secret_value()}"}

    def acceptance_window(self, action_source: str) -> float | None:
        days = self.api.window_days
        return None if days is None else days * DAY

    def other_event_name(self, event_name: str) -> str | None:
        """The platform's name of an event neither overridden nor standard (None: never sent)."""
        return event_name

    def platform_event_name(self, event_name: str) -> str | None:
        """The platform's name of ``event_name``: the block's ``events`` override, else the standard name,
        else :meth:`other_event_name`; None = never send."""
        overrides = self.settings.events if isinstance(self.settings, EventMapSettings) else {}
        other = self.other_event_name(event_name)
        return p.event_name(overrides, self.api.standard_events, event_name, other)

    def skip_reason(self, event_name: str) -> str | None:
        if self.platform_event_name(event_name) is None:
            return f"event not mapped for {self.name} (events: {event_name}: null)"
        return None

    def unsendable(self, event: OutboundEvent) -> str | None:
        """Why the platform cannot take this (consented) event, e.g. nothing to match a person on."""
        return None

    def precheck(self, event: OutboundEvent) -> Outcome | None:
        reason = self.skip_reason(event.event_name)
        if reason is None and event.consent.decision == "deny":
            reason = f"consent denied: {event.consent.reason}"
        if reason is None:
            reason = self.unsendable(event)
        return Skipped(reason) if reason else None

    def build(self, event: OutboundEvent) -> Any:
        if self.api.item is None:
            raise NotImplementedError(f"{type(self).__name__} builds its own payloads")
        return self.api.item(event, self.platform_event_name(event.event_name) or event.event_name)

    async def send_batch(self, events: Sequence[OutboundEvent]) -> Sequence[Outcome]:
        return await self.send_payloads([self.build(e) for e in events])

    def request_parts(self, payloads: Sequence[Any]) -> RequestParts:
        """The query, JSON body and headers of the request carrying built ``payloads``."""
        raise NotImplementedError

    def error_of(self, response: httpx.Response) -> DeliveryError | None:
        """The error a whole-request answer means (None: a success), judged by its status."""
        if response.is_success:
            return None
        return p.status_error(response, self.api.label, p.detail_of(response), self.mask)

    def outcomes(self, response: httpx.Response, sent: int) -> list[Outcome]:
        """One outcome per payload of a successful request: each delivered, with the answer (masked)."""
        summary = clip(self.mask(response.text), 300)
        return [Delivered(response.status_code, summary) for _ in range(sent)]

    async def send_payloads(self, payloads: Sequence[Any]) -> Sequence[Outcome]:
        """One request for built payloads, one outcome per payload."""
        response = await self.request("POST", self.events_url, **self.request_parts(payloads))
        error = self.error_of(response)
        if error is not None:
            raise error
        return self.outcomes(response, len(payloads))


__all__ = ["PlatformApi", "PlatformConnector", "RequestParts"]
