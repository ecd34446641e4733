"""The classify stage: feature sets, tasks, leakage-free nested CV, resuming, ComBat, region
association, the Hydra entry point on a simulated cohort, and OASIS-2 end to end."""

from __future__ import annotations

import sys

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from wmhmap.classify.association import l1_selection_stability, region_associations
from wmhmap.classify.features import FeatureSet, build_features, select_columns
from wmhmap.classify.harmonise import ComBatHarmoniser
from wmhmap.classify.metrics import roc_auc
from wmhmap.classify.nested_cv import CVSettings, nested_cv, open_study_storage, stratified_group_splits
from wmhmap.classify.pipeline import build_pipeline, decision_scores
from wmhmap.classify.search_space import suggest_params, validate_search_space
from wmhmap.classify.stage import run_classify
from wmhmap.classify.table import map_labels, parse_task, read_feature_table, select_visits, task_rows
from wmhmap.cli.common import compose_stage
from wmhmap.errors import InputError, WmhmapError

LOGREG = {
    "estimator": {"_target_": "sklearn.linear_model.LogisticRegression", "l1_ratio": 0.0, "max_iter": 1000,
                  "class_weight": "balanced"},
    "impute": "median",
    "scale": True,
}
SPACE = {"C": {"type": "float", "low": 0.01, "high": 10.0, "log": True}}
FAST = ["cv.outer_folds=5", "cv.repeats=1", "cv.inner_folds=3", "cv.n_trials=4", "metrics.bootstrap=300",
        "classifier.search_space.C.low=0.01", "classifier.search_space.C.high=10"]


