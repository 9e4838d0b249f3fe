"""evaluation.assistant end to end on a generated swatch catalogue and a tiny random open_clip model:
queries picked or uploaded, simulated dialogues, the JSON contract of docs/design.md."""

from __future__ import annotations

import json

import pytest

from evaluation.assistant import main
from evaluation.dialogues import make_dialogues
from retrieval.catalog import load_catalog

CONTRACT = {"queries", "recall@1", "recall@10", "recall@50", "latency_ms"}


@pytest.fixture
def files(tiny_catalog, tmp_path):
    catalog = load_catalog(tiny_catalog)
    (tmp_path / "ids.txt").write_text("\n".join(catalog.ids))
    by_key = {}
    for pid in catalog.ids:
        a = catalog.attributes(pid)
        by_key.setdefault((a["baseColour"], a["articleType"], a["gender"]), []).append(pid)
    queries = [
        {"reference": by_key[("Red", "Tshirts", "Men")][0], "text": "make it blue", "targets": by_key[("Blue", "Tshirts", "Men")]},
        {"reference": by_key[("Green", "Shoes", "Women")][0], "text": "for men", "targets": by_key[("Green", "Shoes", "Men")]},
        {"reference": by_key[("Black", "Tshirts", "Women")][0], "text": "as shoes", "targets": by_key[("Black", "Shoes", "Women")]},
    ]
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    dialogues = make_dialogues(catalog, 4, seed=0)
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(d) + "\n" for d in dialogues))
    return tmp_path, dialogues


def run(capsys, tiny_catalog, encoder, folder, *extra) -> tuple[int, dict | None]:
    code = main(["--catalog", str(tiny_catalog), "--encoder", encoder, "--gallery", str(folder / "ids.txt"),
                 "--index-dir", str(folder / "index"), "--llm", "rules", "--json", *extra])
    lines = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(lines[-1]) if lines else None


@pytest.mark.parametrize("reference_as", ["catalog", "upload"])
def test_queries_report_the_contract(capsys, tiny_catalog, tiny_encoder_spec, files, reference_as):
    folder, _ = files
    code, result = run(capsys, tiny_catalog, tiny_encoder_spec, folder, "--queries", str(folder / "q.jsonl"),
                       "--reference-as", reference_as)
    assert code == 0 and CONTRACT <= set(result) and result["queries"] == 3
    assert 0 <= result["recall@1"] <= result["recall@10"] <= result["recall@50"] <= 100
    assert set(result["latency_ms"]) >= {"p50", "p95"} and result["rewriter_paths"] == {"rules": 3}


def test_simulated_dialogues_run_every_turn(capsys, tiny_catalog, tiny_encoder_spec, files, tmp_path):
    folder, dialogues = files
    trace = tmp_path / "trace.jsonl"
    code, result = run(capsys, tiny_catalog, tiny_encoder_spec, folder, "--dialogs", str(folder / "d.jsonl"),
                       "--limit", "3", "--trace", str(trace))
    assert code == 0 and result["queries"] == 3 and CONTRACT <= set(result)
    assert result["turns"] == sum(len(d["turns"]) for d in dialogues[:3])
    assert len(trace.read_text().splitlines()) == 3


def test_simulated_dialogues_are_reachable(tiny_catalog):
    catalog = load_catalog(tiny_catalog)
    for dialogue in make_dialogues(catalog, 20, seed=1):
        assert 3 <= len(dialogue["turns"]) <= 5 and dialogue["targets"]
        uploads = {t["image"] for t in dialogue["turns"] if "image" in t}
        assert not uploads & set(dialogue["targets"]) and set(dialogue["targets"]) <= set(catalog.ids)


def test_a_missing_model_is_a_clear_error(capsys, tiny_catalog, tiny_encoder_spec, files):
    folder, _ = files
    code = main(["--catalog", str(tiny_catalog), "--encoder", tiny_encoder_spec, "--gallery", str(folder / "ids.txt"),
                 "--index-dir", str(folder / "index"), "--queries", str(folder / "q.jsonl"), "--llm", "/no/such/model.gguf"])
    assert code == 2 and "GGUF file not found" in capsys.readouterr().err
