"""SearchIntent and parse_intent: validation, repair, rejection."""

import json

import pytest
from pydantic import ValidationError

from chat.intent import IntentError, SearchIntent, parse_intent, select_result
from retrieval.vocabulary import VocabularyMatcher

# A catalogue unlike the real one: other column names, other spellings, a title column.
SMALL = {
    "category": {"T-Shirt": 10, "Dress": 5, "Sneakers": 4, "Jeans": 3},
    "color": {"Navy": 2, "Red": 3, "Black": 5, "Gray": 1, "Off-White": 1},
    "department": {"Womens": 4, "Mens": 5, "Kids": 2},
    "title": {f"Product {i}": 1 for i in range(300)},
}


@pytest.fixture(scope="module")
def catalog(shared_vocabulary):
    return VocabularyMatcher(shared_vocabulary)


@pytest.fixture(scope="module")
def small():
    return VocabularyMatcher(SMALL)


def full(**fields):
    """A complete intent dict as a constrained LLM would write it."""
    base = {"action": "search", "reference": "current", "result_index": None,
            "set_attributes": {}, "drop_attributes": [], "negatives": [],
            "exclude_results": [], "description": "", "question": "", "small_talk": ""}
    return {**base, **fields}


# --- parse_intent: accepting and repairing ---------------------------------------------------

def test_accepts_valid_json_text(small):
    text = json.dumps(full(reference="result", result_index=3, set_attributes={"color": "Red"},
                           negatives=["prints"], description="red tee"))
    intent = parse_intent(text, small)
    assert intent == SearchIntent(reference="result", result_index=3,
                                  set_attributes={"color": "Red"}, negatives=("prints",),
                                  description="red tee")


def test_missing_fields_take_defaults(small):
    assert parse_intent({"action": "smalltalk"}, small) == SearchIntent(action="smalltalk")


@pytest.mark.parametrize("raw, expected", [
    ({"action": "SEARCH", "reference": " None "}, {"action": "search", "reference": "none"}),
    ({"set_attributes": {"COLOR": "red"}}, {"set_attributes": {"color": "Red"}}),
    ({"set_attributes": {"colour": "navy"}}, {"set_attributes": {"color": "Navy"}}),
    ({"set_attributes": {"color": "grey"}}, {"set_attributes": {"color": "Gray"}}),
    ({"set_attributes": {"color": "off white"}}, {"set_attributes": {"color": "Off-White"}}),
    ({"set_attributes": {"type": "t-shirts"}}, {"set_attributes": {"category": "T-Shirt"}}),
    ({"set_attributes": {"gender": "women"}}, {"set_attributes": {"department": "Womens"}}),
    ({"set_attributes": {"color": "wife"}}, {"set_attributes": {"department": "Womens"}}),
    ({"set_attributes": {"gender": "for my wife"}}, {"set_attributes": {"department": "Womens"}}),
    ({"set_attributes": {"brand": "Red Tape"}}, {"set_attributes": {}}),
    ({"set_attributes": {"color": "Plaid", "brand": "Acme"}}, {"set_attributes": {}}),
    ({"set_attributes": {"title": "Product 7"}}, {"set_attributes": {}}),
    ({"drop_attributes": ["Colour", "brand", "color"]}, {"drop_attributes": ("color",)}),
    ({"negatives": ["BLACK", "prints", "crimson", " "]}, {"negatives": ("Black", "prints", "Red")}),
    ({"reference": "result", "result_index": "2"}, {"reference": "result", "result_index": 2}),
    ({"reference": "current", "result_index": 4}, {"reference": "current", "result_index": None}),
    ({"exclude_results": [2, 2, 5]}, {"exclude_results": (2, 5)}),
    ({"description": None, "question": None}, {"description": "", "question": ""}),
    ({"negatives": [f"n{i}" for i in range(30)]}, {"negatives": tuple(f"n{i}" for i in range(10))}),
    ({"description": "x" * 5000}, {"description": "x" * 300}),
], ids=lambda v: json.dumps(v)[:40] if isinstance(v, dict) else None)
def test_repairs_and_maps_onto_the_vocabulary(small, raw, expected):
    intent = parse_intent(raw, small)
    for name, value in expected.items():
        assert getattr(intent, name) == value


def test_explicit_column_beats_a_value_moved_from_an_unknown_column(small):
    intent = parse_intent({"set_attributes": {"shade": "crimson", "color": "navy"}}, small)
    assert intent.set_attributes == {"color": "Navy"}


def test_tolerates_code_fences_and_chatter(small):
    text = 'Sure! ```json\n{"action": "reset", "reference": "none"}\n``` Hope that helps.'
    assert parse_intent(text, small).action == "reset"


@pytest.mark.parametrize("raw, expected", [
    ({"set_attributes": {"baseColour": "NAVY"}}, {"baseColour": "Navy Blue"}),
    ({"set_attributes": {"colour": "scarlet", "articleType": "tshirt"}},
     {"baseColour": "Red", "articleType": "Tshirts"}),
    ({"set_attributes": {"gender": "MEN", "type": "flip-flops"}},
     {"gender": "Men", "articleType": "Flip Flops"}),
    ({"set_attributes": {"productDisplayName": "Nike Shoes"}}, {}),
])
def test_maps_onto_the_real_catalogue(catalog, raw, expected):
    assert parse_intent(raw, catalog).set_attributes == expected


# --- parse_intent: rejecting -------------------------------------------------------------------

@pytest.mark.parametrize("bad", [
    "", "garbage", "[1, 2]", "{not json}", '{"action": "search",}', "null", 42,
    {"action": "dance"}, {"reference": "yesterday"}, {"reference": "result"},
    {"reference": "result", "result_index": 0}, {"reference": "result", "result_index": "two"},
    {"set_attributes": ["red"]}, {"set_attributes": {"color": 3}}, {"negatives": "black"},
    {"exclude_results": ["x"]}, {"action": ["search"]},
], ids=repr)
def test_rejects_garbage_with_a_short_reason(small, bad):
    with pytest.raises(IntentError) as error:
        parse_intent(bad, small)
    assert 0 < len(str(error.value)) < 120


# --- the model itself --------------------------------------------------------------------------

def test_intent_is_frozen():
    intent = SearchIntent()
    with pytest.raises(ValidationError):
        intent.action = "reset"


def test_select_result_is_a_pure_reference_change():
    intent = select_result(3)
    assert (intent.action, intent.reference, intent.result_index) == ("search", "result", 3)
    assert not (intent.set_attributes or intent.negatives or intent.drop_attributes)
