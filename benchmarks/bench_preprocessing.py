"""Preprocessing speed on real open_ms subjects (FLAIR + T1, 182 x 218 x 182): cold, from the cache, and back
to native. Run: .venv/bin/python benchmarks/bench_preprocessing.py"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from wmhmap.preprocessing import (
    PreprocessCache,
    PreprocessConfig,
    preprocess_manifest,
    preprocess_subject,
    to_native,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "open_ms"


def _row(patient: str) -> dict[str, str]:
    folder = DATA / patient
    return {"subject_id": patient, "session": "1", "site": "open_ms", "split": "train",
            "flair": str(folder / "FLAIR.nii.gz"), "t1": str(folder / "T1.nii.gz"), "wmh": str(folder / "lesions.nii.gz")}


def _seconds(fn, repeat: int = 1) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    if not DATA.is_dir():
        print(f"skipped: real data not found at {DATA} (see ../shared/data/README.md)")
        return
    row = _row("patient19")
    print("wmhmap preprocessing, open_ms patient19 (FLAIR + T1, 182x218x182, 1 mm, brain mask computed)")
    with tempfile.TemporaryDirectory() as tmp:
        native = PreprocessConfig(target_spacing=None)
        cache = PreprocessCache(Path(tmp) / "cache", native)
        cold, pre = _seconds(lambda: cache.get(row))
        warm, _ = _seconds(lambda: cache.get(row), repeat=3)
        lookup, _ = _seconds(lambda: cache.ensure(row), repeat=3)
        npz = cache.paths(row)[0]
        print(f"  cold, native spacing (incl. compressed write): {cold:6.2f} s -> {pre.image.shape}, "
              f"cache entry {npz.stat().st_size / 1e6:.1f} MB")
        print(f"  from the cache (get, arrays read):             {warm:6.2f} s")
        print(f"  cache check only (ensure, no arrays read):     {lookup * 1000:6.1f} ms")
        compute, _ = _seconds(lambda: preprocess_subject(row, native))
        print(f"  preprocess_subject alone (no cache write):     {compute:6.2f} s")
        for spacing in (1.5, 0.8):
            seconds, res = _seconds(lambda s=spacing: preprocess_subject(row, PreprocessConfig(target_spacing=s)))
            print(f"  preprocess_subject at {spacing} mm isotropic:       {seconds:6.2f} s -> {res.image.shape}")
            probability = np.zeros(res.label.shape, np.float32)
            inverse, _ = _seconds(lambda r=res, p=probability: to_native(p, r, order=1))
            print(f"    probability map back to native (linear):     {inverse:6.2f} s")
        inverse, _ = _seconds(lambda: to_native(pre.label, pre, order=0))
        print(f"  label back to native, no resampling (exact):   {inverse * 1000:6.1f} ms")

        manifest = pd.DataFrame([_row(p) for p in ("patient07", "patient19", "patient26")])
        for workers in (1, 2):
            folder = Path(tmp) / f"manifest_w{workers}"
            seconds, _ = _seconds(lambda w=workers, f=folder: preprocess_manifest(manifest, native, f, w, progress=False))
            print(f"  preprocess_manifest, 3 subjects, {workers} thread(s):   {seconds:6.2f} s")


if __name__ == "__main__":
    main()
