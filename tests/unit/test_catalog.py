"""The product catalog's pieces in memory: product validation, sources, the diff, config checks,
the content_ids tally."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from relay.catalog.coverage import content_ids, tally
from relay.catalog.diff import diff
from relay.catalog.product import ProductError, parse_product
from relay.catalog.sources import CatalogSourceError, parse_feed, read_csv
from relay.config import parse_settings
from relay.exceptions import ConfigError

pytestmark = pytest.mark.unit

ROW = {
    "id": "sku-1",
    "title": "Blue mug",
    "description": "A blue mug",
    "price": "12.5 eur",
    "availability": "In_Stock",
    "link": "https://shop.example/p/1",
    "image_link": "https://shop.example/i/1.jpg",
}


def test_a_row_becomes_a_product_with_normalised_values() -> None:
    product = parse_product(ROW)
    assert (
        str(product.price) == "12.50 EUR"
        and product.availability == "in stock"
        and product.condition == "new"
    )
    with_currency = parse_product({**ROW, "price": "3", "currency": "usd", "sale_price": "2.5"})
    assert (str(with_currency.price), str(with_currency.sale_price)) == ("3.00 USD", "2.50 USD")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"price": "12,99 €"}, "price: '12,99 €' is not an amount"),
        ({"price": "12"}, "price: no currency"),
        ({"availability": "maybe"}, "availability: 'maybe' is not one of in stock"),
        ({"link": "shop.example/p/1"}, "link: 'shop.example/p/1' is not an http(s) URL"),
        ({"title": ""}, "title: required value is missing"),
        ({"id": "x" * 101}, "id: longer than 100 characters"),
        ({"currency": "euro", "price": "1"}, "currency: 'euro' is not an ISO 4217 code"),
        ({"condition": "broken"}, "condition: 'broken' is not one of new"),
    ],
)
def test_unusable_rows_are_refused_naming_the_column(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ProductError) as caught:
        parse_product({**ROW, **change})
    assert str(caught.value).startswith(message)


def test_the_fingerprint_changes_with_what_the_platform_gets() -> None:
    a = parse_product(ROW)
    # the digest the catalog_items rows hold: a new formula would send every product again once
    assert a.fingerprint == "c17c7f7fd5c29e1ff33c7f210a45a5ecd8cd4260ef7defa33d4d2675d432aa71"
    assert a.fingerprint == parse_product(dict(ROW)).fingerprint
    assert a.fingerprint != parse_product({**ROW, "price": "12.51 EUR"}).fingerprint
    red = parse_product({**ROW, "title": "Red mug"})
    assert dataclasses.replace(a, title="Red mug").fingerprint == red.fingerprint


def test_csv_source_counts_invalid_rows_and_remembers_their_ids(tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_text(
        "id;title;description;price;availability;link;image_link;colour\n"
        "sku-1;Mug;A mug;5 EUR;in stock;https://s.example/1;https://s.example/1.jpg;blue\n"
        "sku-2;Cup;A cup;free;in stock;https://s.example/2;https://s.example/2.jpg;red\n"
    )
    read = read_csv(str(path))
    assert list(read.products) == ["sku-1"] and read.invalid == 1 and read.invalid_ids == {"sku-2"}
    assert read.samples == ["row 3: price: 'free' is not an amount such as '19.99 USD'"]
    with pytest.raises(CatalogSourceError, match="cannot read"):
        read_csv(str(tmp_path / "missing.csv"))


def test_json_feed_forms() -> None:
    assert list(parse_feed(b'{"products": [{"id": "a"}]}', "json").products) == []
    assert parse_feed(b'[{"id": "a"}]', "json").invalid == 1
    with pytest.raises(CatalogSourceError, match="not valid JSON"):
        parse_feed(b"{", "json")
    with pytest.raises(CatalogSourceError, match="list of products"):
        parse_feed(b'{"other": 1}', "json")


def test_an_amount_too_large_to_keep_cents_fails_its_row_alone() -> None:
    huge = "1" + "0" * 30
    feed = [{**ROW, "id": "sku-0", "price": f"{huge} USD"}, ROW, {**ROW, "id": "sku-2", "sale_price": huge}]
    read = parse_feed(json.dumps(feed).encode(), "json")
    assert list(read.products) == ["sku-1"] and read.invalid_ids == {"sku-0", "sku-2"}
    assert read.samples == [
        f"row 1: price: '{huge[:36]} USD' is not an amount such as '19.99 USD'",
        f"row 3: sale_price: '{huge}' is not an amount such as '19.99 USD'",
    ]


def test_diff_sends_only_what_changed_and_keeps_invalid_ids() -> None:
    a, b, c = (parse_product({**ROW, "id": i}) for i in ("a", "b", "c"))
    known = {"a": a.fingerprint, "b": "old", "gone": "x", "broken": "y"}
    changes = diff({"a": a, "b": b, "new": c}, known, keep={"broken"})
    assert [(r.method, r.item_id) for r in changes.requests] == [
        ("DELETE", "gone"),
        ("UPDATE", "b"),
        ("CREATE", "new"),
    ]
    assert changes.unchanged == 1
    assert diff({"a": a}, {"a": a.fingerprint}, full=True).count("UPDATE") == 1


def test_a_refused_product_is_sent_again_only_once_it_changed() -> None:
    # a refused item is recorded with the fingerprint of what was sent, like an accepted one
    refused = parse_product(ROW)
    unchanged = diff({refused.id: refused}, {refused.id: refused.fingerprint})
    assert (unchanged.requests, unchanged.unchanged) == ([], 1)
    fixed = parse_product({**ROW, "image_link": "https://shop.example/i/1-large.jpg"})
    changed = diff({fixed.id: fixed}, {refused.id: refused.fingerprint})
    assert [(r.method, r.item_id, r.product) for r in changed.requests] == [("UPDATE", fixed.id, fixed)]


def config(**extra: Any) -> dict[str, Any]:
    meta = {
        "type": "meta",
        "pixel_id": "1",
        "access_token": "t",
        "catalog_id": "99",
        "ad_account_id": "act_42",
    }
    return {"connectors": {"meta": meta}, **extra}


def test_catalog_and_lookalike_config() -> None:
    settings = parse_settings(
        config(
            catalogs={
                "shop": {
                    "source": {"type": "csv", "path": "p.csv"},
                    "destinations": ["meta"],
                    "schedule": "1h",
                }
            },
            audiences={
                "buyers": {
                    "source": {"type": "csv", "path": "b.csv"},
                    "destinations": {"meta": {"audience_id": "1"}},
                    "lookalike": {"country": "us", "ratio": 0.01},
                }
            },
        )
    )
    assert settings.catalogs["shop"].destinations["meta"].catalog_id is None
    assert settings.audiences["buyers"].lookalike[0].country == "US"
    assert settings.connectors["meta"].ad_account_id == "42"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("extra", "key", "message"),
    [
        (
            {"lookalike": {"country": "US", "ratio": 0.5}},
            "audiences.buyers.lookalike[0].ratio",
            "from 0.01 to 0.2",
        ),
        (
            {"lookalike": [{"country": "USA", "ratio": 0.01}]},
            "audiences.buyers.lookalike[0].country",
            "ISO 3166",
        ),
        (
            {"lookalike": {"country": "US", "ratio": 0.015}},
            "audiences.buyers.lookalike[0].ratio",
            "steps of 0.01",
        ),
    ],
)
def test_bad_lookalikes_are_named(extra: dict[str, Any], key: str, message: str) -> None:
    audience = {
        "source": {"type": "csv", "path": "b.csv"},
        "destinations": {"meta": {"audience_id": "1"}},
        **extra,
    }
    with pytest.raises(ConfigError) as caught:
        parse_settings(config(audiences={"buyers": audience}))
    assert caught.value.key == key and message in caught.value.message


@pytest.mark.parametrize(
    ("catalog", "message"),
    [
        ({"source": {"type": "csv"}, "destinations": ["meta"]}, "a csv source needs path"),
        ({"source": {"type": "url", "url": "ftp://x"}, "destinations": ["meta"]}, "http(s) address"),
        ({"source": {"type": "csv", "path": "p"}, "destinations": ["nope"]}, "no connector named 'nope'"),
    ],
)
def test_bad_catalogs_are_named(catalog: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"catalogs\.shop") as caught:
        parse_settings(config(catalogs={"shop": catalog}))
    assert message in caught.value.message


def test_a_catalog_needs_a_catalog_id_and_a_lookalike_an_ad_account() -> None:
    bare = {"connectors": {"meta": {"type": "meta", "pixel_id": "1", "access_token": "t"}}}
    with pytest.raises(ConfigError, match="set catalog_id on connector 'meta'"):
        parse_settings(
            {**bare, "catalogs": {"shop": {"source": {"type": "csv", "path": "p"}, "destinations": ["meta"]}}}
        )
    audience = {"source": {"type": "csv", "path": "b"}, "destinations": {"meta": {"audience_id": "1"}}}
    with pytest.raises(ConfigError, match="ad_account_id"):
        parse_settings(
            {**bare, "audiences": {"b": {**audience, "lookalike": {"country": "US", "ratio": 0.01}}}}
        )


def test_content_ids_are_tallied_per_connector_and_event() -> None:
    assert content_ids({"content_ids": ["a", "b"], "contents": [{"id": "b"}, {"id": 7}]}) == ["a", "b", "7"]
    rows = [
        ("meta", "Purchase", {"content_ids": ["a", "zz"]}),
        ("meta", "Purchase", {"contents": [{"id": "a"}]}),
        ("meta", "ViewContent", {}),
    ]
    out = tally(rows, {"meta": {"a"}})
    assert out["meta"]["Purchase"] | {"missing_samples": None} == {
        "events": 2,
        "without_ids": 0,
        "found": 2,
        "missing": 1,
        "missing_share": 0.3333,
        "missing_samples": None,
    }
    assert out["meta"]["Purchase"]["missing_samples"] == ["zz"]
    assert out["meta"]["ViewContent"]["without_ids"] == 1
