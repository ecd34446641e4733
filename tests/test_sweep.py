"""Sweeps: Hydra override quoting, search-space checks, the objective's bookkeeping, resuming a killed
study, two workers sharing a PostgreSQL study, and the shipped sweep presets composing with their stage.

Stages are injected as quick runner functions here (tests/sweep_worker.py for subprocesses); the real
``train`` stage under a sweep is exercised by the training tests."""

from __future__ import annotations

import glob
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf
from optuna.trial import TrialState

from wmhmap.cli.common import CONF_DIR, compose_stage
from wmhmap.sweep import (
    SweepConfigError,
    hydra_override,
    hydra_value,
    merge_overrides,
    open_study,
    parse_space,
    run_study,
    run_sweep,
    set_groups,
    stage_runner,
    suggest_params,
    trials_used,
)

WORKER = Path(__file__).with_name("sweep_worker.py")
sys.path.insert(0, str(WORKER.parent))
from sweep_worker import expected_value  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(autouse=True)
def _restore_env() -> Iterator[None]:
    """tracked_run points W&B's environment at the run directory; give other tests theirs back."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def _study_cfg(tmp_path: Path, **changes) -> dict:
    cfg = {"study_name": "s", "storage": f"sqlite:///{tmp_path}/optuna.db", "n_trials": 6, "timeout": None,
           "direction": "maximize", "seed": 0, "sampler": {"name": "random"}, "pruner": {"name": "none"},
           "heartbeat_interval": None, "gc_after_trial": False, "base_overrides": ["experiment=smoke"], "overrides": ["trainer.x=1"],
           "space": {"x": {"type": "float", "low": 0.0, "high": 1.0},
                     "k": {"type": "categorical", "choices": ["a", "b", "c"]}},
           "paths": {"run_dir": str(tmp_path)}, "tracking": {"mode": "disabled"}}
    return {**cfg, **changes}


# --- Hydra overrides -------------------------------------------------------------------------------

ROUND_TRIP = [1e-4, 3, -2, 0.5, True, False, None, float("inf"), "segresnet", "a/b.c-d", "with space", "it's",
              "back\\slash'", "end\\", "true", "null", "1", "1.5", ".5", "-2", "", "a:b", "a=b,c", "/tmp/run-1/data",
              "./outputs", "../x", [32, 32, 32], [[1, 2], [3]], ["x y", 1.5], {"a": 1, "b": [1, "x y"]}]


@pytest.mark.parametrize("value", ROUND_TRIP, ids=repr)
def test_hydra_value_reads_back_exactly(value) -> None:
    parsed = OverridesParser.create().parse_override(hydra_override("+a.b", value))
    assert parsed.key_or_group == "a.b"
    assert parsed.value() == value and type(parsed.value()) is type(value)


def test_hydra_value_leaves_plain_names_unquoted_and_quotes_keywords() -> None:
    assert hydra_override("model", "segresnet") == "model=segresnet"
    assert hydra_override("paths.data_dir", "/data/wmh-2017") == "paths.data_dir=/data/wmh-2017"
    assert hydra_value("true") == "'true'" and hydra_value("1") == "'1'"
    assert hydra_value([32, 32, 1]) == "[32,32,1]"
    with pytest.raises(TypeError, match="set"):
        hydra_value({1, 2})


def test_merge_overrides_later_key_wins_in_place() -> None:
    merged = merge_overrides(["experiment=smoke", "model=unet", "+x.y=1"], ["model=segresnet", "x.y=2", "lr=3"])
    assert merged == ["experiment=smoke", "model=segresnet", "x.y=2", "lr=3"]


# --- search spaces ---------------------------------------------------------------------------------

def test_nested_and_dotted_spaces_name_the_same_overrides() -> None:
    nested = parse_space({"optimizer": {"lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}},
                          "model": {"type": "categorical", "choices": ["unet", "segresnet"]}})
    dotted = parse_space({"optimizer.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
                          "model": {"type": "categorical", "choices": ["unet", "segresnet"]}})
    assert nested == dotted
    assert [d.name for d in nested] == ["optimizer.lr", "model"]


@pytest.mark.parametrize("space, message", [
    ({}, "space is empty"),
    ({"lr": 0.1}, "space.lr: expected a mapping"),
    ({"lr": {"type": "gauss", "low": 0, "high": 1}}, "space.lr: type must be one of"),
    ({"lr": {"type": "float", "low": 0.1}}, "space.lr: float needs both low and high"),
    ({"lr": {"type": "float", "low": 1.0, "high": 0.1}}, r"space.lr: low \(1.0\) is above high"),
    ({"lr": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}, "space.lr: a log scale needs low > 0"),
    ({"lr": {"type": "float", "low": 0.1, "high": 1.0, "log": True, "step": 0.1}}, "step and log"),
    ({"n": {"type": "int", "low": 1.5, "high": 4}}, "space.n: low must be an integer"),
    ({"n": {"type": "int", "low": 1, "high": 4, "choices": [1]}}, r"space.n: unknown key\(s\) \['choices'\]"),
    ({"m": {"type": "categorical", "choices": []}}, "space.m: choices must be a non-empty list"),
    ({"m": {"type": "categorical", "choices": "unet"}}, "space.m: choices must be a non-empty list"),
    ({"m": {"type": "categorical", "choices": ["unet", "unet"]}}, "space.m: choices repeat a value"),
])
def test_bad_space_names_the_key_and_the_problem(space: dict, message: str) -> None:
    with pytest.raises(SweepConfigError, match=message):
        parse_space(space)


def test_suggestions_respect_each_distribution() -> None:
    dims = parse_space({"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
                        "w": {"type": "float", "low": 0.0, "high": 1.0, "step": 0.25},
                        "n": {"type": "int", "low": 2, "high": 8, "step": 2},
                        "patch": {"type": "categorical", "choices": [[32, 32, 32], [64, 64, 64]]}})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(20):
        trial = study.ask()
        params = suggest_params(trial, dims)
        assert 1e-4 <= params["lr"] <= 1e-1
        assert params["w"] in (0.0, 0.25, 0.5, 0.75, 1.0)
        assert params["n"] in (2, 4, 6, 8)
        # Optuna stores a list choice as its Hydra text; the override gets the list itself.
        assert params["patch"] in ([32, 32, 32], [64, 64, 64])
        assert trial.params["patch"] == hydra_value(params["patch"])
        study.tell(trial, 0.0)


def test_enqueued_parameters_are_replayed() -> None:
    dims = parse_space({"patch": {"type": "categorical", "choices": [[32, 32, 32], [64, 64, 64]]},
                        "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}})
    study = optuna.create_study()
    study.enqueue_trial({"patch": "[64,64,64]", "lr": 0.003})
    assert suggest_params(study.ask(), dims) == {"patch": [64, 64, 64], "lr": 0.003}


# --- the study: objective bookkeeping, budget, resume ----------------------------------------------

def test_failures_and_pruning_are_recorded_and_the_study_goes_on(tmp_path: Path) -> None:
    calls: list[tuple[list[str], Path]] = []

    def runner(overrides: Sequence[str], run_dir: Path, trial: optuna.Trial) -> float | None:
        calls.append((list(overrides), run_dir))
        if trial.number == 1:
            raise RuntimeError("out of memory")
        if trial.number == 2:
            trial.report(0.1, step=0)
            raise optuna.TrialPruned()
        if trial.number == 3:
            return None
        return expected_value(trial.params)

    study = run_study(_study_cfg(tmp_path), runner, tmp_path / "trials")
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED, TrialState.FAIL,
                                         TrialState.COMPLETE, TrialState.COMPLETE]
    assert trials[1].user_attrs["error"] == "RuntimeError: out of memory"
    assert "returned None" in trials[3].user_attrs["error"]
    for t, (overrides, run_dir) in zip(trials, calls, strict=True):
        assert run_dir == tmp_path / "trials" / str(t.number) and t.user_attrs["run_dir"] == str(run_dir)
        suggested = [f"x={t.params['x']!r}", f"k={t.params['k']}"]
        assert t.user_attrs["overrides"] == suggested
        assert overrides == ["experiment=smoke", "trainer.x=1", *suggested]
    for t in study.get_trials(states=(TrialState.COMPLETE,)):
        assert t.value == pytest.approx(expected_value(t.params)) == t.user_attrs["value"]


def test_reruns_continue_to_n_trials_and_never_replay_start_up_trials(tmp_path: Path) -> None:
    def runner(overrides: Sequence[str], run_dir: Path, trial: optuna.Trial) -> float:
        return expected_value(trial.params)

    first = run_study(_study_cfg(tmp_path, n_trials=3), runner, tmp_path / "trials")
    assert len(first.trials) == 3
    assert len(run_study(_study_cfg(tmp_path, n_trials=3), runner, tmp_path / "trials").trials) == 3
    again = run_study(_study_cfg(tmp_path, n_trials=5), runner, tmp_path / "trials")
    assert [t.number for t in again.trials] == [0, 1, 2, 3, 4]
    assert len({t.params["x"] for t in again.trials}) == 5


def test_trials_used_counts_a_retry_instead_of_the_trial_it_replaces(tmp_path: Path) -> None:
    study = optuna.create_study()
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    for state, system_attrs in [(TrialState.COMPLETE, {}), (TrialState.PRUNED, {}), (TrialState.FAIL, {}),
                                (TrialState.FAIL, {}), (TrialState.WAITING, {"failed_trial": 3, "retry_history": [3]})]:
        study.add_trial(optuna.trial.create_trial(state=state, params={"x": 0.5}, distributions=dist,
                                                  value=0.5 if state == TrialState.COMPLETE else None,
                                                  system_attrs=system_attrs))
    # complete + pruned + the failure nobody retried; trial 3 is stood in for by the waiting retry.
    assert trials_used(study) == 3


def test_a_trial_whose_worker_died_before_its_first_heartbeat_is_retried(tmp_path: Path) -> None:
    cfg = _study_cfg(tmp_path, n_trials=3, heartbeat_interval=1, max_retry=1)
    orphan = open_study(cfg).ask({"x": optuna.distributions.FloatDistribution(0.0, 1.0),
                                  "k": optuna.distributions.CategoricalDistribution(["a", "b", "c"])})
    young = run_study({**cfg, "n_trials": 1}, lambda *a: 0.0, tmp_path / "trials")
    # Within the grace period a trial with no heartbeat may be another worker's, just asked: it counts.
    assert [t.state for t in young.get_trials()] == [TrialState.RUNNING]
    time.sleep(2.2)  # past the grace period (two heartbeat intervals)

    def runner(overrides: Sequence[str], run_dir: Path, trial: optuna.Trial) -> float:
        return expected_value(trial.params)

    trials = run_study(cfg, runner, tmp_path / "trials").get_trials()
    assert trials[0].state == TrialState.FAIL
    assert [t.state for t in trials[1:]] == [TrialState.COMPLETE] * 3
    assert trials[1].system_attrs["failed_trial"] == orphan.number
    assert trials[1].params == orphan.params  # the dead trial's parameters were queued again


def test_study_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(SweepConfigError, match="direction must be maximize or minimize"):
        open_study(_study_cfg(tmp_path, direction="up"))
    with pytest.raises(SweepConfigError, match="sampler.name must be one of"):
        open_study(_study_cfg(tmp_path, sampler={"name": "cmaes"}))
    with pytest.raises(SweepConfigError, match="pruner MedianPruner"):
        open_study(_study_cfg(tmp_path, pruner={"name": "median", "warmup": 2}))
    with pytest.raises(SweepConfigError, match="is not an SQLAlchemy URL"):
        open_study(_study_cfg(tmp_path, storage="optuna.db"))
    open_study(_study_cfg(tmp_path))
    with pytest.raises(SweepConfigError, match="was created to maximize, but direction=minimize"):
        open_study(_study_cfg(tmp_path, direction="minimize"))
    with pytest.raises(SweepConfigError, match="set n_trials or timeout"):
        run_study(_study_cfg(tmp_path, n_trials=None), lambda *a: 0.0, tmp_path)
    with pytest.raises(SweepConfigError, match="must be Hydra overrides"):
        run_study(_study_cfg(tmp_path, base_overrides=["smoke"]), lambda *a: 0.0, tmp_path)


def _worker(storage: str, study: str, n_trials: int, seed: int, run_dir: Path, sleep_s: float = 0.2,
            heartbeat_s: int = 60) -> subprocess.Popen:
    args = [sys.executable, str(WORKER), storage, study, str(n_trials), str(seed), str(run_dir), str(sleep_s),
            str(heartbeat_s)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_killed_sweep_resumes_where_it_stopped(tmp_path: Path) -> None:
    storage, n_trials = f"sqlite:///{tmp_path}/optuna.db", 10
    worker = _worker(storage, "killed", n_trials, 0, tmp_path, sleep_s=0.25, heartbeat_s=1)
    deadline = time.monotonic() + 40
    done: dict[int, float] = {}
    while len(done) < 3:
        assert worker.poll() is None and time.monotonic() < deadline, worker.communicate()[0][-3000:]
        time.sleep(0.1)
        try:
            trials = optuna.load_study(study_name="killed", storage=storage).get_trials(states=(TrialState.COMPLETE,))
        except KeyError:  # the worker has not created the study yet
            continue
        done = {t.number: t.value for t in trials}
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    time.sleep(2.0)  # two heartbeats: the killed worker's running trial is now stale

    restarted = _worker(storage, "killed", n_trials, 0, tmp_path, sleep_s=0.05, heartbeat_s=1)
    output = restarted.communicate(timeout=60)[0]
    assert restarted.returncode == 0, output[-3000:]

    trials = optuna.load_study(study_name="killed", storage=storage).get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)) == max(numbers) + 1
    assert {n: v for n, v in ((t.number, t.value) for t in complete) if n in done} == done
    assert len(complete) == n_trials
    assert len({t.params["x"] for t in complete}) == n_trials  # the resumed sampler did not replay trials
    for failed in (t for t in trials if t.state == TrialState.FAIL):  # the trial the kill interrupted
        retry = [t for t in complete if t.system_attrs.get("failed_trial") == failed.number]
        assert len(retry) == 1 and retry[0].params == failed.params
    table = pd.read_csv(tmp_path / "trials.csv")
    assert table["number"].tolist() == sorted(numbers)
    assert (table["state"] == "COMPLETE").sum() == n_trials


# --- PostgreSQL: two workers, one study --------------------------------------------------------------

def _postgres_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL server on a free local port; its URL; stopped and removed afterwards.

    PostgreSQL refuses to run as root, so as root the server runs as ``nobody`` (via ``runuser``) in a
    fresh directory under the system temp dir (pytest's own tmp root is private to root).
    """
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin")
    pytest.importorskip("psycopg2", reason="psycopg2 (psycopg2-binary) is needed for SQLAlchemy to reach PostgreSQL")
    as_user: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="wmhmap-pg-"))
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root and runuser is missing: cannot start PostgreSQL as an unprivileged user")
        shutil.chown(base, "nobody")
        as_user = ["runuser", "-u", "nobody", "--"]
    data, port = base / "data", _free_port()
    try:
        subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "optuna", "--auth=trust",
                        "-E", "UTF8", "--no-sync"], check=True, capture_output=True)
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"), "-w",
                        "-t", "30", "-o", f"-h 127.0.0.1 -p {port} -k {base} -F", "start"],
                       check=True, capture_output=True)
        yield f"postgresql+psycopg2://optuna@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_two_workers_share_one_postgresql_study(tmp_path: Path, postgres_url: str) -> None:
    n_trials = 12
    workers = [_worker(postgres_url, "shared", n_trials, seed, tmp_path) for seed in (1, 2)]
    outputs = [w.communicate(timeout=90)[0] for w in workers]
    for worker, output in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, output[-3000:]
    trials = optuna.load_study(study_name="shared", storage=postgres_url).get_trials()
    assert all(t.state == TrialState.COMPLETE for t in trials)
    # Both workers stop once finished + running trials reach n_trials; two that finish at the same
    # moment may each start one more.
    assert n_trials <= len(trials) <= n_trials + 1
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    assert {t.user_attrs["worker"] for t in trials} == {w.pid for w in workers}
    assert len({t.params["x"] for t in trials}) == len(trials)


