"""What the web app serves: settings from flags or environment, and the one assistant.

`python app.py` with no flags serves the demo (a public catalogue and pretrained models from
the Hugging Face Hub). What is not downloaded yet cannot be fetched offline, so that case is
found in seconds, before any model loads, and stops with the flags to use instead. Opening
the assistant runs in a background thread: a cached index opens in seconds, a first build
takes minutes, and during those the UI is already up and shows the indexing progress.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence
from urllib.parse import urlparse

from retrieval.demo_catalog import DEMO_DATASET, demo_catalog_dir, fetch_demo_catalog, is_fetched

if TYPE_CHECKING:
    from chat.assistant import Assistant
    from chat.session import Shop

logger = logging.getLogger(__name__)

DEMO_CATALOG = f"hf-dataset:{DEMO_DATASET}"
DEMO_ENCODER = "hf-hub:Marqo/marqo-fashionSigLIP"  # fashion-tuned SigLIP, Apache-2.0
DEMO_LLM = "Qwen/Qwen2.5-1.5B-Instruct"          # small instruction model; 4-bit on CUDA (chat.llm)
LOCAL_EXAMPLE = ("--catalog ../shared/data/fashion-products "
                 "--encoder local-dir:../shared/models/tiny-fashion-clip --llm rules")
HUB_PROBE_SECONDS = 3.0

ENV = {"catalog": "SHOP_CATALOG", "encoder": "SHOP_ENCODER", "llm": "SHOP_LLM", "composer": "SHOP_COMPOSER",
       "index_dir": "SHOP_INDEX_DIR", "gallery": "SHOP_GALLERY", "host": "SHOP_HOST", "port": "SHOP_PORT"}


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
    host: str | None = None  # None: Gradio's default (GRADIO_SERVER_NAME or 127.0.0.1)
    port: int | None = None  # None: Gradio's default (GRADIO_SERVER_PORT or 7860)


def parse_settings(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> AppSettings:
    """Flags win over SHOP_* environment variables, which win over the demo defaults."""
    defaults = AppSettings()
    parser = argparse.ArgumentParser(prog="python app.py", description="The shopping assistant's web app.")

    def option(name: str, help: str, kind=str) -> None:
        default = environ.get(ENV[name]) or getattr(defaults, name)
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=default,
                            help=f"{help} (env {ENV[name]}; default {getattr(defaults, name)})")

    option("catalog", "catalogue folder with products.csv and images/, or hf-dataset:ORG/NAME")
    option("encoder", "open_clip spec: local-dir:PATH, hf-hub:ORG/NAME or MODEL/TAG")
    option("llm", "rules, a transformers model id or folder, or a .gguf file")
    option("composer", "folder of a trained composer (python -m retrieval.train)", Path)
    option("index_dir", "cache folder for indexes", Path)
    option("gallery", "IDS.txt: serve only these product ids", Path)
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
            f"here ({why}). Run with local files instead, e.g.\n  python app.py {LOCAL_EXAMPLE}\n"
            f"(or set {', '.join(ENV[k] for k in ('catalog', 'encoder', 'llm'))}).")


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
    if _is_hub_id(settings.llm):
        needs.append((settings.llm, cached(settings.llm, "config.json")))
    return needs


def _is_hub_id(spec: str) -> bool:
    """ORG/NAME that is not a local path (the LLM's other spec kinds are all local)."""
    return spec.count("/") == 1 and not Path(spec).expanduser().exists() and not spec.startswith((".", "/", "~"))


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


def open_assistant(settings: AppSettings, on_progress=None, on_stage=None) -> Assistant:
    """The assistant these settings describe, with its LLM loaded so that no shopper's turn
    pays for it; the index builds (with progress) on first use. `on_stage(text)` hears what
    is happening."""
    # torch and the models load here, not at import: a bad setting must fail in seconds.
    from chat.assistant import Assistant, make_rewriter
    from retrieval.configured import open_configured_retriever

    stage = on_stage or (lambda text: None)
    stage("Loading the catalogue and the encoder…")
    retriever = open_configured_retriever(
        resolve_catalog(settings.catalog), settings.encoder, settings.gallery, settings.index_dir,
        composer_dir=settings.composer, on_progress=on_progress, progress=True)
    rewriter = make_rewriter(settings.llm, retriever.vocabulary)
    if hasattr(rewriter, "load"):  # an LLM rewriter; the rules need no loading
        stage(f"Loading the language model {settings.llm}…")
        rewriter.load()
    return Assistant(retriever, rewriter)


class Loader:
    """Opens the assistant (as a `Shop`) in a background thread and reports how far it got.

    The one piece of app-wide mutable state: written by the loading thread only, read by
    request handlers to show progress or the ready assistant.
    """

    def __init__(self, settings: AppSettings):
        self.settings = settings
        self.shop: Shop | None = None
        self.error: str | None = None
        self.stage = "Loading the catalogue and the models…"
        self.done = 0
        self.total = 0
        self._settled = threading.Event()  # ready, failed, or a long index build has begun
        self._thread = threading.Thread(target=self._load, name="open-assistant", daemon=True)

    def start(self) -> Loader:
        self._thread.start()
        return self

    def wait_until_settled(self, timeout: float | None = None) -> Loader:
        """Return once the assistant is ready, loading failed, or indexing began (then the UI
        can start and show the progress)."""
        self._settled.wait(timeout)
        return self

    def wait_until_ready(self, timeout: float | None = None) -> Shop | None:
        self._thread.join(timeout)
        return self.shop

    @property
    def ready(self) -> bool:
        return self.shop is not None

    def status(self) -> str:
        """One line for the UI while the assistant is not ready."""
        if self.error:
            return f"The shop could not start: {self.error}"
        if self.total and self.done < self.total:
            return (f"Indexing the catalogue photos: {self.done:,} of {self.total:,} "
                    "(only the first start takes this long).")
        return self.stage

    def _progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        self._settled.set()

    def _stage(self, text: str) -> None:
        self.stage = text

    def _load(self) -> None:
        from chat.session import Shop

        try:
            self.shop = Shop(open_assistant(self.settings, on_progress=self._progress, on_stage=self._stage))
        except (ValueError, RuntimeError, OSError) as err:  # a bad setting or missing file: the message says what to do
            self.error = str(err) or type(err).__name__
        except Exception as err:  # a bug: the traceback goes to the log
            logger.exception("Opening the assistant failed")
            self.error = str(err) or type(err).__name__
        finally:
            self._settled.set()
