"""extract_json_object on the kinds of output small models really produce; validate's messages."""

import pytest

from chat.json_output import JSONObjectScanner, JSONOutputError, extract_json_object, validate

MESSY = [
    ('{"color": "red"}', {"color": "red"}),
    ('```json\n{"color": "red", "item": "dress"}\n```', {"color": "red", "item": "dress"}),
    ('Sure! Here is the JSON:\n{"color": "red"}\nHope this helps.', {"color": "red"}),
    ("{'color': 'red', 'gender': 'women'}", {"color": "red", "gender": "women"}),
    ('{"a": 1, "b": [1, 2,],}', {"a": 1, "b": [1, 2]}),
    ('{"new": True, "old": False, "x": None}', {"new": True, "old": False, "x": None}),
    ('{"color": "red", "item": "dress"', {"color": "red", "item": "dress"}),  # cut off
    ('{"filters": {"color": "red", "size": ["S", "M"', {"filters": {"color": "red", "size": ["S", "M"]}}),
    ('{"color": "red", "item": "dre', {"color": "red", "item": "dre"}),  # cut inside a string
    ('{"color": "red", "item":', {"color": "red"}),  # cut after a key: drop the member
    ('{"color": "red", "ite', {"color": "red"}),
    ('{"a": 1}{"b": 2}', {"a": 1}),
    ('first {"a": 1} then {"b": 2}', {"a": 1}),
    ('{intent: "search", color: "red"}', {"intent": "search", "color": "red"}),
    ("{'text': 'it\\'s \"red\"'}", {"text": "it's \"red\""}),
    ('{"text": "a } inside", "n": 2}', {"text": "a } inside", "n": 2}),
    ('{"text": "say \\"hi\\" {ok}"}', {"text": 'say "hi" {ok}'}),
    ('{"text": "two\nlines"}', {"text": "two\nlines"}),
    ('Use the format {name: ...}. Answer: {"name": "shirt"}', {"name": "shirt"}),
    ('{"nested": {"a": {"b": [1, {"c": null}]}}}', {"nested": {"a": {"b": [1, {"c": None}]}}}),
    ('{"price": -12.5e1, "ok": true}', {"price": -125.0, "ok": True}),
    ("{}", {}),
]


@pytest.mark.parametrize(("text", "expected"), MESSY)
def test_extract_recovers_the_first_object(text, expected):
    assert extract_json_object(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "no json here", "[1, 2, 3]", "{{{", '{"a": }', "{: 1}", '{"a" 1}', "{'a': undefined_thing}"],
)
def test_garbage_raises_with_a_reason(text):
    with pytest.raises(JSONOutputError, match=r"JSON object"):
        extract_json_object(text)


def test_scanner_finds_the_end_across_pieces():
    scanner = JSONObjectScanner()
    pieces = ["Here: ", '{"a": "}', '", "b": [1, {', "}]", "} and more"]
    ends = [scanner.feed(piece) for piece in pieces]
    assert ends == [None, None, None, None, 1]
    assert scanner.done


def test_scanner_ignores_braces_before_the_object_opens_in_strings():
    scanner = JSONObjectScanner()
    assert scanner.feed('{"x": "}}}"') is None
    assert scanner.feed("}") == 1


SCHEMA = {
    "type": "object",
    "required": ["intent"],
    "additionalProperties": False,
    "properties": {
        "intent": {"enum": ["search", "chat"]},
        "colors": {"type": "array", "items": {"type": "string"}},
    },
}


def test_validate_accepts_a_valid_object():
    assert validate({"intent": "search", "colors": ["red"]}, SCHEMA) == []


def test_validate_reports_each_problem_with_its_place():
    problems = validate({"colors": ["red", 3], "mood": "happy"}, SCHEMA)
    assert len(problems) == 3
    assert any("'intent' is a required property" in p for p in problems)
    assert any(p.startswith("at $.colors[1]:") and "not of type 'string'" in p for p in problems)
    assert any("mood" in p for p in problems)


def test_validate_shortens_long_messages():
    schema = {"enum": [f"value-{i}" for i in range(200)]}
    (problem,) = validate({"x": 1}, schema)
    assert len(problem) < 260 and problem.endswith("...")
