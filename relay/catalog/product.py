"""One product of a catalog: read from a source row, validated, fingerprinted.

A row that is not a usable product is refused with a reason naming the column, so that the sync can
report "row 12: price: '12,99 €' is not an amount" instead of leaving the platform to guess.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from typing import Any

#: what Meta's feed spec accepts for availability and condition; underscores and case are forgiven
AVAILABILITY = ("in stock", "out of stock", "preorder", "available for order", "discontinued")
CONDITION = ("new", "refurbished", "used")
REQUIRED = ("id", "title", "description", "price", "availability", "link", "image_link")
OPTIONAL = ("brand", "condition", "sale_price", "currency")
COLUMNS = frozenset(REQUIRED + OPTIONAL)
MAX_ID, MAX_TITLE, MAX_DESCRIPTION = 100, 200, 9999
_CURRENCY = re.compile(r"[A-Za-z]{3}")
_AMOUNT_CURRENCY = re.compile(r"\s*([0-9][0-9.]*)\s*([A-Za-z]{3})?\s*")


class ProductError(ValueError):
    """A row that is not a usable product; the message names the column and never the whole row."""


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.amount:.2f} {self.currency}"


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    title: str
    description: str
    price: Money
    availability: str
    link: str
    image_link: str
    brand: str | None = None
    condition: str = "new"
    sale_price: Money | None = None
    #: a digest of everything the platform receives (an unchanged product is not sent again), made
    #: once when the product is built: every destination's diff and every record of it read it
    fingerprint: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "fingerprint"}
        data["price"], data["sale_price"] = str(self.price), self.sale_price and str(self.sale_price)
        digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
        object.__setattr__(self, "fingerprint", digest)  # frozen: set once, here


def _text(row: Mapping[str, Any], column: str, limit: int | None = None) -> str:
    value = row.get(column)
    text = "" if value is None else str(value).strip()
    if not text:
        raise ProductError(f"{column}: required value is missing")
    if limit is not None and len(text) > limit:
        raise ProductError(f"{column}: longer than {limit} characters ({len(text)})")
    return text


def _url(row: Mapping[str, Any], column: str) -> str:
    text = _text(row, column, 2000)
    if not re.match(r"https?://[^\s/]+", text):
        raise ProductError(f"{column}: {text[:60]!r} is not an http(s) URL")
    return text


def _money(value: Any, column: str, default_currency: str | None) -> Money:
    text = "" if value is None else str(value)
    match = _AMOUNT_CURRENCY.fullmatch(text)
    try:  # quantized here: an amount too large to keep its cents fails its row, not the catalog
        amount = Decimal(match.group(1)).quantize(Decimal("0.01")) if match else None
    except InvalidOperation:
        amount = None
    if match is None or amount is None or not amount.is_finite():
        raise ProductError(f"{column}: {text[:40]!r} is not an amount such as '19.99 USD'")
    currency = match.group(2) or default_currency
    if not currency:
        raise ProductError(f"{column}: no currency (write '19.99 USD', or add a currency column)")
    return Money(amount, currency.upper())


def _choice(row: Mapping[str, Any], column: str, allowed: tuple[str, ...], default: str | None) -> str:
    raw = row.get(column)
    if raw is None or not str(raw).strip():
        if default is None:
            raise ProductError(f"{column}: required value is missing")
        return default
    text = " ".join(str(raw).strip().lower().replace("_", " ").split())
    if text not in allowed:
        raise ProductError(f"{column}: {str(raw)[:40]!r} is not one of {', '.join(allowed)}")
    return text


def parse_product(row: Mapping[str, Any]) -> Product:
    """The product a row describes; :class:`ProductError` when it is not usable."""
    currency = str(row.get("currency") or "").strip() or None
    if currency is not None and not _CURRENCY.fullmatch(currency):
        raise ProductError(f"currency: {currency[:10]!r} is not an ISO 4217 code such as USD")
    product_id = _text(row, "id", MAX_ID)
    price = _money(row.get("price"), "price", currency)
    sale = row.get("sale_price")
    sale_price = _money(sale, "sale_price", price.currency) if sale not in (None, "") else None
    brand = str(row.get("brand") or "").strip() or None
    return Product(
        id=product_id,
        title=_text(row, "title", MAX_TITLE),
        description=_text(row, "description", MAX_DESCRIPTION),
        price=price,
        availability=_choice(row, "availability", AVAILABILITY, None),
        link=_url(row, "link"),
        image_link=_url(row, "image_link"),
        brand=brand[:100] if brand else None,
        condition=_choice(row, "condition", CONDITION, "new"),
        sale_price=sale_price,
    )


__all__ = ["AVAILABILITY", "COLUMNS", "CONDITION", "Money", "Product", "ProductError", "parse_product"]
