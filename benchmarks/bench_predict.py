"""Prediction wall time and peak memory for one 182x218x182 FLAIR+T1 subject with the default UNet on CPU,
without and with 8-fold mirror TTA.

Run: .venv/bin/python benchmarks/bench_predict.py [--configs none:4 tta:4] [--overlap 0.5]
Input: open_ms patient19 (../shared/data/open_ms, skull-stripped, MNI 1 mm) when present, else a generated
ellipsoid brain of the same size. The checkpoint is written like one of ``wmhmap-train``: the default
UNet (conf/model/unet.yaml, random weights), 96^3 windows, preprocessing with ``target_spacing: null`` (no
resampling; the brain crop applies). Each configuration runs ``Predictor.predict`` in a fresh process;
peak memory = that process's RSS high-water mark (``ru_maxrss``), including Python, torch and the inputs.
Targets (2 cores): at most 60 s and 4 GB with TTA.
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
from pathlib import Path

TARGET_S = 60.0
TARGET_GB = 4.0
SHAPE = (182, 218, 182)
OPEN_MS = Path(__file__).resolve().parents[2] / "shared" / "data" / "open_ms" / "patient19"


def _max_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB


def _brain_images(folder: Path) -> tuple[Path, Path, str]:
    """FLAIR and T1 paths: open_ms patient19, else a generated ellipsoid brain with bright lesions."""
    if (OPEN_MS / "FLAIR.nii.gz").is_file() and (OPEN_MS / "T1.nii.gz").is_file():
        return OPEN_MS / "FLAIR.nii.gz", OPEN_MS / "T1.nii.gz", "open_ms patient19"
    import nibabel as nib
    import numpy as np

    rng = np.random.default_rng(0)
    grid = np.indices(SHAPE, dtype=np.float32)
    centre = np.array([91, 109, 80], np.float32)[:, None, None, None]
    brain = (((grid - centre) / np.array([68, 85, 66], np.float32)[:, None, None, None]) ** 2).sum(0) <= 1
    ventricles = (((grid - centre) / np.array([12, 25, 10], np.float32)[:, None, None, None]) ** 2).sum(0) <= 1
    flair = np.where(brain, 100 + 5 * rng.standard_normal(SHAPE), 0) + 150 * (brain & ~ventricles
                                                                               & (grid[2] > 85) & (grid[2] < 92))
    t1 = np.where(brain & ~ventricles, 300, np.where(ventricles, 80, 0)) + rng.standard_normal(SHAPE) * brain
    affine = np.diag([-1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = [90, -126, -72]
    paths = folder / "FLAIR.nii.gz", folder / "T1.nii.gz"
    for data, path in zip((flair, t1), paths, strict=True):
        nib.save(nib.Nifti1Image(data.astype(np.float32), affine), path)
    return *paths, "generated ellipsoid brain"


def _checkpoint(path: Path) -> Path:
    """A checkpoint in ``wmhmap-train``'s format: the default UNet's state_dict plus the wmhmap record."""
    import torch
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from wmhmap.cli.common import compose_stage
    from wmhmap.preprocessing import PreprocessConfig

    cfg = compose_stage("train")
    torch.manual_seed(0)
    net = instantiate(cfg.model.net)
    preprocessing = PreprocessConfig(target_spacing=None, modalities=tuple(cfg.modalities.channels))
    torch.save(
        {
            "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
            "wmhmap": {
                "net": OmegaConf.to_container(cfg.model.net, resolve=True),
                "patch_size": list(cfg.model.patch_size),
                "preprocessing": preprocessing.to_dict(),
                "best_dice": 0.0,
            },
        },
        path,
    )
    return path


def child(checkpoint: str, flair: str, t1: str, tta: bool, sw_batch_size: int, overlap: float) -> None:
    """Predict once in this process and print a JSON line of timings and peak memory."""
    import numpy as np
    import torch

    from wmhmap.inference import Predictor, PredictorSettings

    rss_imports = _max_rss_gb()
    start = time.perf_counter()
    settings = PredictorSettings(overlap=overlap, sw_batch_size=sw_batch_size, tta_axes=(0, 1, 2) if tta else (),
                                 device="cpu")
    predictor = Predictor([checkpoint], settings)
    load = time.perf_counter() - start
    timing = {}
    network = predictor._probabilities

    def timed(image: np.ndarray) -> np.ndarray:
        timing["shape"] = list(image.shape[1:])
        begin = time.perf_counter()
        out = network(image)
        timing["network"] = time.perf_counter() - begin
        return out

    predictor._probabilities = timed
    start, cpu = time.perf_counter(), time.process_time()
    prediction = predictor.predict({"subject_id": "bench", "session": "1", "flair": flair, "t1": t1})
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(json.dumps({"load": load, "predict": total, "cpu": cpu, **timing, "rss_imports": rss_imports, "rss_peak": _max_rss_gb(),
                      "threads": torch.get_num_threads(), "volume_ml": prediction.volume_ml}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["none:4", "tta:4"],
                        help="TTA (none|tta) : sw_batch_size, one fresh process each")
    parser.add_argument("--overlap", type=float, default=0.5)
    parser.add_argument("--child", nargs=6, metavar=("CKPT", "FLAIR", "T1", "TTA", "SWB", "OVERLAP"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        ckpt, flair, t1, tta, swb, overlap = args.child
        child(ckpt, flair, t1, tta == "tta", int(swb), float(overlap))
        return 0
    begin = time.perf_counter()
    print(f"prediction of one FLAIR+T1 subject, default UNet (96^3 windows, overlap {args.overlap}), CPU, "
          f"{os.cpu_count()} cores")
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    worst_s = worst_gb = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        flair, t1, source = _brain_images(Path(tmp))
        checkpoint = _checkpoint(Path(tmp) / "unet.ckpt")
        print(f"input: {source} ({'x'.join(map(str, SHAPE))})\n")
        header = (f"{'TTA':<6}{'sw batch':>9}{'network in':>16}{'load ckpt':>11}{'network':>9}{'predict':>9}"
                  f"{'CPU':>8}{'peak RSS':>10}{'(imports)':>11}")
        print(header)
        print("-" * len(header))
        for config in args.configs:
            tta, swb = config.split(":")
            cmd = [sys.executable, __file__, "--child", str(checkpoint), str(flair), str(t1), tta, swb,
                   str(args.overlap)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"{config}: failed\n{done.stderr[-2000:]}")
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            passes = 8 if tta == "tta" else 1
            print(f"{f'{passes}x':<6}{swb:>9}{'x'.join(map(str, r['shape'])):>16}{r['load']:>10.1f}s"
                  f"{r['network']:>8.1f}s{r['predict']:>8.1f}s{r['cpu']:>7.1f}s{r['rss_peak']:>8.2f}GB{r['rss_imports']:>9.2f}GB",
                  flush=True)
            if tta == "tta":
                worst_s, worst_gb = max(worst_s, r["predict"]), max(worst_gb, r["rss_peak"])
    print("\nnetwork: sliding window + softmax over all mirrorings; predict: Predictor.predict (preprocessing, "
          "network,\n  mapping back to the input grid); CPU: that call's process CPU seconds (all threads);\n"
          "  peak RSS: the process's high-water mark (imports: after importing, before loading the checkpoint).")
    if worst_s:
        met = worst_s <= TARGET_S and worst_gb <= TARGET_GB
        print(f"with TTA: {worst_s:.1f} s, {worst_gb:.2f} GB (target <= {TARGET_S:.0f} s, <= {TARGET_GB:.0f} GB): "
              f"{'met' if met else 'MISSED'}")
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"total {time.perf_counter() - begin:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
