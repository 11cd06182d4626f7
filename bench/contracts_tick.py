"""Benchmark (not a test): one monthly tick over a synthetic book of contracts, on PostgreSQL and SQLite.

    make bench                      # 100,000 contracts, both backends
    .venv/bin/python bench/contracts_tick.py --contracts 20000 --backends sqlite

For each backend, in a fresh child process (so peak RSS is the tick's own): create N contracts of 3
positions each (monthly, auto-finalize, 1,000 customers), bring the projections up to date, then time

- the tick: planning from the due index, loading the contracts, issuing N invoices with gapless numbers,
  recording the runs (``catch_up_after=False``);
- the projection catch-up that follows (invoices, lines, tax breakdown, runs, due index);

and, in the same run, a plain driver insert (psycopg ``executemany`` / sqlite3 ``executemany``) of N rows
of the same size into a comparable table, to show what the database alone costs. Prints invoices/s,
events/s, peak RSS and the ratio to the plain insert.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timezone


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

PG_URL = os.environ.get("BILLING_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
CREATED_AT = datetime(2025, 12, 1, tzinfo=timezone.utc)
TICK_AT = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)


def setup(store, n: int, customers: int = 1000) -> None:  # noqa: ANN001
    from domain.base import business_time
    from domain.contract import Contract, make_position
    from domain.customer import Customer
    from projections import registry
    from projections import runner

    with business_time(CREATED_AT):
        batch = []
        for c in range(customers):
            batch.append(Customer.register(f"C{c:05d}", f"Customer {c}", "Europe/Berlin", "EUR", 14, True))
            if len(batch) == 400:
                store.save(batch)
                batch = []
        store.save(batch)
        positions = [
            make_position(1, "Office space", "1", "1000.00", "standard", "EUR"),
            make_position(2, "Parking", "2", "75.50", "standard", "EUR"),
            make_position(3, "Cleaning", "4.25", "33.10", "reduced", "EUR"),
        ]
        batch = []
        for i in range(n):
            c = i % customers
            batch.append(
                Contract.create(
                    reference=f"K{i:07d}", company="BENCH", customer_id=_cid(c), customer_reference=f"C{c:05d}",
                    name=f"Contract {i}", currency="EUR", timezone="Europe/Berlin", interval="MONTHLY",
                    start_date=date(2026, 1, 1), payment_terms_days=14, auto_finalize=True, positions=positions,
                )
            )
            if len(batch) == 400:
                store.save(batch)
                batch = []
        store.save(batch)
    runner.run(store, registry.ALL)


def _cid(c: int):  # noqa: ANN202
    from domain.customer import customer_id

    return customer_id(f"C{c:05d}")


def plain_insert(store, n: int) -> float:  # noqa: ANN001
    """Rows/s of a plain driver insert of ``n`` rows like an invoice event into a comparable table."""
    payload = json.dumps({"lines": [{"position": i, "description": "Office space", "quantity": "1", "unit_price": "1000.00",
                                     "net": "1000.00", "tax_rate": "standard", "tax_percent": "19"} for i in range(3)],
                          "net": "1182.63", "tax": "214.93", "gross": "1397.56", "number": "INV-2026-000001"}).encode()
    rows = [(uuid.uuid5(uuid.NAMESPACE_URL, str(i)), 1, "billing:Invoice.Created", payload) for i in range(n)]
    if store.backend == "postgres":
        import psycopg

        p = store.config.pg_params
        schema = store.config.schema
        with psycopg.connect(**p, autocommit=False) as conn:
            conn.execute(f'CREATE TABLE "{schema}".plain_events (originator_id uuid, originator_version bigint, topic text, '
                         "state bytea, notification_id bigserial, PRIMARY KEY (originator_id, originator_version))")
            conn.commit()
            t0 = time.perf_counter()
            with conn.cursor() as cur:
                for i in range(0, n, 1000):
                    cur.executemany(f'INSERT INTO "{schema}".plain_events (originator_id, originator_version, topic, state) '
                                    "VALUES (%s, %s, %s, %s)", rows[i : i + 1000])
                    conn.commit()
            return n / (time.perf_counter() - t0)
    import sqlite3

    conn = sqlite3.connect(store.config.sqlite_path)
    conn.execute("CREATE TABLE plain_events (originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
                 "PRIMARY KEY (originator_id, originator_version))")
    t0 = time.perf_counter()
    for i in range(0, n, 1000):
        conn.executemany("INSERT INTO plain_events VALUES (?, ?, ?, ?)", [(r[0].hex, r[1], r[2], r[3]) for r in rows[i : i + 1000]])
        conn.commit()
    rate = n / (time.perf_counter() - t0)
    conn.close()
    return rate


def child(backend: str, n: int) -> dict:
    from commands.app import Store
    from commands.config import resolve
    from projections import registry
    from projections import runner
    from scheduler.tick import tick

    tmp = tempfile.mkdtemp(prefix="billing-bench-")
    if backend == "postgres":
        schema = "bench_" + uuid.uuid4().hex[:8]
        url = f"{PG_URL}?schema={schema}"
    else:
        url = f"sqlite:///{os.path.join(tmp, 'bench.db')}"
    store = Store(resolve(url))
    try:
        t0 = time.perf_counter()
        setup(store, n)
        setup_s = time.perf_counter() - t0
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        head0 = store.head()
        t0 = time.perf_counter()
        summary = tick(store, TICK_AT, catch_up_after=False, list_documents=False)
        tick_s = time.perf_counter() - t0
        events = store.head() - head0
        rss_tick = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        runner.run(store, registry.ALL)
        proj_s = time.perf_counter() - t0
        issued = summary.counts.get("contract", {}).get("issued", 0)
        plain = plain_insert(store, n)
        return {
            "backend": backend, "contracts": n, "issued": issued, "events": events, "setup_s": round(setup_s, 1),
            "tick_s": round(tick_s, 2), "projections_s": round(proj_s, 2),
            "invoices_per_s": round(issued / tick_s), "events_per_s": round(events / tick_s),
            "invoices_per_s_with_projections": round(issued / (tick_s + proj_s)),
            "peak_rss_mb_before_tick": round(rss_before), "peak_rss_mb": round(rss_tick),
            "plain_insert_rows_per_s": round(plain), "ratio_to_plain_insert": round(issued / tick_s / plain, 3),
        }
    finally:
        store.close()
        if backend == "postgres":
            import psycopg

            with psycopg.connect(**resolve(url).pg_params, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--contracts", type=int, default=100_000)
    ap.add_argument("--backends", default="postgres,sqlite")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.contracts)))
        return
    results = []
    for backend in args.backends.split(","):
        print(f"[{backend}] setting up {args.contracts} contracts and ticking ...", file=sys.stderr, flush=True)
        proc = subprocess.run([sys.executable, __file__, "--child", backend, "--contracts", str(args.contracts)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            sys.exit(proc.returncode)
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    keys = list(results[0])
    width = max(len(k) for k in keys)
    print("\ncontracts tick benchmark (one monthly tick, 3 positions per contract, auto-finalize)")
    for k in keys:
        print(f"  {k:<{width}}  " + "  ".join(f"{str(r[k]):>14}" for r in results))


if __name__ == "__main__":
    main()
