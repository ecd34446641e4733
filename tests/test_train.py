"""Training: every model and augmentation preset builds and steps; a tiny fit learns; runs are
seeded, resumable after a kill, and run under DDP on two CPU processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from hydra.utils import instantiate

from wmhmap.augment import compose
from wmhmap.cli.common import compose_stage
from wmhmap.training.patches import PatchDataset, VolumeArrays
from wmhmap.training.train import build_module, train

TINY_MODELS = {
    "unet": ["model.net.channels=[4,8,16]", "model.net.strides=[2,2]", "model.net.num_res_units=1"],
    "unet_2d": ["model.patch_size=[32,32,1]", "model.net.net.channels=[4,8,16]", "model.net.net.strides=[2,2]",
                "model.net.net.num_res_units=1"],
    "attention_unet": ["model.net.channels=[4,8,16]", "model.net.strides=[2,2]"],
    "segresnet": ["model.net.init_filters=8", "model.net.blocks_down=[1,1,1]", "model.net.blocks_up=[1,1]"],
    "dynunet": ["model.net.kernel_size=[3,3,3]", "model.net.strides=[1,2,2]", "model.net.upsample_kernel_size=[2,2]",
                "model.net.filters=[4,8,16]", "model.deep_supervision=true", "model.net.deep_supr_num=1"],
    "unetr": ["model.net.feature_size=4", "model.net.hidden_size=48", "model.net.mlp_dim=96", "model.net.num_heads=4"],
    "swinunetr": ["model.patch_size=[64,64,64]", "model.net.feature_size=12", "model.net.depths=[1,1,1,1]",
                  "model.net.num_heads=[1,1,1,1]"],
}
SMOKE = ["experiment=smoke", "logger=csv"]


def _cfg(tmp_path: Path, data_root: Path | None = None, overrides: list[str] = (), run: str = "run",
         base: list[str] = SMOKE):
    data = [f"paths.data_dir={data_root}"] if data_root else []
    return compose_stage("train", [*base, *data, f"paths.output_dir={tmp_path}", *overrides], tmp_path / run)


@pytest.mark.parametrize("model", sorted(TINY_MODELS))
def test_every_model_builds_and_takes_a_training_step(tmp_path: Path, model: str) -> None:
    overrides = [f"model={model}", "model.patch_size=[32,32,32]", *TINY_MODELS[model]]
    cfg = _cfg(tmp_path, overrides=overrides, base=["logger=csv"])
    module = build_module(cfg)
    module.configure_optimizers()
    patch = list(cfg.model.patch_size)
    batch = {"image": torch.randn(1, 2, *patch), "label": (torch.rand(1, 1, *patch) > 0.9).long()}
    optimizer = instantiate(cfg.optimizer)(params=module.parameters())
    loss = module._training_loss(module.net(batch["image"]), batch["label"])
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    module.eval()
    with torch.no_grad():
        assert module.predict_volume(torch.randn(1, 2, 34, 30, 33)).shape == (1, 2, 34, 30, 33)


@pytest.mark.parametrize("preset", ["none", "light", "heavy"])
def test_every_augmentation_preset_runs(tmp_path: Path, preset: str) -> None:
    cfg = _cfg(tmp_path, overrides=[f"augmentation={preset}"])
    transform = compose(instantiate(cfg.augmentation.transforms))
    label = torch.zeros(30, 30, 30, dtype=torch.uint8)
    label[12:18, 12:18, 12:18] = 1
    volume = VolumeArrays.from_arrays("s", "1", torch.randn(2, 30, 30, 30).numpy(), label.numpy())
    dataset = PatchDataset([volume], (16, 16, 16), 3, transform=transform, margin=cfg.augmentation.margin)
    for i in range(3):
        item = dataset[i]
        assert item["image"].shape == (2, 16, 16, 16) and torch.isfinite(item["image"]).all()


def _val_dice(run_dir: Path) -> list[float]:
    log = pd.read_csv(run_dir / "csv" / "metrics.csv")
    return log["val/dice"].dropna().tolist()


def test_tiny_fit_learns_and_is_seeded(tmp_path: Path, tiny_cohort: Path) -> None:
    overrides = ["trainer.max_epochs=6", "datamodule.samples_per_epoch=24", "optimizer=adamw",
                 "optimizer.lr=3e-3", "augmentation=none", "scheduler=none"]
    first = train(_cfg(tmp_path, tiny_cohort, overrides, "a"), tmp_path / "a")
    dice = _val_dice(tmp_path / "a")
    assert len(dice) == 6
    assert max(dice[-2:]) > dice[0] + 0.15, dice
    assert first["metrics"]["val/dice_best"] == pytest.approx(max(dice))
    assert Path(first["best_checkpoint"]).is_file()
    assert (tmp_path / "a" / "checkpoints" / "last.ckpt").is_file()
    assert list((tmp_path / "a" / "overlays").glob("epoch*.png"))
    # Same seed on CPU -> the same validation metrics.
    train(_cfg(tmp_path, tiny_cohort, overrides[:1] + overrides[2:] + ["trainer.max_epochs=2",
          "datamodule.samples_per_epoch=24"], "b"), tmp_path / "b")
    train(_cfg(tmp_path, tiny_cohort, overrides[:1] + overrides[2:] + ["trainer.max_epochs=2",
          "datamodule.samples_per_epoch=24"], "c"), tmp_path / "c")
    assert _val_dice(tmp_path / "b") == _val_dice(tmp_path / "c")


def _cli(args: list[str], env_extra: dict[str, str] | None = None) -> list[str]:
    return [sys.executable, "-m", "wmhmap.cli.train", *args]


def test_killed_run_resumes_from_last_checkpoint(tmp_path: Path, tiny_cohort: Path) -> None:
    args = [*SMOKE, f"paths.data_dir={tiny_cohort}", f"paths.output_dir={tmp_path}", "trainer.max_epochs=3",
            "datamodule.samples_per_epoch=40", "callbacks.last_checkpoint.every_n_train_steps=2",
            "hydra.run.dir=" + str(tmp_path / "run")]
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    proc = subprocess.Popen(_cli(args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    deadline = time.time() + 120
    while not last.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert last.exists(), "the run never wrote a checkpoint"
    killed_step = torch.load(last, map_location="cpu", weights_only=False)["global_step"]
    assert 0 < killed_step < 3 * 20
    done = subprocess.run(_cli([*args, "ckpt_path=last"]), capture_output=True, text=True, env=os.environ.copy())
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Restoring states from the checkpoint" in done.stderr + done.stdout
    final = torch.load(last, map_location="cpu", weights_only=False)
    assert final["global_step"] == 3 * 20 and final["epoch"] == 2


def test_ddp_on_two_cpu_processes(tmp_path: Path, tiny_cohort: Path) -> None:
    args = [*SMOKE, f"paths.data_dir={tiny_cohort}", f"paths.output_dir={tmp_path}", "trainer=ddp",
            "trainer.accelerator=cpu", "trainer.devices=2", "trainer.max_epochs=1",
            "hydra.run.dir=" + str(tmp_path / "ddp")]
    done = subprocess.run(_cli(args), capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert done.returncode == 0, done.stderr[-3000:]
    assert "distributed_backend=gloo" in done.stderr + done.stdout
    assert (tmp_path / "ddp" / "metrics.yaml").is_file()


def test_slurm_launcher_config_composes(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="hydra-submitit-launcher not installed")
    cfg = _cfg(tmp_path, overrides=["hydra/launcher=slurm_gpu", "trainer=gpu"], base=["logger=csv"])
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher")
    assert cfg.hydra.launcher.gpus_per_node == 1 and cfg.trainer.precision == "bf16-mixed"
