"""Benchmark the web app over HTTP: start-up with a cached index, turn latency for one
client, and 8 concurrent gradio_client sessions with a cross-talk check.

    python -m benchmarks.bench_app [--catalog DIR] [--encoder SPEC] [--gallery IDS.txt] [--llm SPEC]
                                   [--index-dir DIR] [--clients 8] [--rounds 3] [--starts 3] [--json]

The app runs as `python app.py` in a subprocess, as a user would start it. A turn is one API
call (`/respond`, `/select`, `/feedback`) timed at the client, so HTTP, the queue and the
rendering of results are included. `/respond` streams ("Looking for …", then the results):
its first update is timed too. Cross-talk: every session's dialogue is deterministic, so
each concurrent session must get exactly the results the same dialogue got when run alone.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from offline.metrics import latency_summary

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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_app(args: argparse.Namespace, port: int) -> tuple[subprocess.Popen, float]:
    """`python app.py` on `port`; returns the process and seconds until it answered HTTP."""
    command = [sys.executable, "app.py", "--catalog", args.catalog, "--encoder", args.encoder, "--llm", args.llm,
               "--port", str(port), "--host", "127.0.0.1"]
    command += ["--gallery", args.gallery] if args.gallery else []
    command += ["--index-dir", args.index_dir] if args.index_dir else []
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "HF_HUB_OFFLINE": "1"})
    while time.perf_counter() - started < 600:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited: {process.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/gradio_api/info", timeout=2).status_code == 200:
                return process, time.perf_counter() - started
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


def run_dialogue(url: str, turns: list[tuple[str, tuple]], firsts: list[float] | None = None
                 ) -> tuple[list[list[str]], list[float]]:
    """One client session through `turns`; the result ids after each turn, and each turn's
    seconds (a reset is not a turn, so it is not timed). `firsts` collects the seconds to
    the first update of each message (`/respond`)."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    shown, seconds = [], []
    for api_name, inputs in turns:
        (_, results), first, total = timed_call(client, api_name, inputs)
        if api_name != "/reset":
            seconds.append(total)
        if api_name == "/respond" and firsts is not None:
            firsts.append(first)
        shown.append([r["id"] for r in results])
    return shown, seconds


def concurrent(url: str, clients: int, rounds: int) -> dict:
    """`clients` sessions at once, each running its dialogue `rounds` times; compared with
    the same dialogues run alone first."""
    scripts = [dialogue(*DIALOGUES[i % len(DIALOGUES)]) * rounds for i in range(clients)]
    alone = [run_dialogue(url, script)[0] for script in scripts]
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        together = list(pool.map(lambda script: run_dialogue(url, script), scripts))
    wall = time.perf_counter() - started
    seconds = [s for _, times in together for s in times]
    mismatched = sum(a != t for a, (t, _) in zip(alone, together))
    return {"clients": clients, "turns": len(seconds), "latency_ms": latency_summary(seconds),
            "turns_per_s": round(len(seconds) / wall, 1), "sessions_with_cross_talk": mismatched}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_app", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", default=str(SHARED / "data" / "fashion-products"))
    parser.add_argument("--encoder", default=f"local-dir:{SHARED / 'models' / 'tiny-fashion-clip'}")
    parser.add_argument("--gallery", default=str(REPO / "eval" / "test_ids.txt"))
    parser.add_argument("--llm", default="rules")
    parser.add_argument("--index-dir", help="index cache (default: the app's, $SHOP_INDEX_DIR)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="times each client repeats its dialogue")
    parser.add_argument("--starts", type=int, default=3, help="timed start-ups with the index cached")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line last")
    args = parser.parse_args(argv)

    port = free_port()
    process, first = start_app(args, port)  # builds the index if it is not cached yet
    process.terminate()
    process.wait()
    startups = []
    for _ in range(args.starts):
        process, seconds = start_app(args, port)
        startups.append(seconds)
        if len(startups) < args.starts:
            process.terminate()
            process.wait()
    url = f"http://127.0.0.1:{port}"
    try:
        firsts: list[float] = []
        _, one = run_dialogue(url, [turn for d in DIALOGUES for turn in dialogue(*d)] * args.rounds, firsts)
        result = {"first_start_s": round(first, 1), "cached_start_s": [round(s, 1) for s in startups],
                  "single_client": {"turns": len(one), "latency_ms": latency_summary(one),
                                    "message_first_update_ms": latency_summary(firsts)},
                  "concurrent": concurrent(url, args.clients, args.rounds), "llm": args.llm, "encoder": args.encoder,
                  "gallery": args.gallery, "cpus": os.cpu_count(), "load_average": os.getloadavg()}
    finally:
        process.terminate()
        process.wait()
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
