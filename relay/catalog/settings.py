"""The ``catalogs:`` blocks of the config file, and ``lookalike:`` of an audience.

Self-contained (``relay.settings`` imports it), so it has its own frozen, ``extra="forbid"`` base.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from relay.periodic import Schedule

#: Meta takes lookalike ratios from 1% to 20% of a country's population, in steps of 1%
MIN_RATIO, MAX_RATIO = 0.01, 0.20
_COUNTRY = re.compile(r"[A-Za-z]{2}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CatalogSourceSettings(_Model):
    """Where the products come from: a CSV file, a SQL query or a feed URL (CSV or JSON)."""

    type: Literal["csv", "sql", "url"]
    path: str | None = None
    url: str | None = None
    query: str | None = None
    #: a url feed's format; unset: from its Content-Type (JSON when it says json, else CSV)
    format: Literal["csv", "json"] | None = None

    @model_validator(mode="after")
    def _needs(self) -> CatalogSourceSettings:
        if self.type == "csv" and not self.path:
            raise ValueError("a csv source needs path")
        if self.type == "sql" and not (self.url and self.query):
            raise ValueError("a sql source needs url and query")
        if self.type == "url" and not (self.url and self.url.startswith(("http://", "https://"))):
            raise ValueError("a url source needs url, an http(s) address of the feed")
        return self


class CatalogDestinationSettings(_Model):
    #: the platform catalog; unset: the connector's own ``catalog_id``
    catalog_id: str | None = None
    #: item requests per platform call (Meta takes at most 5,000)
    batch_size: int | None = Field(None, gt=0, le=5000)


class CatalogSettings(_Model):
    """One catalog: its source, its schedule and the connectors it is synced to."""

    source: CatalogSourceSettings
    schedule: Schedule = "manual"
    destinations: dict[str, CatalogDestinationSettings] = {}

    @field_validator("destinations", mode="before")
    @classmethod
    def _list_of_names(cls, value: Any) -> Any:
        # ``destinations: [meta]`` is the common case: every destination with its connector's catalog_id
        if isinstance(value, list | tuple):
            return {str(name): {} for name in value}
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value


class LookalikeSettings(_Model):
    """A lookalike audience kept on the platform from a synced custom audience."""

    country: str
    ratio: float
    #: the platform audience's name; unset: ``<audience> lookalike <COUNTRY> <ratio>%``
    name: str | None = Field(None, min_length=1, max_length=200)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if not _COUNTRY.fullmatch(value):
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code such as US")
        return value.upper()

    @field_validator("ratio")
    @classmethod
    def _ratio(cls, value: float) -> float:
        if not MIN_RATIO <= value <= MAX_RATIO + 1e-9:
            raise ValueError(f"ratio must be from {MIN_RATIO} to {MAX_RATIO} (1% to 20%), got {value}")
        if abs(value * 100 - round(value * 100)) > 1e-6:
            raise ValueError(f"ratio goes in steps of 0.01 (1%), got {value}")
        return round(value, 2)

    def label(self, audience: str) -> str:
        return self.name or f"{audience} lookalike {self.country} {round(self.ratio * 100)}%"


def lookalike_list(value: Any) -> Any:
    """``lookalike: {country: US, ratio: 0.01}`` or a list of them; both become a list."""
    if value is None:
        return []
    return [value] if isinstance(value, dict) else value


__all__ = [
    "CatalogDestinationSettings",
    "CatalogSettings",
    "CatalogSourceSettings",
    "LookalikeSettings",
    "lookalike_list",
]
