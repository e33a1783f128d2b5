"""The ``snap`` connector block of the config file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

from pydantic import Field

from connectors.settings import EventMapSettings


class SnapSettings(EventMapSettings):
    """Snapchat Conversions API v3 (web events of one Snap Pixel). ``access_token``: the Conversions API
    token generated in Snap Ads Manager, sent as the ``access_token`` parameter."""

    token_hint: ClassVar[str] = "the Conversions API token (e.g. ${SNAP_ACCESS_TOKEN})"
    path_ids: ClassVar[Mapping[str, str]] = {
        "pixel_id": "the Snap Pixel id, e.g. 2d1c4d6e-0b6b-4a9f-9d3c-5e2a1f0c7b88"
    }

    type: Literal["snap"] = "snap"
    api_base: str = "https://tr.snapchat.com"
    #: the Snap Pixel id (a UUID), a path segment of ``/v3/{pixel_id}/events``
    pixel_id: str = Field(min_length=1)
    #: send to ``/v3/{pixel_id}/events/validate``: Snap checks the events and records nothing
    validate_only: bool = False


__all__ = ["SnapSettings"]
