"""Time to first answer when the app starts: a first start (no index yet) and a restart.

    python -m benchmarks.bench_first_start [--catalog DIR] [--encoder SPEC] [--gallery IDS.txt]
                                           [--index-dir DIR] [--query TEXT] [--precision fp32|bf16|auto]
                                           [--llm rules|smollm2-shop|SPEC] [--json]

The app's loader (`shop.loader.Loader`, what `python app.py` runs once its imports are done)
opens the assistant in a background thread; this polls it as the page would. For each start:
seconds until a shopper can search (on a first start, the first indexed part), until the
first search returns results (the first answer), until the whole index serves, and until
the LLM reader has loaded (the app loads it on its own thread and the rules read until then:
`reader_ready_s`, and `first_answer_by` says which read the first answer). The
first start builds into `--index-dir` (default: a fresh temporary folder, removed after),
then the restart opens what it built. Web-server and import time are not included.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from chat.deferred_reader import DeferredReader
from shop.loader import Loader
from shop.session import Session
from shop.settings import AppSettings

SHARED = Path(__file__).resolve().parents[2] / "shared"
POLL_S = 0.05


def time_start(settings: AppSettings, query: str) -> dict[str, float | int | str | None]:
    """Seconds from starting the loader to: searchable, first answer, ready."""
    started = time.perf_counter()
    loader = Loader(settings).start()
    while not loader.searchable and not loader.error:
        time.sleep(POLL_S)
    if loader.error:
        raise SystemExit(f"error: {loader.error}")
    searchable = time.perf_counter() - started
    status = loader.status() if not loader.ready else "ready"
    reader = loader.shop.assistant.rewriter
    deferred = isinstance(reader, DeferredReader)
    first_by = "rules" if deferred and reader.loading else settings.llm
    view = loader.shop.send(Session(), query)
    answered = time.perf_counter() - started
    loader.wait_until_ready()
    if loader.error:
        raise SystemExit(f"error: {loader.error}")
    ready = time.perf_counter() - started
    if deferred:
        reader.wait()
        if reader.error:
            raise SystemExit(f"error: the language model did not load: {reader.error}")
    return {"searchable_s": round(searchable, 1), "first_answer_s": round(answered, 1), "ready_s": round(ready, 1),
            "reader_ready_s": round(time.perf_counter() - started, 1), "first_answer_by": first_by,
            "status_when_searchable": status, "first_answer_results": len(view.cards),
            "products": len(loader.shop.assistant.retriever.store)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_first_start", description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", default=str(SHARED / "data" / "fashion-products"))
    parser.add_argument("--encoder", default=f"local-dir:{SHARED / 'models' / 'tiny-fashion-clip'}")
    parser.add_argument("--gallery", type=Path)
    parser.add_argument("--index-dir", type=Path, help="where the first start builds (default: a fresh temporary folder)")
    parser.add_argument("--query", default="a black t-shirt for men")
    parser.add_argument("--precision", default="auto", choices=("fp32", "bf16", "auto"),
                        help="image encoding precision of the index build (fp32: the speed before auto)")
    parser.add_argument("--llm", default="rules", help="the reader the app serves (smollm2-shop: `make run`'s, loaded beside the index build)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    index_dir = args.index_dir or Path(tempfile.mkdtemp(prefix="first-start-"))
    settings = AppSettings(catalog=args.catalog, encoder=args.encoder, llm=args.llm, gallery=args.gallery, index_dir=index_dir,
                           precision=args.precision)
    try:
        figures = {"first_start": time_start(settings, args.query), "restart": time_start(settings, args.query)}
    finally:
        if args.index_dir is None:
            shutil.rmtree(index_dir, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for name, row in figures.items():
            print(f"{name}: searchable {row['searchable_s']} s, first answer {row['first_answer_s']} s "
                  f"(read by {row['first_answer_by']}), ready {row['ready_s']} s, reader ready {row['reader_ready_s']} s "
                  f"({row['products']:,} products; {row['status_when_searchable']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
