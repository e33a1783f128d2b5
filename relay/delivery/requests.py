"""The request each event went out in, recorded for the event trace: method, URL and body, masked.

The worker opens a :func:`recording` around a delivery attempt. :class:`connectors.base.BaseConnector`
reports into it from the one place every connector's traffic passes: :func:`sent` for each HTTP request
(masked by the connector, as its answers are: tokens in URLs, secrets by value and by key; headers are
never kept), :func:`carried` after each request's worth of payloads (a bisected batch ends with the
smallest request that carried each payload, the one whose answer decided it) and :func:`delivered` to tie
each event to its payload. Each event's trace shows the request with the batch's list cut to that event's
own item (``"... N more"`` stands for the others), so a trace never shows another visitor's data and a
batch of a thousand events costs a thousand small renderings, not a thousand copies of the batch; the
worker cuts the text to the answers' limit after masking. Outside a recording (audience syncs,
``relay check --connect``) these do nothing.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

Mask = Callable[[str], str]
#: items of a JSON list kept in a recorded body (a batch's first event shows its shape)
SHOWN_ITEMS = 1
#: a body that is not JSON is kept up to this size (a form, a short text), else only its size
MAX_PLAIN_BODY = 8192


@dataclass(frozen=True)
class _Sent:
    """One request as the connector sent it (unmasked, rendered only for the events it carried)."""

    method: str
    url: str
    kwargs: Mapping[str, Any]
    mask: Mask

    def render(self, position: int | None = None, count: int = 0) -> str:
        """Masked ``METHOD URL`` and body; with ``position``, the batch list (the first list of ``count``
        items) cut to the item at ``position``, every other list to its first item."""
        return self.mask(describe(self.method, self.url, self.kwargs, position, count))


@dataclass
class Recorder:
    """The requests of one delivery attempt: every one sent, and the one that carried each payload/event."""

    sent: list[str] = field(default_factory=list)
    _raw: list[_Sent] = field(default_factory=list)
    _by_payload: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    _by_event: dict[int, str] = field(default_factory=dict)

    def request_of(self, event: object) -> str | None:
        """The masked request that carried ``event`` (None: it was not sent, e.g. skipped)."""
        return self._by_event.get(id(event))


_CURRENT: ContextVar[Recorder | None] = ContextVar("relay_request_recorder", default=None)


@contextlib.contextmanager
def recording() -> Iterator[Recorder]:
    """Record the requests connectors send in this task (and the tasks it starts) until the block ends."""
    recorder = Recorder()
    token = _CURRENT.set(recorder)
    try:
        yield recorder
    finally:
        _CURRENT.reset(token)


def describe(
    method: str, url: str, kwargs: Mapping[str, Any], position: int | None = None, count: int = 0
) -> str:
    """``METHOD URL`` (query parameters included) and the body of one httpx request, unmasked; lists
    shortened as :meth:`_Sent.render` says."""
    params = kwargs.get("params")
    full = str(httpx.URL(url, params=params)) if params else url
    return f"{method.upper()} {full}\n{_body(kwargs, position, count)}".rstrip("\n")


def _body(kwargs: Mapping[str, Any], position: int | None, count: int) -> str:
    value = kwargs.get("json")
    if value is None:
        text = _text(kwargs)
        try:
            value = json.loads(text) if text[:1] in ("{", "[") else None
        except ValueError:
            value = None
        if value is None:
            return text if len(text) <= MAX_PLAIN_BODY else f"[a body of {len(text)} characters]"
    pick = [position] if position is not None else []
    shortened = _shortened(value, pick, count)
    return json.dumps(shortened, separators=(",", ":"), ensure_ascii=False, default=str)


def _text(kwargs: Mapping[str, Any]) -> str:
    content = kwargs.get("content")
    if isinstance(content, bytes | bytearray):
        return bytes(content).decode("utf-8", "replace")
    if isinstance(content, str):
        return content
    data = kwargs.get("data")
    if isinstance(data, Mapping):
        return urlencode({str(k): str(v) for k, v in data.items()})
    return ""


def _shortened(value: Any, pick: list[int], count: int) -> Any:
    """``value`` with every list cut to its first :data:`SHOWN_ITEMS` items and a note of how many more:
    cut between items, never inside a value, so masking still sees every key and secret whole. ``pick``
    (one position, used up by the first list of ``count`` items met) keeps that item of the batch list
    instead, whole."""
    if isinstance(value, Mapping):
        return {k: _shortened(v, pick, count) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if pick and len(value) == count and 0 <= pick[0] < count:
            shown = [value[pick.pop()]]
        else:
            shown = [_shortened(v, pick, count) for v in value[:SHOWN_ITEMS]]
        more = len(value) - len(shown)
        return [*shown, f"... {more} more"] if more > 0 else shown
    return value


def sent(method: str, url: str, kwargs: Mapping[str, Any], mask: Mask) -> None:
    """A connector is sending this request: keep it masked (``mask``: the connector's)."""
    recorder = _CURRENT.get()
    if recorder is not None:
        request = _Sent(method, url, kwargs, mask)
        recorder._raw.append(request)
        recorder.sent.append(request.render())


def carried(payloads: Sequence[Any], before: int) -> None:
    """``payloads`` went out in the last request sent, if one was sent since ``before`` (:func:`mark`)."""
    recorder = _CURRENT.get()
    if recorder is not None and len(recorder._raw) > before:
        last = len(recorder._raw) - 1
        for position, payload in enumerate(payloads):
            recorder._by_payload[id(payload)] = (last, position, len(payloads))


def mark() -> int:
    """How many requests were recorded so far (for :func:`carried`)."""
    recorder = _CURRENT.get()
    return len(recorder.sent) if recorder is not None else 0


def delivered(events: Sequence[Any], built: Sequence[tuple[int, Any]]) -> None:
    """Tie each event to the request its payload (``built``: index of the event, payload) went out in."""
    recorder = _CURRENT.get()
    if recorder is None:
        return
    for index, payload in built:
        carrier = recorder._by_payload.get(id(payload))
        if carrier is not None:
            request, position, count = carrier
            recorder._by_event[id(events[index])] = recorder._raw[request].render(position, count)


__all__ = ["Recorder", "carried", "delivered", "describe", "mark", "recording", "sent"]
