"""Replies are written from what happened (state before, state after, results), so they say
what was searched, never what a reader guessed; plain words, right plurals (always runs)."""

import pytest

from chat.intent import SearchIntent, select_result
from chat.replies import Replies
from chat.rules import RulesRewriter
from chat.state import DialogueState, Reference
from retrieval.vocabulary import VocabularyMatcher

SHOWN = tuple(f"p{i}" for i in range(1, 11))
PICKED = Reference("catalog", product_id="p2", vector=[1.0, 0.0],
                   attributes={"articleType": "Tshirts", "baseColour": "Black", "gender": "Men", "season": "Fall",
                               "usage": "Casual"})


@pytest.fixture(scope="module")
def matcher(shared_vocabulary):
    columns = ("baseColour", "articleType", "gender")
    return VocabularyMatcher({c: shared_vocabulary[c] for c in columns})


def turn(matcher, message: str, before: DialogueState, count: int = 12, reference=None) -> str:
    intent = RulesRewriter(matcher).rewrite(message, before, has_upload=reference is not None)
    after = before.apply(intent, reference=reference)
    return Replies(matcher).search(before, after, count)


def test_a_search_reply_names_the_target_the_reference_and_what_is_avoided(matcher):
    before = DialogueState(results=SHOWN).apply(select_result(2), reference=PICKED)
    reply = turn(matcher, "in red, not black, no prints", before)
    assert reply == "Here are 12 Red Tshirts for Men similar to the item you picked, avoiding Black, prints."


def test_only_the_readers_columns_are_named(matcher):
    """A picked record's season and usage are not words the shopper asked for."""
    before = DialogueState(results=SHOWN).apply(select_result(2), reference=PICKED)
    reply = turn(matcher, "for women", before)
    assert "Fall" not in reply and "Casual" not in reply and "Black Tshirts for Women" in reply


def test_one_result_is_singular_and_none_says_what_to_do(matcher):
    assert turn(matcher, "formal shoes", DialogueState(), count=1) == "Here is 1 Formal Shoes."
    assert "nothing that matches" in turn(matcher, "formal shoes", DialogueState(), count=0)


def test_a_photo_reply_follows_the_reference_actually_searched(matcher):
    photo = Reference("upload", vector=[0.0, 1.0], attributes={"articleType": "Dresses"})
    assert "similar to your photo" in turn(matcher, "this in blue", DialogueState(), reference=photo)
    no_photo = Replies(matcher).search(DialogueState(), DialogueState().apply(SearchIntent(set_attributes={"baseColour": "Blue"})), 3)
    assert "photo" not in no_photo


def test_small_talk_replies_steer_back_to_shopping(matcher):
    replies = Replies(matcher)
    assert replies.small_talk("thanks").startswith("You're welcome")
    assert "English" in replies.small_talk("")  # nothing understood: say so, and what it reads
    assert "only help you find products" in replies.small_talk("injection")


def test_a_result_that_was_not_shown_gets_a_question():
    assert Replies.no_such_result(DialogueState(results=SHOWN)) == "I showed 10 results; which one do you mean (1-10)?"
    assert "no results" in Replies.no_such_result(DialogueState())


@pytest.mark.parametrize("message, reply", [
    ("I'm after a black t-shirt for men", "Here are 12 Black Tshirts for Men."),
    ("women's jeans", "Here are 12 Jeans for Women."),
    ("I need a brown flat for my sister", "Here are 12 Brown Flats for Women."),
    ("a black t-shirt with a skull for my brother",
     'Here are 12 Black Tshirts for Men matching "black t-shirt with a skull for my brother".'),
])
def test_a_description_the_target_already_says_is_not_repeated(matcher, message, reply):
    assert turn(matcher, message, DialogueState()) == reply
