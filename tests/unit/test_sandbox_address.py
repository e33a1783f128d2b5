"""The sandbox follows the address the server listens on; other sandboxes are warned about."""

from __future__ import annotations

from typing import Any

import pytest

from relay.config import parse_settings
from relay.sandbox.address import follow_listener

pytestmark = pytest.mark.unit


def settings(api_base: str, *, sandbox: bool = True, port: int = 8000) -> Any:
    return parse_settings(
        {
            "server": {"port": port, "allowed_origins": ["https://shop.example"]},
            "sandbox": sandbox,
            "connectors": {
                "meta": {"type": "meta", "pixel_id": "1", "access_token": "t", "api_base": api_base},
                "real": {"type": "meta", "pixel_id": "2", "access_token": "t"},
            },
        }
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0.0.0.0"])
def test_this_servers_sandbox_follows_the_listening_port(host: str) -> None:
    followed, warnings = follow_listener(settings(f"http://{host}:8000/sandbox/meta"), host, 18080)
    reach = "127.0.0.1" if host == "0.0.0.0" else host
    assert followed.connectors["meta"].api_base == f"http://{reach}:18080/sandbox/meta"
    assert followed.connectors["real"].api_base == "https://graph.facebook.com"
    assert warnings == []
    origins = followed.server.allowed_origins
    assert "https://shop.example" in origins
    assert "http://127.0.0.1:18080" in origins and "http://localhost:18080" in origins


def test_a_sandbox_of_another_server_is_left_alone_with_a_warning() -> None:
    followed, warnings = follow_listener(settings("http://127.0.0.1:9000/sandbox/meta"), "127.0.0.1", 18080)
    assert followed.connectors["meta"].api_base == "http://127.0.0.1:9000/sandbox/meta"
    [warning] = warnings
    assert "connector meta" in warning and "not this server" in warning and "127.0.0.1:18080" in warning


def test_without_the_sandbox_nothing_moves_and_a_sandbox_url_is_warned_about() -> None:
    config = settings("http://127.0.0.1:8000/sandbox/meta", sandbox=False)
    followed, warnings = follow_listener(config, "127.0.0.1", 8000)
    assert followed is config
    assert len(warnings) == 1 and "the sandbox is off" in warnings[0]


def test_the_configured_port_changes_nothing_but_the_origins() -> None:
    followed, warnings = follow_listener(settings("http://127.0.0.1:8000/sandbox/meta"), "127.0.0.1", 8000)
    assert followed.connectors["meta"].api_base == "http://127.0.0.1:8000/sandbox/meta" and warnings == []
    assert followed.server.allowed_origins[0] == "https://shop.example"
    assert "http://127.0.0.1:8000" in followed.server.allowed_origins
