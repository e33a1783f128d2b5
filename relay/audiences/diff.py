"""The diff engine for one destination: send only what changed, and remember only what was acknowledged.

The staged source set and the destination's acknowledged state are both tables keyed by member key;
adds (staged, not acknowledged) and removes (acknowledged, no longer staged) are read as keyset pages of
the connector's batch size, removes first (on X an update merges with a member sharing an identifier,
so an old version must leave before its new version arrives). After each batch the platform
acknowledged, the state is committed: a crash resumes from there, resending at most the batch that was
in flight. ``--full`` re-sends everything: a Meta ``usersreplace`` session (whose progress is stored, so
a crash resumes the session) or, where the platform has no replace, every member re-added after the
removes.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.base import BUG_CALLS, AudienceConnector, bisect, in_call_retry
from relay.audiences.context import SyncEnv, SyncOptions
from relay.audiences.members import decode
from relay.audiences.progress import Progress
from relay.audiences.results import DestinationResult
from relay.exceptions import (
    PayloadRejectedError,
    PermanentDeliveryError,
    RelayError,
    RetryableDeliveryError,
    raised_at,
)
from relay.settings import AudienceDestinationSettings
from relay.storage import audiences as store
from relay.types import AudienceBatchResult, AudienceMember

log = logging.getLogger("relay.audiences")
#: a replace session older than this is not resumed (Meta closes idle sessions after 90 minutes)
SESSION_TTL = 3600.0
Call = Callable[[Sequence[AudienceMember]], Awaitable[AudienceBatchResult]]


class LockLostError(RelayError):
    """Another process took this audience's sync over (the lease expired); this run stopped."""


def batch_size(
    connector: AudienceConnector, destination: AudienceDestinationSettings, options: SyncOptions
) -> int:
    """The connector's audience batch limit, lowered by the run's or the destination's ``batch_size``."""
    size = connector.max_audience_batch
    for cap in (options.batch_size, destination.batch_size):
        if cap:
            size = min(size, cap)
    return max(size, 1)


async def _retrying(
    call: Call, members: Sequence[AudienceMember], options: SyncOptions
) -> AudienceBatchResult:
    """``call(members)``, retried briefly on a retryable answer (the next run resumes anyway)."""
    retrying = in_call_retry(
        RetryableDeliveryError,
        attempts=options.attempts,
        wait=options.retry_wait,
        max_wait=options.max_retry_wait,
    )
    async for attempt in retrying:
        with attempt:
            return readable(await call(members), len(members))
    raise AssertionError("unreachable")  # pragma: no cover


def readable(answer: object, size: int) -> AudienceBatchResult:
    """A connector's answer to a batch of ``size`` members, as the sync can count it: counts within the
    batch, samples as text, indexes of its members. What a connector bug made unreadable is left out for
    this batch alone: the platform took the batch, so failing the destination would send it again on
    every run (an answer that is no result at all counts the batch as received, and says so)."""
    if not isinstance(answer, AudienceBatchResult):
        bug = f"an answer that is a {type(answer).__name__}, not an AudienceBatchResult"
        return AudienceBatchResult(size, 0, {"connector bug": bug})
    samples = answer.invalid_samples
    samples = {str(k): str(v) for k, v in samples.items()} if isinstance(samples, Mapping) else {}
    indexes = answer.failed_indexes
    indexes = indexes if isinstance(indexes, Sequence) and not isinstance(indexes, str) else ()
    return AudienceBatchResult(
        _within(answer.received, size),
        _within(answer.invalid, size),
        samples,
        [i for i in indexes if type(i) is int and 0 <= i < size],
    )


def _within(count: object, size: int) -> int:
    return min(max(count, 0), size) if type(count) is int else 0


@dataclass(frozen=True)
class Sent:
    """What became of one batch: the tally a sync counts, and the positions of the members a connector bug
    kept from the platform. Those are left out of the acknowledged state, so the next run tries them again
    (a member the platform refuses is acknowledged: sending it again would be refused again)."""

    result: AudienceBatchResult
    unsent: tuple[int, ...] = ()


class _Split(Exception):
    """Halve the batch: the platform refused its payload, or the connector raised on it (a bug)."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _refused(split: _Split) -> Sent:
    """One member the platform refuses, or the connector cannot send."""
    cause = split.cause
    if isinstance(cause, PayloadRejectedError):
        return Sent(AudienceBatchResult(0, 1, {"0": cause.message[:200]}, [0]))
    place = raised_at(cause)
    where = f" at {place[0].rsplit('/', 1)[-1]}:{place[1]}" if place else ""
    bug = f"connector bug: {type(cause).__name__}{where}"  # not its text: it may hold the member's values
    log.error("audience connector failed on one member", extra={"error": bug})
    return Sent(AudienceBatchResult(0, 1, {"0": bug}, [0]), (0,))


def _joined(left: Sent, right: Sent, offset: int) -> Sent:
    """The results of two halves of a batch as one; the right half's member positions move by ``offset``."""
    a, b = left.result, right.result
    samples = {
        **a.invalid_samples,
        **{
            str(int(k) + offset) if k.isascii() and k.isdigit() else k: v
            for k, v in b.invalid_samples.items()
        },
    }
    joined = AudienceBatchResult(
        a.received + b.received,
        a.invalid + b.invalid,
        samples,
        [*a.failed_indexes, *(i + offset for i in b.failed_indexes)],
    )
    return Sent(joined, (*left.unsent, *(i + offset for i in right.unsent)))


