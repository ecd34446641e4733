"""Training step time: wmhmap's LightningModule under a Trainer built from the composed config, against a
bare PyTorch loop with the same UNet, loss, optimizer, clipping and data, on CPU.

Run: .venv/bin/python benchmarks/bench_train.py [--sizes 64 96] [--steps 10] [--rounds 2]
Both sides train the default UNet (conf/model/unet.yaml, FLAIR+T1 -> 2 classes, 4.8M parameters) with
Dice+CE (conf/loss/dice_ce.yaml), SGD Nesterov (conf/optimizer/sgd.yaml) and gradient clipping at 12, on
the same pre-generated batches (batch 2) from the same initial weights. Rounds alternate bare / Lightning
so that load from other processes hits both alike. A step is the time from one batch's start to the next's
(everything the loop does per batch); the median over ``steps`` steps after 2 warm-up steps per round.
Target: Lightning / bare <= 1.05.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from torch.utils.data import DataLoader

from wmhmap.cli.common import compose_stage
from wmhmap.training.train import build_module

WARMUP = 2
BATCH = 2
TARGET = 1.05


class StepTimer(pl.Callback):
    """Wall-clock time at every training batch start and end."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.ends: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: ANN001
        self.starts.append(time.perf_counter())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
        self.ends.append(time.perf_counter())


def _periods(starts: list[float], last_end: float) -> list[float]:
    """Per-step time: one start to the next (the last step: to its end), warm-up steps dropped."""
    marks = [*starts, last_end]
    return [b - a for a, b in zip(marks[WARMUP:-1], marks[WARMUP + 1:], strict=True)]


def _batches(patch: int, n: int, channels: int, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    """``n`` collated batches of z-scored-like images and labels 0/1/2 (mostly background)."""
    gen = torch.Generator().manual_seed(seed)
    shape = (BATCH, 1, patch, patch, patch)
    out = []
    for _ in range(n):
        u = torch.rand(shape, generator=gen)
        label = torch.where(u > 0.97, 1, torch.where(u > 0.96, 2, 0)).long()
        out.append({"image": torch.randn((BATCH, channels, patch, patch, patch), generator=gen), "label": label})
    return out


def _bare_round(cfg, state: dict, loader: DataLoader) -> list[float]:  # noqa: ANN001
    """Forward, loss, backward, clip, step on every batch; returns per-step periods."""
    net = instantiate(cfg.model.net)
    net.load_state_dict(state)
    net.train()
    loss_fn = instantiate(cfg.loss)
    optimizer = instantiate(cfg.optimizer)(params=net.parameters())
    clip = float(cfg.trainer.gradient_clip_val)
    starts = []
    for batch in loader:
        starts.append(time.perf_counter())
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(net(batch["image"]), batch["label"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        optimizer.step()
    return _periods(starts, time.perf_counter())


def _lightning_round(cfg, module: pl.LightningModule, state: dict, loader: DataLoader,  # noqa: ANN001
                     run_dir: Path) -> tuple[list[float], list[float]]:
    """One ``fit`` over the batches with the config's trainer (CSV logger, no validation or checkpoints)."""
    module.net.load_state_dict(state)
    timer = StepTimer()
    trainer: pl.Trainer = instantiate(
        cfg.trainer, callbacks=[timer], logger=[instantiate(cfg.logger.csv)], default_root_dir=str(run_dir),
        max_epochs=1, max_steps=len(loader), limit_val_batches=0, enable_checkpointing=False,
    )
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
        trainer.fit(module, train_dataloaders=loader)
    inside = [e - s for s, e in zip(timer.starts[WARMUP:], timer.ends[WARMUP:], strict=True)]
    return _periods(timer.starts, timer.ends[-1]), inside


def bench(patch: int, steps: int, rounds: int, run_dir: Path) -> dict[str, float]:
    """Median step seconds of the bare loop and of Lightning at ``patch``^3, and the Lightning overhead."""
    cfg = compose_stage("train", [f"model.patch_size=[{patch},{patch},{patch}]", "logger=csv"], run_dir=run_dir)
    module = build_module(cfg)
    state = copy.deepcopy(module.net.state_dict())
    batches = _batches(patch, WARMUP + steps, int(cfg.model.net.in_channels))
    loader = DataLoader(batches, batch_size=None, shuffle=False, num_workers=0)
    bare, light, inside = [], [], []
    for _ in range(rounds):
        bare += _bare_round(cfg, state, loader)
        periods, in_step = _lightning_round(cfg, module, state, loader, run_dir)
        light += periods
        inside += in_step
    result = {"bare": statistics.median(bare), "lightning": statistics.median(light),
              "lightning_in_step": statistics.median(inside), "bare_best": min(bare), "lightning_best": min(light)}
    result["ratio"] = result["lightning"] / result["bare"]
    result["ratio_best"] = result["lightning_best"] / result["bare_best"]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 96])
    parser.add_argument("--steps", type=int, default=8, help="timed steps per round (after 2 warm-up steps)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating bare/Lightning rounds")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    start = time.perf_counter()
    print(f"training step time, default UNet (FLAIR+T1, 4.8M params), batch {BATCH}, CPU, "
          f"{torch.get_num_threads()} torch threads; {args.rounds} rounds x {args.steps} steps (+{WARMUP} warm-up)")
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    header = (f"{'patch':<8}{'bare s/step':>12}{'Lightning':>11}{'(in step)':>11}{'ratio':>8}"
              f"{'best bare':>11}{'best L':>9}{'ratio':>8}")
    print(header)
    print("-" * len(header))
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for patch in args.sizes:
            r = bench(patch, args.steps, args.rounds, Path(tmp) / f"p{patch}")
            worst = max(worst, r["ratio"])
            print(f"{f'{patch}^3':<8}{r['bare']:>12.3f}{r['lightning']:>11.3f}{r['lightning_in_step']:>11.3f}"
                  f"{r['ratio']:>8.3f}{r['bare_best']:>11.3f}{r['lightning_best']:>9.3f}{r['ratio_best']:>8.3f}",
                  flush=True)
    print("\nLightning: SegmentationModule (build_module) under the composed conf/trainer/default.yaml with the CSV "
          "logger,\n  progress bar as configured, limit_val_batches=0, no checkpoints; '(in step)' = "
          "on_train_batch_start -> end;\n  medians over all rounds, then the fastest single step of each side (less sensitive to other load).")
    print(f"worst overhead ratio {worst:.3f} (target <= {TARGET}): {'met' if worst <= TARGET else 'MISSED'}")
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"total {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
