"""Meta Custom Audiences: add, remove and replace sessions against the fake's membership."""

from __future__ import annotations

import pytest

from connectors.meta.audiences import SCHEMA, member_row
from relay.exceptions import AuthRejectedError, PayloadRejectedError, RateLimitedError, UnavailableError
from relay.sandbox.base import ScriptedResponse
from relay.sandbox.meta import FakeMeta, Row
from relay.types import AudienceMember
from tests.connectors.test_meta_capi import TOKEN, served, sha
from tests.connectors.test_meta_errors import graph_error
from tests.connectors.transport import fake_http

pytestmark = pytest.mark.connectors

AUDIENCE = "23842000000000001"
EMPTY = sha("")


def member(i: int, *, madid: str | None = None) -> AudienceMember:
    return AudienceMember({"em": [sha(f"user{i}@example.com")], "fn": [sha("jane")]}, madid=madid)


def row_of(m: AudienceMember) -> Row:
    """The fake's form of a member: its non-empty cells as sorted (column, value) pairs."""
    return tuple(sorted((k, v) for k, v in zip(SCHEMA, member_row(m) or [], strict=True) if v))


def test_row_in_schema_order_with_empty_cells() -> None:
    full = AudienceMember(
        {
            "em": [sha("a@b.example"), sha("c@d.example")],
            "ph": [sha("16505551212")],
            "zp": [sha("94025")],
            "doby": [sha("1990")],
            "external_id": [sha("cust-42")],
            "ph_e164": [sha("+16505551212")],
        },
        madid=" AB12-CD34 ",
    )
    assert " ".join(SCHEMA) == "EMAIL PHONE FN LN FI ZIP CT ST COUNTRY DOBY DOBM DOBD GEN EXTERN_ID MADID"
    assert member_row(full) == [
        sha("a@b.example"),
        sha("16505551212"),
        "",
        "",
        "",
        sha("94025"),
        "",
        "",
        "",
        sha("1990"),
        "",
        "",
        "",
        sha("cust-42"),
        "ab12-cd34",
    ]
    assert member_row(AudienceMember({"em": [EMPTY], "ph": ["+1 650 555 1212"]})) is None


def test_a_cell_never_carries_the_parameter_builders_appendix() -> None:
    """The ``.appendix`` of Meta's parameter builder belongs to Conversions API values (meta.md §5.1); an
    audience cell is the bare SHA-256, or it matches nobody."""
    digest = sha("jane@example.com")
    row = member_row(AudienceMember({"em": [digest + ".AQQCAQIB"], "ph": [sha("16505551212").upper()]}))
    assert row is not None
    assert row[SCHEMA.index("EMAIL")] == digest and row[SCHEMA.index("PHONE")] == sha("16505551212")


@pytest.mark.anyio
async def test_add_remove_against_membership() -> None:
    fake = FakeMeta(access_token=TOKEN)
    members = [member(i) for i in range(5)]
    async with served(fake) as (connector, _):
        added = await connector.audience_add(AUDIENCE, members)
        removed = await connector.audience_remove(AUDIENCE, members[:2])
    assert (added.received, added.invalid, removed.received) == (5, 0, 2)
    assert fake.audiences[AUDIENCE] == {row_of(m) for m in members[2:]}
    assert [r.method for r in fake.requests] == ["POST", "DELETE"]
    body = fake.requests[1].json
    assert body["payload"]["schema"] == list(SCHEMA)
    assert len(body["payload"]["data"]) == 2 and "session" not in body
    assert fake.requests[0].path == f"/v26.0/{AUDIENCE}/users"


@pytest.mark.anyio
async def test_replace_session_takes_effect_on_last_batch() -> None:
    fake = FakeMeta(access_token=TOKEN)
    old, new = [member(i) for i in range(3)], [member(i) for i in range(10, 16)]
    async with served(fake) as (connector, _):
        await connector.audience_add(AUDIENCE, old)
        first = await connector.audience_replace(
            AUDIENCE, new[:3], session_id=77, batch_seq=1, last=False, estimated_total=6
        )
        during = set(fake.audiences[AUDIENCE])
        await connector.audience_replace(
            AUDIENCE, new[3:], session_id=77, batch_seq=2, last=True, estimated_total=6
        )
    assert first.received == 3
    assert during == {row_of(m) for m in old}
    assert fake.audiences[AUDIENCE] == {row_of(m) for m in new}
    sessions = [r.json["session"] for r in fake.requests if r.path.endswith("/usersreplace")]
    assert sessions == [
        {"session_id": 77, "batch_seq": 1, "last_batch_flag": False, "estimated_num_total": 6},
        {"session_id": 77, "batch_seq": 2, "last_batch_flag": True, "estimated_num_total": 6},
    ]


