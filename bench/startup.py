"""Benchmark (not a test): CLI start-up (issue 6, item 18).

    .venv/bin/python bench/startup.py [--runs 7]

Times, as real processes, ``billing --help`` and a small report (``billing customers list`` on a SQLite
store of three customers whose read models are up to date), and prints the median and the best of
``--runs`` runs. The aim is 0.3 s for both.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

BILLING = os.path.join(os.path.dirname(sys.executable), "billing")


def timed(args: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([BILLING, *args], env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, BILLING_DATABASE_URL=f"sqlite:///{tmp}/startup.db")
        for ref in ("A", "B", "C"):
            subprocess.run([BILLING, "customers", "add", ref, "--name", ref, "--timezone", "Europe/Berlin", "--currency", "EUR",
                            "--at", "2026-01-01T00:00:00Z"], env=env, check=True, capture_output=True)
        for label, argv in (("billing --help", ["--help"]), ("billing customers list", ["customers", "list"])):
            median, best = timed(argv, env, args.runs)
            print(f"start-up: {label}: median {median:.2f} s, best {best:.2f} s ({args.runs} runs; aim 0.30 s)")


if __name__ == "__main__":
    main()
