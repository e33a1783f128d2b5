"""Relay events as Google Ads ``ClickConversion`` rows (``POST /v26/customers/{id}:uploadClickConversions``).

==========================  =====================================================================
Google field                from
==========================  =====================================================================
``conversionAction``        ``customers/<customer_id>/conversionActions/<id>`` of ``conversion_actions``
``conversionDateTime``      ``event_time`` as ``yyyy-mm-dd hh:mm:ss+00:00`` (UTC)
``gclid`` / ``gbraid`` /    the first click id the event carries, in this order (Google takes one)
``wbraid``
``orderId``                 the relay's ``event_id`` (Google's dedup key per conversion action)
``userIdentifiers``         ``hashedEmail`` per Google-normalised email hash (``em_google``, else ``em``),
                            ``hashedPhoneNumber`` per E.164 hash (``ph_e164``); at most 5, with
                            ``userIdentifierSource: FIRST_PARTY`` (enhanced conversions for leads when
                            no click id is present)
``conversionValue``         ``custom.value`` (a number)
``currencyCode``            ``custom.currency``
``consent.adUserData``      ``GRANTED`` when the relay's decision is ``allow``, ``DENIED`` when ``limited``
``conversionEnvironment``   ``WEB`` for ``website`` events, ``APP`` for ``app``
==========================  =====================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from connectors import payload as p
from connectors.hashes import hashes as usable_hashes
from relay.types import OutboundEvent

NO_IDENTIFIER = "no identifier Google Ads accepts (gclid, gbraid, wbraid, email or phone)"
CLICK_IDS = ("gclid", "gbraid", "wbraid")
MAX_IDENTIFIERS = 5


def no_action_reason(event_name: str) -> str:
    return f"no Google Ads conversion action for event {event_name!r} (conversion_actions)"


def conversion_date_time(timestamp: float) -> str:
    """Unix seconds as Google wants them: ``2026-08-01 12:00:00+00:00``."""
    return f"{datetime.fromtimestamp(int(timestamp), UTC):%Y-%m-%d %H:%M:%S+00:00}"


def hashes(values: Sequence[str] | str) -> list[str]:
    """Distinct lowercase SHA-256 hex digests among ``values`` (no Meta ``.appendix``); anything else is
    dropped (:func:`connectors.hashes.hashes`)."""
    return usable_hashes(values, appendix=False)


def click_id(event: OutboundEvent) -> tuple[str, str] | None:
    """``(field, value)`` of the event's click id, if it has one."""
    for key in CLICK_IDS:
        value = (event.ids.get(key) or "").strip()
        if value:
            return key, value
    return None


def user_identifiers(hashed: Mapping[str, Sequence[str]]) -> list[dict[str, str]]:
    """``hashedEmail`` / ``hashedPhoneNumber`` identifiers, at most five.

    ``em_google`` is the email normalised as Google asks (dots removed from gmail.com and
    googlemail.com local parts); other addresses have only ``em``, which is then the same value.
    """
    emails = hashes(hashed.get("em_google", ())) or hashes(hashed.get("em", ()))
    found = [{"hashedEmail": h} for h in emails]
    found += [{"hashedPhoneNumber": h} for h in hashes(hashed.get("ph_e164", ()))]
    return [{**item, "userIdentifierSource": "FIRST_PARTY"} for item in found[:MAX_IDENTIFIERS]]


def to_click_conversion(event: OutboundEvent, action: str) -> dict[str, Any]:
    """One row of ``conversions``."""
    row: dict[str, Any] = {
        "conversionAction": action,
        "conversionDateTime": conversion_date_time(event.event_time),
        "orderId": event.event_id,
    }
    click = click_id(event)
    if click is not None:
        row[click[0]] = click[1]
    identifiers = user_identifiers(event.hashed)
    if identifiers:
        row["userIdentifiers"] = identifiers
    value = p.strict_value(event.custom)
    if value is not None:
        row["conversionValue"] = value
        currency = p.currency(event.custom.get("currency"))
        if currency is not None:
            row["currencyCode"] = currency
    granted = event.consent.decision == "allow"
    row["consent"] = {"adUserData": "GRANTED" if granted else "DENIED"}
    if event.action_source in ("website", "app"):
        row["conversionEnvironment"] = "WEB" if event.action_source == "website" else "APP"
    return row


__all__ = [
    "CLICK_IDS",
    "MAX_IDENTIFIERS",
    "NO_IDENTIFIER",
    "click_id",
    "conversion_date_time",
    "hashes",
    "no_action_reason",
    "to_click_conversion",
    "user_identifiers",
]
