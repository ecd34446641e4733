"""Training step time: wmhmap's LightningModule under a Trainer built from the composed config, against a
bare PyTorch loop with the same UNet, loss, optimizer, clipping and data, on CPU.

Run: .venv/bin/python benchmarks/bench_train.py [--sizes 64 96] [--steps 12] [--separate-rounds 2]
Both sides train the default UNet (conf/model/unet.yaml, FLAIR+T1 -> 2 classes, 4.8M parameters) with
Dice+CE (conf/loss/dice_ce.yaml), SGD Nesterov (conf/optimizer/sgd.yaml) and gradient clipping at 12, on
the same pre-generated batches (batch 2) from the same initial weights. The machine is shared, so each batch
is trained by the bare loop and then by Lightning back to back (the bare step runs in a callback), and the
ratio is the median of the per-step ratios. A Lightning step is everything the Trainer does per batch (data
fetch, hooks, logging, progress bar, backward, clipping, optimizer), measured from one batch start to the
next. ``--separate-rounds`` also times the two loops on their own, in alternating rounds.
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
from collections.abc import Callable
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
    """Wall-clock time at every training batch start and end; with ``bare_step``, runs that first.

    With a bare step, each batch is first trained by the bare loop (timed), then by Lightning, whose step
    is timed from the bare step's end to the next batch start: the two are measured back to back on the
    same batch, so load from other processes hits both alike.
    """

    def __init__(self, bare_step: Callable[[dict], None] | None = None) -> None:
        self.bare_step = bare_step
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.bare: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: ANN001
        if self.bare_step is not None:
            begin = time.perf_counter()
            self.bare_step(batch)
            self.bare.append(time.perf_counter() - begin)
        self.starts.append(time.perf_counter())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
        self.ends.append(time.perf_counter())

    def lightning_steps(self) -> list[float]:
        """Per-step seconds of Lightning after warm-up: one start to the next (the last: to its end), less
        the bare step run in between."""
        marks = [*self.starts, self.ends[-1]]
        bare = [*self.bare[1:], 0.0] if self.bare else [0.0] * len(self.starts)
        periods = [b - a - t for a, b, t in zip(marks[:-1], marks[1:], bare, strict=True)]
        return periods[WARMUP:]


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


def _bare_trainer(cfg, state: dict) -> Callable[[dict], None]:  # noqa: ANN001
    """A bare training step on a fresh copy of the network: forward, loss, backward, clip, SGD step."""
    net = instantiate(cfg.model.net)
    net.load_state_dict(state)
    net.train()
    loss_fn = instantiate(cfg.loss)
    optimizer = instantiate(cfg.optimizer)(params=net.parameters())
    clip = float(cfg.trainer.gradient_clip_val)

    def step(batch: dict) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(net(batch["image"]), batch["label"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        optimizer.step()

    return step


def _bare_round(cfg, state: dict, loader: DataLoader) -> list[float]:  # noqa: ANN001
    """The bare loop alone over every batch; per-step periods (including the data fetch) after warm-up."""
    step = _bare_trainer(cfg, state)
    marks = []
    for batch in loader:
        marks.append(time.perf_counter())
        step(batch)
    marks.append(time.perf_counter())
    return [b - a for a, b in zip(marks[WARMUP:-1], marks[WARMUP + 1:], strict=True)]


def _fit(cfg, module: pl.LightningModule, state: dict, loader: DataLoader, run_dir: Path,  # noqa: ANN001
         timer: StepTimer) -> None:
    """One ``fit`` over the batches with the config's trainer (CSV logger, no validation or checkpoints)."""
    module.net.load_state_dict(state)
    trainer: pl.Trainer = instantiate(
        cfg.trainer, callbacks=[timer], logger=[instantiate(cfg.logger.csv)], default_root_dir=str(run_dir),
        max_epochs=1, max_steps=len(loader), limit_val_batches=0, enable_checkpointing=False,
    )
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
        trainer.fit(module, train_dataloaders=loader)


def bench(patch: int, steps: int, separate_rounds: int, run_dir: Path) -> dict[str, float]:
    """Median step seconds of the bare loop and of Lightning at ``patch``^3, and the Lightning overhead."""
    cfg = compose_stage("train", [f"model.patch_size=[{patch},{patch},{patch}]", "logger=csv"], run_dir=run_dir)
    module = build_module(cfg)
    state = copy.deepcopy(module.net.state_dict())
    batches = _batches(patch, WARMUP + steps, int(cfg.model.net.in_channels))
    loader = DataLoader(batches, batch_size=None, shuffle=False, num_workers=0)
    paired = StepTimer(_bare_trainer(cfg, state))
    _fit(cfg, module, state, loader, run_dir, paired)
    bare, light = paired.bare[WARMUP:], paired.lightning_steps()
    result = {"bare": statistics.median(bare), "lightning": statistics.median(light),
              "ratio": statistics.median(x / b for x, b in zip(light, bare, strict=True))}
    if separate_rounds:
        bare, light = [], []
        for _ in range(separate_rounds):
            bare += _bare_round(cfg, state, loader)
            timer = StepTimer()
            _fit(cfg, module, state, loader, run_dir, timer)
            light += timer.lightning_steps()
        result |= {"sep_bare": statistics.median(bare), "sep_lightning": statistics.median(light)}
        result["sep_ratio"] = result["sep_lightning"] / result["sep_bare"]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 96])
    parser.add_argument("--steps", type=int, default=12, help="timed steps (after 2 warm-up steps)")
    parser.add_argument("--separate-rounds", type=int, default=0,
                        help="also time N alternating rounds of the bare loop alone and Lightning alone")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    start = time.perf_counter()
    print(f"training step time, default UNet (FLAIR+T1, 4.8M params), batch {BATCH}, CPU, "
          f"{torch.get_num_threads()} torch threads; {args.steps} steps (+{WARMUP} warm-up)")
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    header = f"{'patch':<8}{'bare s/step':>12}{'Lightning':>11}{'ratio':>8}"
    if args.separate_rounds:
        header += f"{'| separate: bare':>17}{'Lightning':>11}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for patch in args.sizes:
            r = bench(patch, args.steps, args.separate_rounds, Path(tmp) / f"p{patch}")
            worst = max(worst, r["ratio"])
            line = f"{f'{patch}^3':<8}{r['bare']:>12.3f}{r['lightning']:>11.3f}{r['ratio']:>8.3f}"
            if args.separate_rounds:
                line += f"{r['sep_bare']:>17.3f}{r['sep_lightning']:>11.3f}{r['sep_ratio']:>8.3f}"
            print(line, flush=True)
    print("\nLightning: SegmentationModule (build_module) fitted by the Trainer of the composed config "
          "(conf/trainer/default.yaml:\n  clipping 12, progress bar on) with the CSV logger, limit_val_batches=0, "
          "no checkpoints. Each batch is trained\n  by the bare loop then by Lightning, back to back (a callback "
          "runs the bare step at on_train_batch_start);\n  ratio = median over steps of Lightning / bare."
          + ("\n  separate: alternating rounds of the bare loop alone and of Lightning alone (sensitive to other load)."
             if args.separate_rounds else ""))
    print(f"worst overhead ratio {worst:.3f} (target <= {TARGET}): {'met' if worst <= TARGET else 'MISSED'}")
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"total {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
