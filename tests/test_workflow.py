"""The GitHub Actions workflow (.github/workflows/book.yml), checked structurally (actionlint's
binary cannot be fetched here): it runs exactly .ci/run and deploys _build/html from main."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def load():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    wf["on"] = wf.pop(True, wf.get("on"))  # YAML 1.1 reads the key `on` as True
    return wf


def test_workflow_structure():
    wf = load()
    assert "main" in wf["on"]["push"]["branches"]
    jobs = wf["jobs"]
    assert set(jobs) == {"test-and-build", "deploy"}
    for name, job in jobs.items():
        assert "runs-on" in job and isinstance(job["steps"], list) and job["steps"], name
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), (name, step)
            if "uses" in step:
                action, _, ref = step["uses"].partition("@")
                assert ref, f"action {action} must be pinned to a version"
    assert jobs["deploy"]["needs"] == "test-and-build"
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert "refs/heads/main" in jobs["deploy"]["if"]


def test_workflow_runs_exactly_ci_run():
    steps = load()["jobs"]["test-and-build"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    assert "bash .ci/run" in runs
    # nothing else that could make CI differ from a local `.ci/run` (only git's safe.directory)
    assert all(r == "bash .ci/run" or r.startswith("git config --global --add safe.directory") for r in runs)
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact@")]
    assert uploads and uploads[0]["with"]["path"] == "_build/html"
    assert (ROOT / ".ci" / "run").is_file()
