"""What the catalogue holds is read from its columns: a catalogue with a price and a material
column answers "how much" and "what is it made of" from them, and filters "under 50" and
"cheaper"; the same words on a catalogue without them are said to be unrecorded. Real FAISS
index, real open_clip loading path (a tiny random model: the filters decide what is shown)."""

from __future__ import annotations

import pytest

from chat.factory import assistant_for
from chat.state import DialogueState
from retrieval.retriever import open_retriever
from tests.conftest import swatch_rows, write_catalog

PRICES = (19.99, 35, 49.5, 60, 85, 120)


@pytest.fixture(scope="module")
def priced(tmp_path_factory, tiny_encoder_spec):
    rows = swatch_rows(n_per_combination=6)
    for i, row in enumerate(rows):
        row["price"] = str(PRICES[i % len(PRICES)])
        row["material"] = ("Cotton", "Leather", "Polyester")[i % 3]
    folder = write_catalog(tmp_path_factory.mktemp("priced") / "catalog", rows)
    retriever = open_retriever(folder, tiny_encoder_spec, index_dir=folder.parent / "index")
    return assistant_for(retriever, "rules")


@pytest.fixture(scope="module")
def unpriced(tmp_path_factory, tiny_encoder_spec):
    folder = write_catalog(tmp_path_factory.mktemp("unpriced") / "catalog", swatch_rows(n_per_combination=3))
    return assistant_for(open_retriever(folder, tiny_encoder_spec, index_dir=folder.parent / "index"), "rules")


def test_a_price_column_is_a_number_to_filter_on_not_a_word_to_match(priced):
    catalog = priced.retriever.catalog
    assert catalog.numeric_columns == ["price"] and "price" not in catalog.attribute_columns
    assert "material" in catalog.attribute_columns


def test_under_a_price_shows_only_products_at_or_below_it(priced):
    first = priced.step(DialogueState(), "red tshirts for men")
    turn = priced.step(first.state, "under 50 please")
    assert turn.results and all(priced.retriever.catalog.numbers("price")[r.id] <= 50 for r in turn.results)
    assert "price up to 50" in turn.reply and {r.attributes["baseColour"] for r in turn.results} == {"Red"}


def test_cheaper_than_the_picked_item(priced):
    first = priced.step(DialogueState(), "blue shoes for women")
    numbers = priced.retriever.catalog.numbers("price")
    index = max(range(len(first.results)), key=lambda i: numbers[first.results[i].id])
    picked = priced.select(first.state, index + 1)
    turn = priced.step(picked, "something cheaper")
    limit = numbers[first.results[index].id]
    assert turn.results and all(numbers[r.id] < limit for r in turn.results)


def test_how_much_and_what_it_is_made_of_are_answered_from_the_record(priced):
    first = priced.step(DialogueState(), "green tshirts for women")
    record = priced.retriever.catalog.details(first.results[1].id)
    assert record["price"] in priced.step(first.state, "how much is the second one?").reply
    assert record["material"] in priced.step(first.state, "what's the material of #2?").reply


def test_without_such_columns_the_reply_says_the_catalogue_does_not_record_them(unpriced):
    first = unpriced.step(DialogueState(), "red tshirts for men")
    asked = unpriced.step(first.state, "how much is the first one?")
    assert "doesn't record prices" in asked.reply and asked.state.results == first.state.results
    wished = unpriced.step(first.state, "under 50 please")
    assert "doesn't record prices" in wished.reply and wished.results
    assert {r.attributes["baseColour"] for r in wished.results} == {"Red"}
