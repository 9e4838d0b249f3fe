"""Replies are written from what happened (state before, state after, results), so they say
what was searched, never what a reader guessed; plain words, right plurals."""

import pytest

from chat.intent import SearchIntent, select_result
from chat.replies import Replies
from chat.rules import RulesRewriter
from chat.state import DialogueState, Question, Reference
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
    assert reply == "Here are 12 Red Tshirts similar to the item you picked, avoiding Black, prints."


def test_only_the_readers_columns_are_named(matcher):
    """A picked record's season and usage are not words the shopper asked for; nor are its colour
    and person, which no filter holds: the results similar to it are not all black, nor for men."""
    before = DialogueState(results=SHOWN).apply(select_result(2), reference=PICKED)
    reply = turn(matcher, "for women", before)
    assert reply == "Here are 12 Tshirts for Women similar to the item you picked."
    assert turn(matcher, "in black", before).startswith("Here are 12 Black Tshirts similar")


def test_one_result_is_singular_and_none_says_what_to_do(matcher):
    assert turn(matcher, "formal shoes", DialogueState(), count=1) == "Here is 1 Formal Shoes.", "one pair"
    assert turn(matcher, "red handbags for women", DialogueState(), count=1) == "Here is 1 Red Handbag for Women."
    assert turn(matcher, "dresses", DialogueState(), count=1) == "Here is 1 Dress."
    assert turn(matcher, "jeans", DialogueState(), count=1) == "Here is 1 Jeans."
    assert turn(matcher, "something sparkly", DialogueState(), count=1) == 'Here is 1 result for "sparkly".'
    one = DialogueState(constraints={"articleType": "Watches"}, results=("p1",))
    replies = Replies(matcher)
    assert (replies.more(one, 1), replies.undone(one), replies.back_to(one)) == (
        "Here is 1 more Watch.", "Undone: back to 1 Watch.", "Back to the 1 Watch from before.")
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


RECORDS = [{"productDisplayName": "Nike Men Black Tee", "baseColour": "Black", "articleType": "Tshirts", "gender": "Men",
            "season": "Summer", "usage": "Casual"},
           {"productDisplayName": "Puma Men Navy Tee", "baseColour": "Navy Blue", "articleType": "Tshirts", "gender": "Men",
            "season": "Fall", "usage": "Casual"}]
DETAILS = ("gender", "articleType", "baseColour", "season", "usage", "productDisplayName")


def test_compare_says_what_is_shared_and_what_differs(matcher):
    reply = Replies(matcher, DETAILS).compare((1, 2), RECORDS)
    assert reply.splitlines() == ["Comparing #1 and #2:", "#1: Nike Men Black Tee", "#2: Puma Men Navy Tee",
                                  "Both are Tshirts for Men (Casual).", "Base colour: #1 Black, #2 Navy Blue.",
                                  "Season: #1 Summer, #2 Fall."]
    assert "Which results" in Replies(matcher, DETAILS).compare((1,), RECORDS[:1])


@pytest.mark.parametrize("question, said", [
    ("colour", "#2 is Navy Blue (Puma Men Navy Tee)."), ("season", "#2's season is Fall (Puma Men Navy Tee)."),
    ("material", "The catalogue doesn't record materials; it lists gender, article type, base colour, season, usage."),
    ("price", "The catalogue doesn't record prices"),
    ("", '#2 is "Puma Men Navy Tee" (Navy Blue Tshirts for Men).'),
])
def test_answers_come_from_the_record_and_say_what_it_lacks(matcher, question, said):
    intent = SearchIntent(action="answer", reference="result", result_index=2, question=question)
    assert said in Replies(matcher, DETAILS).answer(intent, RECORDS[1])


@pytest.mark.parametrize("question, said", [("material", "The catalogue doesn't record materials, so I can't tell."),
                                             ("colour", "Which item do you mean?")])
def test_a_question_of_no_item_says_what_no_item_records_or_asks_which(matcher, question, said):
    """"do these come in leather?" with nothing picked: unknown of every item, so no need to ask which."""
    intent = SearchIntent(action="answer", question=question)
    assert Replies(matcher, DETAILS).answer(intent, None).startswith(said)


def test_a_search_says_what_the_catalogue_does_not_record_and_what_it_searched_instead(matcher):
    from chat.relaxing import Relaxed

    before = DialogueState(constraints={"articleType": "Dresses", "gender": "Women"})
    after = DialogueState(constraints={"articleType": "Kurtas", "gender": "Men"})
    reply = Replies(matcher).search(before, after, 5, Relaxed([], swapped={"articleType": ("Dresses", "Kurtas")},
                                                              offered=("Kurtas", "Shirts")),
                                    question=Question("articleType", ("Kurtas", "Shirts")), unheld=("price",))
    assert reply == ("There are no Dresses for Men, so here are the nearest for Men: Here are 5 Kurtas for Men. "
                     "This catalogue doesn't record prices, so I couldn't go by that. Or would you rather see Shirts?")


