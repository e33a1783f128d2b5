"""JSON answers and the error shape of CONTRACT §3."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

STATUS = {
    "invalid_json": 400,
    "invalid_event": 400,
    "invalid_request": 400,
    "too_many_events": 400,
    "unauthorized": 401,
    "origin_not_allowed": 403,
    "not_found": 404,
    "request_timeout": 408,
    "conflict": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "rate_limited": 429,
    "headers_too_large": 431,
    "storage_unavailable": 503,
}


def error(code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """``{"error": code, "detail": detail}`` with the status the contract gives the code."""
    return JSONResponse({"error": code, "detail": detail, **extra}, status_code=STATUS[code], headers=headers)
