"""What a destination needs: the items to create, update and delete, from the products a source
holds now and the fingerprints of what the platform acknowledged (took or refused) last time."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from relay.catalog.api import ItemRequest
from relay.catalog.product import Product


@dataclass
class CatalogDiff:
    requests: list[ItemRequest] = field(default_factory=list)
    unchanged: int = 0

    def count(self, method: str) -> int:
        return sum(1 for r in self.requests if r.method == method)


def diff(
    products: Mapping[str, Product],
    known: Mapping[str, str],
    keep: Collection[str] = (),
    *,
    full: bool = False,
) -> CatalogDiff:
    """Deletes first (items gone from the source, except ``keep``: ids whose rows were invalid this
    time), then creates and updates. ``known`` holds the fingerprint of what each item was last sent
    as, taken or refused: a refused product is sent again only once it changed (its fingerprint with
    it); ``full`` sends every product."""
    out = CatalogDiff()
    for item_id in sorted(set(known) - set(products) - set(keep)):
        out.requests.append(ItemRequest("DELETE", item_id))
    for item_id, product in products.items():
        before = known.get(item_id)
        if before is None:
            out.requests.append(ItemRequest("CREATE", item_id, product))
        elif full or before != product.fingerprint:
            out.requests.append(ItemRequest("UPDATE", item_id, product))
        else:
            out.unchanged += 1
    return out


__all__ = ["CatalogDiff", "diff"]
