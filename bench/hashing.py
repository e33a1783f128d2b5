"""Micro benchmark: rows per second of :func:`relay.normalize.member_from_row` on synthetic audience rows.

Run: ``python bench/hashing.py [ROWS]`` (default 200,000). It only prints; the audience sync budget is
1,000,000 rows in 45 s on 2 cores, i.e. at least ~22,000 rows/s for the whole pipeline.
"""

from __future__ import annotations

import random
import sys
import time

from relay.normalize import member_from_row

_FIRST = ["Jane", "John", "Mary", "José", "Valéry", "정", "Anne-Marie", "O'Neil", "Zoë", "Mohammed"]
_LAST = ["Doe", "Smith", "García", "Müller", "Nguyen", "O'Brien", "Dupont", "Kim", "Rossi", "Kowalski"]
_CITIES = ["Menlo Park", "New York", "Paris", "London", "São Paulo", "München", "Seoul", "Austin"]
_STATES = ["CA", "California", "NY", "tx", "Bavaria", "Île-de-France"]
_COUNTRIES = ["US", "us", "United States", "GB", "DE", "France", None]
_DATES = ["1990-02-16", "2/16/1997", "16.02.1985", "19700101", "March 3, 1962"]


def synthetic_rows(count: int, seed: int = 7) -> list[dict[str, str | None]]:
    """``count`` rows shaped like a CRM export, with the usual mix of formats."""
    rng = random.Random(seed)
    rows: list[dict[str, str | None]] = []
    for i in range(count):
        rows.append(
            {
                "email": f"  Customer.{i}@Example.com ",
                "phone": f"+1 (650) 555-{i % 10000:04d}" if i % 3 else f"0770 090 {i % 10000:04d}",
                "first_name": rng.choice(_FIRST),
                "last_name": rng.choice(_LAST),
                "gender": rng.choice(["f", "M", "Female", "male", ""]),
                "date_of_birth": rng.choice(_DATES),
                "city": rng.choice(_CITIES),
                "state": rng.choice(_STATES),
                "zip": rng.choice(["94025", "94025-1234", "M1 1AE", "75018"]),
                "country": rng.choice(_COUNTRIES),
                "external_id": f"cust-{i}",
                "madid": None,
            }
        )
    return rows


#: member_from_row on the quiet machine, 2026-12-03, before the phone fast path and the memoised fields
#: (phonenumbers and pycountry had made it 4.8x slower than the 57,741 rows/s of 2026-11-29)
BEFORE_ROWS_PER_S = 12_119
TARGET_RATIO = 3.0


def main() -> None:
    """Time :func:`member_from_row` over the synthetic rows and print the rate against the 2026-12-03 one.

    The rate is per CPU second of this process (``time.process_time``): on a shared machine the wall
    clock also counts the time other processes held the core; both are printed."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    rows = synthetic_rows(count)
    wall, cpu = time.perf_counter(), time.process_time()
    kept = sum(1 for row in rows if member_from_row(row, default_country="GB")[0] is not None)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rate = count / cpu
    print(
        f"member_from_row: {count} rows in {cpu:.2f} CPU s ({wall:.2f} s wall) = {rate:,.0f} rows/s "
        f"({kept} kept); {rate / BEFORE_ROWS_PER_S:.1f}x the {BEFORE_ROWS_PER_S:,} rows/s of 2026-12-03 "
        f"(target {TARGET_RATIO:.0f}x)"
    )
    print(f"projected for 1,000,000 rows on one core: {1_000_000 * cpu / count:.1f} s")


if __name__ == "__main__":
    main()
