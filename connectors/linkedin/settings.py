"""The ``linkedin`` connector's config block."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

from connectors.settings import TokenSettings
from relay.settings import ConnectorConsentSettings

#: Segment pins 202603 (Aug 2026); LinkedIn versions live about a year
DEFAULT_API_VERSION = "202603"
#: LinkedIn's FAQ: version 202511 sunsets on 2026-11-16, so it and older versions are refused
NEWEST_SUNSET_VERSION = 202511
_VERSION = re.compile(r"(20\d\d)(0[1-9]|1[0-2])")
_RULE = re.compile(r"(?:urn:lla:llaPartnerConversion:)?(?P<id>\d+)")


#: LinkedIn Ireland Unlimited Company in the IAB Global Vendor List (consent.md §1.6)
LINKEDIN_GVL_ID = 804


class LinkedInConsentSettings(ConnectorConsentSettings):
    """LinkedIn is a GVL vendor: a TC string must give vendor 804 consent too, also when the block's
    ``consent`` is written without ``tcf_vendor_id``."""

    tcf_vendor_id: int | None = LINKEDIN_GVL_ID


class LinkedInSettings(TokenSettings):
    """LinkedIn Conversions API: a member access token and one conversion rule per event name."""

    token_hint: ClassVar[str] = "the member access token (e.g. ${LINKEDIN_ACCESS_TOKEN})"
    ldu_refusal: ClassVar[str | None] = "ldu (Limited Data Use) is Meta-only; use drop or strip"

    type: Literal["linkedin"] = "linkedin"
    api_base: str = "https://api.linkedin.com"
    #: a 3-legged OAuth 2.0 member token (scope ``rw_conversions``)
    access_token: SecretStr
    #: the ``LinkedIn-Version`` header, ``YYYYMM``
    api_version: str = DEFAULT_API_VERSION
    #: our event name -> conversion rule id (``123456`` or ``urn:lla:llaPartnerConversion:123456``);
    #: events without a rule are skipped
    conversion_rules: dict[str, str] = Field(default_factory=dict)
    consent: LinkedInConsentSettings = LinkedInConsentSettings(tcf_purposes=(1, 3, 4, 7))

    @field_validator("api_version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        text = str(value)
        if not _VERSION.fullmatch(text):
            raise ValueError(f"{text!r} is not a LinkedIn-Version; write it YYYYMM ({DEFAULT_API_VERSION})")
        if int(text) <= NEWEST_SUNSET_VERSION:
            raise ValueError(
                f"{text} is sunset (202511 ended on 2026-11-16); use {DEFAULT_API_VERSION} or newer"
            )
        return text

    @field_validator("conversion_rules")
    @classmethod
    def _rules(cls, value: dict[str, str]) -> dict[str, str]:
        for name, rule in value.items():
            if not _RULE.fullmatch(str(rule)):
                raise ValueError(
                    f"{name}: {rule!r} is not a conversion rule id "
                    "(digits, or urn:lla:llaPartnerConversion:<id>)"
                )
        return value

    def conversion_urn(self, event_name: str) -> str | None:
        """The conversion rule URN of an event name, or None when it has none."""
        rule = self.conversion_rules.get(event_name)
        match = _RULE.fullmatch(rule) if rule else None
        return f"urn:lla:llaPartnerConversion:{match['id']}" if match else None


__all__ = ["DEFAULT_API_VERSION", "LinkedInSettings"]
