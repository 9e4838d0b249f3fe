"""Turn latency against the number of shoppers at once: the web app over HTTP with 1, 2, 4, 8,
16 and 32 concurrent gradio_client sessions, each running its own five-turn dialogue.

    python -m benchmarks.bench_sessions [--catalog DIR] [--encoder SPEC] [--gallery IDS.txt]
        [--llm smollm2-shop] [--sessions 1,2,4,8,16,32] [--rounds 2] [--think 0] [--plot PNG]
        [--baseline JSON] [--from JSON] [--json]

The app runs as `python app.py` in a subprocess (`benchmarks.app_client` starts it). A turn is
one `/respond`, `/select` or `/feedback` call timed at the client; message turns (`/respond`,
the ones the reader reads) are reported apart too. Session i runs dialogue i mod 8 of
`benchmarks.app_client.DIALOGUES`, so every count is checked for errors and for cross-talk:
a session whose results after some turn are another dialogue's, not its own.
Each row also says how much CPU a turn cost the app (`app_cpu_ms_per_turn`) and the clients
(`client_cpu_ms_per_turn`, gradio_client in this process): both share this machine's cores,
where a shopper's browser would not.
The last line of stdout is one JSON object; `--plot` draws p50 and p95 against sessions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from benchmarks.app_client import DIALOGUES, Session, add_app_arguments, dialogue, free_port, run_session, start_app
from offline.metrics import latency_summary


def sessions_at_once(url: str, app: psutil.Process, count: int, rounds: int, alone: list[list[list[str]]],
                     think_s: float = 0.0) -> dict:
    """`count` sessions at once, each running dialogue i mod 8 `rounds` times, against the app
    in process `app`."""
    scripts = [dialogue(*DIALOGUES[i % len(DIALOGUES)]) * rounds for i in range(count)]
    app_cpu, client_cpu, started = _cpu_seconds(app), time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(count) as pool:
        runs: list[Session] = list(pool.map(lambda script: run_session(url, script, think_s), scripts))
    wall = time.perf_counter() - started
    app_cpu, client_cpu = _cpu_seconds(app) - app_cpu, time.process_time() - client_cpu
    turns = [s for run in runs for s in run.seconds()]
    per_turn = 1000 / max(1, len(turns))
    return {"sessions": count, "turns": len(turns), "latency_ms": latency_summary(turns),
            "app_cpu_ms_per_turn": round(app_cpu * per_turn, 1), "client_cpu_ms_per_turn": round(client_cpu * per_turn, 1),
            "message_latency_ms": latency_summary([s for run in runs for s in run.seconds("/respond")]),
            "turns_per_s": round(len(turns) / wall, 2), "errors": [run.error for run in runs if run.error],
            "cross_talk": sum(_cross_talk(run.shown, i, alone) for i, run in enumerate(runs)),
            "differs_from_alone": sum(run.shown != alone[i % len(alone)] * rounds for i, run in enumerate(runs))}


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _cross_talk(shown: list[list[str]], session: int, alone: list[list[list[str]]]) -> bool:
    """Whether some turn showed results that another dialogue got at that turn alone and its
    own dialogue did not: another shopper's results, not a different reading of its own."""
    own = alone[session % len(alone)]
    for turn, ids in enumerate(shown):
        others = [script[turn % len(script)] for d, script in enumerate(alone) if d != session % len(alone)]
        if ids and ids != own[turn % len(own)] and ids in others:
            return True
    return False


