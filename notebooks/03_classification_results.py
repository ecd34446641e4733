# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Classification results
#
# The classify stage's outputs (`<demo>/classify/`): the paper-layout AUC table, AUC with 95 % CIs
# per task and feature set, paired comparisons against the reference feature set, ROC curves, and the
# per-region associations with diagnosis (odds ratio per SD, adjusted for age, sex and ICV, FDR
# corrected). Set `WMHMAP_DEMO_DIR` to a demo folder; by default the newest
# `outputs/demo/<date>_<time>/` is used.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Image, display

from wmhmap.report.locate import demo_dir

classify_dir = demo_dir() / "classify"
if not (classify_dir / "summary.csv").is_file():
    raise FileNotFoundError(f"{classify_dir}: no classify run in this demo folder (summary.csv missing)")
print(classify_dir)

# %% [markdown]
# ## The paper's table: AUC [95 % CI], rows feature sets, columns tasks

# %%
pd.read_csv(classify_dir / "results.csv")

# %% [markdown]
# ## AUC per task and feature set
# Pooled out-of-fold AUC with its bootstrap 95 % CI; the dashed line is chance.

# %%
summary = pd.read_csv(classify_dir / "summary.csv")
tasks = list(dict.fromkeys(summary["task"]))
fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 0.5 * summary["feature_set"].nunique() + 1.5),
                         squeeze=False)
for ax, task in zip(axes[0], tasks, strict=True):
    rows = summary[summary["task"] == task].iloc[::-1]
    y = np.arange(len(rows))
    ax.errorbar(rows["auc"], y, xerr=[rows["auc"] - rows["auc_ci_low"], rows["auc_ci_high"] - rows["auc"]],
                fmt="o", capsize=3)
    ax.axvline(0.5, ls="--", color="grey")
    ax.set_yticks(y, rows["label"])
    ax.set(xlim=(0.3, 1.02), xlabel="AUC", title=task)
fig.tight_layout()
summary[["task", "feature_set", "n", "n_positive", "auc", "auc_ci_low", "auc_ci_high", "balanced_accuracy"]].round(3)

# %% [markdown]
# ## Paired comparisons with the reference feature set
# DeLong's test on the pooled predictions and the corrected resampled t-test over the outer folds;
# `q`: p adjusted across the comparisons.

# %%
comparisons = classify_dir / "comparisons.csv"
pd.read_csv(comparisons).round(4) if comparisons.is_file() else "no comparisons (a single feature set)"

# %% [markdown]
# ## ROC curves

# %%
for path in sorted(classify_dir.glob("roc_*.png")):
    display(Image(filename=str(path), width=520))

# %% [markdown]
# ## Regional associations with diagnosis
# Odds ratio per SD of each region's volume (log scale), 95 % CI; filled where FDR q < 0.05. The
# stage's own forest plots follow.

# %%
associations = pd.read_csv(classify_dir / "association.csv") if (classify_dir / "association.csv").is_file() \
    else pd.DataFrame(columns=["task", "region", "odds_ratio", "ci_low", "ci_high", "q"])
for task, rows in associations.dropna(subset=["odds_ratio"]).groupby("task"):
    rows = rows.sort_values("odds_ratio")
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(rows) + 1.5))
    significant = (rows["q"] < 0.05).to_numpy()
    ax.errorbar(rows["odds_ratio"], y, xerr=[rows["odds_ratio"] - rows["ci_low"], rows["ci_high"] - rows["odds_ratio"]],
                fmt="none", ecolor="grey", capsize=2)
    ax.scatter(rows["odds_ratio"][significant], y[significant], color="C3", zorder=3, label="q < 0.05")
    ax.scatter(rows["odds_ratio"][~significant], y[~significant], facecolor="white", edgecolor="C0", zorder=3)
    ax.axvline(1.0, ls="--", color="grey")
    ax.set_xscale("log")
    ax.set_yticks(y, rows["region"])
    ax.set(xlabel="odds ratio per SD", title=task)
    fig.tight_layout()
associations.round(4)

# %%
for path in sorted(classify_dir.glob("forest_*.png")):
    display(Image(filename=str(path), width=620))
