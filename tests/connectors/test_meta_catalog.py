"""Meta product catalog (Catalog Batch API) and lookalike audiences: payloads, and the connector's
clients against the fake Graph API's state."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from connectors.meta.catalog import batch_body, item_data, read_status, read_ticket
from connectors.meta.lookalike import create_form, next_cursor, read_lookalike
from relay.catalog.api import BatchTicket, ItemRequest
from relay.catalog.product import Money, Product
from relay.exceptions import AuthRejectedError, PayloadRejectedError
from relay.sandbox.meta import FakeMeta
from tests.connectors.test_meta_capi import TOKEN, served

pytestmark = [pytest.mark.connectors, pytest.mark.anyio]

CATALOG, ACCOUNT = "555000111", "777000222"


def product(item_id: str = "sku-1", **changes: object) -> Product:
    base: dict[str, object] = {
        "id": item_id,
        "title": "Blue mug",
        "description": "A blue mug, 350 ml",
        "price": Money(Decimal("12.50"), "EUR"),
        "availability": "in stock",
        "link": f"https://shop.example/p/{item_id}",
        "image_link": f"https://shop.example/img/{item_id}.jpg",
    }
    return Product(**{**base, **changes})  # type: ignore[arg-type]


def test_item_data_uses_feed_names_and_price_with_currency() -> None:
    sale = Money(Decimal("9.00"), "EUR")
    data = item_data(product(brand="Acme", sale_price=sale))
    assert data == {
        "id": "sku-1",
        "title": "Blue mug",
        "description": "A blue mug, 350 ml",
        "availability": "in stock",
        "condition": "new",
        "price": "12.50 EUR",
        "link": "https://shop.example/p/sku-1",
        "image_link": "https://shop.example/img/sku-1.jpg",
        "brand": "Acme",
        "sale_price": "9.00 EUR",
    }


def test_batch_body_is_product_items_with_json_requests() -> None:
    body = batch_body([ItemRequest("CREATE", "sku-1", product()), ItemRequest("DELETE", "old")])
    assert body["item_type"] == "PRODUCT_ITEM"
    requests = json.loads(body["requests"])
    assert requests[0]["method"] == "CREATE" and requests[0]["data"]["id"] == "sku-1"
    assert requests[1] == {"method": "DELETE", "data": {"id": "old"}}
    with pytest.raises(ValueError, match="1 to 5000"):
        batch_body([])


def test_read_ticket_and_status_mask_and_key_errors_by_id() -> None:
    ticket = read_ticket(
        {
            "handles": ["h1"],
            "validation_status": [{"retailer_id": "x", "errors": [{"message": "bad SECRET"}]}],
        },
        lambda t: t.replace("SECRET", "***"),
    )
    assert ticket.handle == "h1" and ticket.errors == {"x": "bad ***"}
    assert read_ticket({"handles": []}, str).handle is None
    # answers of another shape read as "no handle, nothing refused", never as an exception
    for odd in (None, [], "h", {"handles": "h1"}, {"handles": 7, "validation_status": 3}, {"handles": [{}]}):
        assert read_ticket(odd, str) == BatchTicket(None, {}), odd
    assert read_ticket({"validation_status": "x", "handles": [None, "", "h2"]}, str).handle == "h2"
    started = read_status({"data": [{"status": "started"}]}, str)
    assert not started.finished
    done = read_status(
        {"data": [{"status": "finished", "errors": [{"id": "sku-9", "message": "no price"}]}]}, str
    )
    assert done.finished and not done.failed and done.errors == {"sku-9": "no price"}
    assert read_status({"data": [{"status": "error"}]}, str).failed


def test_lookalike_form_and_listing() -> None:
    form = create_form("buyers lookalike US 1%", "2384", "US", 0.01)
    assert form["subtype"] == "LOOKALIKE" and form["origin_audience_id"] == "2384"
    assert json.loads(form["lookalike_spec"]) == {"country": "US", "ratio": 0.01}
    listed = read_lookalike(
        {
            "id": "9",
            "name": "n",
            "lookalike_spec": {"country": "us", "ratio": 0.02, "origin": [{"id": "2384"}]},
        }
    )
    assert (listed.origin_audience_id, listed.country, listed.ratio) == ("2384", "US", 0.02)
    for ratio in (10**400, True, "0.01", None):  # a JSON integer larger than any float, not a number
        odd = read_lookalike({"id": "9", "lookalike_spec": json.dumps({"country": "us", "ratio": ratio})})
        assert odd.ratio is None and odd.country == "US"


@pytest.mark.parametrize(
    ("body", "cursor"),
    [
        ({"paging": {"next": "https://graph/next", "cursors": {"after": "QVFI"}}}, "QVFI"),
        ({"paging": {"cursors": {"after": "QVFI"}}}, None),  # no next page
        ({"paging": ["odd"]}, None),
        ({"paging": {"next": "x", "cursors": "QVFI"}}, None),
        ({"paging": {"next": "x", "cursors": {"after": {"nested": 1}}}}, None),
        ({"paging": {"next": "x", "cursors": {"after": True}}}, None),
        ({"paging": None}, None),
        ("<html>", None),
        (None, None),
    ],
)
def test_a_listing_page_of_another_shape_ends_the_listing(body: object, cursor: str | None) -> None:
    assert next_cursor(body) == cursor


async def test_catalog_client_against_the_fake() -> None:
    fake = FakeMeta(access_token=TOKEN)
    fake.catalogs.refuse["bad"] = "Invalid image"
    async with served(fake, catalog_id=CATALOG) as (connector, _):
        api = connector.catalog_api()
        ticket = await api.send(
            CATALOG, [ItemRequest("CREATE", "sku-1", product()), ItemRequest("CREATE", "bad", product("bad"))]
        )
        assert ticket.handle and ticket.errors == {}
        first = await api.status(CATALOG, ticket.handle)
        assert first.state == "started" and not first.finished  # the fake answers "started" once
        done = await api.status(CATALOG, ticket.handle)
        assert done.finished and done.errors == {"bad": "Invalid image"}
    assert fake.catalogs.items[CATALOG]["sku-1"]["price"] == "12.50 EUR"
    assert "bad" not in fake.catalogs.items[CATALOG]
    sent = [r for r in fake.requests if r.path.endswith("/items_batch")]
    assert sent and sent[0].query["access_token"] == TOKEN  # the token goes in the query, as for every call


async def test_catalog_client_translates_graph_errors() -> None:
    fake = FakeMeta(access_token=TOKEN)
    async with served(fake, access_token="wrong-token") as (connector, _):
        with pytest.raises(AuthRejectedError) as caught:
            await connector.catalog_api().send(CATALOG, [ItemRequest("DELETE", "x")])
    assert "wrong-token" not in str(caught.value)
    async with served(fake) as (connector, _):
        with pytest.raises(PayloadRejectedError, match="unknown handle"):
            await connector.catalog_api().status(CATALOG, "nope")


async def test_lookalike_client_creates_lists_and_spots_duplicates() -> None:
    fake = FakeMeta(access_token=TOKEN)
    fake.audiences["2384"] = {(("EMAIL", "x"),)}
    async with served(fake, ad_account_id=f"act_{ACCOUNT}") as (connector, _):
        api = connector.lookalike_api()
        created = await api.create("buyers lookalike US 1%", "2384", "US", 0.01)
        assert created is not None
        assert await api.create("again", "2384", "US", 0.01) is None  # Meta's code 2654: a duplicate
        listed = await api.list()
        with pytest.raises(PayloadRejectedError, match="origin audience"):
            await api.create("x", "no-such-audience", "US", 0.01)
    assert [(x.id, x.origin_audience_id, x.country, x.ratio) for x in listed] == [
        (created, "2384", "US", 0.01)
    ]
    assert len(fake.catalogs.lookalikes[f"act_{ACCOUNT}"]) == 1