def simulate_cohort(n_per_class: int = 60, visits: int = 1, seed: int = 0, labels=("CN", "AD"),
                    n_regions: int = 8) -> pd.DataFrame:
    """Regions 0-2 (small) grow with diagnosis, regions 3+ (large) are noise, so the total WMH load
    carries little signal; hippocampal volume shrinks with diagnosis independently of WMH."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_per_class * len(labels)):
        dx = labels[i % len(labels)]
        severity = labels.index(dx) / (len(labels) - 1)
        age, sex, icv = rng.normal(72, 6), rng.choice(["F", "M"]), rng.normal(1450, 120)
        base = rng.lognormal(0.0, 0.3, n_regions) * np.r_[np.full(3, 1.0), np.full(n_regions - 3, 4.0)]
        base[:3] += 0.35 * severity
        hippocampus = 7.5 - 0.7 * severity + rng.normal(0, 0.5)
        for v in range(visits):
            regions = base * rng.lognormal(0.0, 0.05, n_regions)
            row = {"subject_id": f"sub-{i:03d}", "session": f"ses-{v + 1}", "site": "ABC"[i % 3], "diagnosis": dx,
                   "age": age + v, "sex": sex, "icv_ml": icv, "wmh_total_ml": regions.sum() + rng.normal(0, 1.0),
                   "vol_ml__hippocampus": hippocampus + rng.normal(0, 0.05), "vol_ml__gm": 600 + rng.normal(0, 40)}
            row.update({f"wmh_ml__builtin__region{r}": regions[r] for r in range(n_regions)})
            rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- table, tasks, features, search space


def test_parse_task_forms():
    labels = ["AD", "CN", "MCI"]
    assert parse_task("CN_vs_AD", labels) == parse_task({"negative": ["CN"], "positive": ["AD"]}, labels)
    task = parse_task("CN_vs_AD", labels)
    assert task.negative == ("CN",) and task.positive == ("AD",)
    assert parse_task("rest_vs_AD", labels).negative == ("CN", "MCI")
    assert parse_task("CN_vs_MCI+AD", labels).positive == ("MCI", "AD")
    with pytest.raises(ValueError, match="_vs_"):
        parse_task("CNvsAD", labels)
    with pytest.raises(ValueError, match="both sides"):
        parse_task("CN_vs_CN", labels)
    rows, y = task_rows(pd.Series(["CN", "AD", "MCI", "AD"]), task)
    np.testing.assert_array_equal(rows, [0, 1, 3])
    np.testing.assert_array_equal(y, [0, 1, 1])


def test_labels_and_baseline_visits():
    frame = pd.DataFrame({"sid": ["b", "a", "a", "b", "c"], "visit": [2, 2, 1, 1, 1],
                          "Group": ["Demented", "Nondemented", "Nondemented", "Demented", "Converted"]})
    labels = map_labels(frame["Group"], {"Demented": "AD", "Nondemented": "CN", "Converted": None})
    assert labels.tolist() == ["AD", "CN", "CN", "AD", None]
    baseline = select_visits(frame, "sid", "visit", "baseline")
    assert sorted(zip(baseline.sid, baseline.visit, strict=True)) == [("a", 1), ("b", 1), ("c", 1)]
    assert len(select_visits(frame, "sid", "visit", "all")) == 5
    with pytest.raises(ValueError, match="no session column"):
        select_visits(frame, "sid", None, "baseline")


def test_read_feature_table_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_feature_table(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("a,b\n")
    with pytest.raises(InputError, match="no rows"):
        read_feature_table(tmp_path / "empty.csv")


def test_feature_sets_select_scale_and_add_demographics():
    frame = simulate_cohort(n_per_class=3)
    columns = {"subject": "subject_id", "session": "session", "site": "site", "diagnosis": "diagnosis",
               "age": "age", "sex": "sex", "icv": "icv_ml"}
    regional = FeatureSet("regional", "Regional", ("wmh_ml__builtin__.*",), with_demographics=True,
                          normalise_by_icv=True)
    X = build_features(frame, regional, columns=columns, sex_codes={"F": 0, "M": 1},
                       volume_pattern="(wmh_.*|vol_ml__.*)", meta=["site", "age"])
    assert [c for c in X.columns if c.startswith("wmh_")] == [f"wmh_ml__builtin__region{r}" for r in range(8)]
    np.testing.assert_allclose(X["wmh_ml__builtin__region0"], frame["wmh_ml__builtin__region0"] / frame["icv_ml"])
    np.testing.assert_allclose(X["age"], frame["age"])  # demographics are not divided by ICV
    assert set(X["sex"]) <= {0.0, 1.0}
    assert X["meta__site"].tolist() == frame["site"].tolist()
    assert select_columns(["wmh_total_ml", "wmh_ml__a__x", "vol_ml__gm"], ["wmh_total_ml", "vol_ml__.*"]) == \
        ["wmh_total_ml", "vol_ml__gm"]
    with pytest.raises(InputError, match="no column matches"):
        build_features(frame, FeatureSet("x", "x", ("wmh_ml__jhu__.*",)), columns=columns, sex_codes={},
                       volume_pattern=".*", source="cohort.csv")
    bad_sex = frame.assign(sex=["X"] * len(frame))
    with pytest.raises(InputError, match="sex value"):
        build_features(bad_sex, regional, columns=columns, sex_codes={"F": 0, "M": 1}, volume_pattern=".*")


def test_log_wmh_takes_log1p_of_wmh_volumes_only():
    frame = simulate_cohort(n_per_class=3)
    columns = {"icv": "icv_ml"}
    both = ("wmh_total_ml", "wmh_ml__builtin__region0", "vol_ml__gm")
    X = build_features(frame, FeatureSet("s", "s", both, log_wmh=True), columns=columns, sex_codes={},
                       volume_pattern="(wmh_.*|vol_ml__.*)")
    np.testing.assert_allclose(X["wmh_ml__builtin__region0"], np.log(1 + frame["wmh_ml__builtin__region0"]))
    np.testing.assert_allclose(X["vol_ml__gm"], frame["vol_ml__gm"])  # atrophy volumes stay linear
    per_icv = build_features(frame, FeatureSet("s", "s", both, normalise_by_icv=True, log_wmh=True),
                             columns=columns, sex_codes={}, volume_pattern="(wmh_.*|vol_ml__.*)")
    # mL per litre of ICV: 2 mL in a 1,000 mL ICV -> log(1 + 2).
    expected = np.log1p(1000 * frame["wmh_total_ml"] / frame["icv_ml"])
    np.testing.assert_allclose(per_icv["wmh_total_ml"], expected)
    np.testing.assert_allclose(per_icv["vol_ml__gm"], frame["vol_ml__gm"] / frame["icv_ml"])
    negative = frame.assign(wmh_total_ml=-frame["wmh_total_ml"])
    with pytest.raises(InputError, match=r"log_wmh\): negative volumes in \['wmh_total_ml'\]"):
        build_features(negative, FeatureSet("s", "s", both, log_wmh=True), columns=columns, sex_codes={},
                       volume_pattern=".*", source="cohort.csv")


def test_search_space_validation_and_suggestions():
    space = {"C": {"type": "float", "low": 1e-3, "high": 10.0, "log": True},
             "max_depth": {"type": "int", "low": 2, "high": 8},
             "scale__with_mean": {"type": "categorical", "choices": [True, False]}}
    validate_search_space(space)
    params = suggest_params(optuna.create_study().ask(), space)
    assert set(params) == {"clf__C", "clf__max_depth", "scale__with_mean"}
    assert 1e-3 <= params["clf__C"] <= 10.0
    with pytest.raises(ValueError, match="low <= high"):
        validate_search_space({"C": {"type": "float", "low": 2.0, "high": 1.0}})
    with pytest.raises(ValueError, match="type must be"):
        validate_search_space({"C": {"type": "uniform", "low": 0, "high": 1}})


@pytest.mark.parametrize("name", ["logreg_l1", "logreg_l2", "logreg_elasticnet", "svm_linear", "svm_rbf",
                                  "random_forest", "hist_gradient_boosting"])
def test_every_classifier_config_builds_and_scores(name):
    cfg = compose_stage("classify", ["table=x.csv", f"classifier={name}"]).classifier
    validate_search_space(cfg.search_space, name)
    frame = simulate_cohort(n_per_class=30, seed=3)
    X = frame[[c for c in frame.columns if c.startswith("wmh_ml__")]].copy()
    X.iloc[::7, 0] = np.nan  # the imputer must handle gaps
    y = (frame["diagnosis"] == "AD").astype(int).to_numpy()
    space = {k: dict(v) for k, v in cfg.search_space.items()}
    params = suggest_params(optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask(), space)
    with threadpool_limits(limits=1):  # as nested_cv runs them (OpenMP on a busy machine crawls)
        model = build_pipeline(cfg).set_params(**params).fit(X, y)
        scores = decision_scores(model, X)
    assert scores.shape == (len(y),) and np.isfinite(scores).all()
    assert roc_auc(y, scores) > 0.7  # in-sample: the signal regions are easy to fit


# ---------------------------------------------------------------- leakage


class SpyScaler(StandardScaler):
    """A StandardScaler that records the row ids (DataFrame index) of every fit."""

    fitted_on: list[set] = []

    def fit(self, X, y=None, sample_weight=None):
        SpyScaler.fitted_on.append(set(X.index))
        return super().fit(X, y, sample_weight)


def test_no_subject_or_test_row_leaks_into_training():
    frame = simulate_cohort(n_per_class=24, visits=3, seed=1)
    y = (frame["diagnosis"] == "AD").astype(int).to_numpy()
    groups = frame["subject_id"].to_numpy()
    X = frame[[c for c in frame.columns if c.startswith("wmh_ml__")]].set_index(frame.index + 1000)
    settings = CVSettings(outer_folds=3, repeats=2, inner_folds=3, n_trials=2, seed=0)
    outer = [s for r in range(settings.repeats) for s in stratified_group_splits(y, groups, 3, settings.seed + r)]
    for train, test in outer:
        assert not set(groups[train]) & set(groups[test])
        for inner_train, inner_valid in stratified_group_splits(y[train], groups[train], 3, 5):
            assert not set(groups[train][inner_train]) & set(groups[train][inner_valid])

    pipeline = build_pipeline(LOGREG).set_params(scale=SpyScaler())
    SpyScaler.fitted_on = []
    result = nested_cv(X, y, groups, pipeline, SPACE, settings)
    ids = X.index.to_numpy()
    # folds run in order: per outer split, one fit per inner training fold, then the refit
    block = settings.inner_folds + 1
    assert len(SpyScaler.fitted_on) == len(outer) * block
    for k, (train, test) in enumerate(outer):
        fits = SpyScaler.fitted_on[k * block:(k + 1) * block]
        train_ids, test_ids = set(ids[train]), set(ids[test])
        assert fits[-1] == train_ids  # the refit sees the outer training rows, never the test rows
        for inner in fits[:-1]:  # each inner fit sees part of them: its validation rows are held out
            assert inner < train_ids and not inner & test_ids
            held_out_subjects = set(groups[np.isin(ids, list(train_ids - inner))])
            assert not held_out_subjects & set(groups[np.isin(ids, list(inner))])
    # every row is predicted exactly once per repeat, by a model that never saw its subject
    assert np.isfinite(result.scores).all()
    for fold in result.folds:
        assert sorted(fold.test_rows) == sorted(outer[fold.repeat * 3 + fold.fold][1].tolist())


# ---------------------------------------------------------------- resume


def test_second_run_does_no_new_trials(tmp_path):
    frame = simulate_cohort(n_per_class=20, seed=2)
    y = (frame["diagnosis"] == "AD").astype(int).to_numpy()
    X = frame[[c for c in frame.columns if c.startswith("wmh_ml__")]]
    groups = frame["subject_id"].to_numpy()
    storage = open_study_storage(tmp_path / "optuna.db")
    settings = CVSettings(outer_folds=3, repeats=1, inner_folds=2, n_trials=3, seed=0)

    def run(s: CVSettings):
        return nested_cv(X, y, groups, build_pipeline(LOGREG), SPACE, s, storage=storage, study_prefix="t",
                         cache_dir=tmp_path / "cache")

    first = run(settings)
    assert first.new_trials == 9
    second = run(settings)  # finished folds come from the cache: no trials, no refits
    assert second.new_trials == 0 and all(f.from_cache for f in second.folds)
    np.testing.assert_array_equal(first.scores, second.scores)
    for path in (tmp_path / "cache").glob("*.json"):  # lose the cache: studies resume from SQLite
        path.unlink()
    third = run(settings)
    assert third.new_trials == 0 and not any(f.from_cache for f in third.folds)
    np.testing.assert_allclose(first.scores, third.scores)
    more = run(CVSettings(outer_folds=3, repeats=1, inner_folds=2, n_trials=5, seed=0))
    assert more.new_trials == 6  # only the two extra trials per fold
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    assert len(names) == 3 and all(n.startswith("t/r0/f") for n in names)
    assert [len(optuna.load_study(study_name=n, storage=storage).trials) for n in sorted(names)] == [5, 5, 5]


# ---------------------------------------------------------------- ComBat


def test_combat_removes_site_offsets_fitted_on_training_rows_only():
    rng = np.random.default_rng(0)
    n = 150
    site = np.array(["A", "B", "C"])[np.arange(n) % 3]
    offset = {"A": 0.0, "B": 3.0, "C": -2.0}
    age = rng.normal(70, 5, n)
    X = pd.DataFrame({"f1": rng.normal(size=n) + [offset[s] for s in site] + 0.1 * age,
                      "f2": rng.normal(size=n) + [2 * offset[s] for s in site],
                      "age": age, "meta__site": site, "meta__age": age})
    train = np.arange(n) < 120
    combat = ComBatHarmoniser(covariates=("age",), passthrough=("age",)).fit(X[train])
    out = combat.transform(X[~train])
    assert list(out.columns) == ["f1", "f2", "age"]
    np.testing.assert_allclose(out["age"], X.loc[~train, "age"])
    raw_spread = X[~train].groupby("meta__site")["f2"].mean().std()
    harmonised_spread = out.groupby(X.loc[~train, "meta__site"].to_numpy())["f2"].mean().std()
    assert harmonised_spread < 0.2 * raw_spread
    unseen = X[~train].assign(meta__site="Z")
    np.testing.assert_allclose(combat.transform(unseen)[["f1", "f2"]], unseen[["f1", "f2"]])


# ---------------------------------------------------------------- association


def test_region_association_recovers_a_known_odds_ratio():
    rng = np.random.default_rng(0)
    n = 2000
    covariates = pd.DataFrame({"age": rng.normal(70, 5, n), "sex": rng.integers(0, 2, n).astype(float),
                               "icv": rng.normal(1450, 100, n)})
    signal = rng.normal(size=n)
    logit = np.log(2.0) * signal + 0.05 * (covariates["age"] - 70)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    regions = pd.DataFrame({"signal": 3.0 * signal + 10.0, "noise": rng.normal(size=n)})
    table = region_associations(regions, y, covariates).set_index("region")
    assert table.loc["signal", "ci_low"] < 2.0 < table.loc["signal", "ci_high"]
    assert table.loc["signal", "odds_ratio"] == pytest.approx(2.0, rel=0.15)
    assert table.loc["signal", "q"] < 1e-6
    assert table.loc["noise", "ci_low"] < 1.0 < table.loc["noise", "ci_high"]
    splits = stratified_group_splits(y[:300], np.arange(300), 5, 0)
    stability = l1_selection_stability(regions.iloc[:300], y[:300], splits, C=0.05)
    assert stability["signal"] == 1.0 and stability["noise"] < 1.0


# ---------------------------------------------------------------- the stage on a simulated cohort


@pytest.fixture(scope="module")
def simulated_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("classify")
    simulate_cohort().to_csv(root / "cohort.csv", index=False)
    run_dir = root / "run"
    cfg = compose_stage("classify", [f"table={root / 'cohort.csv'}", "tasks=[CN_vs_AD,CN_vs_MCI]", *FAST,
                                     f"paths.run_dir={run_dir}"])
    return cfg, run_dir, run_classify(cfg, run_dir)


def test_regional_beats_global_and_regional_atrophy_is_best(simulated_run):
    _, _, outcome = simulated_run
    auc = outcome.summary.set_index("feature_set")["auc"]
    assert list(outcome.summary["task"].unique()) == ["CN_vs_AD"]  # CN_vs_MCI skipped: no MCI in the table
    assert auc["regional"] > auc["global"] + 0.15
    assert auc["regional_atrophy"] == auc.max()
    assert auc["regional_atrophy"] > auc["regional"]
    comparison = outcome.comparisons.set_index("feature_set")
    assert comparison.loc["regional", "delong_p"] < 1e-3
    assert comparison.loc["regional", "delong_q"] >= comparison.loc["regional", "delong_p"]
    assert outcome.objective == pytest.approx(auc.max())
    row = outcome.summary.set_index("feature_set").loc["regional"]
    assert row.auc_ci_low < row.auc < row.auc_ci_high


def test_stage_writes_the_paper_table_and_plots(simulated_run):
    _, run_dir, outcome = simulated_run
    for name in ("results.csv", "results.md", "metrics.csv", "summary.csv", "comparisons.csv", "folds.csv",
                 "predictions.csv", "association.csv", "roc_CN_vs_AD.png", "forest_CN_vs_AD.png", "optuna.db"):
        assert (run_dir / name).is_file(), name
    table = pd.read_csv(run_dir / "results.csv")
    assert table["feature set"].tolist() == ["Global WMH", "Regional WMH", "Atrophy", "Regional WMH + atrophy",
                                             "Global WMH + atrophy"]
    assert table["CN_vs_AD"].str.fullmatch(r"\d\.\d\d \[\d\.\d\d, \d\.\d\d\]").all()
    association = pd.read_csv(run_dir / "association.csv").set_index("region")
    signal = [f"wmh_ml__builtin__region{r}" for r in range(3)]
    assert (association.loc[signal, "q"] < 0.05).all()
    assert association.loc[signal, "stability"].min() > association.drop(index=signal)["stability"].max() - 1e-9
    metrics = pd.read_csv(run_dir / "metrics.csv")
    assert {"auc", "fold_auc", "balanced_accuracy", "sensitivity", "specificity"} <= set(metrics["metric"])


def test_rerun_in_the_same_directory_resumes_without_new_trials(simulated_run):
    cfg, run_dir, first = simulated_run
    assert first.new_trials == 5 * 5 * 4
    again = run_classify(cfg, run_dir)
    assert again.new_trials == 0
    pd.testing.assert_series_equal(first.summary["auc"], again.summary["auc"])


def test_cli_main_with_combat(tmp_path, monkeypatch):
    from wmhmap.cli.classify import main

    simulate_cohort(n_per_class=30, labels=("CN", "MCI", "AD")).to_csv(tmp_path / "cohort.csv", index=False)
    monkeypatch.setattr(sys, "argv", [
        "wmhmap-classify", f"table={tmp_path / 'cohort.csv'}", "tasks=[MCI_vs_AD]", "features=[global,regional]",
        "cv.outer_folds=3", "cv.repeats=1", "cv.inner_folds=2", "cv.n_trials=2", "metrics.bootstrap=100",
        "association.enabled=false", "harmonisation.enabled=true", "with_demographics=true",
        f"hydra.run.dir={tmp_path / 'run'}",
    ])
    main()
    table = pd.read_csv(tmp_path / "run" / "results.csv")
    assert table.columns.tolist() == ["feature set", "MCI_vs_AD"] and len(table) == 2
    assert pd.read_csv(tmp_path / "run" / "summary.csv")["n_features"].tolist() == [3, 10]  # + age, sex


def test_stage_errors_name_the_problem(tmp_path):
    simulate_cohort(n_per_class=5).to_csv(tmp_path / "cohort.csv", index=False)
    cfg = compose_stage("classify", [f"table={tmp_path / 'cohort.csv'}", "tasks=[CN_vs_MCI]",
                                     "skip_missing_tasks=false", f"paths.run_dir={tmp_path}"])
    with pytest.raises(WmhmapError, match="MCI"):
        run_classify(cfg, tmp_path)
    cfg = compose_stage("classify", [f"table={tmp_path / 'cohort.csv'}", "columns.diagnosis=Group",
                                     f"paths.run_dir={tmp_path}"])
    with pytest.raises(InputError, match="Group"):
        run_classify(cfg, tmp_path)


# ---------------------------------------------------------------- real data


@pytest.mark.realdata
def test_oasis2_demented_vs_nondemented(shared_data, tmp_path):
    table = shared_data / "tables" / "oasis2.csv"
    cfg = compose_stage("classify", [f"table={table}", "task=oasis2", "cv.outer_folds=5", "cv.repeats=1",
                                     "cv.inner_folds=3", "cv.n_trials=4", "metrics.bootstrap=300",
                                     f"paths.run_dir={tmp_path}"])
    outcome = run_classify(cfg, tmp_path)
    summary = outcome.summary.set_index("feature_set")
    # first visit of each subject, Converted dropped: 72 Nondemented + 64 Demented
    assert summary["n"].unique().tolist() == [136] and summary["n_positive"].unique().tolist() == [64]
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    assert predictions.groupby(["feature_set", "repeat"])["Subject.ID"].apply(lambda s: s.is_unique).all()
    assert (predictions["Visit"] == 1).all()
    assert 0.6 < summary.loc["oasis2_brain", "auc"] < 0.95
    assert summary.loc["oasis2_brain", "auc_ci_low"] < summary.loc["oasis2_brain", "auc"]
    association = outcome.associations.set_index("region")
    assert association.loc["nWBV", "odds_ratio"] < 1.0  # lower brain volume, higher odds of dementia
