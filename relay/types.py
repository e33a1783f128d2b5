"""Values that cross the boundary between the relay and its connectors.

A connector receives :class:`OutboundEvent` objects (consented, normalised, contact
details already hashed) and answers one :data:`Outcome` per event, in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

Decision = Literal["allow", "limited", "deny"]
LimitedMode = Literal["ldu", "strip"]
Capability = Literal["conversions", "audiences"]

#: Keys of :attr:`OutboundEvent.hashed` and :attr:`AudienceMember.hashed`. Every value is a
#: list of lowercase SHA-256 hex digests of the normalised value (see ``relay.normalize``).
HASHED_KEYS = (
    "em",  # email: trimmed, lowercased
    "em_google",  # every email as Google hashes it (gmail dots removed); only when one differs from em
    "em_reddit",  # every email as hashed for Reddit (local part without dots and +suffix); likewise
    "ph",  # phone: digits only with the country code (Meta, Snap, Pinterest ...)
    "ph_e164",  # phone: E.164 with the leading "+" (X, TikTok)
    "fn",  # first name
    "ln",  # last name
    "fi",  # first initial
    "ge",  # gender: f or m
    "db",  # date of birth YYYYMMDD
    "doby",  # year of birth YYYY
    "dobm",  # month of birth MM
    "dobd",  # day of birth DD
    "ct",  # city
    "st",  # state
    "zp",  # zip / postal code
    "country",  # ISO 3166-1 alpha-2, lowercase
    "external_id",  # trimmed, lowercased
)
#: the keys of the emails as one platform hashes them (beside ``em``, as written): stored only when that
#: platform's form of some email differs, then for each email
EMAIL_FORMS = ("em_google", "em_reddit")

#: Keys of :attr:`OutboundEvent.ids`: device and click ids, kept as given. Besides Meta's and X's:
#: TikTok ``ttclid``/``ttp`` (``_ttp``), Snap ``sc_click_id`` (URL ``ScCid``) and ``scid`` (``_scid``),
#: Pinterest ``epik``, Reddit ``rdt_cid`` and ``rdt_uuid`` (``_rdt_uuid``), LinkedIn ``li_fat_id``,
#: Google ``gclid``/``gbraid``/``wbraid``.
ID_KEYS = (
    "fbp",
    "fbc",
    "twclid",
    "ttclid",
    "ttp",
    "sc_click_id",
    "scid",
    "epik",
    "rdt_cid",
    "rdt_uuid",
    "li_fat_id",
    "gclid",
    "gbraid",
    "wbraid",
    "subscription_id",
    "lead_id",
    "madid",
)
#: the ids only a browser sees (first-party cookies, click ids on landing URLs): a browser copy of a
#: server event may add them (``relay.storage.dedup``)
BROWSER_ID_KEYS = ID_KEYS[: ID_KEYS.index("subscription_id")]


class DeliveryStatus(StrEnum):
    """Where one (event, connector) delivery stands; stored and shown as these strings."""

    PENDING = "pending"  # waiting for its next attempt (``next_attempt_at``)
    IN_FLIGHT = "in_flight"  # claimed by a worker until its lease ends
    DELIVERED = "delivered"
    DEAD = "dead"  # given up: a permanent failure, or out of time or attempts
    SKIPPED = "skipped"  # not sent by policy: consent denied, or nothing the platform can use


class AttemptOutcome(StrEnum):
    """What one try of a delivery came to, as recorded in its attempt history."""

    DELIVERED = "delivered"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"
    SKIPPED = "skipped"
    PAUSED = "paused"  # the connector's credentials were refused: not really tried


@dataclass(frozen=True, slots=True)
class ConsentVerdict:
    """What consent allows for one (event, connector)."""

    decision: Decision
    reason: str
    mode: LimitedMode | None = None
    #: Meta Limited Data Use geography: (country, state), e.g. (1, 1000) for California, (0, 0) to geolocate.
    ldu: tuple[int, int] | None = None


ALLOW = ConsentVerdict("allow", "allowed")


@dataclass(frozen=True, slots=True)
class OutboundEvent:
    """One event on its way to one connector."""

    delivery_id: int
    event_id: str
    event_name: str
    event_time: int
    action_source: str = "website"
    event_source_url: str | None = None
    referrer_url: str | None = None
    opt_out: bool = False
    hashed: Mapping[str, Sequence[str]] = field(default_factory=dict)
    ids: Mapping[str, str] = field(default_factory=dict)
    ip: str | None = None
    user_agent: str | None = None
    custom: Mapping[str, Any] = field(default_factory=dict)
    consent: ConsentVerdict = ALLOW
    received_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Delivered:
    """The platform acknowledged the event."""

    status_code: int | None = None
    response: str | None = None


@dataclass(frozen=True, slots=True)
class Retry:
    """A failure that may pass: the event is tried again later."""

    message: str
    retry_after: float | None = None
    status_code: int | None = None
    response: str | None = None


@dataclass(frozen=True, slots=True)
class Failed:
    """A permanent failure: the platform refused this event."""

    message: str
    status_code: int | None = None
    response: str | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """Not sent by policy (no mapping for the event, no identifier the platform accepts)."""

    reason: str


Outcome = Delivered | Retry | Failed | Skipped


@dataclass(frozen=True, slots=True)
class AudienceMember:
    """One person of an audience: hashed contact details (keys of :data:`HASHED_KEYS`) and a madid."""

    hashed: Mapping[str, Sequence[str]]
    madid: str | None = None


@dataclass(frozen=True, slots=True)
class AudienceBatchResult:
    """The platform's answer to one audience batch."""

    received: int
    invalid: int = 0
    invalid_samples: Mapping[str, str] = field(default_factory=dict)
    #: indexes (in the batch) of members the platform reported as failed
    failed_indexes: Sequence[int] = ()


__all__ = [
    "ALLOW",
    "BROWSER_ID_KEYS",
    "EMAIL_FORMS",
    "HASHED_KEYS",
    "ID_KEYS",
    "AttemptOutcome",
    "AudienceBatchResult",
    "AudienceMember",
    "Capability",
    "ConsentVerdict",
    "Decision",
    "Delivered",
    "DeliveryStatus",
    "Failed",
    "LimitedMode",
    "OutboundEvent",
    "Outcome",
    "Retry",
    "Skipped",
]