# --- the shipped configs ---------------------------------------------------------------------------

PRESETS = sorted(Path(p).stem for p in glob.glob(f"{CONF_DIR}/sweep/*.yaml"))


def test_presets_ship() -> None:
    assert {"train_lr_example", "architecture", "classify_example"} <= set(PRESETS)


def _each_value(dim) -> list:
    if dim.kind == "categorical":
        return list(dim.labels)
    return [dim.low, dim.high]


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_suggestions_compose_with_their_stage(tmp_path: Path, preset: str) -> None:
    from wmhmap.sweep.run import _plain

    cfg = _plain(compose_stage("sweep", [f"sweep={preset}"], tmp_path / "sweep"))
    assert cfg["study_name"] == preset and cfg["tracking"]["group"] == preset
    assert cfg["storage"] == f"sqlite:///{(tmp_path / 'sweep').absolute()}/optuna.db"
    stage = cfg["stage"]
    if not (Path(CONF_DIR) / f"{stage}.yaml").is_file():
        pytest.skip(f"conf/{stage}.yaml does not exist yet")
    if stage == "train" and not (Path(CONF_DIR) / "data" / "synthetic.yaml").is_file():
        pytest.skip("conf/data/synthetic.yaml (train's default data) does not exist yet")
    required = ["table=features.csv"] if stage == "classify" else []
    dims = parse_space(cfg["space"])
    first = {d.name: _each_value(d)[0] for d in dims}
    # Every categorical choice and both ends of every range, each with the other dimensions at their first value.
    for dim in dims:
        for value in _each_value(dim):
            params = suggest_params(optuna.trial.FixedTrial({**first, dim.name: value}), dims)
            suggested = [hydra_override(name, v) for name, v in params.items()]
            stage_cfg = compose_stage(stage, merge_overrides(cfg["base_overrides"], required, suggested),
                                      tmp_path / "trial")
            choices = stage_cfg.hydra.runtime.choices
            for name, v in params.items():  # a group's choice, or the value at the key
                assert choices[name] == v if name in choices else OmegaConf.select(stage_cfg, name) == v
            assert set_groups(stage_cfg, preset), "no W&B group key in the stage config"


