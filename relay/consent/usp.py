"""IAB US Privacy string (CCPA, "uspv1"): four characters such as ``1YNN``.

Version ``1``, then Notice given, Opted out of sale, LSPA covered transaction, each
``Y``, ``N`` or ``-`` (upper case only). ``1---`` means CCPA does not apply. Deprecated by
the IAB in 2024 in favour of GPP, but still emitted by CMPs and carried verbatim in GPP
section 6.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_FLAGS = frozenset("YN-")
_NAMES = ("notice", "opt_out_sale", "lspa_covered")


@dataclass(frozen=True, slots=True)
class UsPrivacy:
    """A decoded US Privacy string. When ``valid`` is false only ``error`` is meaningful."""

    valid: bool
    error: str | None = None
    version: int = 0
    notice: str = "-"
    opt_out_sale: str = "-"
    lspa_covered: str = "-"

    @property
    def ccpa_applies(self) -> bool:
        """False only for ``1---`` (the publisher says CCPA does not apply)."""
        return self.valid and (self.notice, self.opt_out_sale, self.lspa_covered) != ("-", "-", "-")

    @property
    def opted_out_of_sale(self) -> bool:
        """The visitor opted out of the sale of personal information (third character ``Y``)."""
        return self.valid and self.opt_out_sale == "Y"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (names as in the project's test vectors)."""
        if not self.valid:
            return {"valid": False, "error": self.error}
        return {
            "version": self.version,
            "notice": self.notice,
            "opt_out_sale": self.opt_out_sale,
            "lspa_covered": self.lspa_covered,
            "ccpa_applies": self.ccpa_applies,
            "opted_out_of_sale": self.opted_out_of_sale,
        }

    def gpp_fields(self) -> dict[str, Any]:
        """The fields as the GPP ``uspv1`` section names them."""
        return {
            "Version": self.version,
            "Notice": self.notice,
            "OptOutSale": self.opt_out_sale,
            "LspaCovered": self.lspa_covered,
        }


def decode_us_privacy(value: object) -> UsPrivacy:
    """Decode a US Privacy string. Never raises; anything malformed is ``valid=False``."""
    if not isinstance(value, str):
        return UsPrivacy(valid=False, error="not a string")
    if len(value) != 4:
        return UsPrivacy(valid=False, error="must have exactly 4 characters")
    if value[0] != "1":
        return UsPrivacy(valid=False, error="version must be 1")
    for name, char in zip(_NAMES, value[1:], strict=True):
        if char not in _FLAGS:
            return UsPrivacy(valid=False, error=f"{name} must be Y, N or -")
    return UsPrivacy(True, None, 1, value[1], value[2], value[3])


__all__ = ["UsPrivacy", "decode_us_privacy"]
