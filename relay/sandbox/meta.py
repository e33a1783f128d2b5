"""A fake of Meta's Graph API: Conversions API ``/events`` and Custom Audience ``/users``.

It validates like the real API (meta.md): the access token (and ``appsecret_proof`` when given an
app secret), the version, the batch and every event in it, rejecting the whole batch with code
100 and a message naming the event's index when one event is invalid. Routes are relative to the
app's root, so the relay can mount it at ``/sandbox/meta`` and tests can serve it alone; the
connector's ``api_base`` is then that mount's URL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from relay.sandbox.base import FakePlatform
from relay.sandbox.checks import secret
from relay.sandbox.meta_catalog import FakeCatalogs
from relay.sandbox.meta_rules import (
    MAX_EVENTS,
    GraphFault,
    audience_payload,
    check_version,
    event_problem,
    row_problem,
    trace_id,
)
from relay.settings import Settings

Row = tuple[tuple[str, str], ...]


@dataclass
class ReplaceSession:
    session_id: int
    batch_seq: int
    rows: set[Row] = field(default_factory=set)


#: how many of the latest accepted events ``GET /_state`` shows
STATE_RECENT = 20
#: how many members of each audience ``GET /_state`` shows
STATE_MEMBERS = 50


class FakeMeta(FakePlatform):
    """The fake Graph API, with the state tests assert on: :attr:`events` and :attr:`audiences`."""

    def __init__(
        self,
        *,
        access_token: str | None = None,
        app_secret: str | None = None,
        credentials: Mapping[str, str | None] | None = None,
        blocked_audiences: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``access_token``: the token every call must carry (None: any non-empty token);
        ``app_secret``: when set, ``appsecret_proof`` is checked; ``credentials``: several
        accepted tokens, each with its app secret or None."""
        super().__init__()
        #: accepted token → its app secret (or None); empty accepts any non-empty token
        self.credentials: dict[str, str | None] = dict(credentials or {})
        if access_token is not None:
            self.credentials[access_token] = app_secret
        self.app_secret = app_secret
        self.blocked_audiences = set(blocked_audiences)
        self.clock = clock
        #: accepted events, each with ``pixel_id`` (and ``test_event_code`` when sent) added
        self.events: list[dict[str, Any]] = []
        #: audience id → its members, each a row as sorted ``(column, value)`` pairs
        self.audiences: dict[str, set[Row]] = {}
        self.sessions: dict[str, ReplaceSession] = {}
        #: product catalogs and lookalike audiences (relay.sandbox.meta_catalog)
        self.catalogs = FakeCatalogs(self.audiences)
        self.app = Starlette(
            routes=[
                Route("/_state", self._state, methods=["GET"]),
                Route("/{version}/{node}", self._node, methods=["GET"]),
                Route("/{version}/{node}/events", self._events, methods=["POST"]),
                Route("/{version}/{node}/users", self._users, methods=["POST", "DELETE"]),
                Route("/{version}/{node}/usersreplace", self._replace, methods=["POST"]),
                Route("/{version}/{node}/items_batch", self._items_batch, methods=["POST"]),
                Route("/{version}/{node}/check_batch_request_status", self._batch_status, methods=["GET"]),
                Route("/{version}/{node}/customaudiences", self._customaudiences, methods=["GET", "POST"]),
            ]
        )

    @classmethod
    def for_settings(cls, settings: Settings, *, mount: str = "/sandbox/meta") -> FakeMeta:
        """The sandbox fake of ``relay serve``: it expects the credentials of the ``meta`` connectors
        whose ``api_base`` points at ``mount`` (any non-empty token when none does)."""
        credentials: dict[str, str | None] = {}
        for block in settings.connectors.values():
            if block.type != "meta" or not urlsplit(block.api_base).path.rstrip("/").endswith(mount):
                continue
            token = secret(getattr(block, "access_token", None))
            if token:
                credentials[token] = secret(getattr(block, "app_secret", None))
        return cls(credentials=credentials)

    def reset(self) -> None:
        super().reset()
        self.events.clear()
        self.audiences.clear()
        self.sessions.clear()
        self.catalogs.reset()

    # -- request plumbing

    async def _handle(
        self, request: Request, handler: Callable[[str, dict[str, Any]], dict[str, Any]]
    ) -> Response:
        _, answer = await self.receive(request)
        if answer is not None:
            return answer
        try:
            params = await _params(request)
            self._authorise(params)
            check_version(request.path_params["version"])
            return JSONResponse(handler(request.path_params["node"], params))
        except GraphFault as fault:
            return fault.response()

    def _authorise(self, params: dict[str, Any]) -> None:
        token = params.get("access_token")
        if not token:
            raise GraphFault("An access token is required to request this resource.", code=104)
        if self.credentials and token not in self.credentials:
            raise GraphFault("Invalid OAuth access token - Cannot parse access token", code=190)
        app_secret = self.credentials.get(token) if self.credentials else self.app_secret
        if app_secret is None:
            return
        proof = params.get("appsecret_proof")
        if not proof:
            raise GraphFault("API calls from the server require an appsecret_proof argument")
        expected = hmac.new(app_secret.encode(), str(token).encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(str(proof), expected):
            raise GraphFault("Invalid appsecret_proof provided in the API argument")

    async def _state(self, request: Request) -> Response:
        audiences = {aid: len(rows) for aid, rows in self.audiences.items()}
        recent = self.events[-STATE_RECENT:][::-1]
        members = {
            aid: [dict(row) for row in sorted(rows)[:STATE_MEMBERS]] for aid, rows in self.audiences.items()
        }
        return JSONResponse(
            {
                "events": len(self.events),
                "recent_events": recent,
                "audiences": audiences,
                "members": members,
                **self.catalogs.state(),
            }
        )

    async def _node(self, request: Request) -> Response:
        """``GET /{version}/{pixel_id}?fields=id``: the harmless read ``relay check --connect`` makes."""
        return await self._handle(request, lambda node, params: {"id": node})

    # -- product catalogs and lookalike audiences (relay.sandbox.meta_catalog)

    async def _items_batch(self, request: Request) -> Response:
        return await self._handle(request, self.catalogs.items_batch)

    async def _batch_status(self, request: Request) -> Response:
        return await self._handle(request, self.catalogs.batch_status)

    async def _customaudiences(self, request: Request) -> Response:
        if request.method == "GET":
            return await self._handle(request, self.catalogs.list_audiences)
        return await self._handle(request, self.catalogs.create_audience)

    # -- conversions

    async def _events(self, request: Request) -> Response:
        return await self._handle(request, self._accept_events)

    def _accept_events(self, pixel_id: str, params: dict[str, Any]) -> dict[str, Any]:
        data = params.get("data")
        if not isinstance(data, list) or not 1 <= len(data) <= MAX_EVENTS:
            raise GraphFault(f"Invalid parameter: data must be an array of 1 to {MAX_EVENTS} events")
        now = self.clock()
        for index, event in enumerate(data):
            problem = event_problem(event, now)
            if problem:
                subcode = 2804050 if "user_data" in problem and "at least one" in problem else None
                raise GraphFault(f"Invalid parameter: event {index}: {problem}", subcode=subcode)
        extra = {"test_event_code": params["test_event_code"]} if params.get("test_event_code") else {}
        self.events.extend({**event, "pixel_id": pixel_id, **extra} for event in data)
        return {"events_received": len(data), "messages": [], "fbtrace_id": trace_id()}

    # -- custom audiences

    async def _users(self, request: Request) -> Response:
        if request.method == "DELETE":
            return await self._handle(request, self._remove)
        return await self._handle(request, self._add)

    async def _replace(self, request: Request) -> Response:
        return await self._handle(request, self._replace_batch)

    def _add(self, audience_id: str, params: dict[str, Any]) -> dict[str, Any]:
        rows, answer = self._upload(audience_id, params)
        self.audiences.setdefault(audience_id, set()).update(rows)
        return answer

    def _remove(self, audience_id: str, params: dict[str, Any]) -> dict[str, Any]:
        rows, answer = self._upload(audience_id, params)
        self.audiences.setdefault(audience_id, set()).difference_update(rows)
        return answer

    def _replace_batch(self, audience_id: str, params: dict[str, Any]) -> dict[str, Any]:
        session = params.get("session")
        if not isinstance(session, dict) or not isinstance(session.get("session_id"), int):
            raise GraphFault(
                "Invalid parameter: session with session_id, batch_seq and last_batch_flag required"
            )
        seq = session.get("batch_seq")
        current = self.sessions.get(audience_id)
        if seq == 1 and (
            current is None or current.session_id != session["session_id"] or current.batch_seq != 1
        ):
            current = self.sessions[audience_id] = ReplaceSession(session["session_id"], 1)
        elif not (
            isinstance(seq, int)
            and current is not None
            and current.session_id == session["session_id"]
            and seq >= current.batch_seq
        ):
            raise GraphFault("Invalid parameter: batch_seq must start at 1 and increase within a session")
        rows, answer = self._upload(audience_id, params, session_id=current.session_id)
        current.batch_seq = seq
        current.rows.update(rows)
        if session.get("last_batch_flag") is True:
            del self.sessions[audience_id]
            if not current.rows:
                raise GraphFault("Invalid parameter: a replace session must upload at least one valid user")
            self.audiences[audience_id] = set(current.rows)
        return answer

    def _upload(
        self, audience_id: str, params: dict[str, Any], *, session_id: int | None = None
    ) -> tuple[set[Row], dict[str, Any]]:
        """The valid rows of the request's ``payload`` and the answer Meta gives for it."""
        if audience_id in self.blocked_audiences:
            raise GraphFault("Audience Upload Blocked", subcode=1713230)
        schema, data = audience_payload(params.get("payload"))
        rows: set[Row] = set()
        samples: dict[str, str] = {}
        invalid = 0
        for index, row in enumerate(data):
            problem = row_problem(schema, row)
            if problem is None:
                rows.add(tuple(sorted((k, v) for k, v in zip(schema, row, strict=True) if v)))
                continue
            invalid += 1
            if len(samples) < 10:
                samples[str(index)] = problem
        answer = {
            "audience_id": audience_id,
            "session_id": session_id if session_id is not None else secrets.randbits(48),
            "num_received": len(data),
            "num_invalid_entries": invalid,
            "invalid_entry_samples": samples,
        }
        return rows, answer


async def _params(request: Request) -> dict[str, Any]:
    """Query and body parameters merged; form values that hold JSON (``data``, ``payload``) decoded."""
    params: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if not body:
        return params
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            decoded = json.loads(body)
        except ValueError:
            raise GraphFault("Invalid parameter: the body is not valid JSON") from None
        if not isinstance(decoded, dict):
            raise GraphFault("Invalid parameter: the body must be a JSON object")
        return {**params, **decoded}
    for key, value in parse_qsl(body.decode(errors="replace"), keep_blank_values=True):
        params[key] = _maybe_json(value) if key in ("data", "payload", "session") else value
    if isinstance(params.get("data"), list):  # the SDK form: each element a JSON-encoded string
        params["data"] = [_maybe_json(e) if isinstance(e, str) else e for e in params["data"]]
    return params


def _maybe_json(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


__all__ = ["FakeMeta", "ReplaceSession", "Row"]
