"""Run every ``benchmarks/bench_*.py`` in its own process, one after another, and print a summary table.

Run: .venv/bin/python benchmarks/run_all.py [NAME ...] [--timeout SECONDS]   (``make bench``)
NAME picks benchmarks by part of their name (e.g. ``train predict``); none = all. Each script's output is
shown as it runs; the table lists pass (exit status 0) or fail and wall seconds. Exit status 1 if any failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from tabulate import tabulate

HERE = Path(__file__).resolve().parent


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def run(script: Path, timeout: float) -> tuple[str, float]:
    """Run one benchmark script with this interpreter; (status, seconds)."""
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, timeout=timeout, check=False)
        status = "pass" if done.returncode == 0 else f"fail (exit {done.returncode})"
    except subprocess.TimeoutExpired:
        status = f"fail (timeout {timeout:.0f} s)"
    return status, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="run only benchmarks whose file name contains one of these")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds allowed per benchmark")
    args = parser.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.names:
        scripts = [s for s in scripts if any(n in s.stem for n in args.names)]
    if not scripts:
        print(f"no benchmark matches {args.names}")
        return 1
    rows = []
    for script in scripts:
        print(f"\n===== {script.name} (load average {_load()}) =====", flush=True)
        status, seconds = run(script, args.timeout)
        rows.append((script.name, status, f"{seconds:.1f}"))
    print(f"\n===== summary ({os.cpu_count()} cores, load average at end {_load()}) =====")
    print(tabulate(rows, headers=["benchmark", "result", "seconds"], colalign=("left", "left", "right")))
    return 0 if all(r[1] == "pass" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
