"""An open_clip dual encoder behind one spec string.

Spec strings are open_clip's own model names (docs/design.md): `hf-hub:ORG/NAME`,
`local-dir:PATH`, or `MODEL/PRETRAINED_TAG`. A bare `MODEL` builds the architecture with
random weights, which is only useful for speed benchmarks and tests, so it is logged loudly.
Everything returned is an L2-normalised float32 numpy array: the index and the composition
code never see torch.

Precision (`fp32`, `bf16`, `auto`) is how the towers compute, not what they return: bf16
autocast with channels-last images runs about 2.8x faster than plain fp32 on a CPU with native
bf16 (AVX512-BF16/AMX) and on GPUs, but it is emulated, and slower, on CPUs without it. `auto`
therefore decides per machine (`choose_precision`). The towers are rewritten for inference at
load (`retrieval.inference_tower`: BatchNorms folded, one-query pooling, attention that projects
a batch in one product; exact in every precision), and the layer that reads the pixels stays in fp32 (`PixelConv2d`): rounding
the pixels to bf16's 8-bit mantissa was nearly all of bf16's error, and keeping that one
convolution in fp32 lifts the cosine to fp32 from >= 0.996 to >= 0.9999 at the same speed.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from retrieval.inference_tower import fold_batch_norms, keep_pixels_in_fp32, pool_one_query, project_batches_at_once
from retrieval.photo import ImageInput, load_rgb

logger = logging.getLogger(__name__)


PRECISIONS = ("fp32", "bf16", "auto")


class EncoderUnavailableError(RuntimeError):
    """The encoder spec names a model that cannot be loaded here; the message says how to supply it."""


@dataclass(frozen=True)
class EncoderSpec:
    """A parsed spec string: what open_clip's factory is called with."""

    text: str
    model_name: str
    pretrained: str | None

    @property
    def is_local(self) -> bool:
        return self.model_name.startswith("local-dir:")

    @property
    def key(self) -> str:
        """What caches built with this encoder are keyed by: a local folder by its absolute path,
        so `local-dir:../models/x` and the same folder spelt absolute share their index."""
        if not self.is_local:
            return self.text
        return "local-dir:" + str(Path(self.model_name.removeprefix("local-dir:")).resolve())


def parse_spec(spec: str) -> EncoderSpec:
    """`hf-hub:ORG/NAME` and `local-dir:PATH` pass through; `MODEL/TAG` splits into name and tag."""
    spec = spec.strip()
    if not spec:
        raise ValueError("Empty encoder spec: pass e.g. local-dir:PATH, hf-hub:ORG/NAME or ViT-B-32/laion2b_s34b_b79k")
    if spec.startswith("local-dir:"):
        path = Path(spec[len("local-dir:"):]).expanduser()
        return EncoderSpec(spec, f"local-dir:{path}", None)
    if spec.startswith("hf-hub:"):
        return EncoderSpec(spec, spec, None)
    name, _, tag = spec.partition("/")
    return EncoderSpec(spec, name, tag or None)


def spec_key(spec: str) -> str:
    """`EncoderSpec.key` of a spec string."""
    return parse_spec(spec).key


def pick_device(device: str | None = None) -> torch.device:
    """CUDA, then Apple's MPS, then CPU, unless the caller names one."""
    if device:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@dataclass(frozen=True)
class ComputeMode:
    """How the towers compute: an autocast dtype (None: plain fp32) and the image memory layout.

    `name` is what an index manifest records as the precision it was built with.
    """

    name: str
    autocast: torch.dtype | None
    channels_last: bool


FP32 = ComputeMode("fp32", None, channels_last=True)
BF16 = ComputeMode("bf16", torch.bfloat16, channels_last=True)
# GPUs without native bf16 (T4, V100): fp16 autocast, the speed the encoder always had there.
FP16 = ComputeMode("fp16", torch.float16, channels_last=True)


def parse_precision(text: str) -> str:
    """One of PRECISIONS, or a ValueError that lists them (the CLIs show it as an argparse error)."""
    precision = text.strip().lower()
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {text!r}: choose one of {', '.join(PRECISIONS)}")
    return precision


def choose_precision(requested: str, device_type: str, native_bf16: bool) -> ComputeMode:
    """The compute mode for a requested precision on a device (pure, so every case is testable).

    `auto` takes bf16 only where the hardware runs it natively, because emulated bf16 is slower
    than fp32; on a GPU without it, fp16. Channels-last is on throughout: it speeds up the
    convolutions of ResNet towers (60 -> 79 images/s in fp32 here) and leaves a ViT unchanged,
    whose only convolution is the patch embedding.
    """
    precision = parse_precision(requested)
    if precision == "fp32":
        return FP32
    if precision == "bf16" or native_bf16 and device_type in ("cpu", "cuda"):
        return BF16
    return FP16 if device_type == "cuda" else FP32


