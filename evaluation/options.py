"""The command-line options both evaluation CLIs share, read and defaulted in one place."""

from __future__ import annotations

import argparse
from pathlib import Path

from chat.factory import AssistantConfig
from retrieval.retriever import METHODS
from retrieval.sharded_store import add_backend_arguments


def add_retriever_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reference-as", choices=["catalog", "upload"], default="catalog",
                        help="reference picked from results (catalog), or uploaded: pixels only")
    parser.add_argument("--method", choices=METHODS, help="composition (default: edit, or trained with --composer)")
    parser.add_argument("--composer", type=Path, help="folder of a trained composer (python -m training.composer)")
    parser.add_argument("--index-dir", type=Path, help="cache folder for indexes (default: the user's cache)")
    parser.add_argument("--precision", choices=["fp32", "bf16", "auto"], default="auto",
                        help="image encoding precision (auto: bf16 where the CPU or GPU has it)")
    add_backend_arguments(parser)


def check_retriever_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.method == "trained" and not args.composer:
        parser.error("--method trained needs --composer DIR")


def assistant_config(args: argparse.Namespace, llm: str = "rules") -> AssistantConfig:
    """The configuration the arguments describe: what `python app.py` builds from its flags."""
    return AssistantConfig(catalog=args.catalog, encoder=args.encoder, llm=llm, gallery=args.gallery,
                           index_dir=args.index_dir, composer=args.composer, method=args.method,
                           precision=args.precision, backend=args.backend, shards=args.shards,
                           ray_address=args.ray_address)
