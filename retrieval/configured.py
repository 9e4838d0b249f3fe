"""Open the retriever that command-line settings describe, trained composer included.

The app and the evaluation CLIs take the same `--composer DIR` / `--method` pair; this is
the one place that turns them into a `Retriever`, so "trained when a composer is given, else
edit" cannot drift between what is evaluated and what is served.
"""

from __future__ import annotations

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
