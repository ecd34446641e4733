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
# # A training run and its evaluation
#
# The demo's training run (`<demo>/train/`): its configuration choices, learning curves from the
# Lightning CSV log, validation overlays, then the per-subject challenge metrics of its predictions
# (`<demo>/evaluate/`). Set `WMHMAP_DEMO_DIR` to a demo folder; by default the newest
# `outputs/demo/<date>_<time>/` is used.

# %%
import matplotlib.pyplot as plt
import pandas as pd
import yaml
from IPython.display import Image, display

from wmhmap.cli.common import CONF_DIR
from wmhmap.report.choices import run_choices
from wmhmap.report.locate import demo_dir
from wmhmap.report.training import read_training_run

demo = demo_dir()
train_dir, evaluate_dir = demo / "train", demo / "evaluate"
print(f"demo folder: {demo}")

# %% [markdown]
# ## What was trained
# The config groups are read back from the resolved `config.yaml` (a `*` marks an option changed by
# overrides), with the final metrics from `metrics.yaml`.

# %%
run = read_training_run(train_dir, CONF_DIR)
config = yaml.safe_load((train_dir / "config.yaml").read_text())
choices = run_choices(config, CONF_DIR)
pd.Series({**choices, **{k: v for k, v in run.row.items() if k.startswith(("val/", "train/"))}}, name="value").to_frame()

# %% [markdown]
# ## Learning curves
# One point per epoch: training loss, validation loss and validation Dice (sliding-window inference
# on whole validation volumes).

# %%
curves = run.curves
panels = [c for c in ("train/loss_epoch", "val/loss", "val/dice") if c in curves.columns]
fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2), squeeze=False)
for ax, column in zip(axes[0], panels, strict=True):
    data = curves[["epoch", column]].dropna()
    ax.plot(data["epoch"], data[column], marker="o")
    ax.set(title=column, xlabel="epoch")
    ax.grid(alpha=0.3)
fig.tight_layout()
best = curves.loc[curves["val/dice"].idxmax()]
print(f"best validation Dice {best['val/dice']:.3f} at epoch {int(best['epoch'])} of {len(curves)}")

# %% [markdown]
# ## Validation overlays
# Green: reference lesions; red: prediction, at the first and the last epoch that wrote one.

# %%
overlays = sorted((train_dir / "overlays").glob("epoch*.png"))
for path in dict.fromkeys([overlays[0], overlays[-1]]) if overlays else []:
    print(path.name)
    display(Image(filename=str(path), width=900))

# %% [markdown]
# ## Per-subject metrics of the predictions
# Dice, HD95 (mm), AVD (%), lesion recall and F1 for each test scan, by site.

# %%
per_subject = pd.read_csv(evaluate_dir / "per_subject.csv")
columns = ["subject_id", "session", "site", "dice", "hd95", "avd", "recall", "f1", "reference_ml", "prediction_ml"]
per_subject[columns].round(3)

# %%
fig, (ax_dice, ax_volume) = plt.subplots(1, 2, figsize=(10, 3.8))
sites = sorted(per_subject["site"].astype(str).unique())
ax_dice.boxplot([per_subject.loc[per_subject["site"] == s, "dice"].dropna() for s in sites])
ax_dice.set_xticks(range(1, len(sites) + 1), sites)
ax_dice.set(title="Dice by site", ylabel="Dice", ylim=(0, 1))
for site in sites:
    rows = per_subject[per_subject["site"] == site]
    ax_volume.scatter(rows["reference_ml"], rows["prediction_ml"], label=site)
top = float(per_subject[["reference_ml", "prediction_ml"]].max().max()) * 1.05 or 1.0
ax_volume.plot([0, top], [0, top], ls=":", color="grey")
ax_volume.set(title="Lesion volume", xlabel="reference (mL)", ylabel="predicted (mL)")
ax_volume.legend(title="site")
fig.tight_layout()

# %%
pd.read_csv(evaluate_dir / "summary.csv")[["grouping", "group", "n", "dice_mean", "hd95_mean", "avd_mean",
                                           "recall_mean", "f1_mean"]].round(3)
