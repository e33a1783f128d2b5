"""Orders against the conversions the relay received and delivered: what did not match, and why.

For each order: **not tracked** (no conversion carries its id), **duplicate** (the source lists the
id twice, or several conversions carry it), **value / currency mismatch** (the first conversion's
``custom.value`` differs by more than the tolerance, or its currency differs), and per connector
**not delivered** with the reason: ``consent`` (refused by the visitor's consent), ``skipped`` (not
sent by policy, e.g. the connector maps no such event), ``dead`` (gave up) or ``pending`` (still being
delivered). Consent, skipped and pending are reported but are not *differences*: they are the policy
working or the queue still draining; the rest are, and make ``relay reconcile`` exit 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from relay.reconcile.orders import Order
from relay.storage.reconcile import Conversion, Delivery

#: finding kinds that are differences (exit code 1)
DIFFERENCES = frozenset(
    {
        "not_tracked",
        "duplicate_order",
        "duplicate_conversion",
        "value_mismatch",
        "currency_mismatch",
        "dead",
        "invalid",
    }
)
REASONS = ("consent", "skipped", "dead", "pending")


@dataclass(frozen=True)
class Finding:
    """One thing about one order: ``kind`` and a short ``detail`` (never a contact detail)."""

    order_id: str
    kind: str
    detail: str = ""
    connector: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}


@dataclass
class Report:
    orders: int = 0
    matched: int = 0
    findings: list[Finding] = field(default_factory=list)
    delivered: Counter[str] = field(default_factory=Counter)
    not_delivered: dict[str, Counter[str]] = field(default_factory=dict)
    missing: list[Order] = field(default_factory=list)

    @property
    def differences(self) -> int:
        return sum(1 for f in self.findings if f.kind in DIFFERENCES)

    @property
    def status(self) -> str:
        return "differences" if self.differences else "matched"

    def summary(self) -> dict[str, Any]:
        kinds = Counter(f.kind for f in self.findings if f.connector is None)
        return {
            "orders": self.orders,
            "matched": self.matched,
            "differences": self.differences,
            "not_tracked": kinds["not_tracked"],
            "duplicates": kinds["duplicate_order"] + kinds["duplicate_conversion"],
            "value_mismatch": kinds["value_mismatch"],
            "currency_mismatch": kinds["currency_mismatch"],
            "invalid": kinds["invalid"],
            "delivered": dict(sorted(self.delivered.items())),
            "not_delivered": {c: dict(r) for c, r in sorted(self.not_delivered.items())},
        }


def reason_of(d: Delivery) -> str | None:
    """Why a delivery is not delivered (None when it is)."""
    if d.status == "delivered":
        return None
    if d.status == "skipped":
        return "consent" if d.decision == "deny" else "skipped"
    return "dead" if d.status == "dead" else "pending"


def compare(
    orders: Sequence[Order],
    found: Mapping[str, list[Conversion]],
    tolerance: float,
    invalid: Sequence[tuple[int, str]] = (),
) -> Report:
    report = Report(orders=len(orders))
    report.findings += [Finding(f"line {line}", "invalid", reason) for line, reason in invalid]
    seen: Counter[str] = Counter(o.order_id for o in orders)
    done: set[str] = set()
    for order in orders:
        if order.order_id in done:
            continue
        done.add(order.order_id)
        before = len(report.findings)
        if seen[order.order_id] > 1:
            report.findings.append(
                Finding(order.order_id, "duplicate_order", f"listed {seen[order.order_id]} times")
            )
        _check(report, order, found.get(order.order_id, []), tolerance)
        if not any(f.kind in DIFFERENCES for f in report.findings[before:]):
            report.matched += 1
    return report


def _check(report: Report, order: Order, conversions: list[Conversion], tolerance: float) -> None:
    oid = order.order_id
    if not conversions:
        report.findings.append(Finding(oid, "not_tracked", "no conversion carries this order id"))
        report.missing.append(order)
        return
    if len(conversions) > 1:
        ids = ", ".join(c.event_id for c in conversions[:5])
        report.findings.append(Finding(oid, "duplicate_conversion", f"{len(conversions)} conversions: {ids}"))
    first = conversions[0]
    # an event every connector refused by consent is stored without its details: nothing to compare
    refused = bool(first.deliveries) and all(d.decision == "deny" for d in first.deliveries)
    if (
        order.value is not None
        and not refused
        and (first.value is None or abs(first.value - order.value) > tolerance)
    ):
        report.findings.append(
            Finding(oid, "value_mismatch", f"order {order.value:g}, tracked {_num(first.value)}")
        )
    if order.currency and first.currency and order.currency != first.currency.upper():
        report.findings.append(
            Finding(oid, "currency_mismatch", f"order {order.currency}, tracked {first.currency}")
        )
    for d in first.deliveries:
        reason = reason_of(d)
        if reason is None:
            report.delivered[d.connector] += 1
            continue
        report.not_delivered.setdefault(d.connector, Counter())[reason] += 1
        kind = "dead" if reason == "dead" else f"not_delivered_{reason}"
        report.findings.append(Finding(oid, kind, (d.last_error or d.status)[:300], d.connector))


def _num(value: float | None) -> str:
    return "no value" if value is None else f"{value:g}"


__all__ = ["DIFFERENCES", "REASONS", "Finding", "Report", "compare", "reason_of"]
