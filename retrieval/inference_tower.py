"""The towers made ready for inference: exact rewrites that make bf16 accurate and fast.

All are rewrites in place on open_clip's own modules, so weights keep their names and every
open_clip code path still works: the pixels' convolution computes in fp32 (`PixelConv2d`),
each BatchNorm that follows a convolution is folded into its weights (`fold_batch_norms`),
a ResNet's attention pooling computes only the one query it returns (`pool_one_query`), and
a transformer's attention projects a batch in one matrix product (`project_batches_at_once`).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
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


def pool_one_query(tower: torch.nn.Module) -> int:
    """Make each open_clip AttentionPool2d in `tower` compute the pooled token's query only;
    how many were changed.

    Why: open_clip's ResNet pooling attends with every one of the HW+1 tokens as a query and
    then keeps the first token's output, so its query and output projections, a quarter of a
    bf16 image encoding here, do HW+1 times the work needed. OpenAI's CLIP queries with the
    first token alone; the output is the same.
    """
    pool_class = _one_query_pool_class()
    pools = [module for module in tower.modules() if type(module) is pool_class.__base__]
    for pool in pools:
        pool.__class__ = pool_class
    return len(pools)


@functools.cache
def _one_query_pool_class() -> type:
    from open_clip.modified_resnet import AttentionPool2d  # heavy: only once a tower exists

    class OneQueryAttentionPool2d(AttentionPool2d):
        """open_clip's AttentionPool2d with the first (mean) token as the only query."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x.reshape(x.shape[0], x.shape[1], x.shape[2] * x.shape[3]).permute(2, 0, 1)  # NCHW -> (HW)NC
            x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)  # (HW+1)NC
            x = x + self.positional_embedding[:, None, :].to(x.dtype)
            pooled, _ = F.multi_head_attention_forward(
                query=x[:1], key=x, value=x, embed_dim_to_check=x.shape[-1], num_heads=self.num_heads,
                q_proj_weight=self.q_proj.weight, k_proj_weight=self.k_proj.weight,
                v_proj_weight=self.v_proj.weight, in_proj_weight=None,
                in_proj_bias=torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias]),
                bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.0,
                out_proj_weight=self.c_proj.weight, out_proj_bias=self.c_proj.bias,
                use_separate_proj_weight=True, training=self.training, need_weights=False,
            )
            return pooled[0]

    return OneQueryAttentionPool2d


class SequenceFirstAttention(torch.nn.MultiheadAttention):
    """A batch-first nn.MultiheadAttention that hands its inputs on sequence-first and contiguous.

    Why: batch-first attention transposes its inputs to sequence-first views, and under bf16
    autocast the input projection of such a strided view of more than one sequence becomes a
    batched product with the weight copied for every position: a batch of 2 texts took 42 ms
    against 5 ms for one with the stand-in encoder (10 ms so). The turns that the web app's
    worker encodes together are such batches. The module keeps `batch_first` False, so its
    callers, which pass (batch, sequence, dim), are answered in that layout by this forward.
    """

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                **kwargs) -> tuple[torch.Tensor, torch.Tensor | None]:
        q = query.transpose(0, 1).contiguous()
        k = q if key is query else key.transpose(0, 1).contiguous()  # `is` keeps the packed projection
        v = k if value is key else value.transpose(0, 1).contiguous()
        output, weights = super().forward(q, k, v, **kwargs)
        return output.transpose(0, 1), weights


def project_batches_at_once(model: torch.nn.Module) -> int:
    """Make each batch-first nn.MultiheadAttention in `model` a SequenceFirstAttention; how many."""
    changed = [module for module in model.modules()
               if type(module) is torch.nn.MultiheadAttention and module.batch_first]
    for attention in changed:
        attention.__class__ = SequenceFirstAttention
        attention.batch_first = False
    return len(changed)
