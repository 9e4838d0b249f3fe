"""The image tower made ready for inference: exact rewrites that make bf16 accurate and fast.

Both are rewrites in place on open_clip's own modules, so weights keep their names and every
open_clip code path still works: the pixels' convolution computes in fp32 (`PixelConv2d`),
and each BatchNorm that follows a convolution is folded into its weights (`fold_batch_norms`).
"""

from __future__ import annotations

import torch
from torch.nn.utils.fusion import fuse_conv_bn_eval


class PixelConv2d(torch.nn.Conv2d):
    """The image tower's first convolution, computed in fp32 whatever the autocast around it.

    Measured on 512 catalogue photos with the stand-in encoder: all layers in bf16 reach cosine
    0.9968 min / 0.99937 mean to fp32; this one layer in fp32 gives 0.99993 / 0.99999 at the
    same 190 images/s (the whole stem in fp32: 0.99998, but 25% slower).
    """

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        with torch.autocast(pixels.device.type, enabled=False):
            return super().forward(pixels.float())


def keep_pixels_in_fp32(tower: torch.nn.Module) -> None:
    """Turn the tower's first Conv2d (the ResNet stem, the ViT patch embedding) into a PixelConv2d.

    A class swap rather than a wrapper module, so the weights, their names and every
    `conv1.weight` lookup inside open_clip stay as they were.
    """
    first = next((module for module in tower.modules() if isinstance(module, torch.nn.Conv2d)), None)
    if first is not None and type(first) is torch.nn.Conv2d:
        first.__class__ = PixelConv2d


def fold_batch_norms(tower: torch.nn.Module) -> int:
    """Fold every eval-mode BatchNorm2d into the convolution that feeds it; how many were folded.

    Why: in a ResNet tower under bf16 autocast the BatchNorms run as separate fp32 passes over
    every activation, 9 of the 65 s of a 9,556-photo index build here; folded, they cost nothing
    and the tower computes the same function (in fp32 up to rounding). A pair is a convolution
    and a BatchNorm that the forward applies one after the other: siblings named `convK` and
    `bnK` (open_clip's ModifiedResNet), or neighbours in an nn.Sequential (its downsample
    branches). The BatchNorm becomes an nn.Identity; the convolution keeps its class.
    """
    if tower.training:
        raise ValueError("fold_batch_norms needs the tower in eval mode (call .eval()): training BatchNorms use batch statistics")
    folded = 0
    for parent in list(tower.modules()):
        for conv_name, bn_name in _conv_bn_pairs(parent):
            conv, bn = getattr(parent, conv_name), getattr(parent, bn_name)
            setattr(parent, conv_name, fuse_conv_bn_eval(conv, bn))
            setattr(parent, bn_name, torch.nn.Identity())
            folded += 1
    return folded


def _conv_bn_pairs(parent: torch.nn.Module) -> list[tuple[str, str]]:
    """(convolution, BatchNorm) child names of `parent` whose forward applies them in a row."""
    children = dict(parent.named_children())
    if isinstance(parent, torch.nn.Sequential):
        names = list(children)
        candidates = zip(names, names[1:])
    else:
        candidates = (("conv" + name[2:], name) for name in children if name.startswith("bn"))
    return [(conv, bn) for conv, bn in candidates
            if isinstance(children.get(conv), torch.nn.Conv2d) and isinstance(children.get(bn), torch.nn.BatchNorm2d)]
