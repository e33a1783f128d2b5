"""Google Consent Mode v2: the ``gcm`` object and the ``gcs`` hit parameter.

``gcm`` is what the CMP / dataLayer says: ``{"ad_storage": "granted", "ad_user_data":
"denied", ...}``. ``gcs=G1xy`` is Google's compact hit form covering only ad_storage (x) and
analytics_storage (y): ``1`` granted, ``0`` denied, ``-`` not set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

#: Consent types Google defines; the first four are the ad-relevant v2 set.
CONSENT_TYPES = (
    "ad_storage",
    "analytics_storage",
    "ad_user_data",
    "ad_personalization",
    "functionality_storage",
    "personalization_storage",
    "security_storage",
)
_KNOWN = frozenset(CONSENT_TYPES)
_GCS = re.compile(r"G1([01-])([01-])")
_VALUES = {"granted": True, "denied": False}
_EMPTY: Mapping[str, bool] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ConsentMode:
    """Consent mode flags: type -> True (granted) / False (denied); absent types are unknown.

    A flag whose value is neither ``granted`` nor ``denied`` is kept as denied (fail closed)
    and listed in ``invalid``.
    """

    valid: bool
    error: str | None = None
    flags: Mapping[str, bool] = field(default_factory=lambda: _EMPTY)
    invalid: tuple[str, ...] = ()

    def get(self, consent_type: str) -> bool | None:
        """True granted, False denied, None when the signal does not mention the type."""
        return self.flags.get(consent_type)

    def __bool__(self) -> bool:
        return self.valid and bool(self.flags)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: type -> ``"granted"``/``"denied"``."""
        if not self.valid:
            return {"valid": False, "error": self.error}
        return {k: "granted" if v else "denied" for k, v in self.flags.items()}


def decode_gcm(value: object) -> ConsentMode:
    """Read a ``gcm`` object. Unknown consent types are ignored. Never raises."""
    if not isinstance(value, Mapping):
        return ConsentMode(valid=False, error="not an object")
    flags: dict[str, bool] = {}
    invalid: list[str] = []
    for key, raw in value.items():
        if key not in _KNOWN:
            continue
        granted = _VALUES.get(raw.strip().lower()) if isinstance(raw, str) else None
        if granted is None:
            invalid.append(key)
        flags[key] = bool(granted)
    return ConsentMode(True, None, MappingProxyType(flags), tuple(invalid))


def decode_gcs(value: object) -> ConsentMode:
    """Read a ``gcs`` value (``G100``, ``G111``, ``G1-1`` ...). Never raises."""
    match = _GCS.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        return ConsentMode(valid=False, error="not a G1xy value")
    flags = {
        name: c == "1"
        for name, c in zip(("ad_storage", "analytics_storage"), match.groups(), strict=True)
        if c != "-"
    }
    return ConsentMode(True, None, MappingProxyType(flags))


def merge_consent_modes(*modes: ConsentMode) -> ConsentMode:
    """One view of several consent mode signals: a denial in any of them wins."""
    flags: dict[str, bool] = {}
    invalid: list[str] = []
    for mode in modes:
        if not mode.valid:
            continue
        for key, granted in mode.flags.items():
            flags[key] = flags.get(key, True) and granted
        invalid.extend(k for k in mode.invalid if k not in invalid)
    return ConsentMode(True, None, MappingProxyType(flags), tuple(invalid))


__all__ = ["CONSENT_TYPES", "ConsentMode", "decode_gcm", "decode_gcs", "merge_consent_modes"]
