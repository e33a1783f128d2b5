"""The ``google_ads`` connector's config block."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.settings import all_or_none, unset_when_empty
from relay.settings import ConnectorConsentSettings, ConnectorSettings, Model

#: Google's docs say to start with v26 (Oct 2026); v22 sunset on 2026-10-07, older ones before
DEFAULT_API_VERSION = "v26"
OLDEST_SUPPORTED_MAJOR = 23
REFRESH_KEYS = ("client_id", "client_secret", "refresh_token")
_VERSION = re.compile(r"v(\d+)")
_ACTION = re.compile(r"(?:customers/(?P<customer>\d+)/conversionActions/)?(?P<id>\d+)")
ConsentFlag = Literal["granted", "denied"]


def customer_digits(value: Any) -> str:
    """A customer id as Google wants it: 10 digits, the dashes of ``123-456-7890`` removed."""
    digits = str(value).replace("-", "").strip()
    if not re.fullmatch(r"\d{10}", digits):
        raise ValueError(f"{value!r} is not a Google Ads customer id (10 digits, e.g. 123-456-7890)")
    return digits


class AudienceConsentSettings(Model):
    """The consent the advertiser collected for a Customer Match list (sent with every upload)."""

    ad_user_data: ConsentFlag | None = None
    ad_personalization: ConsentFlag | None = None


#: Google Advertising Products in the IAB Global Vendor List (consent.md §1.6)
GOOGLE_GVL_ID = 755


class GoogleConsentSettings(ConnectorConsentSettings):
    """Google is a GVL vendor: a TC string must give vendor 755 consent too, also when the block's
    ``consent`` is written without ``tcf_vendor_id`` (purpose consent alone never authorises a GVL vendor)."""

    tcf_vendor_id: int | None = GOOGLE_GVL_ID


class GoogleAdsSettings(ConnectorSettings):
    """Google Ads API (conversions) and Data Manager API (Customer Match).

    OAuth: either a short-lived ``access_token`` or ``client_id`` + ``client_secret`` +
    ``refresh_token``, exchanged at ``token_url`` for access tokens as they expire.
    """

    type: Literal["google_ads"] = "google_ads"
    api_base: str = "https://googleads.googleapis.com"
    api_version: str = DEFAULT_API_VERSION
    #: the Data Manager API, used for Customer Match (closed to new Google Ads API adopters)
    data_manager_base: str = "https://datamanager.googleapis.com"
    token_url: str = "https://oauth2.googleapis.com/token"
    customer_id: str
    #: the manager (MCC) account the credentials belong to, when it is not ``customer_id`` itself
    login_customer_id: str | None = None
    developer_token: SecretStr
    access_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    #: our event name -> conversion action id (or ``customers/<id>/conversionActions/<id>``)
    conversion_actions: dict[str, str] = Field(default_factory=dict)
    #: ask Google to validate uploads without recording them
    validate_only: bool = False
    audience_consent: AudienceConsentSettings = AudienceConsentSettings()
    consent: GoogleConsentSettings = GoogleConsentSettings(
        tcf_purposes=(1, 3, 4, 7), gcm=("ad_storage", "ad_user_data")
    )

    @field_validator("api_base", "data_manager_base", "token_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("customer_id", mode="before")
    @classmethod
    def _customer(cls, value: Any) -> str:
        return customer_digits(value)

    _optional = unset_when_empty(
        "login_customer_id", "access_token", "client_id", "client_secret", "refresh_token"
    )

    @field_validator("login_customer_id")
    @classmethod
    def _login(cls, value: str | None) -> str | None:
        return customer_digits(value) if value is not None else None

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        match = _VERSION.fullmatch(value)
        if not match:
            raise ValueError(
                f"{value!r} is not a Google Ads API version; write it like {DEFAULT_API_VERSION}"
            )
        if int(match[1]) < OLDEST_SUPPORTED_MAJOR:
            raise ValueError(f"{value} is sunset (v22 ended on 2026-10-07); use {DEFAULT_API_VERSION}")
        return value

    @model_validator(mode="after")
    def _check(self) -> GoogleAdsSettings:
        for name, action in self.conversion_actions.items():
            match = _ACTION.fullmatch(str(action))
            if not match:
                raise ValueError(f"conversion_actions.{name}: {action!r} is not a conversion action id")
            if match["customer"] and match["customer"] != self.customer_id:
                raise ValueError(f"conversion_actions.{name}: {action!r} belongs to another customer")
        refresh = all_or_none(self, REFRESH_KEYS, "a refresh-token login needs")
        if not refresh and self.access_token is None:
            raise ValueError(f"Google needs an access_token or {', '.join(REFRESH_KEYS)}")
        if self.consent.us_opt_out == "ldu":
            raise ValueError("consent.us_opt_out: ldu (Limited Data Use) is Meta-only; use drop or strip")
        return self

    def conversion_action(self, event_name: str) -> str | None:
        """The resource name of an event's conversion action, or None when it has none."""
        action = self.conversion_actions.get(event_name)
        match = _ACTION.fullmatch(action) if action else None
        return f"customers/{self.customer_id}/conversionActions/{match['id']}" if match else None

    def secret_values(self) -> list[str]:
        """The secrets of this block, for masking."""
        values = (self.developer_token, self.access_token, self.client_secret, self.refresh_token)
        return [v.get_secret_value() for v in values if v is not None]


__all__ = ["DEFAULT_API_VERSION", "AudienceConsentSettings", "GoogleAdsSettings", "customer_digits"]
