"""Durations written ``30s``, ``15m``, ``6h``, ``1d`` (CONTRACT §2)."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PATTERN = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*")


def parse_duration(text: str) -> float:
    """Seconds in ``text``; raises ``ValueError`` with a clear message otherwise."""
    match = _PATTERN.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration; write it like 30s, 15m, 6h or 1d")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_instant(value: object) -> float | None:
    """Unix seconds from ISO-8601 text or a number; None when absent; ``ValueError`` otherwise."""
    from datetime import datetime

    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if text.replace(".", "", 1).isdigit():
        return float(text)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
