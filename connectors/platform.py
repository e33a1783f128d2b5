"""The scaffolding of a connector that maps each event alone and posts JSON (TikTok, Snapchat, Pinterest,
Reddit, LinkedIn, Google Ads): the window the platform accepts events in, the secrets of its block, event
names (the block's ``events`` overrides over the platform's standard names) and the checks made before an
event is built: a rule to skip its name, a consent denial, then the platform's own condition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from connectors import payload as p
from connectors.base import DAY, BaseConnector
from connectors.settings import EventMapSettings, TokenSettings
from relay.types import OutboundEvent, Outcome, Skipped

SettingsT = TypeVar("SettingsT", bound=TokenSettings)


class PlatformConnector(BaseConnector[SettingsT]):
    """A :class:`BaseConnector` whose subclasses say what differs: ``window_days``, ``standard_events``,
    :meth:`other_event_name`, :meth:`unsendable` and :meth:`send_payloads`."""

    #: days after ``event_time`` the platform still takes an event (None: it names no limit)
    window_days: ClassVar[float | None] = None
    #: the platform's names of the relay's standard events
    standard_events: ClassVar[Mapping[str, str]] = {}

    def secrets(self) -> Sequence[str]:
        return self.settings.secret_values()

    def acceptance_window(self, action_source: str) -> float | None:
        return None if self.window_days is None else self.window_days * DAY

    def other_event_name(self, event_name: str) -> str | None:
        """The platform's name of an event neither overridden nor standard (None: never sent)."""
        return event_name

    def platform_event_name(self, event_name: str) -> str | None:
        """The platform's name of ``event_name``: the block's ``events`` override, else the standard name,
        else :meth:`other_event_name`; None = never send."""
        overrides = self.settings.events if isinstance(self.settings, EventMapSettings) else {}
        return p.event_name(overrides, self.standard_events, event_name, self.other_event_name(event_name))

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

    async def send_batch(self, events: Sequence[OutboundEvent]) -> Sequence[Outcome]:
        return await self.send_payloads([self.build(e) for e in events])

    async def send_payloads(self, payloads: Sequence[Any]) -> Sequence[Outcome]:
        """One request for built payloads, one outcome per payload."""
        raise NotImplementedError


__all__ = ["PlatformConnector"]
