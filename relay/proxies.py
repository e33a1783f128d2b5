"""``server.trusted_proxies``: which peers may speak for the client (IP, scheme, host, place)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence


class ProxyList:
    """``server.trusted_proxies`` parsed once."""

    def __init__(self, entries: Sequence[str]) -> None:
        self.networks = [ipaddress.ip_network(e, strict=False) for e in entries]

    def trusts(self, address: str | None) -> bool:
        if not address or not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def client_ip(self, peer: str | None, forwarded_for: str | None) -> str | None:
        """The visitor's IP: walk ``X-Forwarded-For`` from the right while hops are trusted proxies."""
        if not forwarded_for or not self.trusts(peer):
            return peer
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        for hop in reversed(hops):
            if client_address(hop) is None:
                return peer
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else peer


#: the longest IP address written out (IPv6 with an IPv4 tail); a zone index (``fe80::1%eth0``) is no
#: client's address and may be any length
_MAX_IP = 45


def client_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``text`` as a client's IP address, or None when it is none (not an address, a zone index, too long):
    the one reading of an address a proxy or a server event gives the relay."""
    if len(text) > _MAX_IP or "%" in text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
