"""What the dashboard pages' browser tests share: checking where elements are laid out."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

from playwright.async_api import Page

#: each selector's first element: its box, or null when missing or not displayed
GEOMETRY = """(selectors) => selectors.map((s) => {
  const e = document.querySelector(s);
  if (!e || !e.getClientRects().length) return null;
  const r = e.getBoundingClientRect();
  return {left: r.left, right: r.right, width: r.width, height: r.height};
})"""


async def assert_fits(page: Page, selectors: Sequence[str], width: int) -> None:
    """No horizontal scroll, and the first element of each selector displayed inside ``width``."""
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # measured in one go inside the page: the dashboard re-renders its panels every few seconds
    boxes = await page.evaluate(GEOMETRY, list(selectors))
    for selector, box in zip(selectors, boxes, strict=True):
        assert box is not None and box["width"] > 0 and box["height"] > 0, (selector, box)
        assert box["left"] >= 0 and box["right"] <= width + 0.5, (selector, box)


def png_width(shot: Path) -> int:
    """The width in pixels of the screenshot at ``shot``, a PNG file."""
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n", shot
    width: int = struct.unpack(">I", png[16:20])[0]
    return width
