"""Optuna studies on an RDB storage: SQLite by default, any SQLAlchemy URL (PostgreSQL, MySQL) for
parallel workers. Studies are created or loaded by name, so a killed sweep resumes where it stopped;
heartbeats mark a killed worker's trial as failed and queue its parameters again, including a trial whose
worker died before its first heartbeat."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import sqlalchemy.exc
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState
from sqlalchemy.engine import make_url

from wmhmap.sweep.space import SweepConfigError

__all__ = ["open_storage", "make_sampler", "make_pruner", "open_study", "trials_used"]

log = logging.getLogger(__name__)

_SAMPLERS = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler}
_PRUNERS = {"median": optuna.pruners.MedianPruner, "percentile": optuna.pruners.PercentilePruner,
            "hyperband": optuna.pruners.HyperbandPruner, "none": optuna.pruners.NopPruner}


class _Storage(RDBStorage):
    """RDBStorage whose stale trials also include running trials that never beat, started over the grace
    period ago: Optuna skips those, so a worker killed between ``ask`` and its first heartbeat would leave
    a trial running forever, holding a place in the budget."""

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        stale = super()._get_stale_trial_ids(study_id)
        grace = timedelta(seconds=self.grace_period or 2 * self.heartbeat_interval)
        now = datetime.now()  # datetime_start is the asking worker's local time, as Optuna stores it
        for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            if trial._trial_id in stale or trial.datetime_start is None or now - trial.datetime_start <= grace:
                continue
            if self._trial_has_heartbeat(trial._trial_id):
                continue
            stale.append(trial._trial_id)
        return stale

    def _trial_has_heartbeat(self, trial_id: int) -> bool:
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session

        with _create_scoped_session(self.scoped_session) as session:
            return session.query(models.TrialHeartbeatModel).filter_by(trial_id=trial_id).first() is not None


def open_storage(url: str, heartbeat_interval: int | None = 60, max_retry: int | None = 1) -> RDBStorage:
    """An RDB storage for ``url``; a SQLite file's folder is created and waits on locks from other workers.

    With ``heartbeat_interval`` (seconds) a running trial whose worker stops beating for twice that long
    is failed, and re-queued with the same parameters up to ``max_retry`` times.
    """
    try:
        parsed = make_url(url)
    except sqlalchemy.exc.ArgumentError as err:
        raise SweepConfigError(f"storage: {url!r} is not an SQLAlchemy URL ({err})") from err
    engine_kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs = {"connect_args": {"timeout": 60}}
    else:
        engine_kwargs = {"pool_pre_ping": True}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return _Storage(
            url,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=heartbeat_interval,
            heartbeat_stale_trial_callback=(
                RetryHeartbeatStaleTrialCallback(max_retry=max_retry) if heartbeat_interval else None
            ),
        )


def _spec(spec: str | Mapping[str, Any] | None, what: str, known: Mapping[str, Any]) -> tuple[type, dict]:
    if spec is None:
        spec = "none" if what == "pruner" else "tpe"
    options = {"name": spec} if isinstance(spec, str) else dict(spec)
    name = str(options.pop("name", "")).lower()
    if name not in known:
        raise SweepConfigError(f"{what}.name must be one of {sorted(known)}, got {name!r}")
    return known[name], options


def make_sampler(spec: str | Mapping[str, Any] | None, seed: int | None) -> optuna.samplers.BaseSampler:
    """A sampler from ``{name: tpe|random, **options}`` (or just the name), seeded with ``seed``."""
    cls, options = _spec(spec, "sampler", _SAMPLERS)
    try:
        return cls(seed=seed, **options)
    except TypeError as err:
        raise SweepConfigError(f"sampler {cls.__name__}: {err}") from err


def make_pruner(spec: str | Mapping[str, Any] | None) -> optuna.pruners.BasePruner:
    """A pruner from ``{name: median|percentile|hyperband|none, **options}`` (or just the name)."""
    cls, options = _spec(spec, "pruner", _PRUNERS)
    try:
        return cls(**options)
    except TypeError as err:
        raise SweepConfigError(f"pruner {cls.__name__}: {err}") from err


def open_study(cfg: Mapping[str, Any], attempts: int = 5) -> optuna.Study:
    """Create the study ``cfg.study_name`` in ``cfg.storage``, or load it when it exists (resume).

    Workers that start together may race to create the tables or the study; that is retried. The
    sampler is seeded from ``seed`` and the number of trials already stored.
    """
    direction = str(cfg["direction"]).lower()
    if direction not in ("maximize", "minimize"):
        raise SweepConfigError(f"direction must be maximize or minimize, got {cfg['direction']!r}")
    seed = cfg.get("seed")
    sampler = make_sampler(cfg.get("sampler"), seed)  # checked before the storage is touched
    pruner = make_pruner(cfg.get("pruner"))
    for attempt in range(1, attempts + 1):
        try:
            storage = open_storage(str(cfg["storage"]), cfg.get("heartbeat_interval"), cfg.get("max_retry"))
            study = optuna.create_study(storage=storage, study_name=str(cfg["study_name"]), direction=direction,
                                        sampler=sampler, pruner=pruner, load_if_exists=True)
            break
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError,
                optuna.exceptions.StorageInternalError) as err:
            if attempt == attempts:
                raise
            log.warning("opening study %s failed (%s); retrying", cfg["study_name"], type(err).__name__)
            time.sleep(0.5 * attempt)
    if seed is not None:
        # A resumed study must not replay the random start-up trials it already ran, and workers with
        # different seeds must not meet on one stream: seed from (seed, trials already stored).
        stream = np.random.SeedSequence([seed, len(study.get_trials(deepcopy=False))])
        study.sampler = make_sampler(cfg.get("sampler"), int(stream.generate_state(1)[0]))
    if study.direction.name.lower() != direction:
        raise SweepConfigError(f"study {study.study_name!r} in {cfg['storage']} was created to "
                               f"{study.direction.name.lower()}, but direction={direction}")
    return study


def trials_used(study: optuna.Study) -> int:
    """Trials that count towards ``n_trials``: finished or running, less failed trials queued again."""
    trials = study.get_trials(deepcopy=False)
    retried = {number for t in trials for number in t.system_attrs.get("retry_history", ())}
    counted = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)
    return sum(t.state in counted and not (t.state == TrialState.FAIL and t.number in retried) for t in trials)
