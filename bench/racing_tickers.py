"""Benchmark (not a test): concurrent tickers on PostgreSQL (issue 6, item 24).

    .venv/bin/python bench/racing_tickers.py [--contracts 20000] [--tickers 8]

Builds the same book of contracts (see bench/contracts_tick.py) in two fresh schemas, then times, as real
``billing tick --json`` processes started at once: one ticker alone, and ``--tickers`` tickers together.
With the tick's advisory lock the others wait their turn and find the work done, instead of walking the
same plan and colliding batch after batch. Prints wall times, the ratio, and the conflicts retried.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from bench.contracts_tick import PG_URL, TICK_AT, setup  # noqa: E402

BILLING = os.path.join(os.path.dirname(sys.executable), "billing")


def _schema_url() -> tuple[str, str]:
    name = "bench_race_" + uuid.uuid4().hex[:8]
    return name, f"{PG_URL.split('?')[0]}?schema={name}"


def _drop(name: str) -> None:
    import psycopg

    from commands.config import resolve

    with psycopg.connect(autocommit=True, **resolve(PG_URL).pg_params) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def run(contracts: int, tickers: int) -> dict[str, float]:
    from commands.app import Store
    from commands.config import resolve

    out: dict[str, float] = {}
    for label, n in (("alone", 1), ("together", tickers)):
        name, url = _schema_url()
        try:
            with Store(resolve(url)) as store:
                setup(store, contracts, customers=200)
            env = dict(os.environ, BILLING_DATABASE_URL=url)
            t0 = time.perf_counter()
            procs = [subprocess.Popen([BILLING, "tick", "--at", TICK_AT.isoformat(), "--json"], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]
            results = []
            for p in procs:
                stdout, stderr = p.communicate(timeout=1800)
                if p.returncode != 0:
                    raise SystemExit(f"billing tick failed: {stderr}")
                results.append(json.loads(stdout))
            out[f"{label}_s"] = time.perf_counter() - t0
            out[f"{label}_conflicts"] = sum(r["conflicts_retried"] for r in results)
            out[f"{label}_issued"] = sum(len(r["issued"]) for r in results)
        finally:
            _drop(name)
    out["ratio"] = out["together_s"] / out["alone_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contracts", type=int, default=20000)
    parser.add_argument("--tickers", type=int, default=8)
    args = parser.parse_args()
    r = run(args.contracts, args.tickers)
    print(f"racing tickers on PostgreSQL, {args.contracts} contracts: 1 ticker {r['alone_s']:.1f} s; "
          f"{args.tickers} tickers at once {r['together_s']:.1f} s (x{r['ratio']:.2f}); "
          f"conflicts retried {r['together_conflicts']:.0f}; invoices {r['together_issued']:.0f} (alone {r['alone_issued']:.0f})")


if __name__ == "__main__":
    main()
