"""What the dashboard pages' browser tests share: reading where elements are laid out."""

from __future__ import annotations

#: each selector's first element: its box, or null when missing or not displayed
GEOMETRY = """(selectors) => selectors.map((s) => {
  const e = document.querySelector(s);
  if (!e || !e.getClientRects().length) return null;
  const r = e.getBoundingClientRect();
  return {left: r.left, right: r.right, width: r.width, height: r.height};
})"""
