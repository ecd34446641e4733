"""The package installs as declared and environment.yml names the same dependency set."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_reqs = [r for r in pip_section if not r.startswith("-")]
    assert sorted(conda_reqs) == sorted(project["dependencies"])
    assert "-e .[dev]" in pip_section
    assert any(str(d).startswith("python") for d in env["dependencies"] if isinstance(d, str))


def test_torch_is_bounded_below_the_cuda_only_release() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    torch = next(r for r in project["dependencies"] if _name(r) == "torch")
    assert "<2.14" in torch


def test_console_scripts_point_at_cli_modules() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for name, target in scripts.items():
        module = target.split(":")[0]
        assert module.startswith("wmhmap.cli."), name
        assert (ROOT / "src" / (module.replace(".", "/") + ".py")).is_file(), f"{name} -> {module} missing"
