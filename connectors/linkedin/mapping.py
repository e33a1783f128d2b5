"""Relay events as LinkedIn conversion events (elements of ``POST /rest/conversionEvents`` BATCH_CREATE).

==========================  =====================================================================
LinkedIn field              from
==========================  =====================================================================
``conversion``              ``urn:lla:llaPartnerConversion:<id>`` of the event's ``conversion_rules``
``conversionHappenedAt``    ``event_time`` in epoch **milliseconds**
``eventId``                 the relay's ``event_id`` (dedup with the Insight Tag's event id)
``user.userIds``            ``SHA256_EMAIL`` per ``em`` hash; ``LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID``
                            from the ``li_fat_id`` click id
``user.externalIds``        the (hashed) ``external_id``, one value only
``conversionValue``         ``{currencyCode: custom.currency, amount: custom.value as a decimal string}``
                            (only when both are present)
==========================  =====================================================================

LinkedIn takes no phone number, and ``userInfo`` (first/last name) must be plain text: the relay
stores names hashed only, so it never sends ``userInfo``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from connectors import payload as p
from connectors.hashes import hashes as usable_hashes
from relay.types import OutboundEvent

NO_IDENTIFIER = "no identifier LinkedIn accepts (email or li_fat_id)"


def no_rule_reason(event_name: str) -> str:
    """Why an event name is never sent to LinkedIn."""
    return f"no LinkedIn conversion rule for event {event_name!r} (conversion_rules)"


def hashes(values: Sequence[str] | str) -> list[str]:
    """Distinct lowercase SHA-256 hex digests among ``values`` (no Meta ``.appendix``); anything else is
    dropped (:func:`connectors.hashes.hashes`)."""
    return usable_hashes(values, appendix=False)


def user_ids(event: OutboundEvent) -> list[dict[str, str]]:
    """The event's ``userIds`` (empty when it has neither email nor ``li_fat_id``)."""
    found = [{"idType": "SHA256_EMAIL", "idValue": h} for h in hashes(event.hashed.get("em", ()))]
    click = (event.ids.get("li_fat_id") or "").strip()
    if click:
        found.append({"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": click})
    return found


def conversion_value(custom: Mapping[str, Any]) -> dict[str, str] | None:
    """``{currencyCode, amount}``; raises when ``custom.value`` is there but not a number."""
    number = p.strict_value(custom)
    if number is None:
        return None
    code = p.currency(custom.get("currency"))
    if code is None:
        return None  # LinkedIn needs both: a value without a currency is left out
    return {"currencyCode": code, "amount": format(Decimal(str(number)).normalize(), "f")}


def to_element(event: OutboundEvent, conversion_urn: str) -> dict[str, Any]:
    """One element of the BATCH_CREATE body."""
    user: dict[str, Any] = {"userIds": user_ids(event)}
    external = hashes(event.hashed.get("external_id", ()))
    if external:
        user["externalIds"] = external[:1]
    element: dict[str, Any] = {
        "conversion": conversion_urn,
        "conversionHappenedAt": int(event.event_time) * 1000,
        "eventId": event.event_id,
        "user": user,
    }
    value = conversion_value(event.custom)
    if value is not None:
        element["conversionValue"] = value
    return element


__all__ = ["NO_IDENTIFIER", "conversion_value", "hashes", "no_rule_reason", "to_element", "user_ids"]
