"""Cross-site request refusal for the dashboard's state-changing requests.

SameSite=Strict cookies stop other sites, but not a page on a sibling subdomain (same *site*). So a
state-changing admin request is refused (403 ``origin_not_allowed``) when its ``Origin`` is present and
is not the relay's own origin (scheme and host as seen through trusted proxies), when ``Sec-Fetch-Site``
says anything but ``same-origin`` or ``none``, or, for a request authorised by the session cookie,
when it is not ``application/json`` (which no form can send, and no page can send cross-origin without a
CORS preflight that the relay never grants).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from relay.http.responses import error

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SAFE_FETCH_SITES = frozenset({"same-origin", "none"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_origin(text: str) -> str | None:
    """``scheme://host[:port]`` lower-cased and without the scheme's default port; None if not an origin."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if parts.scheme not in _DEFAULT_PORTS or not host or parts.path not in ("", "/") or parts.query:
        return None
    if ":" in host:
        host = f"[{host}]"
    suffix = f":{port}" if port is not None and port != _DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host}{suffix}"


def own_origin(request: Request) -> str | None:
    """The relay's origin for this request: its scheme and Host (both through trusted proxies only)."""
    host = request.headers.get("host")
    if not host:
        return None
    return normalise_origin(f"{request.url.scheme}://{host}")


def cross_site_refusal(request: Request, *, require_json: bool) -> Response | None:
    """The 403 answer for a state-changing request that may come from another site; None when it may go on."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in SAFE_FETCH_SITES:
        return _refuse("the request comes from another site (Sec-Fetch-Site)")
    origin = request.headers.get("origin")
    # the admin pages' Referrer-Policy: no-referrer makes browsers send "Origin: null" on their own form
    # posts; Sec-Fetch-Site, which no page can set, then says whether the post came from the relay itself
    null_from_itself = origin == "null" and site is not None and site.strip().lower() == "same-origin"
    if origin is not None and not null_from_itself:
        mine = own_origin(request)
        if mine is None or normalise_origin(origin) != mine:
            return _refuse("the Origin header is not the relay's own origin")
    if require_json:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            return _refuse("a dashboard request that changes state must be sent as application/json")
    return None


def _refuse(detail: str) -> Response:
    return error("origin_not_allowed", detail)
