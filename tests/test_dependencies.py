"""The lower bounds pyproject.toml declares are the versions the CI tests as the minimum."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lower_bounds() -> dict[str, str]:
    """``name -> version`` of every ``name>=version`` requirement of the package and its extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"],
                    *(r for group in project["optional-dependencies"].values() for r in group)]
    bounds = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?>=([0-9.]+)", requirement)
        if match:
            bounds[match[1].lower()] = match[2]
    return bounds


def _pins() -> dict[str, str]:
    lines = (ROOT / ".ci" / "minimum-versions.txt").read_text().splitlines()
    pairs = (line.split("==") for line in lines if line.strip() and not line.startswith("#"))
    return {name.strip().lower(): version.strip() for name, version in pairs}


def test_the_minimum_versions_tested_are_the_declared_lower_bounds():
    bounds, pins = _lower_bounds(), _pins()
    assert pins, "no minimum version is tested"
    for name, version in pins.items():
        declared = bounds.get(name)
        assert declared is not None, f"{name} is pinned for the CI but has no lower bound"
        assert [int(p) for p in version.split(".")][: len(declared.split("."))] == [
            int(p) for p in declared.split(".")], f"{name}: tested {version}, declared >={declared}"


def test_the_core_libraries_have_their_minimum_tested():
    assert {"skorch", "scikit-learn", "numpy", "optuna"} <= set(_pins())
