"""The sandbox demo shop, mounted at ``/sandbox/shop``: a home page with products, product pages, a
checkout and a thank-you page. Every page loads ``/pixel.js`` with the standard snippet and a fake
consent banner, so ``make run`` lets a newcomer click through and watch the events arrive in the
admin dashboard and the fake platforms.

The pages are server-rendered from ``shop_assets/layout.html``; ``shop_assets/static/`` holds the
stylesheet, the fake CMP (``cmp.js``) and the page logic (``shop.js``, which calls ``relay(...)``).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from functools import cache
from html import escape
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

ASSETS = Path(__file__).parent / "shop_assets"
MOUNT = "/sandbox/shop"
CURRENCY = "EUR"
MAX_QUANTITY = 9
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    price: float
    category: str
    blurb: str
    colour: str


PRODUCTS = {
    p.id: p
    for p in (
        Product("mug", "Morning mug", 14.0, "kitchen", "Stoneware, 350 ml, keeps coffee warm.", "#e76f51"),
        Product("teapot", "Quiet teapot", 32.0, "kitchen", "A one-litre teapot that never drips.", "#2a9d8f"),
        Product("tee", "Relay T-shirt", 24.0, "apparel", "Organic cotton, printed in Lisbon.", "#264653"),
        Product(
            "socks", "Cookie socks", 9.5, "apparel", "Warm socks with a consent-banner pattern.", "#e9c46a"
        ),
        Product("poster", "Signal poster", 18.5, "decor", "A 50 x 70 cm print of a TC string.", "#8e7dbe"),
    )
}
CATEGORIES = ("kitchen", "apparel", "decor")


def shop_routes() -> list[BaseRoute]:
    """The shop's routes, relative to its mount point (``/sandbox/shop``)."""
    return [
        Route("/", home, methods=["GET"]),
        Route("/product/{product_id}", product, methods=["GET"]),
        Route("/checkout", checkout, methods=["GET"]),
        Route("/thanks", thanks, methods=["GET"]),
        Route("/api/status", status, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=ASSETS / "static"), name="shop-static"),
    ]


@cache
def _layout() -> str:
    return (ASSETS / "layout.html").read_text(encoding="utf-8")


def _bases(request: Request) -> tuple[str, str]:
    """The shop's own base path and the relay's root (for /pixel.js, /admin/), from the mount."""
    base = str(request.scope.get("root_path", "")).rstrip("/") or MOUNT
    root = base.removesuffix(MOUNT) if base.endswith(MOUNT) else ""
    return base, root


def _page(request: Request, page: str, title: str, main: str, data: Any, status: int = 200) -> HTMLResponse:
    base, root = _bases(request)
    # JSON inside <script>: no "<", ">" or "&" may reach the HTML parser
    payload = json.dumps({"page": page, "base": base, "currency": CURRENCY, **data})
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    values = {"main": main, "data": payload, "page": page}
    values.update(base=escape(base), root=escape(root), title=escape(title))
    # one pass over the template: text inserted for one placeholder is never scanned for another
    html = _PLACEHOLDER.sub(lambda m: values[m.group(1)], _layout())
    return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})


def _money(value: float) -> str:
    return f"€{value:,.2f}"


def _tile(p: Product, base: str, shown: bool) -> str:
    hidden = "" if shown else " hidden"
    return (
        f'<a class="card" data-category="{p.category}" href="{escape(base)}/product/{p.id}"{hidden}>'
        f'<span class="tile" style="--c:{p.colour}">{escape(p.name[0])}</span>'
        f"<strong>{escape(p.name)}</strong><span class='muted'>{escape(p.blurb)}</span>"
        f'<span class="price">{_money(p.price)}</span></a>'
    )


async def home(request: Request) -> HTMLResponse:
    """Products, with category filters that navigate through the history API (an SPA page view)."""
    base, root = _bases(request)
    chosen = request.query_params.get("category", "")
    buttons = "".join(
        f'<button type="button" class="chip" data-filter="{c}" aria-pressed="{str(c == chosen).lower()}">'
        f"{c.title() or 'All'}</button>"
        for c in ("", *CATEGORIES)
    )
    cards = "".join(_tile(p, base, not chosen or p.category == chosen) for p in PRODUCTS.values())
    main = (
        '<section class="hero"><h1>Small things, honestly measured.</h1>'
        "<p>Pick a product, check out with any fake details, and follow each event in the panel.</p>"
        # landing URLs as ads and newsletters write them: the admin's campaign results credit each source
        '<p class="muted" id="campaign-links">Arrive as if from a campaign: '
        f'<a href="{escape(base)}/?utm_source=newsletter&amp;utm_medium=email&amp;utm_campaign=spring">'
        "newsletter</a>, "
        f'<a href="{escape(base)}/product/mug?fbclid=demo-fb-click">Facebook ad</a>, '
        f'<a href="{escape(base)}/product/teapot?gclid=demo-google-click">Google ad</a>; '
        f'then see the <a href="{escape(root)}/admin/results">campaign results</a>.</p>'
        "</section>"
        f'<div class="chips" role="group" aria-label="Categories">{buttons}</div>'
        f'<div class="grid" id="products">{cards}</div>'
    )
    return _page(request, "home", "Shop", main, {})


