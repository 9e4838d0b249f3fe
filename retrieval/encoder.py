"""An open_clip dual encoder behind one spec string.

Spec strings are open_clip's own model names (DESIGN.md): `hf-hub:ORG/NAME`,
`local-dir:PATH`, or `MODEL/PRETRAINED_TAG`. A bare `MODEL` builds the architecture with
random weights, which is only useful for speed benchmarks and tests, so it is logged loudly.
Everything returned is an L2-normalised float32 numpy array: the index and the composition
code never see torch.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

ImageInput = str | Path | Image.Image


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


def pick_device(device: str | None = None) -> torch.device:
    """CUDA, then Apple's MPS, then CPU, unless the caller names one."""
    if device:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


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

    def __init__(self, spec: str, device: str | None = None):
        import open_clip  # heavy: imported only when an encoder is actually built

        self.spec = parse_spec(spec)
        self.device = pick_device(device)
        # Half precision halves memory and doubles speed on GPUs; CPUs lack fast fp16 kernels.
        precision = "fp16" if self.device.type == "cuda" else "fp32"
        try:
            model, _, self.preprocess = open_clip.create_model_and_transforms(
                self.spec.model_name, pretrained=self.spec.pretrained, precision=precision, device=self.device
            )
            self.tokenizer = open_clip.get_tokenizer(self.spec.model_name)
        except (OSError, ValueError, RuntimeError) as err:
            raise EncoderUnavailableError(_unavailable_message(self.spec, err)) from err
        if self.spec.pretrained is None and not self.spec.is_local and not self.spec.text.startswith("hf-hub:"):
            logger.warning("Encoder %s has random weights (no pretrained tag): fine for speed tests only", spec)
        self.model = model.eval()
        self.dim = int(self._encode_text_batch(["a photo"]).shape[1])

    @torch.inference_mode()
    def _encode_text_batch(self, texts: Sequence[str]) -> np.ndarray:
        tokens = self.tokenizer(list(texts)).to(self.device)
        return _normalised(self.model.encode_text(tokens))

    @torch.inference_mode()
    def _encode_image_batch(self, images: Sequence[Image.Image]) -> np.ndarray:
        dtype = next(self.model.parameters()).dtype
        pixels = torch.stack([self.preprocess(image) for image in images]).to(self.device, dtype)
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
        """(n, dim) float32 for paths or PIL images; `on_batch(done, total)` feeds a UI progress bar."""
        if not images:
            return np.zeros((0, self.dim), np.float32)
        rows = []
        with tqdm(total=len(images), desc="encoding images", unit="img", disable=not progress) as bar:
            for start in range(0, len(images), batch_size):
                batch = [load_rgb(image) for image in images[start:start + batch_size]]
                rows.append(self._encode_image_batch(batch))
                bar.update(len(batch))
                if on_batch:
                    on_batch(min(start + batch_size, len(images)), len(images))
        return np.concatenate(rows)


def load_rgb(image: ImageInput) -> Image.Image:
    """A PIL RGB image from a path or an image (palette and alpha images included)."""
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    with Image.open(image) as opened:
        return opened.convert("RGB")


def _normalised(features: torch.Tensor) -> np.ndarray:
    features = features.float()
    return torch.nn.functional.normalize(features, dim=-1).cpu().numpy().astype(np.float32)


def load_encoder(spec: str, device: str | None = None) -> Encoder:
    """The one public entry point, like open_clip's factory: spec string in, encoder out."""
    return Encoder(spec, device)
