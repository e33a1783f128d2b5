"""What ``relay check`` finds beyond the schema: settings that load but would drop data.

:func:`problems` are mistakes that lose every event of a connector or fail a sync (``relay check`` exits
2); :func:`warnings` are settings that are valid but probably not what a deployment wants.
"""

from __future__ import annotations

import re
from pathlib import Path

from relay.settings import Settings

#: Meta pixel (dataset) ids are numbers; anything else is refused by the Graph API for every event
_META_PIXEL = re.compile(r"\d+")
#: an API key or admin token shorter than this can be found by trying (the relay generates 43 characters)
MIN_SECRET_LENGTH = 20


def problems(settings: Settings, base_dir: Path | None = None) -> list[tuple[str, str]]:
    """(key path, message) for each setting that would lose data."""
    found: list[tuple[str, str]] = []
    for name, block in settings.connectors.items():
        pixel = getattr(block, "pixel_id", None)
        if block.type == "meta" and isinstance(pixel, str) and not _META_PIXEL.fullmatch(pixel):
            found.append(
                (
                    f"connectors.{name}.pixel_id",
                    f"{pixel!r} is not a Meta pixel (dataset) id: those are digits, like '1234567890'; "
                    "Meta would refuse every event",
                )
            )
    for name, audience in settings.audiences.items():
        source = audience.source
        if source.type == "csv" and source.path:
            path = Path(source.path)
            beside = base_dir / path if base_dir is not None and not path.is_absolute() else path
            if not path.is_file() and not beside.is_file():
                found.append(
                    (
                        f"audiences.{name}.source.path",
                        f"no such file: {source.path} (relative paths are read from the working directory)",
                    )
                )
    return found


def warnings(settings: Settings, base_dir: Path | None = None) -> list[str]:
    """Settings that are valid but drop or expose data, as sentences."""
    out: list[str] = []
    for name, audience in settings.audiences.items():
        source = audience.source
        path = Path(source.path or "")
        beside = base_dir / path if base_dir is not None else path
        if source.type == "csv" and source.path and not path.is_file() and beside.is_file():
            out.append(
                f"audiences.{name}.source.path: {source.path} is next to the config but not in the working "
                f"directory {Path.cwd()}, where the sync reads it: run the relay from there or use an "
                "absolute path"
            )
    out += _short_secrets(settings)
    for name, block in settings.connectors.items():
        if block.type == "x" and not getattr(block, "event_tags", None):
            out.append(
                f"connectors.{name}.event_tags is empty: X needs an event tag per event name, so every "
                "event would be skipped; map your events, e.g. {Purchase: o87ne}"
            )
    return out


def _short_secrets(settings: Settings) -> list[str]:
    """The API keys and the admin token short enough to be guessed; never their values."""
    server = settings.server
    named = [(f"server.api_keys[{i}]", key) for i, key in enumerate(server.api_keys)]
    if server.admin_token is not None:
        named.append(("server.admin_token", server.admin_token))
    return [
        f"{key} is {length} characters long: a short secret can be found by trying; use at least "
        f"{MIN_SECRET_LENGTH} random characters (leave it empty and the relay generates one at first start)"
        for key, secret in named
        if 0 < (length := len(secret.get_secret_value())) < MIN_SECRET_LENGTH
    ]
