"""Time on page and scroll depth: the custom keys' checks, the rule grammar and its config errors, the
per-connector switch, and what platforms receive."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from relay import engagement
from relay.audiences.rule import terms
from relay.audiences.sources import SourceError
from relay.config import load_settings
from relay.custom import validate_custom
from relay.engagement import Condition, RuleTerm, parse_term
from relay.exceptions import ConfigError
from relay.http.browser import SNIPPET
from relay.storage.records import to_outbound
from relay.types import ALLOW

pytestmark = pytest.mark.unit


def test_engagement_keys_are_checked_and_canonical() -> None:
    checked = validate_custom(
        {"engaged_seconds": "42", "scroll_depth": 75.0, "page_event_ids": ["pv-1", "vc-1"], "x": 1}
    )
    assert checked == {"engaged_seconds": 42, "scroll_depth": 75, "page_event_ids": ["pv-1", "vc-1"], "x": 1}
    assert validate_custom({"engaged_seconds": 12.5})["engaged_seconds"] == 12.5


@pytest.mark.parametrize(
    ("custom", "message"),
    [
        ({"engaged_seconds": -1}, "custom.engaged_seconds: must be a number of seconds from 0 to 86400"),
        ({"engaged_seconds": 86401}, "custom.engaged_seconds: must be a number of seconds from 0 to 86400"),
        ({"engaged_seconds": True}, "custom.engaged_seconds: must be a number of seconds"),
        ({"engaged_seconds": "soon"}, "custom.engaged_seconds: must be a number of seconds"),
        ({"scroll_depth": 101}, "custom.scroll_depth: must be a percentage from 0 to 100"),
        ({"scroll_depth": [50]}, "custom.scroll_depth: must be a percentage"),
        ({"page_event_ids": "pv-1"}, "custom.page_event_ids: must be a list of at most 50 event ids"),
        ({"page_event_ids": [f"e{i}" for i in range(51)]}, "must be a list of at most 50 event ids"),
        ({"page_event_ids": ["ok", 7]}, "custom.page_event_ids: must hold event ids"),
        ({"page_event_ids": [""]}, "custom.page_event_ids: must hold event ids"),
    ],
)
def test_bad_engagement_values_are_refused_with_the_key(custom: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as err:
        validate_custom(custom)
    assert message in str(err.value)


def test_the_snippet_keeps_as_many_page_event_ids_as_the_relay_takes() -> None:
    # pixel.js repeats the limit as a literal (a shared constant would grow it past its size budget)
    limits = re.findall(r"pids\.length < (\d+)", SNIPPET.read_text(encoding="utf-8"))
    assert limits == [str(engagement.MAX_PAGE_EVENTS)]


def test_rule_items_parse() -> None:
    assert parse_term(" ViewContent ") == RuleTerm("ViewContent")
    assert parse_term("ViewContent with engaged_seconds >= 30") == RuleTerm(
        "ViewContent", (Condition("engaged_seconds", ">=", 30.0),)
    )
    both = parse_term("Add To Cart WITH scroll_depth>50 and engaged_seconds == 12.5")
    assert both == RuleTerm(
        "Add To Cart", (Condition("scroll_depth", ">", 50.0), Condition("engaged_seconds", "=", 12.5))
    )
    assert [c.op for c in parse_term("A with scroll_depth < 1 and scroll_depth <= 2").conditions] == [
        "<",
        "<=",
    ]
    # " with " that starts no condition belongs to the event name
    assert parse_term("Sign up with Google") == RuleTerm("Sign up with Google")
    assert parse_term("Sign up with Google with engaged_seconds > 5").event_name == "Sign up with Google"


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("with engaged_seconds >= 30", "an event name is missing"),
        ("ViewContent with engaged >= 30", "unknown field 'engaged'; use engaged_seconds or scroll_depth"),
        ("ViewContent with engaged_seconds >= soon", "engaged_seconds is compared with a number of seconds"),
        ("ViewContent with scroll_depth >= 120", "scroll_depth is compared with a percentage from 0 to 100"),
        ("ViewContent with scroll_depth >= -1", "scroll_depth is compared with a percentage"),
        ("ViewContent with engaged_seconds", "expected a condition such as 'engaged_seconds >= 30'"),
        ("ViewContent with engaged_seconds >= 3 or scroll_depth > 5", "(joined by 'and')"),
        ("ViewContent with engaged_seconds => 30", "expected a condition"),
    ],
)
def test_bad_rule_items_say_what_is_wrong(item: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_term(item)
    assert message in str(err.value)
    with pytest.raises(SourceError) as source_err:
        terms(["PageView", item], "include")
    assert str(source_err.value).startswith("include: ") and message in str(source_err.value)


def _config(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "relay.yaml"
    path.write_text(
        "connectors:\n  meta:\n    type: meta\n    pixel_id: '1'\n    access_token: t\n"
        "    api_base: http://x\n    send_engagement: true\n"
        f"audiences:\n  engaged:\n    source: {source}\n"
        "    destinations: {meta: {audience_id: '1'}}\n"
    )
    return path


def test_config_takes_one_rule_item_as_text_and_switches_engagement_per_connector(tmp_path: Path) -> None:
    settings = load_settings(
        _config(tmp_path, "{type: events, include: ViewContent with engaged_seconds >= 30}")
    )
    assert settings.audiences["engaged"].source.include == ("ViewContent with engaged_seconds >= 30",)
    assert settings.connectors["meta"].send_engagement is True


def test_config_names_the_bad_rule_item(tmp_path: Path) -> None:
    source = "{type: events, include: [ViewContent], exclude: [Purchase, 'Lead with depth > 3']}"
    with pytest.raises(ConfigError) as err:
        load_settings(_config(tmp_path, source))
    assert "audiences.engaged.source.exclude[1]" in str(err.value)
    assert "unknown field 'depth'" in str(err.value)


def test_engagement_events_need_send_engagement() -> None:
    reason = engagement.skip_reason("PageEngagement", False, "meta")
    assert reason == "engagement not sent to meta (send_engagement: false)"
    assert engagement.skip_reason("PageEngagement", True, "meta") is None
    assert engagement.skip_reason("ViewContent", False, "meta") is None


def test_only_engagement_events_kept_without_a_connector_and_without_identifiers() -> None:
    assert engagement.kept("PageEngagement", ["allow", "limited"])
    assert not engagement.kept("PageEngagement", ["deny", "deny"])
    assert not engagement.kept("ViewContent", ["allow"])
    custom = {"engaged_seconds": 3, "scroll_depth": 40, "page_event_ids": ["a"], "note": "jane@example.com"}
    assert engagement.only_engagement(custom) == {
        "engaged_seconds": 3,
        "scroll_depth": 40,
        "page_event_ids": ["a"],
    }


def _stored(name: str, custom: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": "pv-1:engagement",
        "event_name": name,
        "event_time": 1767000000,
        "action_source": "website",
        "event_source_url": "https://shop.example/p",
        "referrer_url": None,
        "opt_out": False,
        "hashed": {},
        "ids": {},
        "ip": None,
        "user_agent": None,
        "custom": custom,
        "received_at": 1767000000.0,
    }


def test_platforms_never_see_the_page_event_ids() -> None:
    custom = {"engaged_seconds": 42, "scroll_depth": 80, "page_event_ids": ["pv-1", "vc-1"]}
    outbound = to_outbound(1, _stored("PageEngagement", dict(custom)), ALLOW)
    assert outbound.custom == {"engaged_seconds": 42, "scroll_depth": 80}
    # another event keeps every key it was sent with
    assert to_outbound(1, _stored("ViewContent", dict(custom)), ALLOW).custom == custom