def has_native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 in hardware rather than emulating it."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        try:  # oneDNN's own check for AVX512-BF16/AMX: a private torch API, hence guarded
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def decode_threads() -> int:
    """Threads that decode JPEGs beside the model: half the cores this process may use, at least one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // 2)


def _unavailable_message(spec: EncoderSpec, err: Exception) -> str:
    if spec.is_local:
        return f"Cannot load encoder {spec.text}: {err}. The folder needs open_clip_config.json and open_clip_model.safetensors."
    offline = " (HF_HUB_OFFLINE is set)" if os.environ.get("HF_HUB_OFFLINE") else ""
    return (
        f"Encoder {spec.text} is not available offline{offline}: {err}. Download it on a connected machine "
        f"(e.g. `huggingface-cli download {spec.text.removeprefix('hf-hub:')}`), or pass a local copy with "
        f"--encoder local-dir:PATH (a folder with open_clip_config.json and open_clip_model.safetensors)."
    )


class Encoder:
    """Images and texts into one L2-normalised embedding space."""

    def __init__(self, spec: str, device: str | None = None, precision: str = "auto"):
        import open_clip  # heavy: imported only when an encoder is actually built

        self.spec = parse_spec(spec)
        self.device = pick_device(device)
        native_bf16 = has_native_bf16(self.device)
        mode = choose_precision(precision, self.device.type, native_bf16)
        if mode.name == "bf16" and not native_bf16:
            logger.warning("bf16 is emulated on this %s and slower than fp32: consider --precision auto", self.device.type)
        try:
            # fp32 weights whatever the mode: autocast picks the dtype per operation, so norms
            # and softmax stay in fp32.
            model, _, self.preprocess = open_clip.create_model_and_transforms(
                self.spec.model_name, pretrained=self.spec.pretrained, device=self.device
            )
            self.tokenizer = open_clip.get_tokenizer(self.spec.model_name)
        except (OSError, ValueError, RuntimeError) as err:
            raise EncoderUnavailableError(_unavailable_message(self.spec, err)) from err
        if self.spec.pretrained is None and not self.spec.is_local and not self.spec.text.startswith("hf-hub:"):
            logger.warning("Encoder %s has random weights (no pretrained tag): fine for speed tests only", spec)
        self.model = model.eval()
        keep_pixels_in_fp32(self.model.visual)
        fold_batch_norms(self.model.visual)
        pool_one_query(self.model.visual)
        project_batches_at_once(self.model)
        self.set_mode(mode)
        self.dim = int(self._encode_text_batch(["a photo"]).shape[1])

    def set_mode(self, mode: ComputeMode) -> None:
        """Compute in `mode` from now on (benchmarks compare modes on one loaded model)."""
        self.mode = mode
        layout = torch.channels_last if mode.channels_last else torch.contiguous_format
        self.model.visual.to(memory_format=layout)

    def _autocast(self) -> contextlib.AbstractContextManager:
        # Queries (texts, one uploaded photo) run in the same mode as the index build rather
        # than always fp32: bf16 was as fast or faster in every measurement here (stand-in
        # encoder, 2 shared cores at load 5-9, so noisy): bench_encoder's medians were 33 ms
        # against 165 ms for one text and 215 ms against 2,216 ms for one photo, and a second
        # interleaved run gave texts 19-30 ms against 38-58 ms, photos within the noise. Photo
        # vectors agree with fp32 to cosine >= 0.9999 (see PixelConv2d).
        if self.mode.autocast is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.mode.autocast)

    @torch.inference_mode()
    def _encode_text_batch(self, texts: Sequence[str]) -> np.ndarray:
        tokens = self.tokenizer(list(texts)).to(self.device)
        with self._autocast():
            return _normalised(self.model.encode_text(tokens))

    def pixels(self, images: Sequence[ImageInput]) -> torch.Tensor:
        """Decode and preprocess one batch into a CPU tensor: the half of image encoding that
        runs on decoding threads (or other workers), apart from the model."""
        return torch.stack([self.preprocess(load_rgb(image)) for image in images])

    @torch.inference_mode()
    def encode_pixels(self, pixels: torch.Tensor) -> np.ndarray:
        """(n, dim) float32 for a batch from `pixels`: the model's half of image encoding."""
        layout = torch.channels_last if self.mode.channels_last else torch.contiguous_format
        pixels = pixels.to(self.device, memory_format=layout)
        with self._autocast():
            return _normalised(self.model.encode_image(pixels))

    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """(n, dim) float32, one row per text."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        rows = [self._encode_text_batch(texts[i:i + batch_size]) for i in range(0, len(texts), batch_size)]
        return np.concatenate(rows)

    def encode_images(
        self,
        images: Sequence[ImageInput],
        batch_size: int = 64,
        progress: bool = False,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """(n, dim) float32 for paths or PIL images; `on_batch(done, total)` feeds a UI progress bar.

        Past one batch, JPEGs are decoded on other threads while the model encodes the batch
        before, so indexing runs at the model's pace rather than decode + model.
        """
        if not images:
            return np.zeros((0, self.dim), np.float32)
        batches = [images[i:i + batch_size] for i in range(0, len(images), batch_size)]
        rows, done = [], 0
        with tqdm(total=len(images), desc=f"encoding images ({self.mode.name})", unit="img", disable=not progress) as bar:
            for pixels in self._decoded(batches):
                rows.append(self.encode_pixels(pixels))
                done += len(pixels)
                bar.update(len(pixels))
                if on_batch:
                    on_batch(done, len(images))
        return np.concatenate(rows)

    def _decoded(self, batches: Sequence[Sequence[ImageInput]]) -> Iterator[torch.Tensor]:
        """The batches' pixels in order; decoded ahead on threads when there is more than one."""
        if len(batches) == 1:  # a query: a thread would only add latency
            yield self.pixels(batches[0])
            return
        threads = decode_threads()
        with ThreadPoolExecutor(threads, thread_name_prefix="decode") as pool:
            pending: deque = deque()
            for batch in batches:
                pending.append(pool.submit(self.pixels, batch))
                # Two batches a thread ahead: every thread kept busy, memory bounded.
                if len(pending) > 2 * threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()


def _normalised(features: torch.Tensor) -> np.ndarray:
    features = features.float()
    return torch.nn.functional.normalize(features, dim=-1).cpu().numpy().astype(np.float32)


def load_encoder(spec: str, device: str | None = None, precision: str = "auto") -> Encoder:
    """The one public entry point, like open_clip's factory: spec string in, encoder out.

    `precision` is fp32, bf16 or auto (see `choose_precision`); vectors are float32 either way.
    """
    return Encoder(spec, device, precision)
