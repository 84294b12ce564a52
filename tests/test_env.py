"""environment.yml, pyproject.toml and requirements-lock.txt name the same packages."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge spells some packages differently from PyPI.
CONDA_TO_PYPI = {"pytorch-cpu": "torch"}


def _name(req: str) -> str:
    return re.split(r"[<>=!~;\[ ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in data["dependencies"]}
    for extra in data["optional-dependencies"].values():
        names |= {_name(r) for r in extra}
    return names


def _environment():
    deps = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    names = set()
    for d in deps:
        if isinstance(d, dict):
            names |= {_name(r) for r in d["pip"] if not r.startswith("-e")}
        else:
            n = _name(d)
            names.add(CONDA_TO_PYPI.get(n, n))
    return names - {"python", "pip"}


def _lock():
    pins = {}
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[_name(name)] = version.strip()
    return pins


def test_environment_and_pyproject_agree():
    assert _environment() == _pyproject()


def test_lock_pins_everything_in_pyproject():
    missing = _pyproject() - set(_lock())
    assert not missing, f"not pinned in requirements-lock.txt: {sorted(missing)}"


def test_torch_pinned_to_cpu_build_version():
    assert _lock()["torch"] == "2.13.0"
    assert "pytorch-cpu=2.13.0" in (ROOT / "environment.yml").read_text()
