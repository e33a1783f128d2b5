"""X Custom Audiences: Update / Delete operations against the fake's membership, limits and X's answers."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from connectors.x import XConnector, XSettings
from connectors.x.audiences import NO_KEY, chunk_operations, device_id_hash, member_user, operation
from connectors.x.oauth1 import OAuth1Auth, OAuth1Credentials
from relay.exceptions import AuthRejectedError, PermanentDeliveryError, RateLimitedError, UnavailableError
from relay.sandbox.base import ScriptedResponse
from relay.sandbox.x import SANDBOX_OAUTH, FakeX, member_keys
from relay.settings import Settings
from relay.types import AudienceMember
from tests.connectors.test_x_conversions import (
    ACCESS_TOKEN,
    ACCOUNT,
    CONSUMER_KEY,
    CONSUMER_SECRET,
    PIXEL,
    PIXEL_TOKEN,
    TOKEN_SECRET,
    make_fake,
    make_settings,
    served,
    sha,
)
from tests.connectors.transport import fake_http

pytestmark = pytest.mark.connectors

AUDIENCE = "2906h"
IDFA = "6D92078A-8246-4BA4-AE5B-76104861E7DC"


def member(i: int, **hashed: list[str]) -> AudienceMember:
    keys = {"em": [sha(f"user{i}@example.com")], "ph_e164": [sha(f"+1650555{i:04d}")], "fn": [sha("jane")]}
    return AudienceMember(keys | hashed)


def keys_of(m: AudienceMember) -> frozenset[tuple[str, str]]:
    user = member_user(m)
    assert user is not None
    return member_keys(user)


def test_member_user_keys_and_device_id() -> None:
    full = AudienceMember(
        {
            "em": [sha("a@example.com"), sha("a@example.com").upper(), "junk"],
            "ph": [sha("16505551212")],  # Meta's phone form: not sent to X
            "ph_e164": [sha("+16505551212")],
            "external_id": [sha("cust-42")],
        },
        madid=IDFA,
    )
    assert member_user(full) == {
        "email": [sha("a@example.com")],
        "phone_number": [sha("+16505551212")],
        "device_id": [sha(IDFA.lower())],
    }
    assert device_id_hash("f0e1d2c3b4a59687") == sha("f0e1d2c3b4a59687")  # an Android ID as it is
    assert device_id_hash(sha("x").upper()) == sha("x")  # already hashed
    assert member_user(AudienceMember({"fn": [sha("jane")], "ln": [sha("doe")]})) is None
    assert operation("Delete", {"email": ["h"]}) == {
        "operation_type": "Delete",
        "params": {"users": [{"email": ["h"]}]},
    }


def test_x_audience_hashing_vectors(vectors_dir: Path) -> None:
    vectors = json.loads((vectors_dir / "x_hashing_vectors.json").read_text())["vectors"]
    handles = [v for v in vectors if v["platform"] == "x_custom_audience" and v["field"] == "handle"]
    assert handles
    for vector in handles:
        assert sha(vector["normalized_input"]) == vector["sha256"]
        assert member_user(AudienceMember({"handle": [vector["sha256"]]})) == {"handle": [vector["sha256"]]}
    email = next(
        v for v in vectors if v["field"] == "hashed_email" and v["normalized_input"] == "test-email@test.com"
    )
    assert member_user(AudienceMember({"em": [email["sha256"]]})) == {"email": [email["sha256"]]}


def test_chunks_respect_the_operation_and_byte_limits() -> None:
    ops = [(i, operation("Update", {"email": [sha(str(i))]})) for i in range(7)]
    by_count = list(chunk_operations(ops, max_operations=3))
    assert [c.indexes for c in by_count] == [[0, 1, 2], [3, 4, 5], [6]]
    one = len(json.dumps(ops[0][1], separators=(",", ":")))
    by_bytes = list(chunk_operations(ops, max_bytes=2 + 2 * one + 1))
    assert [len(c.indexes) for c in by_bytes] == [2, 2, 2, 1]
    assert all(len(c.body) <= 2 + 2 * one + 1 for c in by_bytes)
    assert json.loads(by_bytes[0].body) == [ops[0][1], ops[1][1]]


@pytest.mark.anyio
async def test_add_and_remove_against_the_fakes_membership() -> None:
    fake = make_fake()
    members = [member(i) for i in range(5)]
    async with served(fake) as connector:
        added = await connector.audience_add(AUDIENCE, members)
        removed = await connector.audience_remove(AUDIENCE, members[:2])
    assert (added.received, added.invalid, added.failed_indexes) == (5, 0, [])
    assert (removed.received, removed.invalid) == (2, 0)
    assert fake.members(AUDIENCE) == {keys_of(m) for m in members[2:]}
    assert [r.path for r in fake.requests] == [
        f"/12/accounts/{ACCOUNT}/custom_audiences/{AUDIENCE}/users"
    ] * 2
    update, delete = fake.requests[0].json, fake.requests[1].json
    assert update[0] == {
        "operation_type": "Update",
        "params": {"users": [{"email": [sha("user0@example.com")], "phone_number": [sha("+16505550000")]}]},
    }
    assert [op["operation_type"] for op in delete] == ["Delete", "Delete"]
    assert all(r.headers["content-type"] == "application/json" for r in fake.requests)


@pytest.mark.anyio
async def test_delete_matches_any_key_the_user_was_added_with() -> None:
    fake = make_fake()
    jane = AudienceMember({"em": [sha("jane@example.com")], "ph_e164": [sha("+16505551212")]}, madid=IDFA)
    john = AudienceMember({"em": [sha("john@example.com")]})
    async with served(fake) as connector:
        await connector.audience_add(AUDIENCE, [jane, john])
        await connector.audience_remove(AUDIENCE, [AudienceMember({}, madid=IDFA.lower())])
    assert not fake.is_member(AUDIENCE, "email", sha("jane@example.com"))
    assert fake.is_member(AUDIENCE, "email", sha("john@example.com"))
    assert len(fake.members(AUDIENCE)) == 1


@pytest.mark.anyio
async def test_2500_operations_per_request() -> None:
    fake = make_fake()
    members = [AudienceMember({"em": [sha(f"u{i}@example.com")]}) for i in range(6000)]
    async with served(fake) as connector:
        result = await connector.audience_add(AUDIENCE, members)
    assert [len(r.json) for r in fake.requests] == [2500, 2500, 1000]
    assert all(len(r.body) <= 5_000_000 for r in fake.requests)
    assert (result.received, result.invalid) == (6000, 0)
    assert len(fake.members(AUDIENCE)) == 6000


@pytest.mark.anyio
async def test_members_without_a_key_are_reported_not_sent() -> None:
    fake = make_fake()
    members = [member(0), AudienceMember({"fn": [sha("jane")]}), member(2)]
    async with served(fake) as connector:
        result = await connector.audience_add(AUDIENCE, members)
    assert (result.received, result.invalid, list(result.failed_indexes)) == (3, 1, [1])
    assert dict(result.invalid_samples) == {"1": NO_KEY}
    assert len(fake.requests[0].json) == 2 and len(fake.members(AUDIENCE)) == 2


@pytest.mark.anyio
async def test_expiry_sends_effective_and_expires_at() -> None:
    fake = make_fake()
    async with served(fake, audience_expiry_days=30) as connector:
        await connector.audience_add(AUDIENCE, [member(1)])
        await connector.audience_remove(AUDIENCE, [member(1)])
    params = fake.requests[0].json[0]["params"]
    effective = time.strptime(params["effective_at"], "%Y-%m-%dT%H:%M:%SZ")
    expires = time.strptime(params["expires_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert 29.9 * 86400 < time.mktime(expires) - time.mktime(effective) < 30.1 * 86400
    assert "expires_at" not in fake.requests[1].json[0]["params"]
    assert fake.members(AUDIENCE) == set()


@pytest.mark.anyio
async def test_the_fake_reports_operation_errors_by_position() -> None:
    fake = make_fake()
    ops = [
        operation("Update", {"email": [sha("ok@example.com")]}),
        operation("Update", {"email": ["not-a-hash"]}),
        {"operation_type": "Replace", "params": {"users": [{"email": [sha("x")]}]}},
    ]
    credentials = OAuth1Credentials(CONSUMER_KEY, CONSUMER_SECRET, ACCESS_TOKEN, TOKEN_SECRET)
    async with fake_http(fake.app, auth=OAuth1Auth(credentials)) as (base, client):
        url = f"{base}/12/accounts/{ACCOUNT}/custom_audiences/{AUDIENCE}/users"
        response = await client.post(
            url, content=json.dumps(ops), headers={"Content-Type": "application/json"}
        )
    body = response.json()
    assert response.status_code == 400
    assert [bool(e) for e in body["operation_errors"]] == [False, True, True]
    assert body["operation_errors"][1][0]["parameter"] == "email"
    assert fake.members(AUDIENCE) == set()  # the batch failed as a unit


@pytest.mark.anyio
async def test_operation_errors_fail_only_their_members() -> None:
    fake = make_fake()
    errors = [[], [{"code": "INVALID_PARAMETER", "message": "email is not valid"}], [], []]
    fake.script(
        ScriptedResponse(400, {"errors": [{"code": "INVALID_PARAMETER"}], "operation_errors": errors})
    )
    members = [member(i) for i in range(4)]
    async with served(fake) as connector:
        result = await connector.audience_add(AUDIENCE, members)
    assert (result.received, result.invalid, list(result.failed_indexes)) == (4, 1, [1])
    assert dict(result.invalid_samples) == {"1": "INVALID_PARAMETER: email is not valid"}
    assert [len(r.json) for r in fake.requests] == [4, 3]  # sent again without the bad one
    assert fake.members(AUDIENCE) == {keys_of(members[i]) for i in (0, 2, 3)}


@pytest.mark.anyio
async def test_partial_success_with_indexed_operation_errors() -> None:
    fake = make_fake()
    body = {
        "data": {"success_count": 2, "total_count": 3},
        "operation_errors": [{"index": 2, "code": "INVALID_PARAMETER", "message": "bad phone_number"}],
    }
    fake.script(ScriptedResponse(200, body))
    async with served(fake) as connector:
        result = await connector.audience_add(AUDIENCE, [member(i) for i in range(3)])
    assert (result.invalid, list(result.failed_indexes)) == (1, [2])
    assert len(fake.requests) == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    "data", [{"success_count": 1, "total_count": 2}, {"success_count": 2, "total_count": 3}, {}]
)
async def test_a_count_mismatch_is_retryable(data: dict[str, Any]) -> None:
    fake = make_fake()
    fake.script(ScriptedResponse(200, {"data": data}))
    async with served(fake) as connector:
        with pytest.raises(UnavailableError, match="of 2 users; retrying"):
            await connector.audience_add(AUDIENCE, [member(1), member(2)])


@pytest.mark.anyio
async def test_audience_errors() -> None:
    fake = make_fake(audiences=[AUDIENCE])
    reset = str(int(time.time()) + 45)
    fake.script(
        ScriptedResponse(401, {"errors": [{"code": "UNAUTHORIZED_ACCESS", "message": "no"}]}),
        ScriptedResponse(429, {"errors": [{"code": "TOO_MANY_REQUESTS"}]}, {"x-rate-limit-reset": reset}),
    )
    async with served(fake) as connector:
        with pytest.raises(AuthRejectedError):
            await connector.audience_add(AUDIENCE, [member(1)])
        with pytest.raises(RateLimitedError) as limited:
            await connector.audience_add(AUDIENCE, [member(1)])
        with pytest.raises(RateLimitedError):  # held back locally, no request
            await connector.audience_remove(AUDIENCE, [member(1)])
        connector.audience_limiter.blocked_until = 0
        connector.audience_limiter.user = None
        with pytest.raises(PermanentDeliveryError, match="TAILORED_AUDIENCE_NOT_FOUND") as missing:
            await connector.audience_add("unknown", [member(1)])
    assert limited.value.retry_after is not None and 40 <= limited.value.retry_after <= 45
    assert not isinstance(missing.value, AuthRejectedError)
    assert len(fake.requests) == 3


@pytest.mark.anyio
async def test_audiences_need_oauth_and_an_account() -> None:
    fake = make_fake(pixel_token=PIXEL_TOKEN)
    token_only = XSettings.model_validate({"type": "x", "pixel_id": PIXEL, "pixel_token": PIXEL_TOKEN})
    async with served(fake, settings=token_only) as connector:
        with pytest.raises(PermanentDeliveryError, match="need OAuth"):
            await connector.audience_add(AUDIENCE, [member(1)])
    async with served(fake, ads_account_id=None) as connector:
        with pytest.raises(PermanentDeliveryError, match="ads_account_id"):
            await connector.audience_remove(AUDIENCE, [member(1)])
    assert fake.requests == []


@pytest.mark.anyio
async def test_replace_adds_the_batch() -> None:
    fake = make_fake()
    async with served(fake) as connector:
        result = await connector.audience_replace(
            AUDIENCE, [member(1), member(2)], session_id=7, batch_seq=1, last=True, estimated_total=2
        )
    assert result.received == 2 and not XConnector.supports_replace
    assert [op["operation_type"] for op in fake.requests[0].json] == ["Update", "Update"]


@pytest.mark.anyio
async def test_sandbox_fake_takes_the_credentials_of_connectors_pointing_at_it() -> None:
    block = make_settings(api_base="http://127.0.0.1:8000/sandbox/x")
    other = make_settings(api_base="https://ads-api.x.com", consumer_key="elsewhere-key")
    settings = Settings().model_copy(update={"connectors": {"x": block, "x2": other}})
    fake = FakeX.for_settings(settings)
    assert fake.oauth_credentials[(CONSUMER_KEY, ACCESS_TOKEN)] == (CONSUMER_SECRET, TOKEN_SECRET)
    assert (SANDBOX_OAUTH[0], SANDBOX_OAUTH[2]) in fake.oauth_credentials
    assert ("elsewhere-key", ACCESS_TOKEN) not in fake.oauth_credentials
    assert fake.event_tags == {"o87ne", "o87nf", "o87ng", "o8set", "o9zzz"} and fake.ads_account_id == ACCOUNT
    async with served(fake) as connector:
        result = await connector.audience_add(AUDIENCE, [member(1)])
        outcomes = await connector.deliver([])
    assert result.received == 1 and outcomes == [] and len(fake.members(AUDIENCE)) == 1
