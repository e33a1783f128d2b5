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
import orjson

from relay.masking import MASK

Mask = Callable[[str], str]
#: items of a JSON list kept in a recorded body (a batch's first event shows its shape)
SHOWN_ITEMS = 1
#: a body that is not JSON is kept up to this size (a form, a short text), else only its size
MAX_PLAIN_BODY = 8192


#: an event's IP address as its trace shows it (a JSON string in the item)
IP_MASK_JSON = json.dumps("[ip]")
#: stands for the event's own item in a request rendered once for the whole batch
_ITEM = "__relay_event_item__"
_ITEM_JSON = json.dumps(_ITEM)


@dataclass
class _Sent:
    """One request as the connector sent it: masked once (the batch list's item left as a marker); each
    event's view puts its own item in the marker's place, with the connector's secrets replaced (its
    payload holds no contact detail: they were hashed at the door, e-mails redacted from URLs)."""

    method: str
    url: str
    kwargs: Mapping[str, Any]
    mask: Mask
    secrets: Sequence[str]
    _masked: dict[int, tuple[str, Sequence[Any] | None]] = field(default_factory=dict)

    def render(self, position: int | None = None, count: int = 0, ip: str | None = None) -> str:
        """Masked ``METHOD URL`` and body; with ``position``, the batch list (the first list of ``count``
        items) cut to the item at ``position``, every other list to its first item, and the event's ``ip``
        shown as ``[ip]`` (the trace is no place for it; the stored event keeps it for its retention)."""
        if position is None:
            return self.mask(describe(self.method, self.url, self.kwargs))
        if count not in self._masked:
            text, batch = describe_batch(self.method, self.url, self.kwargs, count)
            self._masked[count] = (self.mask(text), batch)
        envelope, batch = self._masked[count]
        if batch is None or not 0 <= position < len(batch) or _ITEM_JSON not in envelope:
            return envelope
        item = _json(batch[position])
        for secret in self.secrets:
            if secret and len(secret) >= 4:
                item = item.replace(secret, MASK)
        if ip:
            item = item.replace(_json(ip), IP_MASK_JSON)
        return envelope.replace(_ITEM_JSON, item, 1)


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
    if position is None:
        return describe_batch(method, url, kwargs, -1)[0]
    text, batch = describe_batch(method, url, kwargs, count)
    if batch is None or not 0 <= position < len(batch):
        return text
    return text.replace(_ITEM_JSON, _json(batch[position]), 1)


def describe_batch(
    method: str, url: str, kwargs: Mapping[str, Any], count: int
) -> tuple[str, Sequence[Any] | None]:
    """The request's text with the batch list (the first list of ``count`` items) shown as one marker
    item, and that list (None: the body has none)."""
    params = kwargs.get("params")
    full = str(httpx.URL(url, params=params)) if params else url
    body, batch = _body(kwargs, count)
    return f"{method.upper()} {full}\n{body}".rstrip("\n"), batch


def _body(kwargs: Mapping[str, Any], count: int) -> tuple[str, Sequence[Any] | None]:
    value = kwargs.get("json")
    if value is None:
        text = _text(kwargs)
        try:
            value = json.loads(text) if text[:1] in ("{", "[") else None
        except ValueError:
            value = None
        if value is None:
            return (text if len(text) <= MAX_PLAIN_BODY else f"[a body of {len(text)} characters]"), None
    found: list[Sequence[Any]] = []
    return _json(_shortened(value, count, found)), (found[0] if found else None)


def _json(value: Any) -> str:
    """Compact JSON, non-ASCII kept: orjson (a recorded request per delivered event is on the worker's
    path), the standard library for what orjson refuses (integers beyond 64 bits, nesting too deep)."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


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


def _shortened(value: Any, count: int, found: list[Sequence[Any]]) -> Any:
    """``value`` with every list cut to its first :data:`SHOWN_ITEMS` items and a note of how many more:
    cut between items, never inside a value, so masking still sees every key and secret whole. The first
    list of ``count`` items met (the batch: kept in ``found``) shows one marker item instead."""
    if isinstance(value, Mapping):
        return {k: _shortened(v, count, found) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if not found and count > 0 and len(value) == count:
            found.append(value)
            shown: list[Any] = [_ITEM]
        else:
            shown = [_shortened(v, count, found) for v in value[:SHOWN_ITEMS]]
        more = len(value) - len(shown)
        return [*shown, f"... {more} more"] if more > 0 else shown
    return value


def sent(method: str, url: str, kwargs: Mapping[str, Any], mask: Mask, secrets: Sequence[str] = ()) -> None:
    """A connector is sending this request: keep it masked (``mask``: the connector's; ``secrets``:
    its credentials, replaced by value in each event's own item)."""
    recorder = _CURRENT.get()
    if recorder is not None:
        request = _Sent(method, url, kwargs, mask, tuple(secrets))
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
            event = events[index]
            ip = getattr(event, "ip", None)
            recorder._by_event[id(event)] = recorder._raw[request].render(position, count, ip)


__all__ = ["Recorder", "carried", "delivered", "describe", "mark", "recording", "sent"]
