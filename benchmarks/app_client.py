"""Drive the web app over HTTP as shoppers do: start `python app.py`, and run five-turn
dialogues through its API with gradio_client, timing each turn at the client (HTTP, the queue
and the rendering of results included). Used by `bench_app` (start-up, one shopper) and
`bench_sessions` (many at once).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
# (colour, article, gender, second colour): each concurrent session gets its own dialogue.
DIALOGUES = [("black", "t-shirt", "men", "red"), ("white", "sports shoes", "men", "black"),
             ("blue", "jeans", "men", "black"), ("red", "dress", "women", "blue"),
             ("pink", "top", "women", "white"), ("brown", "handbag", "women", "black"),
             ("black", "watch", "men", "silver"), ("green", "kurta", "women", "red")]


def dialogue(colour: str, article: str, gender: str, second: str) -> list[tuple[str, tuple]]:
    """Five turns: search, click a result, refine it, reject one, ask for more like it."""
    return [("/respond", (f"a {colour} {article} for {gender}", None)), ("/select", (2,)),
            ("/respond", (f"like this but in {second}", None)), ("/feedback", (1, "dislike")),
            ("/respond", ("show me similar ones", None)), ("/reset", ())]


def add_app_arguments(parser: argparse.ArgumentParser, llm: str) -> None:
    """The app's catalogue, encoder, gallery, reader and index cache, as both benchmarks take them."""
    parser.add_argument("--catalog", default=str(SHARED / "data" / "fashion-products"))
    parser.add_argument("--encoder", default=f"local-dir:{SHARED / 'models' / 'tiny-fashion-clip'}")
    parser.add_argument("--gallery", default=str(REPO / "eval" / "test_ids.txt"))
    parser.add_argument("--llm", default=llm)
    parser.add_argument("--index-dir", help="index cache (default: the app's, $SHOP_INDEX_DIR)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class AppLog:
    """The app's stderr read on a thread (a pipe left unread would stall the app): whether the
    LLM reader has loaded, and how many turns it left to the rules (a timeout or a failure)."""

    def __init__(self, process) -> None:
        self.lines: list[str] = []
        self.reader_loaded = threading.Event()
        threading.Thread(target=self._read, args=(process.stderr,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)
            if "loaded LLM" in line:
                self.reader_loaded.set()

    def fallbacks(self) -> int:
        return sum("LLM reader failed" in line for line in self.lines)


def start_app(args: argparse.Namespace, port: int) -> tuple[subprocess.Popen, float, AppLog]:
    """`python app.py` on `port`; returns the process, seconds until it answered HTTP, and its log."""
    command = [sys.executable, "app.py", "--catalog", args.catalog, "--encoder", args.encoder, "--llm", args.llm,
               "--port", str(port), "--host", "127.0.0.1"]
    command += ["--gallery", args.gallery] if args.gallery else []
    command += ["--index-dir", args.index_dir] if args.index_dir else []
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "HF_HUB_OFFLINE": "1"})
    log = AppLog(process)
    while time.perf_counter() - started < 600:
        if process.poll() is not None:
            time.sleep(0.5)  # the log's last lines
            raise RuntimeError(f"app.py exited: {''.join(log.lines[-30:])}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/gradio_api/info", timeout=2).status_code == 200:
                return process, time.perf_counter() - started, log
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("app.py did not answer within 10 minutes")


def timed_call(client, api_name: str, inputs: tuple) -> tuple[list, float, float]:
    """The final output of one call, seconds to its first streamed update and to the answer."""
    started = time.perf_counter()
    job = client.submit(*inputs, api_name=api_name)
    first = None
    for _ in job:  # updates as they stream in
        first = first or time.perf_counter() - started
    output = job.result()
    total = time.perf_counter() - started
    return output, first or total, total


@dataclass
class Session:
    """What one client saw: the result ids after each call, each turn's (name, seconds to the
    first update, seconds to the answer), and the error that ended it, if any."""

    shown: list[list[str]] = field(default_factory=list)
    timed: list[tuple[str, float, float]] = field(default_factory=list)
    error: str | None = None

    def seconds(self, api_name: str | None = None) -> list[float]:
        """Each turn's seconds to the answer, or those of one call."""
        return [total for name, _, total in self.timed if api_name in (None, name)]


def run_session(url: str, turns: list[tuple[str, tuple]], think_s: float = 0.0) -> Session:
    """One client through `turns`, pausing `think_s` after each (a shopper looking at the
    results). A reset is not a turn, so it is not timed; an error ends the session and is kept
    (a finding, not a crash of the benchmark)."""
    from gradio_client import Client

    session = Session()
    try:
        client = Client(url, verbose=False)
        for api_name, inputs in turns:
            (_, results), first, total = timed_call(client, api_name, inputs)
            if api_name != "/reset":
                session.timed.append((api_name, first, total))
            session.shown.append([r["id"] for r in results])
            time.sleep(think_s)
    except Exception as err:  # noqa: BLE001 - counted and reported
        session.error = f"{type(err).__name__}: {err}"
    return session
