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


def main() -> None:
    """Time :func:`member_from_row` over the synthetic rows and print the rate."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    rows = synthetic_rows(count)
    start = time.perf_counter()
    kept = sum(1 for row in rows if member_from_row(row, default_country="GB")[0] is not None)
    elapsed = time.perf_counter() - start
    print(f"member_from_row: {count} rows in {elapsed:.2f} s = {count / elapsed:,.0f} rows/s ({kept} kept)")
    print(f"projected for 1,000,000 rows on one core: {1_000_000 * elapsed / count:.1f} s")


if __name__ == "__main__":
    main()
