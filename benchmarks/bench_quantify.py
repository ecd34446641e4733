"""Per-subject cost of the quantify stage on a real 1 mm subject, and registration accuracy.

Subject: open_ms patient19 (1 mm, 182 x 218 x 182, T1 + FLAIR + 49.8 mL of lesions), CPU only.
Schemes: builtin, depth, bullseye (plane lobes), bullseye on Mindboggle-101 DKT labels, JHU ICBM-DTI-81,
Eve-34, plus Mindboggle-propagated structures; affine registration (reference + the FSL MNI152
template, which all the ../shared/data atlases share), cold transform cache, then warm.
Accuracy: patient19's T1 warped by a known affine (4/-3/5 degrees, (3, -4, 2.5) mm, scaling
1.05/0.96/1.03) and registered back to the unwarped T1; mean Dice of the 48 JHU labels propagated
through the estimated vs the true transform (1 mm and 3 mm); and identity registration vs direct
counting of lesion voxels per JHU label (must be exact).

Run: .venv/bin/python benchmarks/bench_quantify.py      (needs ../shared/data)
Target: at most 20 s and 2 GB per subject (cold cache, all schemes).
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import SimpleITK as sitk

from wmhmap.regions.grid import resample_to_grid
from wmhmap.regions.quantify import Quantifier, StructureSources, quantify_cohort
from wmhmap.regions.registration import (
    RegistrationResult,
    RegistrationSettings,
    propagate,
    register,
    working_image,
)
from wmhmap.regions.schemes import AtlasScheme, BuiltinScheme, BullseyeScheme, DepthScheme, Eve34Scheme

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TARGET_S, TARGET_GB = 20.0, 2.0


def _schemes() -> tuple[dict, StructureSources]:
    template = str(DATA / "templates/MNI152_T1_1mm_brain.nii.gz")
    mindboggle = str(DATA / "atlases/mindboggle_dkt31/labels_1mm.nii.gz")
    schemes = {
        "builtin": BuiltinScheme(),
        "depth": DepthScheme(),
        "bullseye": BullseyeScheme(),
        "bullseye_dkt": BullseyeScheme(labels=mindboggle, template=template),
        "jhu": AtlasScheme(str(DATA / "atlases/jhu_icbm_dti81/labels.nii.gz"), "jhu_icbm_dti81_labels.tsv", template),
        "eve34": Eve34Scheme(str(DATA / "atlases/eve_wmpm2/labels_mni152.nii.gz"), template),
    }
    return schemes, StructureSources(atlas_labels=mindboggle, atlas_template=template)


def _subject() -> tuple[pd.DataFrame, list[str]]:
    folder = DATA / "open_ms/patient19"
    row = {"subject_id": "patient19", "session": "1", "site": "open_ms", "diagnosis": None, "age": None, "sex": None,
           "flair": str(folder / "FLAIR.nii.gz"), "t1": str(folder / "T1.nii.gz")}
    return pd.DataFrame([row]), [str(folder / "lesions.nii.gz")]


def _timed(quantifier: Quantifier, manifest: pd.DataFrame, masks: list[str], trace: bool) -> tuple[float, float, object]:
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    results, failures = quantify_cohort(quantifier, manifest, masks, progress=False)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**30 if trace else float("nan")
    if trace:
        tracemalloc.stop()
    if failures:
        raise RuntimeError(f"quantification failed: {failures}")
    return seconds, peak, results[0]


def _known_affine() -> sitk.AffineTransform:
    rotation = sitk.Euler3DTransform((0, -18, 18), np.deg2rad(4), np.deg2rad(-3), np.deg2rad(5), (3.0, -4.0, 2.5))
    transform = sitk.AffineTransform(3)
    transform.SetCenter((0, -18, 18))
    transform.SetMatrix((np.array(rotation.GetMatrix()).reshape(3, 3) @ np.diag([1.05, 0.96, 1.03])).ravel().tolist())
    transform.SetTranslation(rotation.GetTranslation())
    return transform


def _recovery(resolution: float | None) -> tuple[float, float]:
    """Mean JHU-label Dice (estimated vs true transform) and seconds, at ``resolution`` mm (None: 1 mm)."""
    t1 = nib.load(DATA / "open_ms/patient19/T1.nii.gz")
    labels = nib.load(DATA / "atlases/jhu_icbm_dti81/labels.nii.gz")
    if resolution is not None:
        t1, labels = working_image(t1, resolution), working_image(labels, resolution, nearest=True)
    true = _known_affine()
    warped = nib.Nifti1Image(resample_to_grid(t1, t1, true, nearest=False), t1.affine)
    start = time.perf_counter()
    result = register(warped, t1, RegistrationSettings(), np.asarray(warped.dataobj) > 0)
    seconds = time.perf_counter() - start
    estimated = propagate(result, labels, warped, nearest=True)
    truth = propagate(RegistrationResult(true, "affine", 0.0, 1.0, True), labels, warped, nearest=True)
    dice = [2 * np.sum((estimated == k) & (truth == k)) / (np.sum(estimated == k) + np.sum(truth == k))
            for k in np.unique(truth) if k > 0]
    return float(np.mean(dice)), seconds


def _identity_exact() -> bool:
    lesions = np.asarray(nib.load(DATA / "open_ms/patient19/lesions.nii.gz").dataobj) == 1
    jhu = nib.load(DATA / "atlases/jhu_icbm_dti81/labels.nii.gz")
    identity = RegistrationResult(sitk.AffineTransform(3), "identity", 0.0, 1.0, True)
    propagated = propagate(identity, jhu, nib.load(DATA / "open_ms/patient19/T1.nii.gz"), nearest=True)
    direct = np.asarray(jhu.dataobj).astype(int)
    return bool(np.array_equal(np.bincount(propagated[lesions], minlength=49), np.bincount(direct[lesions], minlength=49)))


def main() -> int:
    if not DATA.is_dir():
        print(f"real data not found at {DATA}: nothing to benchmark")
        return 1
    print(f"quantify benchmark: open_ms patient19 at 1 mm, {os.cpu_count()} CPU core(s), "
          f"load {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    manifest, masks = _subject()
    with tempfile.TemporaryDirectory(prefix="bench-quantify-") as tmp:
        schemes, structures = _schemes()
        quantifier = Quantifier(schemes, RegistrationSettings(), cache_dir=Path(tmp), structures=structures)
        start = time.perf_counter()
        quantifier.prepare()
        print(f"  one-off set-up (reference build, 4 atlases, templates)   {time.perf_counter() - start:6.1f} s")
        cold, cold_peak, result = _timed(quantifier, manifest, masks, trace=False)
        print(f"  per subject, cold transform cache ({len(schemes)} schemes)      {cold:6.1f} s")
        warm, warm_peak, _ = _timed(quantifier, manifest, masks, trace=True)
        print(f"  per subject, cached transforms (traced)               {warm:6.1f} s, "
              f"tracemalloc peak {warm_peak:.2f} GB")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f"  process peak RSS (imports, templates, atlases, subject)  {rss:6.2f} GB")
        print(f"  registrations: {', '.join(f'{r.target} {r.metric:.3f}/{r.determinant:.2f}' for r in result.registrations.itertuples())}"
              " (metric/det)")
        sums = result.regions.groupby("scheme", sort=False)["wmh_ml"].sum()
        print(f"  WMH total {result.wmh_total_ml:.1f} mL; per scheme: "
              + ", ".join(f"{k} {v:.1f}" for k, v in sums.items()))
    for resolution in (None, 3.0):
        dice, seconds = _recovery(resolution)
        print(f"  known-affine recovery at {resolution or 1.0:.0f} mm: mean JHU Dice {dice:.3f} ({seconds:.1f} s)")
    print(f"  identity registration == direct counting: {_identity_exact()}")
    ok = cold <= TARGET_S and rss <= TARGET_GB
    print(f"target <= {TARGET_S:.0f} s and <= {TARGET_GB:.0f} GB per subject: {'OK' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
