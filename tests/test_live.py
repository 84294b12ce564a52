"""The live-run path (README): `python scripts/live.py NN [--student]` starts JupyterLab on a copy.

The documented command starts a server that answers on localhost with the chapter's copy in its
contents, and stops on SIGTERM; the committed notebook is left byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("jupyterlab", reason="the live extra (pip install -e '.[live]') is not installed")
CHAPTER = sorted((ROOT / "chapters").glob("01-*.ipynb"))[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str):
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status, json.loads(r.read() or b"null")


@pytest.mark.parametrize("student", [False, True], ids=["book-copy", "student-copy"])
def test_live_command_serves_a_copy_and_stops(tmp_path, student):
    before = hashlib.sha256(CHAPTER.read_bytes()).hexdigest()
    port, token = _free_port(), "live-test-token"
    cmd = [
        sys.executable,
        str(ROOT / "scripts" / "live.py"),
        "01",
        "--dir",
        str(tmp_path / "live"),
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
    ]
    if student:
        cmd.insert(3, "--student")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, status = time.time() + 120, None
        while time.time() < deadline and proc.poll() is None:
            try:
                status, _ = _get(f"http://127.0.0.1:{port}/api/status", token)
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        assert status == 200, f"no answer on localhost:{port}; exit code {proc.poll()}"
        name = CHAPTER.stem + ("-student" if student else "") + ".ipynb"
        status, model = _get(f"http://127.0.0.1:{port}/api/contents/chapters/{name}?content=0", token)
        assert status == 200 and model["type"] == "notebook"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            pytest.fail(f"the server did not stop on SIGTERM:\n{out[-2000:]}")
    assert proc.returncode is not None
    copy = tmp_path / "live" / "chapters" / name
    assert copy.is_file()
    if student:
        assert "exercise-stub" in copy.read_text() and "myst_nb" not in copy.read_text()
    assert hashlib.sha256(CHAPTER.read_bytes()).hexdigest() == before  # the committed notebook is untouched


def test_live_keeps_an_existing_copy_and_rejects_unknown_chapters(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    import live

    dest = live.make_copy(CHAPTER, tmp_path, student=False, fresh=False)
    dest.write_text("my work")
    assert live.make_copy(CHAPTER, tmp_path, student=False, fresh=False).read_text() == "my work"
    assert live.make_copy(CHAPTER, tmp_path, student=False, fresh=True).read_bytes() == CHAPTER.read_bytes()
    with pytest.raises(SystemExit, match="no single chapter"):
        live.find_chapter("99")
    with pytest.raises(SystemExit, match="overwrite"):
        live.make_copy(CHAPTER, ROOT, student=False, fresh=True)