def test_sweep_config_end_to_end_with_an_injected_stage(tmp_path: Path) -> None:
    run_dir = tmp_path / "sweep"
    cfg = compose_stage("sweep", ["sweep=train_lr_example", "n_trials=4", "tracking.mode=offline", "gc_after_trial=false",
                                  f"paths.data_dir={tmp_path}/data", 'overrides=["paths.cache_dir=/cache"]',
                                  "+space.optimizer.weight_decay={type:float,low:1e-5,high:1e-3,log:true}"], run_dir)
    seen: list[list[str]] = []

    def runner(overrides: Sequence[str], trial_dir: Path, trial: optuna.Trial) -> float:
        seen.append(list(overrides))
        return -abs(math.log10(trial.params["optimizer.lr"]) + 3) + (trial.params["augmentation"] == "light")

    result = run_sweep(cfg, runner)
    assert len(seen) == 4
    # The sweep's paths first (an override replaces one), then base_overrides, then the suggestions.
    assert [o.split("=")[0] for o in seen[0]] == ["paths.root_dir", "paths.data_dir", "paths.cache_dir",
                                                  "paths.output_dir", "experiment", "optimizer.lr",
                                                  "optimizer.weight_decay", "augmentation", "loss"]
    assert seen[0][1:3] == [f"paths.data_dir={tmp_path}/data", "paths.cache_dir=/cache"]
    assert seen[0][4] == "experiment=smoke"
    table = pd.read_csv(run_dir / "trials.csv")
    assert table.columns.tolist()[:7] == ["number", "state", "value", "optimizer.lr", "optimizer.weight_decay",
                                         "augmentation", "loss"]
    best = yaml.safe_load((run_dir / "best.yaml").read_text())
    assert best["value"] == table["value"].max() == result.best["value"]
    assert best["overrides"] == seen[best["number"]][5:]
    assert (run_dir / "optuna.db").is_file()
    assert list((run_dir / "wandb").glob("offline-run-*"))


