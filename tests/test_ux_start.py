"""`make run` in a clone of the public repository (no ../shared next to it) serves the shipped
sample catalogue with the compact encoder and the fine-tuned reader, offline; `make run DEMO=1`
does what `python app.py` does with no flags: the demo defaults, or their offline message."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
SOURCES = ("app.py", "shop", "chat", "retrieval", "assets", "prompts", "models", "sample")


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


def make_run(clone: Path, python: str, environ: dict[str, str], *flags: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in {**os.environ, **environ}.items() if not k.startswith("SHOP_")}
    return subprocess.run(["make", "-s", "run", f"PY={python}", *flags], cwd=clone, env=env, capture_output=True,
                          text=True, timeout=180)


def test_without_the_shared_folder_make_run_serves_the_sample_offline(clone):
    done = make_run(clone, "echo python", {})
    assert done.stdout.splitlines()[-1] == ("python app.py --catalog sample/catalog --encoder local-dir:models/compact-fashion-clip"
                                            " --llm smollm2-shop"), done.stdout + done.stderr


def test_the_demo_is_one_flag_away(clone):
    done = make_run(clone, "echo python", {"HF_HUB_OFFLINE": ""}, "DEMO=1")
    assert done.stdout.splitlines()[-1] == "python app.py", done.stdout + done.stderr


def test_the_demo_offline_stops_with_its_message(clone, tmp_path):
    done = make_run(clone, sys.executable, {"HF_HUB_OFFLINE": "1", "XDG_CACHE_HOME": str(tmp_path / "cache"),
                                            "HF_HOME": str(tmp_path / "hf")}, "DEMO=1")
    assert done.returncode != 0 and "must be downloaded from the Hugging Face Hub" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "No such file" not in done.stderr
    assert "--catalog sample/catalog" in done.stderr, "the message names the shipped sample"


def test_make_run_in_a_clone_answers_a_search_offline(clone, tmp_path):
    """The real thing: `make run` serves the sample with the compact encoder, no network;
    the rules read here (LLM=rules) so the test does not wait for the model."""
    from tests.served_app import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOP_", "HF_HUB_OFFLINE"))}
    env.update(SHOP_PORT=str(port), XDG_CACHE_HOME=str(tmp_path / "cache"), HF_HOME=str(tmp_path / "hf"))
    server = subprocess.Popen(["make", "-s", "run", f"PY={sys.executable}", "LLM=rules"], cwd=clone, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        client = _connect(f"http://127.0.0.1:{port}", server)
        results = []
        for _ in range(60):  # the first start indexes the sample before it searches
            reply, results = client.predict("a black t-shirt for men", None, api_name="/respond")
            if results:
                break
            time.sleep(1)
        assert reply.startswith("Here are 12 Black Tshirts for Men"), reply
        assert {(r["attributes"]["baseColour"], r["attributes"]["articleType"]) for r in results} == {("Black", "Tshirts")}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def _connect(url: str, server: subprocess.Popen, timeout_s: float = 120):
    from gradio_client import Client

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"make run stopped: {server.stderr.read()[-2000:]}")
        try:
            return Client(url, verbose=False)
        except Exception:  # not listening yet
            time.sleep(1)
    raise AssertionError(f"make run did not serve {url} within {timeout_s} s")
