"""Consent strings with hostile vendor ranges: bounded CPU, and the same decisions as a naive reading.

A TC string within the relay's limits (8192 characters) can hold ~1,480 range entries each
covering vendors 1-65535. Expanding them into id sets took seconds per string on the event loop;
ranges are now merged into intervals, looked up by binary search and counted arithmetically.
Each cost test decodes and decides 20 *different* strings (the Created field varies, so no
cache helps) and fails as soon as the CPU budget is spent.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence

import pytest

from relay.consent import ConsentSignals, decide, decode_tc_string, parse_signals, storage_allowed
from relay.consent.tcfca import _canonical, decode_tcf_ca
from relay.consent.vendors import VendorVector
from relay.limits import MAX_GPP, MAX_TCF
from relay.settings import ConnectorConsentSettings, ConsentDefaults
from tests.consent_encoders import bitfield, gpp_string, letters, range_entries, to_base64url, uint

pytestmark = pytest.mark.unit

Ranges = Sequence[tuple[int, int]]
#: (purpose, restriction type, ranges), in string order
Restrictions = Sequence[tuple[int, int, Ranges]]

STRINGS = 20
#: CPU seconds for decoding and deciding all STRINGS strings of one shape; the old code spent ~3 s on one
BUDGET = 0.5
DEFAULTS = ConsentDefaults()
POLICIES = (
    ConnectorConsentSettings(tcf_purposes=(1, 3, 4, 7)),
    ConnectorConsentSettings(tcf_purposes=(1, 7), tcf_vendor_id=755),
    ConnectorConsentSettings(tcf_purposes=tuple(range(1, 12)), tcf_vendor_id=804),
    ConnectorConsentSettings(tcf_purposes=(1, 2, 7, 9, 10), tcf_vendor_id=65535),
)
_NO_VENDORS = uint(0, 16) + "0"  # MaxVendorId 0, bitfield


# -- a TC string writer that keeps range lists exactly as given (unsorted, overlapping, repeated) --


def _core_header(serial: int, purposes: Sequence[int] = range(1, 12)) -> str:
    created = 17_000_000_000 + serial
    out = uint(2, 6) + uint(created, 36) + uint(created, 36) + uint(31, 12) + uint(2, 12) + uint(1, 6)
    out += letters("EN") + uint(141, 12) + uint(5, 6) + "1" + "0" + bitfield((), 12)
    return out + bitfield(purposes, 24) + bitfield((), 24) + "0" + letters("DE")


def _range_vector(ranges: Ranges, max_id: int = 65535) -> str:
    return uint(max_id, 16) + "1" + range_entries(ranges)


def _restrictions(items: Restrictions) -> str:
    out = uint(len(items), 12)
    for purpose, kind, ranges in items:
        out += uint(purpose, 6) + uint(kind, 2) + range_entries(ranges)
    return out


def _tc(
    serial: int = 0,
    *,
    consents: str = _NO_VENDORS,
    li: str = _NO_VENDORS,
    restrictions: Restrictions = (),
    disclosed: str | None = None,
    purposes: Sequence[int] = range(1, 12),
) -> str:
    text = to_base64url(_core_header(serial, purposes) + consents + li + _restrictions(restrictions))
    return text if disclosed is None else text + "." + to_base64url(uint(1, 3) + disclosed)


def _tcf_ca(serial: int, express: str) -> str:
    created = 17_000_000_000 + serial
    core = uint(1, 6) + uint(created, 36) + uint(created, 36) + uint(31, 12) + uint(2, 12) + uint(1, 6)
    core += letters("EN") + uint(141, 12) + uint(2, 6) + "0" + bitfield((), 12)
    core += bitfield(range(1, 12), 24) + bitfield((), 24)
    return to_base64url(core + express + _NO_VENDORS + uint(0, 12))


# -- hostile shapes, each filled up to the relay's limit ------------------------------------------

Build = Callable[[int, int], str]  # (entries, serial) -> consent string
_FULL = [(1, 65535)]


def _vendor_consents(n: int, serial: int) -> str:
    return _tc(serial, consents=_range_vector(_FULL * n))


def _vendor_li(n: int, serial: int) -> str:
    return _tc(serial, consents=_range_vector([(755, 755)]), li=_range_vector(_FULL * n))


def _disclosed(n: int, serial: int) -> str:
    return _tc(serial, consents=_range_vector([(755, 755)]), disclosed=_range_vector(_FULL * n))


def _many_restrictions(n: int, serial: int) -> str:
    # type 1 ("require consent") on every purpose for every vendor: no effect on consent-based vendors
    items = [(i % 11 + 1, 1, _FULL) for i in range(n)]
    return _tc(serial, consents=_range_vector(_FULL), restrictions=items)


def _scattered_restriction(n: int, serial: int) -> str:
    # every entry a true range (33 bits), so that the length does not depend on the serial
    rnd = random.Random(serial)
    starts = [rnd.randint(1, 65534) for _ in range(n)]
    ranges = [(start, rnd.randint(start + 1, 65535)) for start in starts]
    return _tc(serial, consents=_range_vector(_FULL), restrictions=[(1, 1, ranges)])


def _gpp_tcfeuv2(n: int, serial: int) -> str:
    return gpp_string([(2, _vendor_consents(n, serial))])


def _gpp_tcfcav1(n: int, serial: int) -> str:
    return gpp_string([(5, _tcf_ca(serial, _range_vector(_FULL * n)))])


def _largest(build: Build, limit: int) -> int:
    """The most entries (at most 4095, the 12-bit count) whose string fits in ``limit`` characters."""
    low, high = 1, 4095
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if len(build(mid, 0)) <= limit else (low, mid - 1)
    return low


SHAPES: dict[str, tuple[Build, str]] = {
    "vendor consent ranges": (_vendor_consents, "tcf"),
    "vendor li ranges": (_vendor_li, "tcf"),
    "disclosed vendor ranges": (_disclosed, "tcf"),
    "many publisher restrictions": (_many_restrictions, "tcf"),
    "scattered restriction ranges": (_scattered_restriction, "tcf"),
    "gpp tcfeuv2 ranges": (_gpp_tcfeuv2, "gpp"),
    "gpp tcfcav1 ranges": (_gpp_tcfcav1, "gpp"),
}


def _signals(field: str, text: str) -> ConsentSignals:
    if field == "tcf":
        return ConsentSignals(tcf=text, gdpr_applies=True)
    return ConsentSignals(gpp=text, gdpr_applies=True)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_hostile_ranges_cost_milliseconds(shape: str) -> None:
    build, field = SHAPES[shape]
    n = _largest(build, MAX_TCF if field == "tcf" else MAX_GPP)
    texts = [build(n, serial) for serial in range(STRINGS)]
    assert len(set(texts)) == STRINGS and all(len(t) > 7000 for t in texts)
    start = time.process_time()
    for text in texts:
        parsed = parse_signals(_signals(field, text))
        verdicts = [
            decide(parsed, region="eu", region_code=None, policy=policy, defaults=DEFAULTS)
            for policy in POLICIES
        ]
        audit = parsed.audit()
        storage = storage_allowed(parsed, region="eu", defaults=DEFAULTS)
        spent = time.process_time() - start
        assert spent < BUDGET, f"{shape}: {spent:.2f}s CPU before all {STRINGS} strings were decided"
    # the decisions are those of the strings (all purposes consented, vendors as built)
    if shape == "gpp tcfcav1 ranges":  # not a TC string: decoded for audits only, grants nothing
        assert parsed.gpp is not None and parsed.gpp.complete and not storage
        assert [v.decision for v in verdicts] == ["deny"] * len(POLICIES)
        return
    assert storage and len(parsed.tc_strings) == 1 and parsed.tc_strings[0][1].usable
    every_vendor = shape not in ("vendor li ranges", "disclosed vendor ranges")  # else only vendor 755
    expected = ["allow", "allow"] + ["allow" if every_vendor else "deny"] * 2  # vendors 804 and 65535
    assert [v.decision for v in verdicts] == expected, [v.reason for v in verdicts]
    assert audit["tcf"][0]["vendor_consents_count"] == (65535 if every_vendor else 1)


def test_bomb_string_decides_like_its_ranges() -> None:
    # the audit's bomb: every entry covers 1-65000 of MaxVendorId 65535 (and a few disclosed ones)
    disclosed = _range_vector([(1, 65000)] * 10)
    n = _largest(lambda k, s: _tc(s, consents=_range_vector([(1, 65000)] * k), disclosed=disclosed), MAX_TCF)
    text = _tc(7, consents=_range_vector([(1, 65000)] * n), disclosed=disclosed)
    assert n > 1400 and len(text) <= MAX_TCF
    start = time.process_time()
    tc = decode_tc_string(text)
    assert tc.valid and tc.usable, tc.error
    assert [tc.has_vendor_consent(v) for v in (1, 755, 65000, 65001, 65535, 0, 70000)] == [
        *(True, True, True),
        *(False, False, False, False),
    ]
    assert tc.disclosed_vendor_vector is not None
    assert (755 in tc.disclosed_vendor_vector, 65001 in tc.disclosed_vendor_vector) == (True, False)
    assert len(tc.vendor_consent_vector) == 65000 and tc.max_vendor_id == 65535
    parsed = parse_signals(ConsentSignals(tcf=text, gdpr_applies=True))
    assert parsed.audit()["tcf"][0]["vendor_consents_count"] == 65000
    inside = ConnectorConsentSettings(tcf_purposes=(1, 7), tcf_vendor_id=755)
    outside = ConnectorConsentSettings(tcf_purposes=(1, 7), tcf_vendor_id=65001)
    allowed = decide(parsed, region="eu", region_code=None, policy=inside, defaults=DEFAULTS)
    denied = decide(parsed, region="eu", region_code=None, policy=outside, defaults=DEFAULTS)
    assert (allowed.decision, allowed.reason) == ("allow", "tcf purposes 1,7 and vendor 755 consented")
    assert (denied.decision, denied.reason) == ("deny", "tcf vendor 65001 not consented")
    assert time.process_time() - start < BUDGET
    # the report forms still list every id (expanded from the merged intervals, once)
    assert tc.to_dict()["vendor_consents"] == list(range(1, 65001))
    assert tc.to_dict()["disclosed_vendors_count"] == 65000


# -- the same answers as a naive reading of the ranges --------------------------------------------


def _random_range(rnd: random.Random, top: int) -> tuple[int, int]:
    kind = rnd.random()
    if kind < 0.3:
        start = rnd.randint(1, top)
        return start, start
    if kind < 0.4:
        return 1, top
    start, end = sorted((rnd.randint(1, top), rnd.randint(1, top)))
    if kind < 0.7:  # short, so that neighbours touch and overlap
        end = min(top, start + rnd.randint(0, 5))
    return start, end


def _random_ranges(rnd: random.Random, top: int, most: int) -> list[tuple[int, int]]:
    ranges = [_random_range(rnd, top) for _ in range(rnd.randint(0, most))]
    ranges += rnd.sample(ranges, min(len(ranges), rnd.randint(0, 3)))  # repeated entries
    rnd.shuffle(ranges)
    return ranges


def _naive_in(ranges: Ranges, vendor: int) -> bool:
    return any(start <= vendor <= end for start, end in ranges)


def _naive_restriction(items: Restrictions, purpose: int, vendor: int) -> int | None:
    """The most restrictive type covering (purpose, vendor): 0, then 2, then 1, then 3 (first listed)."""
    found = [kind for p, kind, ranges in items if p == purpose and _naive_in(ranges, vendor)]
    return min(found, key=lambda kind: {0: 0, 2: 1, 1: 2}.get(kind, 3)) if found else None


def _naive_verdict(
    purposes: set[int], consents: Ranges, items: Restrictions, policy: ConnectorConsentSettings
) -> tuple[str, str]:
    for purpose in policy.tcf_purposes:
        if purpose not in purposes:
            return "deny", f"tcf purpose {purpose} not consented"
    vendor = policy.tcf_vendor_id
    assert vendor is not None
    if not _naive_in(consents, vendor):
        return "deny", f"tcf vendor {vendor} not consented"
    for purpose in policy.tcf_purposes:
        kind = _naive_restriction(items, purpose, vendor)
        if kind == 0:
            return "deny", f"tcf purpose {purpose} not allowed for vendor {vendor}"
        if kind == 2:
            return "deny", f"tcf purpose {purpose} restricted to legitimate interest for vendor {vendor}"
    purpose_list = ",".join(map(str, policy.tcf_purposes))
    return "allow", f"tcf purposes {purpose_list} and vendor {vendor} consented"


@pytest.mark.parametrize("seed", range(40))
def test_unsorted_overlapping_ranges_match_a_naive_reading(seed: int) -> None:
    rnd = random.Random(seed)
    top = rnd.choice([40, 400, 65535])
    consents = _random_ranges(rnd, top, 30)
    li = _random_ranges(rnd, top, 30)
    disclosed = _random_ranges(rnd, top, 30)
    items = [
        (rnd.randint(1, 4), rnd.randint(0, 3), _random_ranges(rnd, top, 6)) for _ in range(rnd.randint(0, 8))
    ]
    purposes = set(rnd.sample(range(1, 12), rnd.randint(6, 11)))
    text = _tc(
        seed,
        consents=_range_vector(consents, top),
        li=_range_vector(li, top),
        restrictions=items,
        disclosed=_range_vector(disclosed, top),
        purposes=sorted(purposes),
    )
    tc = decode_tc_string(text)
    assert tc.valid and tc.usable, tc.error
    assert tc.disclosed_vendor_vector is not None
    edges = {v for _p, _k, rs in items for r in rs for v in r} | {
        v for r in consents + li + disclosed for v in r
    }
    probes = sorted({0, 1, 2, top - 1, top, top + 1, 755, 65535} | {e + d for e in edges for d in (-1, 0, 1)})
    for vendor in probes:
        assert tc.has_vendor_consent(vendor) is _naive_in(consents, vendor), vendor
        assert (vendor in tc.vendor_li_vector) is _naive_in(li, vendor), vendor
        assert (vendor in tc.disclosed_vendor_vector) is _naive_in(disclosed, vendor), vendor
        for purpose in range(1, 6):
            assert tc.restriction(purpose, vendor) == _naive_restriction(items, purpose, vendor), (
                purpose,
                vendor,
            )
    facts = tc.to_dict()
    for name, vector, ranges in (
        ("vendor_consents", tc.vendor_consent_vector, consents),
        ("vendor_li", tc.vendor_li_vector, li),
        ("disclosed_vendors", tc.disclosed_vendor_vector, disclosed),
    ):
        expanded = {v for start, end in ranges for v in range(start, end + 1)}
        assert len(vector) == len(expanded) == facts[f"{name}_count"]
        assert vector.ids == expanded and facts[name] == sorted(expanded)
    for r, (_purpose, _kind, ranges) in zip(tc.publisher_restrictions, items, strict=True):
        assert r.to_dict()["vendors"] == sorted({v for start, end in ranges for v in range(start, end + 1)})
    parsed = parse_signals(ConsentSignals(tcf=text, gdpr_applies=True))
    assert parsed.audit()["tcf"][0]["vendor_consents_count"] == len(tc.vendor_consents)
    vendors = [rnd.choice(probes) for _ in range(6)] + [r[0] for r in consents[:4]]
    for vendor in vendors:
        if not 1 <= vendor <= 65535:
            continue
        chosen = tuple(sorted(rnd.sample(range(1, 12), rnd.randint(1, 4))))
        policy = ConnectorConsentSettings(tcf_purposes=chosen, tcf_vendor_id=vendor)
        verdict = decide(parsed, region="eu", region_code=None, policy=policy, defaults=DEFAULTS)
        assert (verdict.decision, verdict.reason) == _naive_verdict(purposes, consents, items, policy)


def test_the_most_restrictive_restriction_wins_on_overlaps() -> None:
    items: list[tuple[int, int, Ranges]] = [
        (7, 1, [(100, 200), (50, 60)]),
        (7, 0, [(1, 65535)]),
        (7, 2, [(150, 300)]),
        (1, 0, [(755, 755), (755, 755)]),
    ]
    tc = decode_tc_string(_tc(consents=_range_vector(_FULL), restrictions=items))
    assert tc.valid, tc.error
    got = {v: tc.restriction(7, v) for v in (1, 49, 50, 60, 61, 99, 100, 200, 201, 300, 301, 65535)}
    assert got == {v: _naive_restriction(items, 7, v) for v in got}
    assert got == dict.fromkeys(got, 0)  # type 0 covers every vendor: it wins wherever others overlap
    assert (tc.restriction(1, 755), tc.restriction(1, 754), tc.restriction(2, 755)) == (0, None, None)


@pytest.mark.parametrize(
    ("where", "ranges"),
    [("consents", [(10, 5)]), ("consents", [(0, 5)]), ("restriction", [(300, 299)]), ("disclosed", [(9, 1)])],
)
def test_a_range_ending_below_its_start_is_refused_as_before(where: str, ranges: Ranges) -> None:
    # the string is invalid (never read "best effort"): refused in the EU, ignored in the US
    consents = _range_vector(ranges if where == "consents" else [(755, 755)])
    text = _tc(
        consents=consents,
        restrictions=[(1, 1, ranges)] if where == "restriction" else (),
        disclosed=_range_vector(ranges) if where == "disclosed" else None,
    )
    tc = decode_tc_string(text)
    assert not tc.valid and tc.error is not None and tc.error.startswith("invalid vendor range")
    parsed = parse_signals(ConsentSignals(tcf=text, gdpr_applies=True))
    policy = ConnectorConsentSettings(tcf_purposes=(1, 7), tcf_vendor_id=755)
    eu = decide(parsed, region="eu", region_code=None, policy=policy, defaults=DEFAULTS)
    us = decide(parsed, region="us", region_code=None, policy=policy, defaults=DEFAULTS)
    assert (eu.decision, eu.reason) == ("deny", f"invalid tc string ({tc.error}), region eu")
    assert (us.decision, us.reason) == ("allow", "no consent signal, region us default allow")


# -- tcfcav1: the encoder's canonical form judged on intervals, as on the expanded ids before ------


def _naive_canonical(vector: VendorVector, fibonacci: bool) -> bool:
    # the check as written before, on every id
    if vector.encoding == "range":
        ranges = list(vector.ranges)
    else:
        ranges = [(i + 1, i + 1) for i, bit in enumerate(vector.bitfield) if bit == "1"]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    if vector.max_id != (merged[-1][1] if merged else 0):
        return False
    if fibonacci:
        total, last = 12, 0
        for start, end in merged:
            gaps = [start - last] + ([end - start] if end > start else [])
            total += 1 + sum(_fib_code_len(g) for g in gaps)
            last = end
    else:
        total = 12 + sum(17 if start == end else 33 for start, end in merged)
    use_range = total <= vector.max_id
    return use_range and ranges == merged if vector.encoding == "range" else not use_range


def _fib_code_len(value: int) -> int:
    weights = [1, 2]
    while weights[-1] <= value:
        weights.append(weights[-1] + weights[-2])
    return sum(1 for w in weights if w <= value) + 1


@pytest.mark.parametrize("seed", range(60))
def test_tcfcav1_canonical_form_as_before(seed: int) -> None:
    rnd = random.Random(seed)
    size = rnd.choice([0, 5, 40, 300, 3000])
    density = rnd.choice([0.02, 0.2, 0.5, 0.9])
    bits = "".join("1" if rnd.random() < density else "0" for _ in range(size))
    top = bits.rfind("1") + 1
    ranges = _random_ranges(rnd, max(top, 1), 20) if rnd.random() < 0.5 else []
    if rnd.random() < 0.5 and ranges:  # sometimes in the encoder's own merged, sorted form
        ranges = sorted(set(ranges))
    vectors = [
        VendorVector(len(bits), "bitfield", bitfield=bits),
        VendorVector(top if rnd.random() < 0.7 else top + 1, "bitfield", bitfield=bits),
        VendorVector(max((e for _s, e in ranges), default=0), "range", ranges=tuple(ranges)),
    ]
    for vector in vectors:
        for fibonacci in (True, False):
            assert _canonical(vector, fibonacci) is _naive_canonical(vector, fibonacci)


def test_tcfcav1_range_bomb_membership() -> None:
    section = decode_tcf_ca(_tcf_ca(3, _range_vector([(1, 60000)] * 1000)))
    assert section.valid, section.error
    vector = section.vendor_express_consent_vector
    assert (1 in vector, 60000 in vector, 60001 in vector, len(vector)) == (True, True, False, 60000)


def test_types_rank_0_then_2_then_1_where_restrictions_overlap() -> None:
    items: list[tuple[int, int, Ranges]] = [(7, 1, [(100, 200)]), (7, 2, [(150, 300)]), (7, 0, [(250, 260)])]
    tc = decode_tc_string(_tc(consents=_range_vector(_FULL), restrictions=items))
    got = {v: tc.restriction(7, v) for v in (99, 100, 149, 150, 200, 249, 250, 260, 261, 300, 301)}
    assert got == {
        99: None,
        100: 1,
        149: 1,
        150: 2,
        200: 2,
        249: 2,
        250: 0,
        260: 0,
        261: 2,
        300: 2,
        301: None,
    }
    assert got == {v: _naive_restriction(items, 7, v) for v in got}
