"""A claimed delivery as its connector sees it: built by the outbox at claim
(:func:`relay.storage.records.to_outbound`), re-exported here where it used to live."""

from __future__ import annotations

from relay.storage.records import to_outbound

__all__ = ["to_outbound"]
