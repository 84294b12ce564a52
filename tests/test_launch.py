"""Launch buttons and setup cells from one source, repository.url in _config.yml (scripts/launch.py).

On a small synthetic repository: without a public URL the buttons are off and the setup cell
installs nothing; with one, the buttons are on and the setup cell installs, on Colab only, ltdl
pinned to the book's version tag; Binder's requirements pin what the lock pins. Every mismatch is
reported by name. The real repository must agree with its own _config.yml.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("launch", ROOT / "scripts" / "launch.py")
launch = importlib.util.module_from_spec(spec)
sys.modules.setdefault("launch", launch)
spec.loader.exec_module(launch)

URL = "https://github.com/someone/somebook"
REST = "import matplotlib.pyplot as plt\nimport torch\n\nimport ltdl\n"
LOCK = (
    "ipykernel==7.4.0\nipywidgets==8.1.9\nmatplotlib==3.11.2\nmyst-nb==1.4.0\nnumpy==2.4.6\n"
    "torch==2.13.0\ntorchdiffeq==0.2.5\ntqdm==4.70.1\n"
)


def repo(tmp_path: Path, url: str, buttons: bool, setup_head: str) -> Path:
    cfg = {
        "title": "T",
        "repository": {"url": url, "branch": "main"},
        "launch_buttons": {
            "binderhub_url": "https://mybinder.org" if buttons else "",
            "colab_url": "https://colab.research.google.com" if buttons else "",
        },
        "html": {"use_repository_button": buttons},
    }
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(cfg))
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "ltdl"\nversion = "0.3.1"\n')
    (tmp_path / "requirements-lock.txt").write_text(LOCK)
    (tmp_path / "binder").mkdir()
    (tmp_path / "binder" / "requirements.txt").write_text(LOCK + "-e .\n")
    (tmp_path / "chapters").mkdir()
    nb = new_notebook(cells=[new_markdown_cell("# A"), new_code_cell(setup_head + REST)])
    nbformat.write(nb, tmp_path / "chapters" / "01-a.ipynb")
    return tmp_path


def test_no_public_url_means_no_buttons_and_no_install():
    block = launch.install_block("", "v0.1.0")
    assert "pip" not in block and "http" not in block and "import" not in block


def test_public_url_installs_on_colab_only_at_the_book_version():
    block = launch.install_block(URL, "v0.3.1", "1.4.0")
    assert 'if "google.colab" in sys.modules:' in block
    assert f'%pip install -q "ltdl @ git+{URL}@v0.3.1" "myst-nb==1.4.0"' in block
    lines = block.splitlines()
    pip = next(k for k, ln in enumerate(lines) if "%pip" in ln)
    assert lines[pip].startswith("    ") and "google.colab" in lines[pip - 1]  # inside the Colab branch
    with pytest.raises(launch.LaunchError, match="repository.url"):
        launch.install_block("github.com/x", "v1")


@pytest.mark.parametrize("url, buttons", [("", False), (URL, True)])
def test_consistent_repositories_pass_and_write_is_idempotent(tmp_path, url, buttons):
    root = repo(tmp_path, url, buttons, "# old setup\n")
    path = root / "chapters" / "01-a.ipynb"
    assert launch.write(root) == [path]
    assert launch.check(root) == []
    assert launch.write(root) == []
    src = nbformat.read(path, as_version=4).cells[1].source
    assert src.endswith(REST) and ("@v0.3.1" in src) == bool(url)


def test_every_mismatch_is_named(tmp_path):
    root = repo(tmp_path, URL, False, "# old setup\n")  # a URL but the buttons off, stale setup cell
    (root / "binder" / "requirements.txt").write_text("torch==2.0\n")
    problems = "\n".join(launch.check(root))
    for needle in (
        "launch_buttons.binderhub_url must be set",
        "launch_buttons.colab_url must be set",
        "html.use_repository_button must be true",
        "01-a.ipynb: the setup cell",
        "must pin torch==2.13.0",
        "(-e .)",
    ):
        assert needle in problems
    (tmp_path / "b").mkdir()
    root2 = repo(tmp_path / "b", "", True, launch.install_block("", "v0.3.1"))
    assert any("binderhub_url must be empty" in p for p in launch.check(root2))


def test_the_book_agrees_with_its_config():
    assert launch.check(ROOT) == []
