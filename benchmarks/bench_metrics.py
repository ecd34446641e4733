"""Speed of the challenge metrics on realistic 182x218x182 lesion masks (open_ms), on one core.

Run: .venv/bin/python benchmarks/bench_metrics.py
Pairs: a consensus lesion mask against a dilated (1 voxel) and shifted (2 voxels) copy of itself,
and against an eroded copy. Target: well under 0.1 s per pair for the metrics on arrays.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

from wmhmap.evaluation import challenge_scores, evaluate_pair  # noqa: E402

MASKS = Path(__file__).resolve().parents[2] / "shared" / "data" / "open_ms" / "masks_all"
PATIENTS = ("07", "26", "19")  # lesion loads about 1.3, 8.2 and 49.8 mL
REPEATS = 7


def _timed(fn: Callable[[], object], repeats: int = REPEATS) -> tuple[float, float]:
    """(median, best) wall time in seconds over ``repeats`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def _bench_pair(path: Path, image: nib.Nifti1Image, reference: np.ndarray, prediction: np.ndarray,
                pred_path: Path) -> tuple[str, float]:
    """One table row (volumes, Dice, HD95, three timings) and the median time on arrays."""
    prediction = np.asfortranarray(prediction)  # the layout nibabel hands back for a file
    nib.save(nib.Nifti1Image(prediction.astype(np.uint8), image.affine, image.header), str(pred_path))
    scores = challenge_scores(reference, prediction, image.affine)
    arrays = _timed(lambda: challenge_scores(reference, prediction, image.affine))
    whole = _timed(lambda: challenge_scores(reference, prediction, image.affine, crop=False), 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        files = _timed(lambda: evaluate_pair(path, pred_path), 3)
    voxel_ml = float(abs(np.linalg.det(image.affine[:3, :3]))) / 1000
    row = (f"{scores.reference_voxels * voxel_ml:>8.1f}{scores.prediction_voxels * voxel_ml:>9.1f}"
           f"{scores.dice:>7.3f}{scores.hd95:>7.2f}"
           + "".join(f"{t[0] * 1e3:>9.1f} / {t[1] * 1e3:>4.0f}" for t in (arrays, whole, files)))
    return row, arrays[0]


def main() -> int:
    if not MASKS.is_dir():
        print(f"skipped: open_ms masks not found at {MASKS} (see ../shared/data/README.md)")
        return 0
    print(f"challenge metrics, one core, {REPEATS} repeats (median / best, ms)\n")
    header = f"{'pair':<28}{'ref mL':>8}{'pred mL':>9}{'Dice':>7}{'HD95':>7}{'arrays':>16}{'no crop':>16}{'files':>16}"
    print(header)
    print("-" * len(header))
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for patient in PATIENTS:
            path = MASKS / f"patient{patient}_GOLD_STANDARD_regtoMNI.nii.gz"
            if not path.is_file():
                print(f"patient{patient}: missing, skipped")
                continue
            image = nib.load(str(path))
            reference = np.asarray(image.dataobj) > 0
            variants = {
                "dilated+shifted": np.roll(ndimage.binary_dilation(reference), 2, axis=0),
                "eroded": ndimage.binary_erosion(reference),
            }
            for name, prediction in variants.items():
                row, median = _bench_pair(path, image, reference, prediction, Path(tmp) / f"p{patient}_{name}.nii.gz")
                print(f"{'patient' + patient + ' vs ' + name:<28}{row}")
                worst = max(worst, median)
    print("\narrays: challenge_scores on boolean masks (crop to the lesions' bounding box);"
          "\nno crop: the same on the whole 182x218x182 grid; files: evaluate_pair on two .nii.gz paths (incl. decoding)")
    print(f"slowest pair on arrays: {worst * 1e3:.1f} ms (target: well under 100 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
