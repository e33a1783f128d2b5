"""Metric children for the hot path."""

from __future__ import annotations

from typing import Any

from relay.metrics import Metrics


class Counters:
    """Labelled metric children, each looked up once: ``labels()`` takes a lock and builds its key on
    every call, a cost the hot path pays several times per event otherwise."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._children: dict[tuple[str, ...], Any] = {}

    def __call__(self, metric: str, *labels: str) -> Any:
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = getattr(self.metrics, metric).labels(*labels)
        return child
