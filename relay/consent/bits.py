"""Bit-level reading shared by the IAB decoders: URL-safe base64 and a bit reader.

IAB strings (TCF, GPP) are big-endian bit streams written six bits per URL-safe base64
character. The whole segment is turned into a ``str`` of ``"0"``/``"1"`` with one
C-level ``str.translate`` call; fields are then read with ``int(slice, 2)``. This is much
faster in CPython than shifting a big integer or reading bit by bit, and ingest is a hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_SIX_BITS = str.maketrans({c: format(i, "06b") for i, c in enumerate(ALPHABET)})
_VALID_CHARS = frozenset(ALPHABET)
#: Longest segment accepted (characters). Real TC strings stay under a few KB; this bounds the work per event.
MAX_SEGMENT_CHARS = 16384

# Fibonacci code weights 1, 2, 3, 5, 8, ... (GPP section ids); 40 terms go far beyond any real value.
_FIB: list[int] = [1, 2]
while len(_FIB) < 40:
    _FIB.append(_FIB[-1] + _FIB[-2])


class DecodeError(ValueError):
    """A consent string does not follow its format.

    Internal to the decoders: every public decoder catches it and returns an invalid result
    whose ``error`` is this message (short, never containing the input).
    """


_R = TypeVar("_R")


def decode_or_invalid(text: str, decode: Callable[[str], _R], invalid: Callable[[str], _R]) -> _R:
    """``decode(text)``, or ``invalid(error)`` when it raises :class:`DecodeError` (or a decoder bug)."""
    try:
        return decode(text)
    except DecodeError as exc:
        return invalid(str(exc))
    except (ValueError, IndexError, OverflowError) as exc:  # defensive: a decoder bug must not escape
        return invalid(f"undecodable ({type(exc).__name__})")


def decode_text(
    value: object, decode: Callable[[str], _R], invalid: Callable[[str], _R], max_chars: int
) -> _R:
    """``decode`` the stripped string ``value``; ``invalid(error)`` if not a string, empty or too long."""
    if not isinstance(value, str):
        return invalid("not a string")
    text = value.strip()
    if not text:
        return invalid("empty")
    if len(text) > max_chars:
        return invalid("too long")
    return decode(text)


def base64url_bits(text: str) -> str:
    """The bit string (``"0"``/``"1"`` characters) of one URL-safe base64 segment.

    Trailing ``=`` padding is tolerated (CMPs do not write it, some libraries do).
    """
    stripped = text.rstrip("=")
    if not stripped:
        raise DecodeError("empty segment")
    if len(stripped) > MAX_SEGMENT_CHARS:
        raise DecodeError("segment too long")
    if not _VALID_CHARS.issuperset(stripped):
        raise DecodeError("not url-safe base64")
    return stripped.translate(_SIX_BITS)


def ids_of(bits: str) -> frozenset[int]:
    """1-based positions of the ``1`` bits: bit i-1 set means id i is in the set."""
    if len(bits) <= 64:
        return _small_ids_of(bits)
    found: list[int] = []
    pos = bits.find("1")
    while pos >= 0:
        found.append(pos + 1)
        pos = bits.find("1", pos + 1)
    return frozenset(found)


@lru_cache(maxsize=4096)
def _small_ids_of(bits: str) -> frozenset[int]:
    # purposes and special features repeat across events: cache the few distinct masks seen
    return frozenset(i + 1 for i, c in enumerate(bits) if c == "1")


class BitReader:
    """Reads fields left to right from a bit string; raises :class:`DecodeError` past the end."""

    __slots__ = ("bits", "pos")

    def __init__(self, bits: str, pos: int = 0) -> None:
        self.bits = bits
        self.pos = pos

    @property
    def remaining(self) -> int:
        """Bits left after the current position."""
        return len(self.bits) - self.pos

    def read_bits(self, width: int) -> str:
        """The next ``width`` raw bits."""
        end = self.pos + width
        if end > len(self.bits):
            raise DecodeError(f"truncated at bit {self.pos}")
        chunk = self.bits[self.pos : end]
        self.pos = end
        return chunk

    def read_int(self, width: int) -> int:
        """An unsigned big-endian integer of ``width`` bits."""
        return int(self.read_bits(width), 2)

    def read_bool(self) -> bool:
        """One bit as a boolean."""
        if self.pos >= len(self.bits):
            raise DecodeError(f"truncated at bit {self.pos}")
        bit = self.bits[self.pos]
        self.pos += 1
        return bit == "1"

    def read_ids(self, width: int) -> frozenset[int]:
        """A fixed-width bitfield as the set of 1-based ids whose bit is set."""
        return ids_of(self.read_bits(width))

    def read_int_list(self, count: int, width: int = 2) -> tuple[int, ...]:
        """``count`` integers of ``width`` bits each."""
        chunk = self.read_bits(count * width)
        return tuple(int(chunk[i : i + width], 2) for i in range(0, len(chunk), width))

    def read_letters(self, count: int) -> str:
        """``count`` letters of 6 bits each, A = 0 ... Z = 25."""
        letters = []
        for _ in range(count):
            value = self.read_int(6)
            if value > 25:
                raise DecodeError(f"invalid letter code {value} at bit {self.pos - 6}")
            letters.append(chr(65 + value))
        return "".join(letters)

    def expect_end(self, *, word_padded: bool = False, trailing_ok: bool = False) -> None:
        """Check that only padding is left: zero bits up to the next 6-bit character.

        Encoders pad either to the next character or, like the IAB GPP libraries, to a whole byte
        and then to a character (60 bits -> 66); ``word_padded`` also allows padding to 24 bits
        (the IAB's "traditional" base64, used by some older segments). Anything longer, or a set
        padding bit, means the data does not follow the layout just read (wrong version,
        truncated or extended field).
        """
        used, size = self.pos, len(self.bits)
        if trailing_ok:
            # the layout was read in full (a short section already failed): what follows is ignored,
            # as the IAB decoders do
            return
        byte_padded = used + (-used % 8)
        allowed = {used + (-used % 6), byte_padded + (-byte_padded % 6)}
        if word_padded:
            allowed.add(used + (-used % 24))
        if size not in allowed:
            raise DecodeError(f"{size} bits where the layout has {used}")
        if "1" in self.bits[used:]:
            raise DecodeError(f"non-zero padding after bit {used}")

    def read_fibonacci(self) -> int:
        """A Fibonacci-coded positive integer (weights 1, 2, 3, 5, ...; ends with ``11``)."""
        end = self.bits.find("11", self.pos)
        if end < 0:
            raise DecodeError(f"unterminated fibonacci code at bit {self.pos}")
        code = self.bits[self.pos : end + 1]
        if len(code) > len(_FIB):
            raise DecodeError(f"fibonacci code too long at bit {self.pos}")
        self.pos = end + 2
        # sum the weights of the set bits (few: no two are adjacent), found with str.find
        value, i = 0, code.find("1")
        while i >= 0:
            value += _FIB[i]
            i = code.find("1", i + 2)
        return value

    def read_fibonacci_ranges(self, limit: int) -> tuple[tuple[int, int], ...]:
        """A GPP Fibonacci integer range: Count(12), then per item IsGroup(1) and Fibonacci deltas.

        A single id is coded as its distance from the previous id (the first from 0); a group as
        the distance of its start, then its length minus one. Ids therefore strictly increase.
        Every id must be at most ``limit`` (refused before anything is expanded).
        """
        ranges: list[tuple[int, int]] = []
        last = 0
        bits, size, read_fibonacci = self.bits, len(self.bits), self.read_fibonacci
        for _ in range(self.read_int(12)):
            if self.pos >= size:
                raise DecodeError(f"truncated at bit {self.pos}")
            is_group = bits[self.pos] == "1"
            self.pos += 1
            start = last + read_fibonacci()
            last = start + read_fibonacci() if is_group else start
            if last > limit:
                raise DecodeError(f"id {last} above {limit} ending at bit {self.pos}")
            ranges.append((start, last))
        return tuple(ranges)


__all__ = [
    "ALPHABET",
    "MAX_SEGMENT_CHARS",
    "BitReader",
    "DecodeError",
    "base64url_bits",
    "decode_or_invalid",
    "decode_text",
    "ids_of",
]
