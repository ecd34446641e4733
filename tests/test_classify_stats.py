"""Statistics of the classify stage on hand-computed and published cases: AUC, fast DeLong, bootstrap
CI, corrected resampled t-test, multiple-testing correction, threshold metrics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score
from statsmodels.stats.multitest import multipletests

from wmhmap.classify.metrics import binary_metrics, mean_roc_curve, roc_auc
from wmhmap.classify.stats import (
    adjust_pvalues,
    bootstrap_auc_ci,
    corrected_resampled_ttest,
    delong_covariance,
    delong_test,
)

# Hanley & McNeil (1982), Radiology 143:29, Table 1: CT ratings (1-5) of 58 normal and 51 abnormal cases.
HM_NORMAL = [33, 6, 6, 11, 2]
HM_ABNORMAL = [3, 2, 2, 11, 33]


def hanley_mcneil() -> tuple[np.ndarray, np.ndarray]:
    y = np.r_[np.zeros(sum(HM_NORMAL)), np.ones(sum(HM_ABNORMAL))].astype(int)
    ratings = np.r_[np.repeat(np.arange(1, 6), HM_NORMAL), np.repeat(np.arange(1, 6), HM_ABNORMAL)].astype(float)
    return y, ratings


def slow_delong(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong et al. (1988) by definition: psi(x, y) = 1, 1/2, 0 over all positive-negative pairs, O(m n)."""
    y = np.asarray(y).astype(bool)
    scores = np.atleast_2d(scores)
    v10, v01, aucs = [], [], []
    for s in scores:
        x, z = s[y][:, None], s[~y][None, :]
        psi = (x > z) + 0.5 * (x == z)
        aucs.append(psi.mean())
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
    m, n = int(y.sum()), int((~y).sum())
    cov = np.atleast_2d(np.cov(np.array(v10))) / m + np.atleast_2d(np.cov(np.array(v01))) / n
    return np.array(aucs), cov


def test_auc_hand_cases():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)  # a tie counts one half
    assert roc_auc([0, 0, 1], [0.2, 0.1, 0.9]) == pytest.approx(1.0)
    rows = roc_auc([0, 0, 1, 1], np.array([[0.1, 0.4, 0.35, 0.8], [0.4, 0.3, 0.2, 0.1]]))
    np.testing.assert_allclose(rows, [0.75, 0.0])
    with pytest.raises(ValueError, match="both classes"):
        roc_auc([1, 1], [0.1, 0.2])


def test_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(size=300) + y, 1)
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))


