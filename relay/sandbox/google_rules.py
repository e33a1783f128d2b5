"""What the fake Google Ads API and Data Manager API accept, checked row by row.

Each check answers ``(error kind, error code, message)`` for the first problem found, the way the
``GoogleAdsFailure`` of a partial failure names it (``{"errorCode": {kind: code}, "message"}``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

Problem = tuple[str, str, str]
MAX_CONVERSIONS = 2000
MAX_IDENTIFIERS = 5
MAX_MEMBERS = 10_000
MAX_MEMBER_IDENTIFIERS = 10
ROW_KEYS = frozenset(
    {
        "conversionAction",
        "conversionDateTime",
        "gclid",
        "gbraid",
        "wbraid",
        "orderId",
        "conversionValue",
        "currencyCode",
        "userIdentifiers",
        "consent",
        "conversionEnvironment",
        "cartData",
        "customVariables",
        "userIpAddress",
        "sessionAttributesEncoded",
        "sessionAttributesKeyValuePairs",
        "externalAttributionData",
    }
)
CONSENT_STATUSES = ("GRANTED", "DENIED", "UNSPECIFIED", "UNKNOWN")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?[+-]\d\d:\d\d")


def unknown_fields(conversions: Iterable[Any]) -> list[str]:
    """Unknown JSON names (Google refuses the whole request: ``Invalid JSON payload``)."""
    found: list[str] = []
    for i, row in enumerate(conversions):
        if isinstance(row, dict):
            found += [f"conversions[{i}].{key}" for key in sorted(set(row) - ROW_KEYS)]
    return found


def identifier_problem(identifiers: Any) -> Problem | None:
    if not isinstance(identifiers, list) or len(identifiers) > MAX_IDENTIFIERS:
        return "collectionSizeError", "TOO_MANY", f"at most {MAX_IDENTIFIERS} user identifiers"
    for item in identifiers:
        keys = set(item) - {"userIdentifierSource"} if isinstance(item, dict) else set()
        if len(keys) != 1 or keys.pop() not in ("hashedEmail", "hashedPhoneNumber", "addressInfo"):
            return "conversionUploadError", "INVALID_USER_IDENTIFIER", "one identifier per userIdentifier"
        for key in ("hashedEmail", "hashedPhoneNumber"):
            if key in item and not _HEX64.fullmatch(str(item[key])):
                return "conversionUploadError", "INVALID_USER_IDENTIFIER", f"{key} must be SHA-256 hex"
    return None


def consent_problem(consent: Any) -> Problem | None:
    if not isinstance(consent, dict):
        return "fieldError", "REQUIRED", "consent must be an object"
    if "adPersonalization" in consent:
        message = "ad_personalization can only be set for OfflineUserDataJobService and UserDataService"
        return "fieldError", "UNSUPPORTED_FIELD", message  # fake's code name
    if set(consent) - {"adUserData"} or consent.get("adUserData", "UNSPECIFIED") not in CONSENT_STATUSES:
        return "fieldError", "INVALID_VALUE", "consent.adUserData must be a ConsentStatus"
    return None


def row_problem(
    row: Any, customer_id: str, actions: set[str] | None, unknown_clicks: set[str]
) -> Problem | None:
    """The first problem of one ``ClickConversion`` row."""
    if not isinstance(row, dict):
        return "requestError", "INVALID_INPUT", "a conversion must be an object"
    action = re.fullmatch(
        rf"customers/{customer_id}/conversionActions/(\d+)", str(row.get("conversionAction"))
    )
    if action is None or (actions is not None and action[1] not in actions):
        return "conversionUploadError", "NO_CONVERSION_ACTION_FOUND", "conversion action not found"
    if not _DATE_TIME.fullmatch(str(row.get("conversionDateTime"))):
        return "dateError", "INVALID_STRING_DATE_TIME_SECONDS_WITH_OFFSET", "yyyy-mm-dd hh:mm:ss+|-hh:mm"
    clicks = [key for key in ("gclid", "gbraid", "wbraid") if row.get(key)]
    if len(clicks) > 1:
        return "conversionUploadError", "GBRAID_WBRAID_BOTH_SET", "set only one of gclid, gbraid, wbraid"
    if not clicks and not row.get("userIdentifiers"):
        return "conversionUploadError", "CLICK_NOT_FOUND", "no click id and no user identifiers"
    if clicks and row[clicks[0]] in unknown_clicks:
        return "conversionUploadError", "CLICK_NOT_FOUND", "the click could not be found"
    if "userIpAddress" in row:
        return "conversionUploadError", "CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE", "IP address imports"
    problem = identifier_problem(row.get("userIdentifiers", []))
    problem = problem or consent_problem(row.get("consent", {}))
    if problem:
        return problem
    value = row.get("conversionValue")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        return "fieldError", "INVALID_VALUE", "conversionValue must be a number"
    if "currencyCode" in row and not re.fullmatch(r"[A-Z]{3}", str(row["currencyCode"])):
        return "conversionUploadError", "INVALID_CURRENCY_CODE", "currencyCode must be ISO 4217"
    return None


def member_problem(member: Any) -> str | None:
    """The reason a Data Manager ``AudienceMember`` is refused (``None`` when it is valid)."""
    data = member.get("userData") if isinstance(member, dict) else None
    identifiers = data.get("userIdentifiers") if isinstance(data, dict) else None
    if not isinstance(identifiers, list) or not 1 <= len(identifiers) <= MAX_MEMBER_IDENTIFIERS:
        return "INVALID_USER_IDENTIFIERS_COUNT"
    for item in identifiers:
        if not isinstance(item, dict) or len(item) != 1:
            return "INVALID_USER_IDENTIFIER"
        [(key, value)] = item.items()
        if key not in ("emailAddress", "phoneNumber"):
            return "INVALID_USER_IDENTIFIER"
        if not isinstance(value, str) or not re.fullmatch(r"[0-9a-fA-F]+", value):
            return "INVALID_HEX_ENCODING"
        if not _HEX64.fullmatch(value.lower()):
            return "INVALID_SHA256_FORMAT"
    return None


__all__ = [
    "MAX_CONVERSIONS",
    "MAX_MEMBERS",
    "Problem",
    "consent_problem",
    "identifier_problem",
    "member_problem",
    "row_problem",
    "unknown_fields",
]
