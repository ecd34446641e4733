"""The notebooks (jupytext percent .py, stored without outputs) convert to notebooks and run top to
bottom on a kernel of this environment against a demo folder, drawing their figures; the demo folder
is found from WMHMAP_DEMO_DIR or the newest outputs/demo/<run>."""

from __future__ import annotations

import os
from pathlib import Path

import jupytext
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient

from wmhmap.errors import InputError
from wmhmap.pipeline.runner import run_stage
from wmhmap.report.locate import cohort_dir, demo_dir

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _feature_table(path: Path, n: int = 36) -> Path:
    """A quantify-style wide table (wmh_total_ml, wmh_ml__builtin__*, vol_ml__*) where AD carries more
    anterior WMH and a smaller hippocampus."""
    rng = np.random.default_rng(0)
    diagnosis = np.array(["CN", "MCI", "AD"])[np.arange(n) % 3]
    shift = np.select([diagnosis == "AD", diagnosis == "MCI"], [0.9, 0.4], 0.0)
    frame = pd.DataFrame({"subject_id": [f"s{i:03d}" for i in range(n)], "session": "ses-01", "site": "A",
                          "diagnosis": diagnosis, "age": rng.normal(72, 6, n).round(1),
                          "sex": rng.choice(["F", "M"], n), "icv_ml": rng.normal(1500, 120, n)})
    for region, gain in (("anterior", 1.0), ("posterior", 0.3), ("deep", 0.1)):
        frame[f"wmh_ml__builtin__{region}"] = np.exp(rng.normal(0.5 + gain * shift, 0.5))
    frame["wmh_total_ml"] = frame.filter(like="wmh_ml__").sum(axis=1)
    frame["vol_ml__hippocampus"] = rng.normal(7.5 - shift, 0.6)
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def demo_folder(tiny_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny demo, plus a real classify run on a generated feature table when the demo has none."""
    if (tiny_demo / "classify" / "summary.csv").is_file():
        return tiny_demo
    folder = tmp_path_factory.mktemp("demo_with_classify")
    for part in tiny_demo.iterdir():
        (folder / part.name).symlink_to(part, target_is_directory=part.is_dir())
    table = _feature_table(folder / "features.csv")
    run_stage("classify", [f"table={table}", "tasks=[CN_vs_AD]", "features=[global,regional,regional_atrophy]",
                           "cv.outer_folds=2", "cv.inner_folds=2", "cv.repeats=1", "cv.n_trials=1",
                           "metrics.bootstrap=50", "tracking.mode=disabled"], folder / "classify")
    return folder


def test_demo_folder_is_found_by_variable_or_newest_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WMHMAP_DEMO_DIR", raising=False)
    monkeypatch.delenv("WMHMAP_ROOT", raising=False)
    with pytest.raises(InputError, match="no demo run found"):
        demo_dir(start=tmp_path)
    for name in ("2026-01-02_09-00-00", "2026-01-10_08-00-00", "2025-12-31_23-59-59"):
        (tmp_path / "outputs" / "demo" / name).mkdir(parents=True)
    assert demo_dir(start=tmp_path).name == "2026-01-10_08-00-00"
    assert demo_dir(start=tmp_path / "notebooks").name == "2026-01-10_08-00-00"   # run from notebooks/
    monkeypatch.setenv("WMHMAP_DEMO_DIR", str(tmp_path / "missing"))
    with pytest.raises(InputError, match="demo folder not found"):
        demo_dir()


@pytest.mark.parametrize("name", ["01_training_run", "02_regional_wmh_maps", "03_classification_results"])
def test_notebook_runs_against_a_demo(name: str, demo_folder: Path, tiny_cohort: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    source = NOTEBOOKS / f"{name}.py"
    notebook = jupytext.read(source)
    assert notebook.cells and all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    assert cohort_dir(demo_folder) == tiny_cohort / "synthetic"
    monkeypatch.setenv("WMHMAP_DEMO_DIR", str(demo_folder))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    client = NotebookClient(notebook, kernel_name="python3", timeout=180, resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2, f"{name} drew {len(images)} figure(s)"
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    if name == "01_training_run":
        assert str(demo_folder) in text and "best validation Dice" in text
    if name == "02_regional_wmh_maps":
        assert "synthetic ground truth" in text or "quantify stage" in text
    assert os.environ["WMHMAP_DEMO_DIR"] == str(demo_folder)
