"""The webhook signature: ``X-Relay-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``.

``X-Relay-Timestamp`` is the Unix time of sending, in seconds. The signed message is the timestamp's
decimal digits, one ``.``, then the exact body bytes, so a receiver can refuse old (replayed) requests
and the timestamp cannot be changed without breaking the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Relay-Signature"
TIMESTAMP_HEADER = "X-Relay-Timestamp"
#: a receiver should refuse requests signed longer ago than this (seconds)
DEFAULT_TOLERANCE = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Relay-Signature`` value for ``body`` sent at ``timestamp``."""
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """Whether a received request is genuine and recent (what a receiver runs)."""
    if not timestamp.isascii() or not timestamp.isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


__all__ = ["DEFAULT_TOLERANCE", "SIGNATURE_HEADER", "TIMESTAMP_HEADER", "sign", "verify"]
