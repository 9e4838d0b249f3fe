"""Encoding precision: the per-machine choice, bf16 against fp32, and indexes shared across precisions."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from retrieval.build_index import main as build_index_main
from retrieval.catalog import load_catalog
from retrieval.encoder import Encoder, choose_precision, load_encoder, parse_precision
from retrieval.index import cached_index, index_key
from retrieval.inference_tower import (
    PixelConv2d,
    SequenceFirstAttention,
    fold_batch_norms,
    keep_pixels_in_fp32,
    pool_one_query,
    project_batches_at_once,
)


@pytest.fixture(scope="module")
def fp32_encoder(tiny_encoder_spec):
    return load_encoder(tiny_encoder_spec, precision="fp32")


@pytest.fixture(scope="module")
def bf16_encoder(tiny_encoder_spec):
    return load_encoder(tiny_encoder_spec, precision="bf16")


@pytest.mark.parametrize(("text", "parsed"), [("fp32", "fp32"), (" BF16 ", "bf16"), ("auto", "auto")])
def test_precision_names_are_parsed_leniently(text, parsed):
    assert parse_precision(text) == parsed


def test_an_unknown_precision_lists_the_choices():
    with pytest.raises(ValueError, match="choose one of fp32, bf16, auto"):
        parse_precision("fp8")


@pytest.mark.parametrize(
    ("requested", "device", "native_bf16", "chosen"),
    [
        ("auto", "cpu", True, "bf16"),     # AVX512-BF16 / AMX
        ("auto", "cpu", False, "fp32"),    # emulated bf16 is slower than fp32
        ("auto", "cuda", True, "bf16"),
        ("auto", "cuda", False, "fp16"),   # pre-Ampere GPU: half precision as before
        ("auto", "mps", False, "fp32"),
        ("fp32", "cuda", True, "fp32"),    # an explicit choice is kept
        ("bf16", "cpu", False, "bf16"),
    ],
)
def test_auto_takes_bf16_only_where_the_hardware_has_it(requested, device, native_bf16, chosen):
    mode = choose_precision(requested, device, native_bf16)
    assert mode.name == chosen
    assert mode.channels_last


def test_bf16_embeddings_agree_with_fp32(fp32_encoder, bf16_encoder, tiny_catalog):
    catalog = load_catalog(tiny_catalog)
    rng = np.random.default_rng(0)
    noise = [Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8)) for _ in range(4)]
    images = [catalog.image_path(i) for i in catalog.ids[::4]] + noise
    texts = ["red shirt", "blue shoes for women", "like this but green"]
    for encode in ("encode_images", "encode_texts"):
        inputs = images if encode == "encode_images" else texts
        full, half = getattr(fp32_encoder, encode)(inputs), getattr(bf16_encoder, encode)(inputs)
        assert half.dtype == np.float32
        assert np.sum(full * half, axis=1).min() > 0.99


def test_bf16_photo_embeddings_of_a_trained_resnet_are_fp32_to_four_nines(compact_encoder_spec, sample_catalog):
    """The compact encoder's ResNet tower on real photos: the pixels reach the first layer in
    fp32 (PixelConv2d), which is what keeps bf16 this close to fp32."""
    photos = sorted((sample_catalog / "images").glob("*.jpg"))[:64]
    full = load_encoder(compact_encoder_spec, precision="fp32").encode_images(photos)
    half = load_encoder(compact_encoder_spec, precision="bf16").encode_images(photos)
    assert np.sum(full * half, axis=1).min() > 0.9999


def test_only_the_first_convolution_reads_pixels_in_fp32(bf16_encoder):
    convolutions = [m for m in bf16_encoder.model.visual.modules() if isinstance(m, torch.nn.Conv2d)]
    assert type(convolutions[0]) is PixelConv2d
    assert all(type(m) is torch.nn.Conv2d for m in convolutions[1:])


def test_the_swapped_layer_is_still_an_ordinary_module():
    """Switching modes and comparing modules work as on any Conv2d (fine-tuning calls train())."""
    tower = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Conv2d(4, 4, 3))
    keep_pixels_in_fp32(tower)
    tower.train()
    tower.eval()
    assert not tower[0].training and tower[0] != torch.nn.Conv2d(3, 4, 3)
    assert tower[0](torch.zeros(1, 3, 8, 8)).dtype == torch.float32


def test_folding_the_batch_norms_keeps_the_towers_function():
    """open_clip's ResNet block, with trained-looking statistics: folded, it computes the same
    function, the BatchNorms are gone and the pixels' convolution is still fp32."""
    from open_clip.modified_resnet import Bottleneck

    torch.manual_seed(0)
    block = torch.nn.Sequential(Bottleneck(8, 4, stride=2))
    for bn in (m for m in block.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.normal_()
        bn.bias.data.normal_()
    block.eval()
    keep_pixels_in_fp32(block)
    pixels = torch.randn(2, 8, 16, 16)
    before = block(pixels)
    assert fold_batch_norms(block) == 4  # bn1, bn2, bn3 and the downsample's
    torch.testing.assert_close(block(pixels), before, rtol=1e-4, atol=1e-4)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in block.modules())
    assert type(block[0].conv1) is PixelConv2d


def test_pooling_with_one_query_gives_the_same_embedding():
    from open_clip.modified_resnet import AttentionPool2d

    torch.manual_seed(0)
    tower = torch.nn.Sequential(AttentionPool2d(spacial_dim=4, embed_dim=32, num_heads=4, output_dim=16)).eval()
    features = torch.randn(3, 32, 4, 4)
    before = tower(features)
    assert pool_one_query(tower) == 1
    torch.testing.assert_close(tower(features), before, rtol=1e-5, atol=1e-6)
    assert isinstance(tower[0], AttentionPool2d) and pool_one_query(tower) == 0


