"""Plain text tables for the terminal: columns padded to their widest cell, numbers to the right."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def table_lines(rows: Sequence[Sequence[str]], numeric: Collection[int]) -> list[str]:
    """One line per row (the header first), cells two spaces apart; the ``numeric`` columns right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


__all__ = ["table_lines"]