@pytest.mark.parametrize("question, said", [
    ("machine washable", 'The catalogue doesn\'t record "machine washable"; it lists gender, article type, base colour, '
                         'season, usage. #2 is "Puma Men Navy Tee"'),
    ("size", "The catalogue doesn't record sizes; it lists"),
])
def test_a_quality_the_record_lacks_is_said_to_be_unrecorded_not_summarised(matcher, question, said):
    """"is the second one machine washable?" was answered with #2's summary alone."""
    intent = SearchIntent(action="answer", reference="result", result_index=2, question=question)
    assert Replies(matcher, DETAILS).answer(intent, RECORDS[1]).startswith(said)


@pytest.mark.parametrize("details", [None, RECORDS[1]])
def test_a_question_about_the_shops_service_says_the_catalogue_cannot_tell(matcher, details):
    """"do you ship to canada?" was told the catalogue "doesn't record stock levels", and of a
    shown item got its summary: delivery and returns are the shop's, no product's record has them."""
    intent = SearchIntent(action="answer", question="service")
    reply = Replies(matcher, DETAILS).answer(intent, details)
    assert reply == "I can only search the catalogue, and it says nothing about delivery, shipping or returns, so I can't tell."


def test_values_listed_with_the_searched_one_are_named_with_how_to_see_them(matcher):
    after = DialogueState(constraints={"baseColour": "Red", "articleType": "Dresses", "gender": "Women"})
    intent = SearchIntent(set_attributes=after.constraints)
    reply = Replies(matcher).search(DialogueState(), after, 5, intent=intent, listed={"baseColour": ("Blue", "Navy Blue"),
                                                                                      "gender": ("Men",)})
    assert reply == ('Here are 5 Red Dresses for Women. I can search one colour at a time, so I searched Red first: '
                     'say "blue" or "navy blue" to see Blue or Navy Blue. I can search one person at a time, so I '
                     'searched Women first: say "for men" to see Men.')


def test_an_occasion_the_filters_hold_is_not_quoted_as_words(shared_vocabulary):
    """"something casual" was answered 'Here are 12 Red Casual Handbags ... matching "casual"'."""
    matcher = VocabularyMatcher({c: shared_vocabulary[c] for c in ("baseColour", "articleType", "gender", "usage")})
    before = DialogueState(constraints={"baseColour": "Red", "articleType": "Handbags"})
    after = DialogueState(constraints={**before.constraints, "usage": "Casual"}, description="casual ones")
    assert Replies(matcher).search(before, after, 12) == "Here are 12 Red Casual Handbags."


def test_a_listed_value_that_stood_in_for_the_first_is_said_so_and_not_offered_again(matcher):
    """"yellow or white dresses" with no yellow ones: white was said to be fine, so it is no "nearest"."""
    from chat.relaxing import Relaxed

    after = DialogueState(constraints={"baseColour": "White", "articleType": "Dresses"})
    intent = SearchIntent(set_attributes={"baseColour": "Yellow", "articleType": "Dresses"})
    reply = Replies(matcher).search(DialogueState(), after, 4, Relaxed([], swapped={"baseColour": ("Yellow", "White")}),
                                    intent=intent, listed={"baseColour": ("White",)})
    assert reply == "There is nothing in Yellow, so here is White, which you said is fine too: Here are 4 White Dresses."


def test_words_naming_only_a_value_left_out_are_not_quoted_and_the_left_out_note_is_said_once(matcher):
    """"in black" on jeans for boys, which come in no black: the reply said 'Here are 2 Jeans for
    Boys matching "black"' over blue jeans; and "Nothing matched Black" again on every later turn."""
    from chat.relaxing import Relaxed

    jeans = DialogueState(constraints={"articleType": "Jeans", "gender": "Boys"}, description="jeans for boys")
    black = jeans.apply(SearchIntent(set_attributes={"baseColour": "Black"}, description="black"))
    reply = Replies(matcher).search(jeans, black, 2, Relaxed([], left_out=("Black",)))
    assert reply == "Nothing matched Black, so I left that out. Here are 2 Jeans for Boys."
    shown = black.with_results(["j1", "j2"], relaxed=("Black",))
    slim = shown.apply(SearchIntent(description="slim fit"))
    assert Replies(matcher).search(shown, slim, 2, Relaxed([], left_out=("Black",))) == (
        'Here are 2 Jeans for Boys matching "slim fit".')
    burgundy = jeans.apply(SearchIntent(set_attributes={"baseColour": "Maroon"}, description="burgundy"))
    assert Replies(matcher).search(jeans, burgundy, 1, Relaxed([], swapped={"baseColour": ("Burgundy", "Maroon")})) == (
        "There is nothing in Burgundy, so I took the nearest, Maroon: Here is 1 Maroon Jeans for Boys.")
