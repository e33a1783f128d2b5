"""HTTP endpoints of the audiences (CONTRACT §3): members pushed to an ``api``-source audience, and the
data-subject deletion ``DELETE /v1/users``. Contact details are hashed at the door, never stored raw."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from relay.audiences.members import STRONG_KEYS, encode, idents, text_idents
from relay.events import CONTACT_FIELDS, UserIn, describe
from relay.exceptions import StorageError
from relay.http.body import BodyError, check_media, parse_json, read_body, read_json
from relay.http.responses import error
from relay.normalize import digest_of, hash_user, member_from_row
from relay.state import RelayState
from relay.storage import audiences as store
from relay.storage.db import Database

log = logging.getLogger("relay.audiences")

#: members per request, and the least body size allowed for them (``server.max_body_bytes`` if larger)
MAX_USERS = 10_000
MIN_BODY_BYTES = 4 * 1024 * 1024
#: what identifies a person in a deletion request
ERASE_FIELDS = ("email", "phone", "external_id")


def _unauthorized() -> Response:
    return error("unauthorized", "send Authorization: Bearer <one of server.api_keys>")


def _unavailable() -> Response:
    return error("storage_unavailable", "storage is unavailable; retry later")


def _user(raw: Any) -> tuple[dict[str, Any] | None, str | None]:
    """A valid ``user`` object (CONTRACT §4.1) as a dict of its given fields, or why it is not one."""
    if not isinstance(raw, dict):
        return None, "a user must be a JSON object"
    try:
        user = UserIn.model_validate(raw)
    except ValidationError as exc:
        return None, describe(exc)
    return user.model_dump(exclude_none=True), None


def _lists(body: Any) -> tuple[list[Any], list[Any]] | None:
    """The body's ``add`` and ``remove`` lists (absent or null: empty), or None when the body is not an
    object of those two, or either is anything but a list (``0``, ``false``, ``""`` and ``{}`` included)."""
    if not isinstance(body, dict) or not set(body) <= {"add", "remove"}:
        return None
    add, remove = body.get("add"), body.get("remove")
    add = [] if add is None else add
    remove = [] if remove is None else remove
    return (add, remove) if isinstance(add, list) and isinstance(remove, list) else None


def _distinct(items: Sequence[store.ApiMember]) -> list[store.ApiMember]:
    """The members of one request that are stored: a later member with the same key, or sharing an
    identifier, replaces an earlier one (the rule of ``store.api_upsert``; on these it changes nothing)."""
    seen: set[str] = set()
    kept: list[store.ApiMember] = []
    for item in reversed(items):
        key, _, found = item
        if key not in seen and seen.isdisjoint(found):
            kept.append(item)
        seen.add(key)
        seen |= found
    kept.reverse()
    return kept


class _Members:
    """The members of one request, hashed; rejected entries with their list, index and reason."""

    def __init__(self, default_country: str | None) -> None:
        self.default_country = default_country
        self.adds: list[store.ApiMember] = []
        self.removes: set[str] = set()
        self.rejected: list[dict[str, Any]] = []

    def _member(self, op: str, index: int, raw: Any) -> Any:
        user, problem = _user(raw)
        if user is None:
            self.rejected.append({"index": index, "op": op, "error": problem})
            return None
        fields = {k: v for k, v in user.items() if k in CONTACT_FIELDS or k == "madid"}
        member, reason = member_from_row(fields, default_country=self.default_country)
        if member is None:
            self.rejected.append({"index": index, "op": op, "error": reason})
        return member

    def add(self, index: int, raw: Any) -> None:
        member = self._member("add", index, raw)
        if member is not None:
            encoded = encode(member)
            self.adds.append((encoded.key, encoded.text, idents(member)))

    def remove(self, index: int, raw: Any) -> None:
        member = self._member("remove", index, raw)
        if member is None:
            return
        found = idents(member)
        if not found:
            reason = "no identifier to find the member by (email, phone, external_id or madid)"
            self.rejected.append({"index": index, "op": "remove", "error": reason})
        self.removes |= found


def _prepare(raw: bytes, default_country: str | None) -> _Members:
    """The body's members checked, normalised and hashed, or :class:`BodyError` (400). CPU-bound (a
    10,000-member push is about a second of it): run in a worker thread, off the event loop."""
    lists = _lists(parse_json(raw))
    if lists is None:
        raise BodyError("invalid_event", 'send {"add": [user, ...], "remove": [user, ...]}')
    if len(lists[0]) + len(lists[1]) > MAX_USERS:
        raise BodyError("too_many_events", f"at most {MAX_USERS} users per request")
    members = _Members(default_country)
    for index, item in enumerate(lists[0]):
        members.add(index, item)
    for index, item in enumerate(lists[1]):
        members.remove(index, item)
    members.adds = _distinct(members.adds)
    return members


async def post_members(request: Request) -> Response:
    """``POST /v1/audiences/{name}/members`` with ``{"add": [user, ...], "remove": [user, ...]}``."""
    relay: RelayState = request.app.state.relay
    if not relay.credentials.api_key_ok(request):
        return _unauthorized()
    name = request.path_params["name"]
    audience = relay.settings.audiences.get(name)
    if audience is None:
        return error("not_found", f"no audience named {name!r}")
    if audience.source.type != "api":
        return error(
            "conflict",
            f"audience {name!r} has a {audience.source.type} source; only api sources take members",
        )
    server = relay.settings.server
    try:
        check_media(request.headers.get("content-type"), request.headers.get("content-encoding"))
        raw = await read_body(
            request, max(server.max_body_bytes, MIN_BODY_BYTES), server.body_timeout_seconds
        )
        members = await asyncio.to_thread(_prepare, raw, server.default_country)
    except BodyError as exc:
        return exc.response
    db = relay.db
    try:
        if members.adds:
            await db.run(store.api_upsert, db.engine, name, members.adds, time.time())
        removed = await db.run(store.api_remove, db.engine, name, members.removes) if members.removes else 0
    except StorageError:
        return _unavailable()
    answer = {"added": len(members.adds), "removed": removed, "rejected": members.rejected}
    return JSONResponse(answer, status_code=202)


def erase_digests(user: Mapping[str, Any], default_country: str | None) -> set[str]:
    """The hashed email, phone (both stored forms) and external id of a deletion request."""
    fields = {k: user[k] for k in (*ERASE_FIELDS, "country") if k in user}
    hashed = hash_user(fields, default_country=default_country).hashed
    return {digest_of(v) for key in STRONG_KEYS for v in hashed.get(key, ())}


def _event_matches(digests: set[str]) -> Any:
    def matches(hashed: Mapping[str, Any]) -> bool:
        values: Sequence[Any] = [v for key in STRONG_KEYS for v in (hashed.get(key) or ())]
        return any(isinstance(v, str) and digest_of(v) in digests for v in values)

    return matches


async def erase_person(
    db: Database, user: Mapping[str, Any], default_country: str | None
) -> tuple[int, set[str]]:
    """Strip the person's identifiers from every stored event, drop them from api-source members and
    suppress them from every audience; ``(events changed, audiences they were in)``. ``ValueError`` when
    the user object holds no usable email, phone or external_id."""
    digests = erase_digests(user, default_country)
    if not digests:
        raise ValueError("no usable email, phone or external_id after normalisation")
    changed = await db.run(store.erase_events, db.engine, digests, _event_matches(digests))
    found = await db.run(
        store.erase_members,
        db.engine,
        digests,
        lambda text: not digests.isdisjoint(text_idents(text)),
        time.time(),
    )
    return changed, found


async def delete_user(request: Request) -> Response:
    """``DELETE /v1/users``: erase a person's identifiers from stored events and queue their removal from
    every synced audience."""
    relay: RelayState = request.app.state.relay
    if not relay.credentials.api_key_ok(request):
        return _unauthorized()
    try:
        server = relay.settings.server
        body = await read_json(request, server.max_body_bytes, server.body_timeout_seconds)
    except BodyError as exc:
        return exc.response
    user, problem = _user(body)
    if user is None:
        return error("invalid_event", problem or "send a user object")
    if not any(k in user for k in ERASE_FIELDS):
        return error("invalid_event", "give the person's email, phone or external_id")
    try:
        changed, found = await erase_person(relay.db, user, relay.settings.server.default_country)
    except StorageError:
        return _unavailable()
    except ValueError as exc:
        return error("invalid_event", str(exc))
    log.info("data-subject deletion", extra={"events": changed, "audiences": len(found)})
    return JSONResponse({"events": changed, "audiences": len(found)}, status_code=202)


__all__ = ["MAX_USERS", "delete_user", "erase_digests", "erase_person", "post_members"]