def test_delong_variance_hand_case():
    # positives {0.35, 0.8}, negatives {0.1, 0.4}: V10 = [0.5, 1], V01 = [1, 0.5];
    # var = var(V10)/2 + var(V01)/2 = 0.125/2 + 0.125/2 = 0.125.
    aucs, cov = delong_covariance([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert aucs[0] == pytest.approx(0.75)
    assert cov[0, 0] == pytest.approx(0.125)


def test_delong_on_hanley_mcneil_ratings():
    y, ratings = hanley_mcneil()
    aucs, cov = delong_covariance(y, ratings)
    assert aucs[0] == pytest.approx(0.893, abs=5e-4)  # published AUC
    # Hanley & McNeil's approximate SE is 0.032; DeLong's exact nonparametric SE is close to it.
    assert np.sqrt(cov[0, 0]) == pytest.approx(0.032, abs=0.003)
    slow_aucs, slow_cov = slow_delong(y, ratings)
    np.testing.assert_allclose(cov, slow_cov, rtol=1e-10)


def test_fast_delong_equals_pairwise_definition():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 120)
    a = np.round(rng.normal(size=120) + 0.8 * y, 1)  # rounded: ties within and across classes
    b = np.round(0.6 * a + rng.normal(size=120) + 0.3 * y, 1)
    aucs, cov = delong_covariance(y, np.vstack([a, b]))
    slow_aucs, slow_cov = slow_delong(y, np.vstack([a, b]))
    np.testing.assert_allclose(aucs, slow_aucs, rtol=1e-12)
    np.testing.assert_allclose(cov, slow_cov, rtol=1e-10)
    test = delong_test(y, a, b)
    z = (slow_aucs[0] - slow_aucs[1]) / np.sqrt(slow_cov[0, 0] + slow_cov[1, 1] - 2 * slow_cov[0, 1])
    assert test.z == pytest.approx(z)
    assert test.p == pytest.approx(2 * stats.norm.sf(abs(z)))


def test_delong_identical_predictions_give_p_one():
    y, ratings = hanley_mcneil()
    test = delong_test(y, ratings, ratings)
    assert test.p == 1.0 and test.z == 0.0 and test.difference == 0.0
    # a strictly monotone transform ranks identically: same AUC, p = 1
    assert delong_test(y, ratings, np.exp(ratings)).p == pytest.approx(1.0)


def test_delong_detects_a_real_difference():
    rng = np.random.default_rng(1)
    y = np.r_[np.zeros(150), np.ones(150)].astype(int)
    strong = rng.normal(size=300) + 2.0 * y
    weak = rng.normal(size=300) + 0.3 * y
    test = delong_test(y, strong, weak)
    assert test.difference > 0.2 and test.p < 1e-6


def test_adjust_pvalues_equals_statsmodels_and_keeps_nan():
    p = np.array([0.01, 0.04, 0.03, 0.2, 0.005])
    for method in ("fdr_bh", "holm", "bonferroni"):
        np.testing.assert_allclose(adjust_pvalues(p, method), multipletests(p, method=method)[1])
    with_nan = adjust_pvalues(np.r_[p, np.nan], "fdr_bh")
    assert np.isnan(with_nan[-1])
    np.testing.assert_allclose(with_nan[:-1], multipletests(p, method="fdr_bh")[1])


def test_bootstrap_ci_contains_auc_and_narrows_with_n():
    rng = np.random.default_rng(2)

    def sample(n):
        y = np.r_[np.zeros(n), np.ones(n)].astype(int)
        return y, rng.normal(size=2 * n) + 1.0 * y

    y, s = sample(50)
    auc, low, high = bootstrap_auc_ci(y, s, n_boot=1000, seed=0)
    assert auc == pytest.approx(roc_auc(y, s))
    assert low < auc < high
    y_big, s_big = sample(1000)
    _, low_big, high_big = bootstrap_auc_ci(y_big, s_big, n_boot=1000, seed=0)
    assert (high_big - low_big) < 0.5 * (high - low)
    # repeats: the point estimate is the mean over repeats of the AUC
    repeats = np.vstack([s, s + rng.normal(scale=0.5, size=s.size)])
    auc_r, low_r, high_r = bootstrap_auc_ci(y, repeats, n_boot=500, seed=0)
    assert auc_r == pytest.approx(np.mean(roc_auc(y, repeats)))
    assert low_r < auc_r < high_r


def test_bootstrap_resamples_whole_subjects_when_visits_repeat():
    rng = np.random.default_rng(4)
    subjects = np.repeat(np.arange(60), 3)
    y = (subjects >= 30).astype(int)
    s = np.repeat(rng.normal(size=60), 3) + 0.8 * y  # visits of a subject are identical
    groups_ci = bootstrap_auc_ci(y, s, n_boot=600, seed=0, groups=subjects)
    rows_ci = bootstrap_auc_ci(y, s, n_boot=600, seed=0)
    # treating 180 correlated rows as independent understates the uncertainty of 60 subjects
    assert (groups_ci[2] - groups_ci[1]) > 1.3 * (rows_ci[2] - rows_ci[1])


def test_corrected_resampled_ttest_hand_case():
    d = np.array([0.1, 0.2, 0.3, 0.0, 0.4])
    # mean 0.2; s^2 = (0.01 + 0 + 0.01 + 0.04 + 0.04) / 4 = 0.025; 1/J + n_test/n_train = 0.2 + 0.25
    result = corrected_resampled_ttest(d, n_train=80, n_test=20)
    t = 0.2 / np.sqrt(0.45 * 0.025)
    assert t == pytest.approx(1.8856180831641267)
    assert result.t == pytest.approx(t)
    assert result.df == 4
    assert result.p == pytest.approx(2 * stats.t.sf(t, 4))
    naive = stats.ttest_1samp(d, 0.0)
    assert result.p > naive.pvalue  # the correction widens the interval
    assert corrected_resampled_ttest(np.zeros(5), 80, 20).p == 1.0


def test_binary_metrics_hand_case():
    out = binary_metrics([1, 1, 1, 0, 0], [1, 0, 1, 0, 1])
    assert out["sensitivity"] == pytest.approx(2 / 3)
    assert out["specificity"] == pytest.approx(1 / 2)
    assert out["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_mean_roc_curve_of_a_perfect_classifier():
    grid, tpr = mean_roc_curve([0, 0, 1, 1], np.array([[0.1, 0.2, 0.8, 0.9], [0.2, 0.1, 0.7, 0.9]]))
    assert grid[0] == 0.0 and grid[-1] == 1.0
    np.testing.assert_allclose(tpr[1:], 1.0)