async def send_isolated(call: Call, members: Sequence[AudienceMember], options: SyncOptions) -> Sent:
    """Send a batch; when the platform refuses it whole for its payload, or the connector raises on it
    what no connector should (a bug), halve it until only those members are left out, so one bad member
    never fails its batch. A bug is isolated within :data:`BUG_CALLS` calls of the batch; past that it
    fails the destination, as a bug every member hits does."""
    bug_calls = 0

    async def attempt(part: Sequence[AudienceMember]) -> Sent:
        nonlocal bug_calls
        try:
            return Sent(await _retrying(call, part, options))
        except PayloadRejectedError as exc:
            raise _Split(exc) from exc
        except RelayError:
            raise
        except Exception as exc:
            bug_calls += 1
            if bug_calls > BUG_CALLS:
                raise
            raise _Split(exc) from exc

    return await bisect(members, attempt, refused=_refused, join=_joined, split_on=_Split)


class DestinationSync:
    """Brings one destination of one audience in line with the staged source set."""

    def __init__(
        self,
        env: SyncEnv,
        audience: str,
        scope: str,
        destination: str,
        settings: AudienceDestinationSettings,
        options: SyncOptions,
        progress: Progress,
        check_lease: Callable[[], None],
    ) -> None:
        self.env, self.audience, self.scope, self.name = env, audience, scope, destination
        self.audience_id = settings.audience_id
        self.settings, self.options, self.progress = settings, options, progress
        self.check_lease = check_lease
        connector = env.connectors.get(destination)
        if not isinstance(connector, AudienceConnector):
            raise PermanentDeliveryError(f"connector {destination!r} cannot sync custom audiences")
        if not connector.settings.enabled:
            raise PermanentDeliveryError(f"connector {destination!r} is disabled (enabled: false)")
        self.connector: AudienceConnector = connector
        self.size: int = batch_size(connector, settings, options)

    async def _db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await self.env.db.run(functools.partial(fn, self.env.db.engine, *args, **kwargs))

    async def run(self, result: DestinationResult) -> None:
        """Plan the diff, then (unless a dry run) send it; ``result`` is filled as it goes."""
        counts = await self._counts()
        result.staged, result.to_add, result.to_remove = counts.staged, counts.adds, counts.removes
        result.unchanged = counts.unchanged
        replace = self.options.full and self.connector.supports_replace and counts.staged > 0
        result.mode = "replace" if replace else "full" if self.options.full else "incremental"
        if self.options.dry_run:
            result.status = "dry-run"
            return
        total = counts.staged if self.options.full else counts.adds
        self.progress.planned(self.audience, self.name, total + counts.removes)
        if replace:
            await self._replace(result, counts)
        else:
            await self._removes(result)
            await (self._full_adds(result) if self.options.full else self._adds(result))
        result.status = "ok"

    async def _counts(self) -> store.DiffCounts:
        """The diff's sizes; a destination now pointing at another platform audience starts empty."""
        if not self.options.dry_run:
            await self._db(store.bind_target, self.audience, self.name, self.audience_id, self.env.clock())
        counts: store.DiffCounts = await self._db(store.diff_counts, self.audience, self.scope, self.name)
        bound = await self._db(store.bound_audience_id, self.audience, self.name)
        if bound is not None and bound != self.audience_id:  # a dry run does not forget the old state
            return store.DiffCounts(counts.staged, 0, counts.staged)
        return counts

    # -- sending ----------------------------------------------------------------------------------

    async def _send(
        self, call: Call, page: store.Page, op: str, result: DestinationResult, *, isolate: bool = True
    ) -> list[str]:
        """Send a page; the keys of its members to record as acknowledged (all but those a connector bug
        kept from the platform)."""
        self.check_lease()
        members = [decode(text) for _, text in page]
        sent = (
            await send_isolated(call, members, self.options)
            if isolate
            else Sent(await _retrying(call, members, self.options))
        )
        answer = sent.result
        result.sent += len(members)
        result.note_invalid(answer.invalid, dict(answer.invalid_samples))
        acknowledged = max(len(members) - answer.invalid, 0)
        if acknowledged:
            self.env.metrics.audience_members_synced.labels(self.audience, self.name, op).inc(acknowledged)
        self.progress.sent(self.audience, self.name, len(members))
        if not sent.unsent:
            return [k for k, _ in page]
        unsent = set(sent.unsent)
        return [k for i, (k, _) in enumerate(page) if i not in unsent]

    def _call(self, op: str) -> Call:
        method = self.connector.audience_add if op == "add" else self.connector.audience_remove
        return functools.partial(method, self.audience_id)

    # -- incremental ------------------------------------------------------------------------------

    async def _removes(self, result: DestinationResult) -> None:
        after = ""
        while page := await self._db(
            store.page_removes, self.audience, self.scope, self.name, after, self.size
        ):
            done = await self._send(self._call("remove"), page, "remove", result)
            await self._db(store.ack_removes, self.audience, self.name, done)
            result.removed += len(done)
            after = page[-1][0]

    async def _adds(self, result: DestinationResult) -> None:
        after = ""
        while page := await self._db(store.page_adds, self.audience, self.scope, self.name, after, self.size):
            done = await self._send(self._call("add"), page, "add", result)
            result.added += await self._db(store.ack_adds, self.audience, self.name, done)
            after = page[-1][0]

    # -- full -------------------------------------------------------------------------------------

    async def _fingerprint(self) -> str:
        """A digest of the staged set, so that a full sync resumes only over the same members."""
        digest, after = hashlib.sha256(), ""
        while keys := await self._db(store.staged_keys, self.audience, self.scope, after, 50_000):
            digest.update("\n".join(keys).encode() + b"\n")
            after = keys[-1]
        return digest.hexdigest()

    async def _save(self, **progress: Any) -> None:
        """Store how far a full sync got, so that a crash resumes it."""
        await self._db(store.save_progress, self.audience, self.name, updated_at=self.env.clock(), **progress)

    async def _resumable(self, mode: str, fingerprint: str) -> dict[str, Any] | None:
        saved: dict[str, Any] = await self._db(store.target, self.audience, self.name)
        fresh = self.env.clock() - float(saved["updated_at"] or 0) < SESSION_TTL or mode == "full"
        if saved["mode"] == mode and saved["fingerprint"] == fingerprint and fresh:
            return saved
        return None

    async def _full_adds(self, result: DestinationResult) -> None:
        """Re-add every staged member (platforms without a replace upload), resumable by key."""
        fingerprint = await self._fingerprint()
        saved = await self._resumable("full", fingerprint)
        after = saved["resume_after"] if saved else ""
        if saved is None:
            await self._save(mode="full", fingerprint=fingerprint, resume_after="")
        while page := await self._db(store.page_staged, self.audience, self.scope, after, self.size):
            done = await self._send(self._call("add"), page, "add", result)
            result.added += await self._db(store.ack_adds, self.audience, self.name, done)
            after = page[-1][0]
            await self._save(resume_after=after)
        await self._db(store.clear_progress, self.audience, self.name)

    async def _replace(self, result: DestinationResult, counts: store.DiffCounts) -> None:
        """One ``usersreplace`` session over the staged set; the state becomes that set when it closes."""
        fingerprint = await self._fingerprint()
        saved = await self._resumable("replace", fingerprint)
        if saved is not None and saved["session_id"]:
            session, seq, after, sent = (
                int(saved["session_id"]),
                int(saved["batch_seq"]),
                saved["resume_after"],
                int(saved["sent"]),
            )
        else:
            session, seq, after, sent = secrets.randbelow(2**52) + 1, 0, "", 0
            await self._save(
                mode="replace",
                session_id=session,
                batch_seq=0,
                resume_after="",
                sent=0,
                fingerprint=fingerprint,
            )
        total = counts.staged
        try:
            while sent < total and (
                page := await self._db(store.page_staged, self.audience, self.scope, after, self.size)
            ):
                seq, last = seq + 1, sent + len(page) >= total
                call = functools.partial(
                    self.connector.audience_replace,
                    self.audience_id,
                    session_id=session,
                    batch_seq=seq,
                    last=last,
                    estimated_total=total,
                )
                await self._send(call, page, "add", result, isolate=False)
                sent, after = sent + len(page), page[-1][0]
                if last:
                    await self._db(store.replace_state, self.audience, self.scope, self.name)
                else:
                    await self._save(batch_seq=seq, resume_after=after, sent=sent)
        except PermanentDeliveryError:
            await self._db(store.clear_progress, self.audience, self.name)  # the session cannot be finished
            raise
        result.added, result.removed = counts.adds, counts.removes
        if counts.removes:
            self.env.metrics.audience_members_synced.labels(self.audience, self.name, "remove").inc(
                counts.removes
            )


__all__ = [
    "BUG_CALLS",
    "SESSION_TTL",
    "DestinationSync",
    "LockLostError",
    "Sent",
    "batch_size",
    "readable",
    "send_isolated",
]
