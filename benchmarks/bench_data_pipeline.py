"""Data pipeline throughput: augmented training patches per second (PatchDataset + each augmentation preset
through a DataLoader) against the patches per second the default UNet consumes when training, on CPU.

Run: .venv/bin/python benchmarks/bench_data_pipeline.py [--seconds 3] [--sizes 64 96]
Volumes: 4 synthetic subjects of 2 x 200 x 200 x 100 float32 (FLAIR+T1 at 1 mm) with an ellipsoid brain
and blob lesions. Presets: conf/augmentation/{none,light,heavy}.yaml (Hydra instantiate +
wmhmap.augment.compose, the preset's margin), batch 2, num_workers 0/1/2. Consumption: a bare training
loop (default UNet, Dice+CE, SGD, batch 2) on in-memory batches; then the same loop fed by the real
``light`` DataLoader, which on 2 cores shares the CPU with training.
Target: the default ``light`` preset keeps up (its best patches/s >= the patches/s training consumes); the
step-time cost of feeding training from it is printed beside.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

from wmhmap.augment import compose
from wmhmap.cli.common import CONF_DIR, compose_stage
from wmhmap.training.patches import PatchDataset, VolumeArrays

BATCH = 2
SHAPE = (200, 200, 100)
PRESETS = ("none", "light", "heavy")
WORKERS = (0, 1, 2)
WARMUP = 2


def _volumes(n: int = 4, seed: int = 0) -> list[VolumeArrays]:
    """Subjects with a z-scored-like ellipsoid brain (0 outside) and a few ellipsoid lesions."""
    rng = np.random.default_rng(seed)
    grid = np.indices(SHAPE, dtype=np.float32)
    centre = np.array(SHAPE, np.float32)[:, None, None, None] / 2
    brain = (((grid - centre) / (centre * 0.85)) ** 2).sum(0) <= 1
    volumes = []
    for i in range(n):
        label = np.zeros(SHAPE, np.uint8)
        for _ in range(12):
            c = rng.uniform(0.3, 0.7, 3)[:, None, None, None] * np.array(SHAPE)[:, None, None, None]
            r = rng.uniform(2, 6, 3)[:, None, None, None]
            label[(((grid - c) / r) ** 2).sum(0) <= 1] = 1
        image = rng.standard_normal((2, *SHAPE), dtype=np.float32) * brain
        image[0] += 3 * label
        volumes.append(VolumeArrays.from_arrays(f"s{i}", "1", image, label * brain.astype(np.uint8)))
    return volumes


def _dataset(volumes: list[VolumeArrays], preset: str, patch: int, length: int) -> PatchDataset:
    cfg = OmegaConf.load(Path(CONF_DIR) / "augmentation" / f"{preset}.yaml")
    transform = compose(instantiate(cfg.transforms))
    return PatchDataset(volumes, (patch,) * 3, length, 0.33, transform, int(cfg.margin))


def patches_per_second(dataset: PatchDataset, workers: int, seconds: float) -> tuple[float, float]:
    """(patches/s after the first batch, seconds to the first batch incl. worker start-up)."""
    loader = DataLoader(dataset, batch_size=BATCH, num_workers=workers, drop_last=True)
    start = time.perf_counter()
    iterator = iter(loader)
    next(iterator)
    first = time.perf_counter() - start
    start, n = time.perf_counter(), 0
    for _ in iterator:
        n += BATCH
        if time.perf_counter() - start >= seconds:
            break
    rate = n / (time.perf_counter() - start)
    del iterator
    return rate, first


def _train_steps(cfg, batches, steps: int) -> float:  # noqa: ANN001
    """Median seconds per training step of the default UNet over ``steps`` batches after warm-up."""
    torch.manual_seed(0)
    net = instantiate(cfg.model.net).train()
    loss_fn = instantiate(cfg.loss)
    optimizer = instantiate(cfg.optimizer)(params=net.parameters())
    marks = []
    for i, batch in enumerate(batches):
        marks.append(time.perf_counter())
        if i == WARMUP + steps:
            break
        optimizer.zero_grad(set_to_none=True)
        loss_fn(net(batch["image"]), batch["label"]).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), float(cfg.trainer.gradient_clip_val))
        optimizer.step()
    return statistics.median(b - a for a, b in zip(marks[WARMUP:-1], marks[WARMUP + 1:], strict=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 96])
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds per pipeline configuration")
    parser.add_argument("--steps", type=int, default=4, help="timed training steps per measurement")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    begin = time.perf_counter()
    print(f"data pipeline vs training, CPU ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads), "
          f"4 subjects of 2x{'x'.join(map(str, SHAPE))} float32, batch {BATCH}")
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    volumes = _volumes()
    header = f"{'preset':<8}{'patch':<7}" + "".join(f"{f'{w} workers':>11}" for w in WORKERS) + f"{'start (2 w)':>13}"
    print("augmented patches/s (after the first batch)")
    print(header)
    print("-" * len(header))
    rates: dict[tuple[str, int, int], float] = {}
    for preset in PRESETS:
        for patch in args.sizes:
            cells, first = [], 0.0
            for workers in WORKERS:
                dataset = _dataset(volumes, preset, patch, length=100_000)
                rate, first = patches_per_second(dataset, workers, args.seconds)
                rates[preset, patch, workers] = rate
                cells.append(f"{rate:>11.1f}")
            print(f"{preset:<8}{f'{patch}^3':<7}{''.join(cells)}{first:>12.2f}s", flush=True)

    print("\ntraining (default UNet, batch 2): step time and patches consumed/s; then fed by the light pipeline")
    header = (f"{'patch':<7}{'s/step':>8}{'consumed/s':>12}{'light best/s':>14}{'keeps up':>10}"
              f"{'fed, 0 w':>10}{'fed, 2 w':>10}{'slowdown (2 w)':>16}")
    print(header)
    print("-" * len(header))
    verdicts = []
    for patch in args.sizes:
        cfg = compose_stage("train", [f"model.patch_size=[{patch},{patch},{patch}]"])
        gen = torch.Generator().manual_seed(1)
        shape = (BATCH, 2, patch, patch, patch)
        memory = [{"image": torch.randn(shape, generator=gen),
                   "label": (torch.rand((BATCH, 1, *shape[2:]), generator=gen) > 0.97).long()}
                  for _ in range(WARMUP + args.steps + 1)]
        in_memory = _train_steps(cfg, memory, args.steps)
        fed = {}
        for workers in (0, 2):
            loader = DataLoader(_dataset(volumes, "light", patch, length=BATCH * (WARMUP + args.steps + 1)),
                                batch_size=BATCH, num_workers=workers, drop_last=True)
            fed[workers] = _train_steps(cfg, loader, args.steps)
        in_memory = min(in_memory, _train_steps(cfg, memory, args.steps))  # again, after: load drifts
        consumed = BATCH / in_memory
        best = max(rates["light", patch, w] for w in WORKERS)
        slowdown = fed[2] / in_memory
        keeps_up = best >= consumed
        verdicts.append(keeps_up)
        print(f"{f'{patch}^3':<7}{in_memory:>8.3f}{consumed:>12.1f}{best:>14.1f}{'yes' if keeps_up else 'NO':>10}"
              f"{fed[0]:>10.3f}{fed[2]:>10.3f}{slowdown:>15.2f}x", flush=True)
    print("\nfed, N w: median s/step of the same loop with batches drawn from the light PatchDataset through a"
          "\n  DataLoader with N workers (on 2 cores the workers share the CPU with training); slowdown vs in-memory.")
    print(f"target: light patches/s >= consumed/s at every patch size: {'met' if all(verdicts) else 'MISSED'}")
    heavy = [f"{p}^3 {max(rates['heavy', p, w] for w in WORKERS):.1f}/s" for p in args.sizes]
    print(f"(heavy preset, best: {', '.join(heavy)}: compare with consumed/s above)")
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"total {time.perf_counter() - begin:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
