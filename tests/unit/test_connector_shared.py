"""What the connectors share (issue 14): the block checks of ``connectors.settings``, the readers of
``connectors.payload`` and the endpoint of ``connectors.platform``, seen through the platforms using them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from connectors import payload as p
from connectors.google.settings import GoogleAdsSettings
from connectors.meta.settings import MetaSettings
from connectors.pinterest.connector import PinterestConnector
from connectors.pinterest.settings import PinterestSettings
from connectors.reddit.connector import RedditConnector
from connectors.reddit.settings import RedditSettings
from connectors.snap.connector import SnapConnector
from connectors.snap.settings import SnapSettings
from connectors.tiktok.settings import TikTokSettings
from connectors.x.settings import XSettings

pytestmark = pytest.mark.unit


def problems(model: type[BaseModel], block: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(block)
    return [(e["loc"], str(e["msg"]).removeprefix("Value error, ")) for e in caught.value.errors()]


REDDIT = {"type": "reddit", "pixel_id": "a2_abc", "access_token": "reddit-token"}
TIKTOK = {"type": "tiktok", "pixel_code": "CABC123", "access_token": "tiktok-token"}


def test_ids_that_go_into_a_path_or_must_be_digits_are_refused_at_their_key() -> None:
    assert problems(RedditSettings, {**REDDIT, "pixel_id": "a2/../x"}) == [
        (("pixel_id",), "must be the Reddit Pixel id, e.g. a2_abcdef123456")
    ]
    snap = {"type": "snap", "pixel_id": "p?x=1", "access_token": "snap-token"}
    assert problems(SnapSettings, snap)[0][0] == ("pixel_id",)
    assert problems(TikTokSettings, {**TIKTOK, "advertiser_id": "7x"}) == [
        (("advertiser_id",), "must be the TikTok advertiser id (digits)")
    ]
    pinterest = {"type": "pinterest", "ad_account_id": "act_1", "access_token": "pinterest-token"}
    assert problems(PinterestSettings, pinterest) == [
        (("ad_account_id",), "must be the Pinterest ad account id (digits)")
    ]


def test_an_empty_optional_key_is_unset_on_every_platform() -> None:
    assert RedditSettings.model_validate({**REDDIT, "test_id": ""}).test_id is None
    tiktok = TikTokSettings.model_validate({**TIKTOK, "advertiser_id": "", "audience_access_token": ""})
    assert tiktok.advertiser_id is None and tiktok.audience_access_token is None
    meta = MetaSettings.model_validate(
        {
            "type": "meta",
            "pixel_id": "123",
            "access_token": "meta-token",
            "app_secret": "",
            "test_event_code": "",
        }
    )
    assert meta.app_secret is None and meta.test_event_code is None
    x = XSettings.model_validate(
        {"type": "x", "pixel_id": "o8z6j", "pixel_token": "x-token", "consumer_key": ""}
    )
    assert x.consumer_key is None and not x.has_oauth


def test_credentials_given_in_part_name_what_is_missing() -> None:
    x = {"type": "x", "pixel_id": "o8z6j", "consumer_key": "ck", "access_token": "at"}
    [(_, message)] = problems(XSettings, x)
    assert message == (
        "OAuth 1.0a needs all four of consumer_key, consumer_secret, access_token, access_token_secret; "
        "missing: consumer_secret, access_token_secret"
    )
    google = {
        "type": "google_ads",
        "customer_id": "1234567890",
        "developer_token": "dev-token",
        "client_id": "id",
    }
    [(_, message)] = problems(GoogleAdsSettings, google)
    assert message.startswith("a refresh-token login needs client_id, client_secret, refresh_token; missing:")
    assert problems(XSettings, {"type": "x", "pixel_id": "o8z6j"})[0][1].startswith("X needs OAuth 1.0a")


def test_a_value_is_a_number_or_fails_its_event() -> None:
    assert p.strict_value({"value": "42.5"}) == 42.5 and p.strict_value({}) is None
    for bad, says in (([1], "must be a number, not list"), ("abc", "is not a number"), ("inf", "finite")):
        with pytest.raises(ValueError, match=says):
            p.strict_value({"value": bad})
    assert p.currency(" eur ") == "EUR" and p.currency("EURO") is None and p.currency(["EUR"]) is None


def test_products_are_written_with_each_platform_s_keys_in_its_order() -> None:
    products = p.items({"contents": [{"id": "sku-1", "price": 9.5, "quantity": 2}, {"name": "no id"}]})
    fields: p.ProductFields = {"item_price": lambda i: p.decimal_text(i.price), "id": "id", "name": "name"}
    assert p.product_list(products, fields) == [{"item_price": "9.5", "id": "sku-1"}, {"name": "no id"}]


def test_the_events_endpoint_is_built_from_the_block() -> None:
    client = httpx.AsyncClient()
    reddit = RedditConnector("reddit", RedditSettings.model_validate(REDDIT), client)
    assert reddit.events_url == "https://ads-api.reddit.com/api/v3/pixels/a2_abc/conversion_events"
    assert reddit.max_batch == 1000 and reddit.acceptance_window("website") == 7 * 86400
    block = {"type": "snap", "pixel_id": "px-1", "access_token": "snap-token", "batch_size": 10}
    snap = SnapConnector("snap", SnapSettings.model_validate({**block, "validate_only": True}), client)
    assert snap.events_url == "https://tr.snapchat.com/v3/px-1/events/validate" and snap.max_batch == 10
    pinterest = PinterestSettings.model_validate(
        {"type": "pinterest", "ad_account_id": "549755885175", "access_token": "pinterest-token"}
    )
    assert PinterestConnector("pinterest", pinterest, client).events_url.endswith(
        "/v5/ad_accounts/549755885175/events"
    )