@pytest.mark.anyio
async def test_fake_refuses_out_of_order_batch_seq() -> None:
    fake = FakeMeta(access_token=TOKEN)
    async with served(fake) as (connector, _):
        with pytest.raises(PayloadRejectedError, match="batch_seq"):
            await connector.audience_replace(
                AUDIENCE, [member(1)], session_id=5, batch_seq=2, last=True, estimated_total=1
            )
        await connector.audience_replace(
            AUDIENCE, [member(1)], session_id=5, batch_seq=1, last=False, estimated_total=2
        )
        with pytest.raises(PayloadRejectedError, match="batch_seq"):
            await connector.audience_replace(
                AUDIENCE, [member(2)], session_id=6, batch_seq=2, last=True, estimated_total=2
            )
    assert AUDIENCE not in fake.audiences


@pytest.mark.anyio
async def test_chunks_of_ten_thousand_rows() -> None:
    fake = FakeMeta(access_token=TOKEN)
    members = [AudienceMember({"em": [sha(f"u{i}")]}) for i in range(25_000)]
    async with served(fake, timeout=60) as (connector, _):
        result = await connector.audience_add(AUDIENCE, members)
    assert [len(r.json["payload"]["data"]) for r in fake.requests] == [10_000, 10_000, 5_000]
    assert result.received == 25_000 and len(fake.audiences[AUDIENCE]) == 25_000


@pytest.mark.anyio
async def test_rows_without_identifier_are_left_out_and_counted() -> None:
    fake = FakeMeta(access_token=TOKEN)
    members = [
        member(0),
        AudienceMember({"em": [EMPTY]}),  # the hash of an empty string: never sent
        AudienceMember({"em": ["jane@example.com"]}),  # not hashed: never sent
        AudienceMember({}, madid="   "),
        member(4, madid="AAAA-BBBB"),
    ]
    async with served(fake) as (connector, _):
        result = await connector.audience_add(AUDIENCE, members)
        nothing = await connector.audience_add(AUDIENCE, members[1:4])
    assert (result.received, result.invalid, list(result.failed_indexes)) == (2, 3, [1, 2, 3])
    assert set(result.invalid_samples) == {"member 1", "member 2", "member 3"}
    assert (nothing.received, nothing.invalid) == (0, 3) and len(fake.requests) == 1
    sent = fake.requests[0].body.decode()
    assert EMPTY not in sent and "jane@example.com" not in sent and "aaaa-bbbb" in sent


@pytest.mark.anyio
async def test_metas_invalid_counts_are_reported_masked() -> None:
    fake = FakeMeta(access_token=TOKEN)
    answer = {
        "num_received": 2,
        "num_invalid_entries": 1,
        "invalid_entry_samples": {"jane@example.com": "bad"},
    }
    fake.script(ScriptedResponse(200, answer))
    async with served(fake) as (connector, _):
        result = await connector.audience_add(AUDIENCE, [member(0), member(1)])
    assert (result.received, result.invalid) == (2, 1)
    assert result.invalid_samples == {"[email]": "bad"}


@pytest.mark.anyio
async def test_fake_counts_unhashed_cells_as_invalid() -> None:
    fake = FakeMeta(access_token=TOKEN)
    payload = {
        "schema": ["EMAIL", "EXTERN_ID"],
        "data": [[sha("a"), "raw-id"], ["jane@example.com", ""], ["", ""]],
    }
    async with fake_http(fake.app) as (base, client):
        answer = await client.post(
            f"{base}/v26.0/{AUDIENCE}/users", params={"access_token": TOKEN}, json={"payload": payload}
        )
    body = answer.json()
    assert (body["num_received"], body["num_invalid_entries"]) == (3, 2)
    assert "jane@example.com" not in answer.text
    assert fake.audiences[AUDIENCE] == {(("EMAIL", sha("a")), ("EXTERN_ID", "raw-id"))}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("code", "expected"), [(80003, RateLimitedError), (2650, UnavailableError), (190, AuthRejectedError)]
)
async def test_audience_errors(code: int, expected: type[Exception]) -> None:
    fake = FakeMeta(access_token=TOKEN)
    fake.script(ScriptedResponse(400, graph_error(code)))
    async with served(fake) as (connector, _):
        with pytest.raises(expected) as caught:
            await connector.audience_remove(AUDIENCE, [member(0)])
    if isinstance(caught.value, RateLimitedError):
        assert caught.value.retry_after is not None and caught.value.retry_after >= 300


@pytest.mark.anyio
async def test_blocked_audience_is_permanent_with_metas_message() -> None:
    fake = FakeMeta(access_token=TOKEN, blocked_audiences=[AUDIENCE])
    async with served(fake) as (connector, _):
        with pytest.raises(PayloadRejectedError) as caught:
            await connector.audience_add(AUDIENCE, [member(0)])
    assert "Audience Upload Blocked" in caught.value.message and "subcode 1713230" in caught.value.message
    assert AUDIENCE not in fake.audiences
