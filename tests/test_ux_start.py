"""`make run` in a clone of the public repository (no ../shared next to it) does what
`python app.py` does with no flags: the demo defaults, or their offline message."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
SOURCES = ("app.py", "shop", "chat", "retrieval", "assets", "prompts", "models")


@pytest.fixture
def clone(tmp_path) -> Path:
    """A checkout with no ../shared beside it, its virtual environment marked installed."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("Makefile", "requirements.txt", "requirements-dev.txt"):
        shutil.copy(REPO / name, repo / name)
    for name in SOURCES:
        if (REPO / name).exists():
            (repo / name).symlink_to(REPO / name)
    (repo / ".venv").mkdir()
    (repo / ".venv" / ".installed").touch()
    return repo


def make_run(clone: Path, python: str, environ: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in {**os.environ, **environ}.items() if not k.startswith("SHOP_")}
    return subprocess.run(["make", "-s", "run", f"PY={python}"], cwd=clone, env=env, capture_output=True,
                          text=True, timeout=180)


def test_without_the_shared_folder_make_run_is_python_app_py(clone):
    done = make_run(clone, "echo python", {"HF_HUB_OFFLINE": ""})
    assert done.stdout.splitlines()[-1] == "python app.py", done.stdout + done.stderr
    assert "not found: serving the demo defaults" in done.stdout


def test_offline_it_stops_with_the_demo_message(clone, tmp_path):
    done = make_run(clone, sys.executable, {"HF_HUB_OFFLINE": "1", "XDG_CACHE_HOME": str(tmp_path / "cache"),
                                            "HF_HOME": str(tmp_path / "hf")})
    assert done.returncode != 0 and "must be downloaded from the Hugging Face Hub" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "No such file" not in done.stderr
