"""The pieces every connector shares: the status classifier, the hash helper, bisection, the in-call retry
and the typed audience contract."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from connectors.base import AudienceConnector, BaseConnector, bisect, isolate
from connectors.hashes import EMPTY_SHA256, first_hash, hashes, usable_hash
from connectors.http import DEFAULT_RATE_LIMIT_WAIT, classify_status, in_call_retry, parse_retry_after
from connectors.meta import audiences as meta_audiences
from connectors.meta.connector import MetaConnector
from connectors.meta.errors import classify as meta_classify
from connectors.x import audiences as x_audiences
from connectors.x.connector import XConnector
from connectors.x.errors import classify as x_classify
from relay.audiences.context import SyncOptions
from relay.audiences.diff import BUG_CALLS, send_isolated
from relay.exceptions import (
    AuthRejectedError,
    DeliveryError,
    PayloadRejectedError,
    PermanentDeliveryError,
    RateLimitedError,
    RetryableDeliveryError,
    UnavailableError,
)
from relay.normalize import is_hashed
from relay.settings import ConnectorSettings
from relay.types import AudienceBatchResult, AudienceMember, Delivered, Failed, Outcome, Retry
from tests.connectors.test_meta_capi import make_settings as meta_settings
from tests.connectors.test_x_conversions import make_settings as x_settings


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# -- one classifier


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, None),
        (204, None),
        (400, PayloadRejectedError),
        (413, PayloadRejectedError),
        (422, PayloadRejectedError),
        (401, AuthRejectedError),
        (403, AuthRejectedError),
        (404, PermanentDeliveryError),
        (409, PermanentDeliveryError),
        (302, PermanentDeliveryError),
        (408, UnavailableError),
        (423, UnavailableError),
        (500, UnavailableError),
        (502, UnavailableError),
        (503, UnavailableError),
        (599, UnavailableError),
        (429, RateLimitedError),
    ],
)
def test_status_alone_decides_the_class(status: int, kind: type[DeliveryError] | None) -> None:
    error = classify_status(status, "message", {})
    assert (type(error) if error is not None else None) is kind
    if error is not None:
        assert error.message == "message" and error.status_code == status


def test_waits_come_from_retry_after_in_either_form() -> None:
    now = 1_700_000_000.0
    date = format_datetime(datetime.fromtimestamp(now + 90, UTC), usegmt=True)
    for value, expected in [("42", 42.0), (date, 90.0), ("soon", None), ("", None)]:
        headers = {"retry-after": value}
        unavailable = classify_status(503, "m", headers, now=now)
        limited = classify_status(429, "m", headers, now=now)
        assert isinstance(unavailable, RetryableDeliveryError) and unavailable.retry_after == expected
        assert isinstance(limited, RateLimitedError)
        assert limited.retry_after == (expected if expected is not None else DEFAULT_RATE_LIMIT_WAIT)
    assert parse_retry_after({"retry-after": format_datetime(datetime(2000, 1, 1, tzinfo=UTC))}, now) == 0.0


def test_a_platform_code_table_and_its_own_wait_take_precedence() -> None:
    auth = classify_status(400, "token expired", {}, kind=AuthRejectedError)
    limited = classify_status(400, "too many calls", {"retry-after": "5"}, kind=RateLimitedError)
    own = classify_status(429, "m", {"retry-after": "5"}, rate_limit_wait=900.0)
    assert isinstance(auth, AuthRejectedError) and auth.status_code == 400
    assert isinstance(limited, RateLimitedError) and limited.retry_after == 5.0
    assert isinstance(own, RateLimitedError) and own.retry_after == 900.0


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_meta_and_x_agree_on_an_http_date(status: int) -> None:
    """Without a platform envelope both connectors read the same wait from the same answer."""
    later = format_datetime(datetime.fromtimestamp(time.time() + 120, UTC), usegmt=True)
    response = httpx.Response(status, text="<html>bad gateway</html>", headers={"Retry-After": later})
    meta = meta_classify(response, lambda text: text)
    x = x_classify(response, now=time.time(), mask=lambda text: text)
    assert isinstance(meta, UnavailableError) and isinstance(x, UnavailableError)
    assert meta.retry_after is not None and x.retry_after is not None
    assert 100 <= meta.retry_after <= 120 and abs(meta.retry_after - x.retry_after) < 5


def test_meta_without_an_envelope_uses_the_shared_table() -> None:
    for status in (400, 401, 404, 409, 429, 503):
        response = httpx.Response(status, text="proxy says no")
        expected = classify_status(status, "m", {})
        assert type(meta_classify(response, lambda text: text)) is type(expected)


# -- one hash helper


def test_hashes_are_lowercased_trimmed_and_never_the_empty_hash() -> None:
    digest = sha("jane@example.com")
    appendix = digest + ".AQYBAQIA"
    assert hashes([f"  {digest.upper()} ", digest, EMPTY_SHA256, "jane@example.com", digest[:63]]) == [digest]
    assert hashes(appendix) == [appendix]
    assert hashes([appendix, digest], appendix=False) == [digest]
    assert usable_hash(EMPTY_SHA256.upper()) is None and usable_hash(5) is None
    with pytest.raises(TypeError, match="not text"):
        hashes([digest, 5])  # type: ignore[list-item]


def test_the_stored_form_shortcut_answers_as_the_general_rule() -> None:
    """A bare lower-case digest skips the strip and case folding: every 64-character text near that form
    gets the answer of the general rule (``is_hashed``, strip, lower case, not the empty hash)."""
    rng = random.Random(11)
    alphabet = "0123456789abcdefABCDEFg \t."
    cells = [EMPTY_SHA256, EMPTY_SHA256.upper(), sha("a"), " " + sha("b")[:63], sha("c")[:63] + "\n"]
    cells += [
        "".join(
            rng.choice(alphabet) if rng.random() < 0.03 else rng.choice("0123456789abcdef") for _ in range(64)
        )
        for _ in range(3000)
    ]
    for cell in cells:
        general = cell.strip()[:64].lower() + cell.strip()[64:] if is_hashed(cell) else None
        assert usable_hash(cell) == (
            None if general is not None and general[:64] == EMPTY_SHA256 else general
        ), cell
        assert hashes([cell]) == ([] if usable_hash(cell) is None else [usable_hash(cell)])


def test_first_hash_agrees_with_the_helper_on_random_cells() -> None:
    rng = random.Random(3)
    pool = [sha(str(i)) for i in range(20)]
    shapes = [
        lambda h: h,
        lambda h: h.upper(),
        lambda h: f" {h}",
        lambda h: h[:60],
        lambda h: h + ".AQYBAQIA",
        lambda h: "plain text",
        lambda h: EMPTY_SHA256,
    ]
    for _ in range(3000):  # repeated cells go through the remembered path, all must answer the same
        cells = [rng.choice(shapes)(rng.choice(pool)) for _ in range(rng.randint(0, 3))]
        expected = next((found for c in cells if (found := usable_hash(c, appendix=False)) is not None), "")
        assert first_hash(cells) == expected


def test_meta_rows_match_the_helper_cell_by_cell() -> None:
    rng = random.Random(5)
    keys = list(meta_audiences.HASHED_COLUMNS.values())
    for i in range(500):
        hashed = {
            key: [rng.choice([sha(f"{key}{i % 7}"), sha(f"{key}{i}").upper(), "not a hash", EMPTY_SHA256])]
            for key in rng.sample(keys, rng.randint(0, len(keys)))
        }
        member = AudienceMember(hashed, madid=rng.choice([None, " ABC-def "]))
        row = meta_audiences.member_row(member)
        expected = [next(iter(hashes(hashed.get(k, ()))), "") for k in keys]
        expected.append(meta_audiences.normalise_madid(member.madid))
        assert row == (expected if any(expected) else None)


def test_x_chunks_count_their_bytes_exactly() -> None:
    ops = [(i, x_audiences.operation("Update", {"email": [sha(str(i))]})) for i in range(700)]
    chunks = list(x_audiences.chunk_operations(ops, max_operations=300, max_bytes=20_000))
    assert [i for c in chunks for i in c.indexes] == list(range(700))
    assert all(c.size == len(c.body) <= 20_000 and len(c.indexes) <= 300 for c in chunks)
    rest = chunks[0].without({0, 3})
    assert rest.size == len(rest.body) and rest.indexes == chunks[0].indexes[1:3] + chunks[0].indexes[4:]


# -- one bisection


class Platform:
    """Refuses any request holding a bad item; records the requests."""

    def __init__(self, bad: set[int]) -> None:
        self.bad, self.requests = bad, 0

    async def send(self, items: Sequence[int]) -> list[Outcome]:
        self.requests += 1
        if self.bad.intersection(items):
            raise PayloadRejectedError("bad item", status_code=400)
        return [Delivered(200) for _ in items]


@pytest.mark.anyio
@pytest.mark.parametrize("bad", [set(), {0}, {99}, {7, 8}, {3, 50, 97}])
async def test_isolate_fails_exactly_the_bad_items(bad: set[int]) -> None:
    platform = Platform(bad)
    outcomes = await isolate(list(range(100)), platform.send)
    assert [i for i, o in enumerate(outcomes) if isinstance(o, Failed)] == sorted(bad)
    assert all(isinstance(o, Delivered) for i, o in enumerate(outcomes) if i not in bad)
    assert platform.requests <= 1 + 2 * len(bad) * 7


@pytest.mark.anyio
async def test_isolate_turns_a_retryable_answer_into_retries_and_lets_auth_through() -> None:
    async def limited(items: Sequence[int]) -> list[Outcome]:
        raise RateLimitedError("slow down", retry_after=30)

    async def refused(items: Sequence[int]) -> list[Outcome]:
        raise AuthRejectedError("token")

    outcomes = await isolate([1, 2], limited)
    assert outcomes == [Retry("slow down", 30, None)] * 2
    with pytest.raises(AuthRejectedError):
        await isolate([1, 2], refused)


@pytest.mark.anyio
async def test_bisect_joins_with_offsets() -> None:
    async def send(items: Sequence[int]) -> list[int]:
        if 13 in items:
            raise PayloadRejectedError("13")
        return list(items)

    result = await bisect(
        list(range(20)), send, refused=lambda exc: [-1], join=lambda left, right, offset: left + right
    )
    assert result == [*range(13), -1, *range(14, 20)]


# -- one in-call retry


@pytest.mark.anyio
async def test_in_call_retry_honours_a_short_retry_after_and_stops_at_a_long_one() -> None:
    calls: list[float] = []

    async def flaky(wait: float) -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise UnavailableError("down", retry_after=wait)
        return "ok"

    async for attempt in in_call_retry(RetryableDeliveryError, attempts=3, wait=0.001, max_wait=0.5):
        with attempt:
            result = await flaky(0.05)
    assert result == "ok" and len(calls) == 3 and calls[2] - calls[0] >= 0.09

    calls.clear()
    with pytest.raises(UnavailableError):
        async for attempt in in_call_retry(RetryableDeliveryError, attempts=3, wait=0.001, max_wait=0.5):
            with attempt:
                await flaky(60.0)  # the platform asks for a minute: not worth waiting inside the call
    assert len(calls) == 1


@pytest.mark.anyio
async def test_audience_batches_retry_then_bisect_to_the_bad_member() -> None:
    members = [AudienceMember({"em": [sha(str(i))]}) for i in range(16)]
    bad = members[11]
    answers: list[str] = []

    async def call(batch: Sequence[AudienceMember]) -> AudienceBatchResult:
        if len(answers) == 0:
            answers.append("503")
            raise UnavailableError("blip")
        answers.append(str(len(batch)))
        if bad in batch:
            raise PayloadRejectedError("invalid user")
        return AudienceBatchResult(received=len(batch))

    options = SyncOptions(attempts=2, retry_wait=0.001, max_retry_wait=0.01)
    sent = await send_isolated(call, members, options)
    result = sent.result
    assert answers[:2] == ["503", "16"]
    assert (result.received, result.invalid, list(result.failed_indexes)) == (15, 1, [11])
    assert result.invalid_samples == {"11": "invalid user"}
    assert sent.unsent == ()  # refused by the platform: acknowledged, never sent again as it is


@pytest.mark.anyio
@pytest.mark.parametrize("size", [1, 2, 7, 1000, 10_000])
async def test_a_member_the_connector_raises_on_is_left_out_alone_and_unsent(size: int) -> None:
    """A plugin bug for some members (here: the ones without an e-mail) costs those members only, found
    in a few calls, and they stay unacknowledged so that a fixed plugin sends them on the next run."""
    members = [AudienceMember({"em": [sha(str(i))]}) for i in range(size)]
    bad = sorted({size // 3, size - 1})
    for i in bad:
        members[i] = AudienceMember({"ph": [sha(str(i))]})
    calls: list[int] = []

    async def call(batch: Sequence[AudienceMember]) -> AudienceBatchResult:
        calls.append(len(batch))
        emails = [m.hashed["em"][0] for m in batch]  # KeyError on a member without one
        return AudienceBatchResult(received=len(emails))

    sent = await send_isolated(call, members, SyncOptions(attempts=1))
    assert sent.unsent == tuple(bad) and list(sent.result.failed_indexes) == bad
    assert (sent.result.received, sent.result.invalid) == (size - len(bad), len(bad))
    for i in bad:
        assert sent.result.invalid_samples[str(i)].startswith("connector bug: KeyError at test_base.py:")
    assert sha(str(bad[0])) not in str(sent.result.invalid_samples)  # not the exception's text
    assert len(calls) <= 4 * max(size, 2).bit_length()


@pytest.mark.anyio
async def test_a_bug_every_member_hits_fails_the_batch_within_the_call_budget() -> None:
    members = [AudienceMember({"em": [sha(str(i))]}) for i in range(10_000)]
    calls: list[int] = []

    async def call(batch: Sequence[AudienceMember]) -> AudienceBatchResult:
        calls.append(len(batch))
        raise TypeError("the plugin is broken for everyone")

    with pytest.raises(TypeError, match="broken for everyone"):
        await send_isolated(call, members, SyncOptions(attempts=1))
    assert len(calls) == BUG_CALLS + 1


# -- the typed audience contract


@pytest.mark.anyio
async def test_audience_connectors_satisfy_the_protocol() -> None:
    async with httpx.AsyncClient() as client:
        meta = MetaConnector("meta", meta_settings(), client)
        x = XConnector("x", x_settings(), client)
        plain = BaseConnector("plain", ConnectorSettings(type="plain", api_base="http://plain.test"), client)
        assert isinstance(meta, AudienceConnector) and isinstance(x, AudienceConnector)
        assert not isinstance(plain, AudienceConnector)  # conversions only: no audience methods
        assert (meta.supports_replace, x.supports_replace, plain.supports_replace) == (True, False, True)


@pytest.mark.anyio
async def test_sample_keys_that_are_not_ascii_positions_survive_the_join() -> None:
    """A connector's sample keyed by something that only looks like a digit ("²") is kept as it is when
    the halves of a bisected batch are joined (int("²") raises)."""
    members = [AudienceMember({"em": [sha(str(i))]}) for i in range(4)]

    async def call(batch: Sequence[AudienceMember]) -> AudienceBatchResult:
        if len(batch) == 4:
            raise PayloadRejectedError("one bad member")
        return AudienceBatchResult(received=len(batch), invalid_samples={"\u00b2": "odd key", "1": "second"})

    sent = await send_isolated(call, members, SyncOptions(attempts=1))
    assert sent.result.invalid_samples == {"\u00b2": "odd key", "1": "second", "3": "second"}
