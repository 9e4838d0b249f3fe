"""Benchmark the web app over HTTP: start-up with a cached index, and turn latency for one client.

    python -m benchmarks.bench_app [--catalog DIR] [--encoder SPEC] [--gallery IDS.txt] [--llm SPEC]
                                   [--index-dir DIR] [--rounds 3] [--starts 3] [--json]

The app runs as `python app.py` in a subprocess, as a user would start it (`benchmarks.app_client`).
A turn is one API call (`/respond`, `/select`, `/feedback`) timed at the client, so HTTP, the
queue and the rendering of results are included. `/respond` streams ("Looking for …", then the
results): its first update is timed too. Many clients at once: `benchmarks.bench_sessions`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from benchmarks.app_client import DIALOGUES, add_app_arguments, dialogue, free_port, run_session, start_app
from offline.metrics import latency_summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_app", description=__doc__.split("\n\n")[0])
    add_app_arguments(parser, llm="rules")
    parser.add_argument("--rounds", type=int, default=3, help="times each client repeats its dialogue")
    parser.add_argument("--starts", type=int, default=3, help="timed start-ups with the index cached")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line last")
    args = parser.parse_args(argv)

    port = free_port()
    process, first, _ = start_app(args, port)  # builds the index if it is not cached yet
    process.terminate()
    process.wait()
    startups = []
    for _ in range(args.starts):
        process, seconds, _ = start_app(args, port)
        startups.append(seconds)
        if len(startups) < args.starts:
            process.terminate()
            process.wait()
    url = f"http://127.0.0.1:{port}"
    try:
        one = run_session(url, [turn for d in DIALOGUES for turn in dialogue(*d)] * args.rounds)
        if one.error:
            raise RuntimeError(f"the client failed: {one.error}")
        firsts = [first for name, first, _ in one.timed if name == "/respond"]
        result = {"first_start_s": round(first, 1), "cached_start_s": [round(s, 1) for s in startups],
                  "single_client": {"turns": len(one.timed), "latency_ms": latency_summary(one.seconds()),
                                    "message_first_update_ms": latency_summary(firsts)},
                  "llm": args.llm, "encoder": args.encoder,
                  "gallery": args.gallery, "cpus": os.cpu_count(), "load_average": os.getloadavg()}
    finally:
        process.terminate()
        process.wait()
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