async def product(request: Request) -> HTMLResponse:
    base, _ = _bases(request)
    p = PRODUCTS.get(request.path_params["product_id"])
    if p is None:
        return _not_found(request)
    options = "".join(f"<option>{n}</option>" for n in range(1, MAX_QUANTITY + 1))
    main = (
        f'<article class="product"><span class="tile big" style="--c:{p.colour}">{escape(p.name[0])}</span>'
        f'<div><p class="muted"><a href="{escape(base)}/">Shop</a> / {p.category}</p>'
        f"<h1>{escape(p.name)}</h1><p>{escape(p.blurb)}</p>"
        f'<p class="price big">{_money(p.price)}</p>'
        f'<form id="add-to-cart" class="buy"><label>Quantity <select name="qty">{options}</select></label>'
        '<button type="submit">Add to cart</button></form></div></article>'
    )
    return _page(request, "product", p.name, main, {"product": asdict(p)})


def _cart(request: Request) -> tuple[Product, int] | None:
    p = PRODUCTS.get(request.query_params.get("product", ""))
    qty = request.query_params.get("qty", "1")
    if p is None:
        return None
    return p, min(max(int(qty), 1), MAX_QUANTITY) if qty.isascii() and qty.isdigit() and len(qty) < 10 else 1


async def checkout(request: Request) -> HTMLResponse:
    base, _ = _bases(request)
    cart = _cart(request)
    if cart is None:
        main = (
            '<section class="panel"><h1>Checkout</h1><p>Your cart is empty.</p>'
            f'<p><a class="button" href="{escape(base)}/">Browse products</a></p></section>'
        )
        return _page(request, "checkout", "Checkout", main, {"cart": None})
    p, qty = cart
    total = p.price * qty
    main = (
        '<section class="panel checkout"><h1>Checkout</h1>'
        f'<p class="summary"><span class="tile small" style="--c:{p.colour}">{escape(p.name[0])}</span>'
        f"{qty} &times; {escape(p.name)} <strong>{_money(total)}</strong></p>"
        '<form id="checkout-form" autocomplete="off">'
        '<label>Email <input name="email" type="email" required placeholder="jane@example.com"></label>'
        '<div class="row"><label>First name <input name="first_name" required></label>'
        '<label>Last name <input name="last_name"></label></div>'
        '<div class="row"><label>Phone <input name="phone" type="tel" placeholder="+1 650 555 1212"></label>'
        '<label>Country <select name="country"><option>US</option><option>DE</option><option>FR</option>'
        "<option>GB</option></select></label></div>"
        f'<button type="submit">Place order · {_money(total)}</button>'
        '<p class="muted">Your details stay in the page: the snippet sends them once, in the body of the '
        "Purchase event, and the relay hashes them at the door.</p></form></section>"
    )
    data = {"cart": {"product": asdict(p), "qty": qty, "total": total}}
    return _page(request, "checkout", "Checkout", main, data)


async def thanks(request: Request) -> HTMLResponse:
    base, _ = _bases(request)
    order = request.query_params.get("order", "")
    main = (
        '<section class="panel"><h1>Thank you!</h1>'
        + (
            f"<p>Order <code id='order-id'>{escape(order)}</code> is confirmed (not really).</p>"
            if order
            else ""
        )
        + "<p>Its Purchase event used the order id as <code>event_id</code>: the same id a site gives "
        "<code>fbq</code>, <code>twq</code> and <code>ttq</code> so each platform counts the order once.</p>"
        f'<p><a class="button" href="{escape(base)}/">Keep shopping</a></p></section>'
    )
    return _page(request, "thanks", "Thank you", main, {"order": order})


#: how many event ids one status request may ask about
MAX_STATUS_IDS = 30


async def status(request: Request) -> JSONResponse:
    """What became of the panel's events: per connector delivered, pending, skipped (with the consent
    reason) or dead; ``stored: false`` when the relay never accepted the event, with ``origin_allowed``
    telling whether this page's origin may post to ``/v1/collect`` at all. Sandbox only: no contact
    detail, only statuses."""
    from relay.storage.engagement import page_engagement
    from relay.storage.queries import DeliveryFilter, list_deliveries

    relay = request.app.state.relay
    ids = [i for i in request.query_params.get("ids", "").split(",") if i][:MAX_STATUS_IDS]
    origin = f"{request.url.scheme}://{request.url.netloc}"
    events: dict[str, Any] = {}
    for event_id in ids:
        rows = await relay.db.run(
            list_deliveries, relay.db.engine, DeliveryFilter(event_id=event_id, limit=50)
        )
        events[event_id] = {
            "stored": bool(rows),
            "deliveries": [
                {"connector": d["connector"], "status": d["status"], "reason": _reason(d)} for d in rows
            ],
        }
        if rows and event_id.endswith(":engagement"):  # time on page: its numbers for the panel
            events[event_id]["engagement"] = await relay.db.run(page_engagement, relay.db.engine, event_id)
    allowed = origin in relay.settings.server.allowed_origins
    return JSONResponse({"origin": origin, "origin_allowed": allowed, "events": events})


def _reason(delivery: dict[str, Any]) -> str:
    """Why a delivery is skipped: the consent reason, or the connector's own (``send_engagement``)."""
    own = delivery["status"] == "skipped" and delivery["consent"]["decision"] != "deny"
    return str((delivery.get("last_error") if own else None) or delivery["consent"]["reason"] or "")


def _not_found(request: Request) -> HTMLResponse:
    base, _ = _bases(request)
    main = (
        '<section class="panel"><h1>Not found</h1>'
        f'<p><a href="{escape(base)}/">Back to the shop</a></p></section>'
    )
    return _page(request, "not-found", "Not found", main, {}, status=404)
