"""The relay's exceptions, one tree rooted at :class:`RelayError`.

::

    RelayError
    ├── ConfigError                 the config file is invalid (exit code 2)
    ├── StorageError                the database did not answer (ingest answers 503)
    └── DeliveryError
        ├── RetryableDeliveryError  try again later
        │   ├── RateLimitedError    the platform asked us to slow down (``retry_after``)
        │   ├── UnavailableError    network error, 5xx, transient platform error
        │   └── DeliveryTimeoutError
        └── PermanentDeliveryError  never retried as it is
            ├── PayloadRejectedError  the platform refused the data
            └── AuthRejectedError     credentials or permissions: the connector is paused

The worker branches only on retryable versus permanent; connectors translate their
platform's errors into this tree at exactly one place (their HTTP boundary).
"""

from __future__ import annotations

import traceback


class RelayError(Exception):
    """Something went wrong in the relay."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or type(self).__name__).strip())

    @property
    def message(self) -> str:
        return str(self.args[0])


class ConfigError(RelayError):
    """The configuration is invalid."""

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        self.path = path
        self.key = key
        where = ": ".join(part for part in (path, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class StorageError(RelayError):
    """The storage backend is unavailable."""


class DeliveryError(RelayError):
    """A delivery to a platform failed."""

    def __init__(self, message: str | None = None, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RetryableDeliveryError(DeliveryError):
    """The delivery failed for a reason that may pass; it will be retried."""

    def __init__(
        self,
        message: str | None = None,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class RateLimitedError(RetryableDeliveryError):
    """The platform rate-limited the request."""


class UnavailableError(RetryableDeliveryError):
    """The platform is unavailable (network error, 5xx or a transient error code)."""


class DeliveryTimeoutError(RetryableDeliveryError):
    """The platform did not answer in time."""


class PermanentDeliveryError(DeliveryError):
    """The platform refused the delivery; retrying it unchanged cannot succeed."""


class PayloadRejectedError(PermanentDeliveryError):
    """The platform rejected the payload."""


class AuthRejectedError(PermanentDeliveryError):
    """The platform rejected the credentials or permissions; the connector is paused."""


def raised_at(exc: BaseException) -> tuple[str, int] | None:
    """Where ``exc`` was raised, (file path, line), or None: for the reports of a plugin's bug, which name
    the place and never the exception's text (it may hold an event's values)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return (frames[-1].filename, frames[-1].lineno or 0) if frames else None


__all__ = [
    "AuthRejectedError",
    "ConfigError",
    "DeliveryError",
    "DeliveryTimeoutError",
    "PayloadRejectedError",
    "PermanentDeliveryError",
    "RateLimitedError",
    "RelayError",
    "RetryableDeliveryError",
    "StorageError",
    "UnavailableError",
    "raised_at",
]