def plot(rows: list[dict], path: Path, title: str, baseline: list[dict] | None = None,
         baseline_label: str = "baseline") -> None:
    """p50 and p95 turn latency (and message turns' p50) against sessions, log-2 x axis;
    `baseline`'s turn p50 in grey (another run's rows, e.g. before a change)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sessions = [row["sessions"] for row in rows]
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(sessions, [row["latency_ms"]["p50"] for row in rows], "o-", label="turn p50")
    axes.plot(sessions, [row["latency_ms"]["p95"] for row in rows], "s--", label="turn p95")
    axes.plot(sessions, [row["message_latency_ms"]["p50"] for row in rows], "^:", label="message turn p50")
    if baseline:
        axes.plot([row["sessions"] for row in baseline], [row["latency_ms"]["p50"] for row in baseline], "x-",
                  color="grey", label=f"turn p50, {baseline_label}")
    axes.set_xscale("log", base=2)
    axes.set_xticks(sessions, [str(s) for s in sessions])
    axes.set_xlabel("concurrent sessions")
    axes.set_ylabel("ms")
    axes.set_title(title, fontsize=9)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_sessions", description=__doc__.split("\n\n")[0])
    add_app_arguments(parser, llm="smollm2-shop")
    parser.add_argument("--sessions", default="1,2,4,8,16,32")
    parser.add_argument("--rounds", type=int, default=2, help="times each session repeats its dialogue")
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds each shopper pauses after a turn (default 0: turns back to back)")
    parser.add_argument("--clients-nice", type=int, default=0,
                        help="niceness of the clients once the app has started (19: the app gets the cores first, "
                             "as where browsers run elsewhere)")
    parser.add_argument("--plot", type=Path, help="write the latency plot here (PNG)")
    parser.add_argument("--baseline", type=Path, help="another run's JSON line, drawn in grey on the plot")
    parser.add_argument("--from", dest="saved", type=Path, help="plot this run's saved JSON line instead of running")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args(argv)
    baseline = json.loads(args.baseline.read_text())["rows"] if args.baseline else None
    label = args.baseline.stem.replace("_", " ") if args.baseline else ""
    if args.saved:
        result = json.loads(args.saved.read_text())
        plot(result["rows"], args.plot or args.saved.with_suffix(".png"), result["title"], baseline, label)
        return 0
    counts = [int(n) for n in args.sessions.split(",")]

    port = free_port()
    process, start_s, log = start_app(args, port)
    url = f"http://127.0.0.1:{port}"
    try:
        if args.llm != "rules" and not log.reader_loaded.wait(600):
            raise RuntimeError(f"the reader did not load within 10 minutes: {''.join(log.lines[-20:])}")
        time.sleep(5)  # the reader compiles its grammar on its first answer, then serves
        os.nice(args.clients_nice)  # this process only: the app started at the caller's niceness
        run_session(url, dialogue(*DIALOGUES[0]))
        alone = [run_session(url, dialogue(*d)).shown for d in DIALOGUES]
        rows = []
        for count in counts:
            before = log.fallbacks()
            rows.append(sessions_at_once(url, psutil.Process(process.pid), count, args.rounds, alone, args.think))
            rows[-1]["read_by_the_rules_instead"] = log.fallbacks() - before
            if not args.json:
                row = rows[-1]
                print(f"{count:3d} sessions: turn p50 {row['latency_ms']['p50']:6.0f} ms, p95 "
                      f"{row['latency_ms']['p95']:6.0f} ms, {row['turns_per_s']:5.2f} turns/s, CPU a turn: app "
                      f"{row['app_cpu_ms_per_turn']:.0f} ms, clients {row['client_cpu_ms_per_turn']:.0f} ms, "
                      f"{len(row['errors'])} errors, {row['cross_talk']} cross-talk", flush=True)
    finally:
        process.terminate()
        process.wait()
    pause = f", {args.think:g} s between turns" if args.think else ", turns back to back"
    result = {"llm": args.llm, "encoder": args.encoder, "gallery": args.gallery, "rounds": args.rounds,
              "think_s": args.think, "clients_nice": args.clients_nice, "title": f"{args.llm}, {os.cpu_count()} CPUs{pause}, {time.strftime('%Y-%m-%d')}",
              "start_s": round(start_s, 1), "cpus": os.cpu_count(),
              "load_average": [round(x, 1) for x in os.getloadavg()], "rows": rows}
    if args.plot:
        plot(rows, args.plot, result["title"], baseline, label)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
