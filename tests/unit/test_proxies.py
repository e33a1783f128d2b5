"""``server.trusted_proxies``: whose ``X-Forwarded-For`` is believed, and what is taken from it."""

from __future__ import annotations

import pytest

from relay.proxies import ProxyList

pytestmark = pytest.mark.unit
PROXIES = ProxyList(["10.0.0.0/8", "127.0.0.1/32"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("127.0.0.1", "198.51.100.7", "198.51.100.7"),
        ("127.0.0.1", "198.51.100.7, 10.1.2.3", "198.51.100.7"),  # trusted hops skipped from the right
        ("203.0.113.5", "198.51.100.7", "203.0.113.5"),  # an untrusted peer speaks for itself
        ("127.0.0.1", "2001:db8::1", "2001:db8::1"),
        # what no client address looks like: the peer is kept, never the header's text
        ("127.0.0.1", "fe80::1%" + "a" * 3000, "127.0.0.1"),  # a zone index of any length
        ("127.0.0.1", "fe80::1%eth0", "127.0.0.1"),
        ("127.0.0.1", "not-an-ip", "127.0.0.1"),
        ("127.0.0.1", "1" * 60, "127.0.0.1"),
    ],
)
def test_the_client_ip_is_an_address_or_the_peer(peer: str, forwarded: str, client: str) -> None:
    assert PROXIES.client_ip(peer, forwarded) == client