def test_stage_runner_needs_a_stage_with_run() -> None:
    with pytest.raises(SweepConfigError, match="no module wmhmap.cli.nosuchstage"):
        stage_runner("nosuchstage")
    with pytest.raises(SweepConfigError, match=r"wmhmap.cli.common has no run\(cfg, trial\)"):
        stage_runner("common")


# --- pruning inside a Lightning trainer ------------------------------------------------------------

def _fit_with_pruning(trial: optuna.Trial, scores: list[float]) -> None:
    import pytorch_lightning as pl
    import torch

    from wmhmap.sweep.pruning import LightningPruningCallback

    class Tiny(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(1, 1)

        def training_step(self, batch, batch_idx):
            return self.layer(batch[0]).pow(2).mean()

        def validation_step(self, batch, batch_idx):
            score = scores[self.current_epoch] if not self.trainer.sanity_checking else -1.0
            self.log("val/dice", score)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(2, 1)), batch_size=2)
    trainer = pl.Trainer(max_epochs=len(scores), logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu", devices=1,
                         callbacks=[LightningPruningCallback(trial, "val/dice")])
    trainer.fit(Tiny(), data, data)


def test_lightning_pruning_reports_each_epoch_and_prunes() -> None:
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=0.5))
    kept = study.ask()
    _fit_with_pruning(kept, [0.6, 0.7, 0.8])
    reported = study._storage.get_trial(kept._trial_id).intermediate_values
    assert reported == pytest.approx({0: 0.6, 1: 0.7, 2: 0.8})  # metrics are float32
    pruned = study.ask()
    with pytest.raises(optuna.TrialPruned, match="pruned at epoch 1"):
        _fit_with_pruning(pruned, [0.6, 0.4, 0.9])
    assert study._storage.get_trial(pruned._trial_id).intermediate_values == pytest.approx({0: 0.6, 1: 0.4})
