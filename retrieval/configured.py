"""Open the retriever that command-line settings describe, trained composer included.

The app and the evaluation CLIs take the same `--composer DIR` / `--method` pair; this is
the one place that turns them into a `Retriever`, so "trained when a composer is given, else
edit" cannot drift between what is evaluated and what is served.
"""

from __future__ import annotations

import argparse

from dataclasses import replace
from pathlib import Path

from retrieval.index import ProgressCallback
from retrieval.retriever import RetrievalSettings, Retriever, open_retriever


def open_configured_retriever(
    catalog: str | Path,
    encoder: str,
    gallery: str | Path | None = None,
    index_dir: Path | None = None,
    composer_dir: str | Path | None = None,
    method: str | None = None,
    on_progress: ProgressCallback | None = None,
    progress: bool = True,
) -> Retriever:
    """The retriever with a trained composer when `composer_dir` is given; `method` defaults
    to "trained" then and to "edit" otherwise."""
    composer = None
    if composer_dir:
        from retrieval.composer_model import load_composer  # torch module: only when asked for

        composer = load_composer(composer_dir)
    settings = replace(RetrievalSettings(), method=method or ("trained" if composer else "edit"))
    return open_retriever(catalog, encoder, gallery, index_dir, settings=settings, composer=composer,
                          on_progress=on_progress, progress=progress)


def add_retriever_options(parser: argparse.ArgumentParser) -> None:
    """The options every evaluation CLI shares, so they read and default the same everywhere."""
    parser.add_argument("--reference-as", choices=["catalog", "upload"], default="catalog",
                        help="reference picked from results (catalog), or uploaded: pixels only")
    parser.add_argument("--method", choices=["sum", "edit", "trained"], help="composition (default: edit, or trained with --composer)")
    parser.add_argument("--composer", type=Path, help="folder of a trained composer (python -m retrieval.train)")
    parser.add_argument("--index-dir", type=Path, help="cache folder for indexes (default: the user's cache)")


def check_retriever_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.method == "trained" and not args.composer:
        parser.error("--method trained needs --composer DIR")
