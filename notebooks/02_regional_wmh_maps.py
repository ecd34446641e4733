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
# # Regional WMH maps of a cohort
#
# Where do lesions sit, and does that differ by diagnosis? Regional WMH volumes come from the
# quantify stage's wide table (`<demo>/quantify/features.csv`: `wmh_ml__<scheme>__<region>`
# per subject-visit) when the demo ran it; otherwise from the synthetic cohort's own `truth.csv`
# (lesion volumes measured on the generated masks in three regions). Set `WMHMAP_DEMO_DIR` to a demo
# folder; by default the newest `outputs/demo/<date>_<time>/` is used.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from wmhmap.report.locate import cohort_dir, demo_dir

demo = demo_dir()
wide_path = demo / "quantify" / "features.csv"
if wide_path.is_file():
    table = pd.read_csv(wide_path)
    prefix, source = "wmh_ml__", f"quantify stage: {wide_path}"
else:
    table = pd.read_csv(cohort_dir(demo) / "truth.csv")
    table = table.rename(columns={c: f"wmh_ml__truth__{c.removeprefix('wmh_ml_')}" for c in table.columns
                                  if c.startswith("wmh_ml_")})
    prefix, source = "wmh_ml__", f"synthetic ground truth: {cohort_dir(demo) / 'truth.csv'}"
print(source)

# %% [markdown]
# One row per subject (the first visit), one column per region: the long form below has one row per
# subject and region, with the volume in mL and as a percentage of intracranial volume.

# %%
baseline = table.sort_values(["subject_id", "session"]).groupby("subject_id", as_index=False).first()
regional = [c for c in baseline.columns if c.startswith(prefix)]
long = baseline[["subject_id", "diagnosis", "icv_ml", *regional]].melt(
    id_vars=["subject_id", "diagnosis", "icv_ml"], var_name="column", value_name="wmh_ml")
long[["scheme", "region"]] = long["column"].str.split("__", expand=True)[[1, 2]]
long["wmh_percent_icv"] = 100 * long["wmh_ml"] / long["icv_ml"]
order = [d for d in ("CN", "MCI", "AD") if d in set(long["diagnosis"])]
order += sorted(set(long["diagnosis"].dropna()) - set(order))
print(baseline["diagnosis"].value_counts().reindex(order).to_dict())
long.head()

# %% [markdown]
# ## Mean regional WMH by diagnosis
# Bars: mean over subjects, error bars: standard error; the 20 regions with the most WMH per scheme.

# %%
for scheme, rows in long.groupby("scheme"):
    stats = rows.groupby(["region", "diagnosis"])["wmh_ml"].agg(["mean", "sem"]).reset_index()
    top = rows.groupby("region")["wmh_ml"].mean().sort_values(ascending=False).head(20).index
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(top) * len(order) / 2), 4))
    width = 0.8 / len(order)
    for i, diagnosis in enumerate(order):
        part = stats[stats["diagnosis"] == diagnosis].set_index("region").reindex(top)
        ax.bar(np.arange(len(top)) + i * width, part["mean"], width, yerr=part["sem"].fillna(0), label=diagnosis,
               capsize=2)
    ax.set_xticks(np.arange(len(top)) + width * (len(order) - 1) / 2, top, rotation=45, ha="right")
    ax.set(ylabel="WMH (mL)", title=f"{scheme}: regional WMH by diagnosis")
    ax.legend(title="diagnosis")
    fig.tight_layout()

# %% [markdown]
# ## Heatmaps: regions x diagnosis
# Left: mean WMH as % of intracranial volume. Right: the same relative to the CN group (1 = as in
# CN): regions where AD stands out are the candidates for a regional biomarker.

# %%
for scheme, rows in long.groupby("scheme"):
    mean = rows.pivot_table(index="region", columns="diagnosis", values="wmh_percent_icv", aggfunc="mean")
    mean = mean.reindex(columns=order).sort_values(order[-1], ascending=False)
    panels = [("mean WMH (% ICV)", mean, "viridis")]
    if "CN" in mean.columns:
        panels.append(("relative to CN", mean.div(mean["CN"].replace(0, np.nan), axis=0), "RdBu_r"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 0.3 * len(mean) + 2), squeeze=False)
    for ax, (title, values, cmap) in zip(axes[0], panels, strict=True):
        kwargs = {"vmin": 0, "vmax": 2} if title == "relative to CN" else {}
        image = ax.imshow(values.to_numpy(float), cmap=cmap, aspect="auto", **kwargs)
        ax.set_xticks(range(len(values.columns)), values.columns)
        ax.set_yticks(range(len(values.index)), values.index, fontsize=8)
        ax.set_title(f"{scheme}: {title}")
        fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
