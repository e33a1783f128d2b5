"""Reddit Conversions API v3: golden payloads and delivery to the strict fake."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.reddit import RedditConnector, RedditSettings
from relay.exceptions import AuthRejectedError
from relay.normalize import hash_user, reddit_email
from relay.sandbox.base import ScriptedResponse
from relay.sandbox.reddit import FakeReddit
from relay.types import ConsentVerdict, Delivered, Failed, Retry, Skipped

from .platform_kit import UA, asgi_client, make_event, sha

pytestmark = [pytest.mark.connectors, pytest.mark.anyio]
TOKEN = "rdt-token-0123456789"
PIXEL = "a2_sandbox123"


def connector(fake: FakeReddit | None = None, **overrides: Any) -> RedditConnector:
    block = {"pixel_id": PIXEL, "access_token": TOKEN, "api_base": "http://fake", **overrides}
    fake = fake or FakeReddit(access_tokens={TOKEN})
    return RedditConnector("reddit", RedditSettings.model_validate(block), asgi_client(fake.app))


def test_golden_payload() -> None:
    event = make_event(
        4,
        event_time=1_790_000_000,
        ids={"rdt_cid": "rdt-click-1", "rdt_uuid": "1700000000000.5b0c-uuid"},
        custom={
            "value": 42.5,
            "currency": "eur",
            "contents": [{"id": "sku-1", "quantity": 2, "name": "Mug"}],
        },
        consent=ConsentVerdict("limited", "gpc", "ldu", (1, 1000)),
    )
    c = connector(test_id="t2_test")
    assert c.request_body([c.build(event)]) == {
        "data": {
            "test_id": "t2_test",
            "events": [
                {
                    "event_at": 1_790_000_000_000,  # milliseconds
                    "action_source": "WEBSITE",
                    "type": {"tracking_type": "PURCHASE"},
                    "click_id": "rdt-click-1",
                    "event_source_url": "https://shop.example/checkout/done",
                    "metadata": {
                        "conversion_id": "evt-4",
                        "currency": "EUR",
                        "value": 42.5,
                        "item_count": 2,
                        "products": [{"id": "sku-1", "name": "Mug", "quantity": 2}],
                    },
                    "user": {
                        "email": sha("user4@example.com"),
                        "phone_number": sha("+16505551212"),  # E.164 with "+"
                        "ip_address": sha("203.0.113.9"),  # Reddit hashes the IP
                        "user_agent": UA,
                        "uuid": "1700000000000.5b0c-uuid",
                        "data_processing_options": {"modes": ["LDU"], "country": "US", "region": "US-CA"},
                    },
                }
            ],
        }
    }


@pytest.mark.parametrize(
    ("emails", "sent"),
    [
        (["Jane.Doe+shop@Example.com"], "janedoe@example.com"),  # dots and +suffix, on any domain
        (["first.last@company.co.uk"], "firstlast@company.co.uk"),
        (["jane@example.com"], "jane@example.com"),
        (["+tag@example.com"], "+tag@example.com"),  # nothing left of the local part: as written
    ],
)
def test_the_email_goes_in_the_form_hashed_for_reddit(emails: list[str], sent: str) -> None:
    """The platform reference (x-tiktok-and-others.md §8, §10): Reddit's email is lowercased with every dot
    of the local part and a +suffix removed; the other platforms keep the address as written."""
    hashed = hash_user({"email": emails}).hashed
    c = connector()
    body = c.request_body([c.build(make_event(1, hashed=hashed))])
    assert body["data"]["events"][0]["user"]["email"] == sha(sent)
    assert hashed["em"] == [sha(emails[0].strip().lower())]  # Meta, X and the others: as written
    assert ("em_reddit" in hashed) == (sent != emails[0].lower())  # stored only when it differs
    assert reddit_email(emails[0].lower()) == sent


def test_an_already_hashed_email_goes_to_reddit_as_given() -> None:
    given = sha("someone@example.com")
    hashed = hash_user({"email": [given, "first.last@example.com"]}).hashed
    assert hashed["em_reddit"] == [given, sha("firstlast@example.com")]
    assert "em_reddit" not in member_key_fields(hashed)


def member_key_fields(hashed: dict[str, list[str]]) -> dict[str, object]:
    """What an audience member keeps of ``hashed`` (Reddit's form is not one: members' keys stay)."""
    from relay.audiences.members import canonical

    return canonical(hashed, None)


@pytest.mark.parametrize(
    ("name", "tracking_type"),
    [
        ("PageView", "PAGE_VISIT"),  # the v3 name (x-tiktok-and-others.md §8); PAGE_VIEW is none of Reddit's
        ("ViewContent", "VIEW_CONTENT"),
        ("Search", "SEARCH"),
        ("AddToCart", "ADD_TO_CART"),
        ("AddToWishlist", "ADD_TO_WISHLIST"),
        ("Purchase", "PURCHASE"),
        ("Lead", "LEAD"),
        ("CompleteRegistration", "SIGN_UP"),
    ],
)
async def test_standard_events_go_as_reddits_tracking_types(name: str, tracking_type: str) -> None:
    fake = FakeReddit(access_tokens={TOKEN})
    c = connector(fake)
    event = make_event(1, event_name=name)
    assert c.build(event)["type"] == {"tracking_type": tracking_type}
    [outcome] = await c.deliver([event])
    assert isinstance(outcome, Delivered), outcome  # the fake takes exactly Reddit's v3 names


def test_custom_names_and_identifiers() -> None:
    c = connector(events={"Debug": None})
    assert c.build(make_event(event_name="Wishlisted"))["type"] == {
        "tracking_type": "CUSTOM",
        "custom_event_name": "Wishlisted",
    }
    assert c.skip_reason("Debug") and c.acceptance_window("website") == 7 * 86400
    assert isinstance(c.precheck(make_event(hashed={}, ip=None)), Skipped)
    assert c.precheck(make_event(hashed={}, ip=None, ids={"rdt_cid": "x"})) is None


async def test_batch_delivered_and_one_bad_event_isolated() -> None:
    fake = FakeReddit(access_tokens={TOKEN}, pixel_ids={PIXEL})
    stale = make_event(1, event_time=int(time.time()) - 8 * 86400)
    outcomes = await connector(fake).deliver([make_event(0), stale, make_event(2), make_event(3)])
    assert [type(o) for o in outcomes] == [Delivered, Failed, Delivered, Delivered]
    assert "older than 7 days" in outcomes[1].message  # type: ignore[union-attr]
    assert sorted(e["metadata"]["conversion_id"] for e in fake.events) == ["evt-0", "evt-2", "evt-3"]


async def test_batches_of_at_most_1000() -> None:
    fake = FakeReddit(access_tokens={TOKEN})
    await connector(fake).deliver([make_event(i) for i in range(1001)])
    assert [len(json.loads(r.body)["data"]["events"]) for r in fake.requests] == [1000, 1]


async def test_bad_token_pauses() -> None:
    with pytest.raises(AuthRejectedError) as caught:
        await connector(FakeReddit(access_tokens={"other"})).deliver([make_event()])
    assert caught.value.status_code == 401 and TOKEN not in caught.value.message


async def test_rate_limit_and_outage_are_retried() -> None:
    fake = FakeReddit(access_tokens={TOKEN})
    fake.script(
        ScriptedResponse(429, {"error": {"message": "slow"}}, headers={"Retry-After": "5"}),
        ScriptedResponse(502, None),
    )
    c = connector(fake)
    first = (await c.deliver([make_event()]))[0]
    assert isinstance(first, Retry) and first.retry_after == 5
    assert isinstance((await c.deliver([make_event()]))[0], Retry)
    assert isinstance((await c.deliver([make_event()]))[0], Delivered)


def test_settings_are_validated() -> None:
    with pytest.raises(ValidationError, match="Reddit Pixel id"):
        RedditSettings.model_validate({"pixel_id": "a b", "access_token": TOKEN})