def test_batch_first_attention_computes_the_same_sequence_first_and_contiguous(monkeypatch):
    """Self- and cross-attention, masked, in the (batch, sequence, dim) layout its callers use;
    the projection sees contiguous sequence-first inputs (a strided view made bf16 slow)."""
    torch.manual_seed(0)
    attention = torch.nn.MultiheadAttention(32, 4, batch_first=True).eval()
    x, memory = torch.randn(3, 7, 32), torch.randn(3, 5, 32)
    mask = torch.triu(torch.full((7, 7), float("-inf")), diagonal=1)
    before = [attention(x, x, x, attn_mask=mask, need_weights=False)[0], attention(x, memory, memory)[0]]
    tower = torch.nn.Sequential(attention)
    assert project_batches_at_once(tower) == 1 and project_batches_at_once(tower) == 0
    seen, attend = [], torch.nn.functional.multi_head_attention_forward

    def recorded(query, *args, **kwargs):
        seen.append((tuple(query.shape), query.is_contiguous()))
        return attend(query, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "multi_head_attention_forward", recorded)
    after = [attention(x, x, x, attn_mask=mask, need_weights=False)[0], attention(x, memory, memory)[0]]
    for was, now in zip(before, after):
        assert now.shape == was.shape
        torch.testing.assert_close(now, was, rtol=1e-5, atol=1e-6)
    assert seen == [((7, 3, 32), True)] * 2


def test_the_encoders_texts_encode_the_same_in_a_batch_as_alone(bf16_encoder):
    texts = ["red shirt", "blue shoes for women", "like this but green"]
    together = bf16_encoder.encode_texts(texts)
    alone = np.concatenate([bf16_encoder.encode_texts([text]) for text in texts])
    assert (together * alone).sum(axis=1).min() > 0.9999
    assert any(isinstance(m, SequenceFirstAttention) for m in bf16_encoder.model.transformer.modules())


def test_batch_norms_are_folded_only_for_inference():
    tower = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    with pytest.raises(ValueError, match="eval mode"):
        fold_batch_norms(tower)


def test_the_encoders_tower_has_no_batch_norm_left(bf16_encoder):
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in bf16_encoder.model.visual.modules())


def test_decoding_ahead_keeps_the_order(fp32_encoder, tiny_catalog):
    catalog = load_catalog(tiny_catalog)
    paths = [catalog.image_path(i) for i in catalog.ids]
    seen = []
    in_batches = fp32_encoder.encode_images(paths, batch_size=3, on_batch=lambda done, total: seen.append((done, total)))
    np.testing.assert_allclose(in_batches, fp32_encoder.encode_images(paths, batch_size=64), atol=1e-5)
    assert seen[0] == (3, 32) and seen[-1] == (32, 32) and len(seen) == 11


def test_an_index_built_in_bf16_serves_an_fp32_encoder(fp32_encoder, bf16_encoder, tiny_catalog, tmp_path, monkeypatch, caplog):
    catalog = load_catalog(tiny_catalog)
    cached_index(catalog, bf16_encoder, tmp_path)
    folder = tmp_path / index_key(catalog, bf16_encoder.spec.text).folder_name()
    assert json.loads((folder / "manifest.json").read_text())["precision"] == "bf16"
    monkeypatch.setattr(Encoder, "encode_images", _refuse_to_encode)
    with caplog.at_level("INFO"):
        store = cached_index(catalog, fp32_encoder, tmp_path)
    assert len(store) == len(catalog) and "built in bf16" in caplog.text


def test_an_index_from_before_precision_was_recorded_reads_as_fp32(fp32_encoder, tiny_catalog, tmp_path, monkeypatch, caplog):
    catalog = load_catalog(tiny_catalog)
    cached_index(catalog, fp32_encoder, tmp_path)
    manifest_path = tmp_path / index_key(catalog, fp32_encoder.spec.text).folder_name() / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["precision"]
    manifest_path.write_text(json.dumps(manifest))
    monkeypatch.setattr(Encoder, "encode_images", _refuse_to_encode)
    with caplog.at_level("INFO"):
        cached_index(catalog, fp32_encoder, tmp_path)
    assert "built in fp32" in caplog.text


def test_the_cli_builds_in_bf16_what_an_fp32_retriever_opens(tiny_encoder_spec, tiny_catalog, tmp_path, monkeypatch):
    from retrieval.retriever import open_retriever

    args = ["--catalog", str(tiny_catalog), "--encoder", tiny_encoder_spec, "--index-dir", str(tmp_path), "--precision", "bf16"]
    assert build_index_main(args) == 0
    monkeypatch.setattr(Encoder, "encode_images", _refuse_to_encode)
    retriever = open_retriever(tiny_catalog, tiny_encoder_spec, index_dir=tmp_path, precision="fp32")
    assert len(retriever.store) == 32 and retriever.encoder.mode.name == "fp32"


def test_the_cli_refuses_an_unknown_precision_with_the_choices(tiny_encoder_spec, tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        build_index_main(["--catalog", "c", "--encoder", tiny_encoder_spec, "--index-dir", str(tmp_path), "--precision", "fp8"])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert "argument --precision: invalid choice: 'fp8'" in err and "fp32" in err and "bf16" in err


def _refuse_to_encode(*args, **kwargs):
    raise AssertionError("the index was rebuilt instead of reused from the cache")
