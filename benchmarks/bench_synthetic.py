"""Seconds to generate the default synthetic demo cohort (24 subjects, resolution factor 2, 2 workers).

Run: .venv/bin/python benchmarks/bench_synthetic.py [--subjects N] [--resolution MM] [--workers W]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from wmhmap.synthetic import generate_cohort
from wmhmap.synthetic.template import load_template


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=24)
    parser.add_argument("--resolution", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wmhmap-bench-synthetic-") as tmp:
        start = time.perf_counter()
        load_template(2 if args.resolution >= 2 else 1)
        template_s = time.perf_counter() - start
        frame = generate_cohort(
            Path(tmp),
            n_subjects=args.subjects,
            resolution_mm=args.resolution,
            workers=args.workers,
            progress=False,
        )
        total_s = time.perf_counter() - start
        size_mb = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file()) / 1e6
    print(
        f"synthetic cohort: {args.subjects} subjects, {len(frame)} visits, resolution x{args.resolution:g}, {args.workers} workers"
    )
    print(f"  template load:   {template_s:6.2f} s")
    print(
        f"  total (incl. montage, truth): {total_s:6.2f} s  ({(total_s - template_s) / len(frame):.2f} s per visit)"
    )
    print(f"  on disk:         {size_mb:6.1f} MB")


if __name__ == "__main__":
    main()
