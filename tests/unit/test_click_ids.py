"""Click ids of every platform: captured from landing URLs and first-party cookies, kept as user ids."""

from __future__ import annotations

import pytest

from relay.events import ID_FIELDS, EventError, parse_event
from relay.ingest.identity import (
    CLICK_COOKIES,
    COOKIE_IDS,
    URL_CLICK_IDS,
    click_ids_from_url,
    cookies_to_set,
    merge_click_ids,
)
from relay.types import BROWSER_ID_KEYS, ID_KEYS

pytestmark = pytest.mark.unit
NOW = 1_790_000_000.0
LANDING = (
    "https://shop.example/?ScCid=sc-1&epik=dj0yJnU9&rdt_cid=rdt-1&li_fat_id=li-1"
    "&gclid=Cj0KCQ&gbraid=0AAAA&wbraid=WB-1&ttclid=E.C.P.x&utm_source=x"
)


def test_every_click_id_of_the_landing_url_is_captured() -> None:
    assert click_ids_from_url(LANDING, NOW) == {
        "ttclid": "E.C.P.x",
        "sc_click_id": "sc-1",
        "epik": "dj0yJnU9",
        "rdt_cid": "rdt-1",
        "li_fat_id": "li-1",
        "gclid": "Cj0KCQ",
        "gbraid": "0AAAA",
        "wbraid": "WB-1",
    }
    assert click_ids_from_url("https://shop.example/?utm_source=x", NOW) == {}
    # parameter names are case-sensitive, as the platforms write them
    assert click_ids_from_url("https://shop.example/?sccid=x", NOW) == {}


def test_platform_cookies_become_ids() -> None:
    cookies = {
        "_scid": "scid-1",
        "_epik": "ep-1",
        "_rdt_uuid": "1700000000000.uuid",
        "li_fat_id": "li-1",
        "_gcl_aw": "GCL.1700000000.Cj0KCQ",
        "_ttp": "ttp-1",
    }
    assert merge_click_ids(cookies, None, NOW) == {
        "ttp": "ttp-1",
        "scid": "scid-1",
        "epik": "ep-1",
        "rdt_uuid": "1700000000000.uuid",
        "li_fat_id": "li-1",
        "gclid": "Cj0KCQ",  # the click id inside Google's GCL.<seconds>.<gclid>
    }
    # a new click on the landing URL wins over the cookie
    assert merge_click_ids(cookies, "https://shop.example/?gclid=NEW", NOW)["gclid"] == "NEW"


def test_new_click_ids_are_kept_in_cookies_once() -> None:
    ids = click_ids_from_url(LANDING, NOW)
    specs = {s.name: s for s in cookies_to_set({"_rl_id": "v", "_fbp": "fb.1.1.1"}, ids, NOW)}
    assert set(specs) == {
        "_ttclid",
        "_scclid",
        "_epik",
        "_rdt_cid",
        "li_fat_id",
        "_gcl_aw",
        "_gbraid",
        "_wbraid",
    }
    assert specs["_gcl_aw"].value == f"GCL.{int(NOW)}.Cj0KCQ" and specs["_gcl_aw"].max_age == 90 * 86400
    assert not any(s.httponly for s in specs.values())  # the platforms' own tags read them
    current = {"_rl_id": "v", "_fbp": "fb.1.1.1", **{s.name: s.value for s in specs.values()}}
    assert cookies_to_set(current, merge_click_ids(current, LANDING, NOW), NOW) == []


def test_tables_agree_with_the_event_model() -> None:
    assert set(URL_CLICK_IDS.values()) <= set(ID_KEYS)
    assert set(COOKIE_IDS.values()) <= set(BROWSER_ID_KEYS)
    assert set(CLICK_COOKIES.values()) <= set(COOKIE_IDS)
    assert ID_FIELDS == ID_KEYS


def test_user_accepts_the_new_ids_within_limits() -> None:
    user = {"sc_click_id": "a", "scid": "b", "epik": "c", "rdt_cid": "d", "rdt_uuid": "e", "li_fat_id": "f"}
    event = parse_event(
        {"event_name": "Purchase", "user": {**user, "gclid": "g", "gbraid": "h", "wbraid": "i"}}
    )
    assert event.user.gbraid == "h" and event.user.sc_click_id == "a"
    with pytest.raises(EventError, match=r"user\.gclid"):
        parse_event({"event_name": "Purchase", "user": {"gclid": "x" * 513}})
