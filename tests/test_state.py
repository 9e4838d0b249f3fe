"""DialogueState: pure transitions, reference handling, negation flips, undo."""

import copy
import pickle

import numpy as np
import pytest

from chat.intent import Limit, SearchIntent, select_result
from chat.state import UNDO_DEPTH, DialogueState, Question, Reference
from chat.text import text_left
from retrieval.vocabulary import VocabularyMatcher

SHOWN = [f"p{i}" for i in range(1, 11)]


def search(**fields) -> SearchIntent:
    return SearchIntent(action="search", **fields)


def black_tshirts() -> DialogueState:
    """Turn 1 of the brief's dialogue: 'black t-shirt', ten results shown."""
    intent = search(reference="none",
                    set_attributes={"baseColour": "Black", "articleType": "Tshirts"})
    return DialogueState().apply(intent).with_results(SHOWN)


def picked(state: DialogueState, index: int = 3) -> DialogueState:
    """Turn 2: the shopper clicks a result; the caller supplies its vector and attributes."""
    reference = Reference("catalog", product_id=state.result_id(index), vector=[0.1, 0.2],
                          attributes={"articleType": "Tshirts", "baseColour": "Black",
                                      "gender": "Men", "usage": "Casual"})
    return state.apply(select_result(index), reference=reference)


def test_three_turns_keep_the_picked_result_and_merge_constraints():
    state = picked(black_tshirts())
    state = state.apply(search(reference="current",
                               set_attributes={"baseColour": "Red", "gender": "Women"}))
    assert state.reference.product_id == "p3"
    assert state.constraints == {"baseColour": "Red", "gender": "Women", "articleType": "Tshirts"}
    assert state.target_attributes() == {"articleType": "Tshirts", "baseColour": "Red",
                                         "gender": "Women", "usage": "Casual"}
    assert state.turn == 3 and state.liked == ("p3",)


def test_upload_starts_a_new_search_from_the_photo():
    state = picked(black_tshirts())
    photo = Reference("upload", vector=np.ones(4), attributes={"articleType": "Dresses"})
    state = state.apply(search(reference="upload", set_attributes={"baseColour": "Blue"},
                               negatives=("Formal",)), reference=photo)
    assert state.reference.source == "upload" and state.reference.product_id is None
    assert state.constraints == {"baseColour": "Blue"}
    assert state.target_attributes() == {"articleType": "Dresses", "baseColour": "Blue"}
    assert state.negatives == ("Formal",)
    assert state.results == tuple(SHOWN) and state.liked == ("p3",)  # memory survives


def test_new_search_without_reference_releases_everything_but_memory():
    state = picked(black_tshirts()).apply(search(negatives=("prints",), description="soft"))
    state = state.apply(search(reference="none", set_attributes={"articleType": "Dresses"}))
    assert state.reference is None and state.constraints == {"articleType": "Dresses"}
    assert state.negatives == () and state.description == ""
    assert state.liked == ("p3",) and state.results == tuple(SHOWN)


def test_a_value_said_again_unchanged_keeps_its_age():
    """What gives way first when nothing matches is the oldest wish: the person a new search
    carries over was said turns ago, so it stays older than the kind named now."""
    state = DialogueState().apply(search(set_attributes={"articleType": "Tshirts", "gender": "Men", "baseColour": "Black"}))
    state = state.apply(search(reference="none", set_attributes={"baseColour": "Red", "articleType": "Heels", "gender": "Men"}))
    assert list(state.constraints) == ["gender", "baseColour", "articleType"]
    state = state.apply(search(set_attributes={"gender": "Men", "baseColour": "Blue"}))
    assert list(state.constraints) == ["gender", "articleType", "baseColour"]


def test_result_without_context_becomes_a_bare_product_id():
    state = black_tshirts().apply(select_result(10))
    assert state.reference == Reference("catalog", product_id="p10")
    assert state.constraints == {"baseColour": "Black", "articleType": "Tshirts"}


@pytest.mark.parametrize("index", [0, 11, 99])
def test_result_that_was_not_shown_raises(index):
    intent = SearchIntent.model_construct(action="search", reference="result",
                                          result_index=index, set_attributes={},
                                          drop_attributes=(), negatives=(), exclude_results=(),
                                          description="", question="")
    with pytest.raises(ValueError, match="no result"):
        black_tshirts().apply(intent)


def test_upload_without_the_photo_raises():
    with pytest.raises(ValueError, match="upload"):
        DialogueState().apply(search(reference="upload"))


def test_current_keeps_reference_and_ignores_a_stray_context():
    state = picked(black_tshirts())
    after = state.apply(search(set_attributes={"baseColour": "Red"}),
                        reference=Reference("upload"))
    assert after.reference is state.reference


def test_setting_replaces_and_dropping_releases_a_column():
    state = black_tshirts().apply(search(set_attributes={"baseColour": "Navy Blue"}))
    assert state.constraints["baseColour"] == "Navy Blue"
    state = state.apply(search(drop_attributes=("baseColour",)))
    assert state.constraints == {"articleType": "Tshirts"}


def test_constraints_are_kept_oldest_first_so_a_change_counts_as_the_latest():
    state = black_tshirts().apply(search(set_attributes={"gender": "Men"}))
    state = state.apply(search(set_attributes={"articleType": "Heels"}))
    assert list(state.constraints) == ["baseColour", "gender", "articleType"]


def test_negative_removes_a_matching_constraint_and_reference_attribute():
    state = picked(black_tshirts()).apply(search(negatives=("black",)))
    assert "baseColour" not in state.constraints
    assert "baseColour" not in state.target_attributes()
    assert state.negatives == ("black",)


def test_positive_mention_removes_a_matching_negative():
    state = black_tshirts().apply(search(negatives=("Red", "prints")))
    state = state.apply(search(set_attributes={"baseColour": "red"}))
    assert state.negatives == ("prints",) and state.constraints["baseColour"] == "red"


def test_same_value_set_and_negated_in_one_turn_is_kept_wanted():
    state = DialogueState().apply(search(set_attributes={"baseColour": "Red"}, negatives=("red",)))
    assert state.constraints == {"baseColour": "Red"} and state.negatives == ()


def test_negatives_are_unique_and_bounded():
    state = DialogueState()
    for i in range(30):
        state = state.apply(search(negatives=(f"thing{i}", f"THING{i}")))
    assert len(state.negatives) == 10 and state.negatives[-1] == "thing29"


def test_excluded_results_become_disliked_and_out_of_range_ones_are_ignored():
    state = black_tshirts().apply(search(exclude_results=(2, 4, 2, 42)))
    assert state.disliked == ("p2", "p4")


@pytest.mark.parametrize("action", ["answer", "smalltalk"])
def test_answer_and_smalltalk_leave_the_search_alone(action):
    before = picked(black_tshirts())
    after = before.apply(SearchIntent(action=action, reference="result", result_index=1,
                                      set_attributes={"baseColour": "Red"}))
    assert after.reference == before.reference and after.constraints == before.constraints
    assert after.turn == before.turn + 1


def test_reset_clears_everything_but_can_be_undone():
    before = picked(black_tshirts())
    after = before.apply(SearchIntent(action="reset", reference="none"))
    assert after.reference is None and after.constraints == {} and after.results == ()
    assert after.liked == ()
    assert after.turn == before.turn + 1
    assert after.undo() == before


def test_undo_steps_back_one_turn_and_results_belong_to_their_turn():
    first = black_tshirts()
    second = first.apply(search(set_attributes={"baseColour": "Red"})).with_results(["x"])
    assert second.undo() == first and second.undo().results == tuple(SHOWN)
    assert DialogueState().undo() == DialogueState() and not DialogueState().can_undo


def test_undo_depth_is_bounded():
    state = DialogueState()
    for i in range(3 * UNDO_DEPTH):
        state = state.apply(search(description=f"turn {i}"))
    depth = 0
    while state.can_undo:
        state, depth = state.undo(), depth + 1
    assert depth == UNDO_DEPTH and state.turn == 2 * UNDO_DEPTH


def test_reference_vector_is_a_read_only_copy():
    source = np.array([1.0, 2.0])
    reference = Reference("upload", vector=source)
    source[0] = 9.0
    assert reference.vector[0] == 1.0 and reference.vector.dtype == np.float32
    with pytest.raises(ValueError):
        reference.vector[0] = 5.0


def test_state_is_frozen_and_survives_copy_and_pickle():
    state = picked(black_tshirts())
    with pytest.raises(AttributeError):
        state.turn = 7
    for clone in (copy.deepcopy(state), pickle.loads(pickle.dumps(state))):
        assert clone == state and clone.undo() == state.undo()
        assert np.array_equal(clone.reference.vector, state.reference.vector)


def test_apply_is_pure():
    state = picked(black_tshirts())
    snapshot = copy.deepcopy(state)
    for _ in range(2):
        state.apply(search(set_attributes={"baseColour": "Red"}, negatives=("Black",),
                           exclude_results=(1,)))
    assert state == snapshot and state.constraints == snapshot.constraints


def test_more_remembers_what_was_shown_until_the_search_changes():
    state = black_tshirts()
    more = state.apply(SearchIntent(action="more")).with_results(["q1", "q2"])
    assert more.seen == tuple(SHOWN) and more.constraints == state.constraints
    again = more.apply(SearchIntent(action="more"))
    assert again.seen == (*SHOWN, "q1", "q2")
    assert again.apply(search(set_attributes={"baseColour": "Red"})).seen == ()
    assert more.undo() == state


def test_numeric_limits_hold_until_released_or_a_new_search():
    state = black_tshirts().apply(search(limits={"price": Limit(at_most=50)}))
    assert state.limits == {"price": Limit(at_most=50)}
    assert state.apply(search(set_attributes={"baseColour": "Red"})).limits == state.limits
    assert state.release("price").limits == {} and state.release("price").undo() == state
    assert state.apply(search(reference="none", set_attributes={"articleType": "Jeans"})).limits == {}


def test_a_question_waits_until_a_search_turn_moves_on():
    asked = black_tshirts().asking(Question("articleType", ("Tshirts", "Shirts")))
    assert asked.apply(SearchIntent(action="answer")).asked == asked.asked
    assert asked.apply(search(set_attributes={"baseColour": "Red"})).asked is None


def test_guesses_from_a_photo_are_remembered_until_said_otherwise():
    photo = Reference("upload", vector=[1.0, 0.0])
    state = DialogueState().apply(search(reference="upload", set_attributes={"articleType": "Heels", "gender": "Women"}),
                                  reference=photo, guessed=("articleType", "gender"))
    assert state.guessed == ("articleType", "gender")
    assert state.apply(search(set_attributes={"gender": "Girls"})).guessed == ("articleType",)


def test_what_the_shown_search_left_out_is_kept_with_its_results():
    state = black_tshirts().with_results(["a"], relaxed=("Black",))
    assert state.relaxed == ("Black",) and state.relaxed_columns() == {"baseColour"}


@pytest.mark.parametrize("description, answer, left", [("red tshirts for the kids", "Girls", "red tshirts"),
                                                       ("something for my kids", "Boys", "")])
def test_answering_boys_or_girls_takes_the_child_words_out_of_the_text(description, answer, left):
    """"for the kids", then "Girls": the search's text must not go on saying "kids" (it was
    searched and quoted on every later turn)."""
    matcher = VocabularyMatcher({"gender": {"Men": 3, "Boys": 1, "Girls": 1}})
    assert text_left(description, search(set_attributes={"gender": answer}), matcher) == left


def test_what_was_compared_is_kept_for_the_next_turn_only():
    """"the other one" means one of the compared results right after the comparison, not later."""
    state = black_tshirts().apply(SearchIntent(action="compare", compared=(4, 2)))
    assert state.compared == ("p4", "p2") and state.compared_numbers() == (4, 2)
    assert state.results == tuple(SHOWN) and state.undo().compared == ()
    for turn in (SearchIntent(action="answer", question="colour"), search(set_attributes={"gender": "Men"}),
                 SearchIntent(action="more"), select_result(4)):
        assert state.apply(turn).compared == ()
    assert state.release("Black").compared == ()


def test_back_to_an_earlier_search_named_by_its_values():
    """"go back to the shoes": the latest earlier search that wanted them, with its filters and
    results, as a turn of its own that undo takes back; None where no earlier search wanted them."""
    shoes = DialogueState().apply(SearchIntent(reference="none", set_attributes={
        "articleType": "Casual Shoes", "baseColour": "Black"})).with_results(["s1", "s2"])
    jeans = shoes.apply(SearchIntent(reference="none", set_attributes={"articleType": "Jeans"})).with_results(["j1"])
    shirts = jeans.apply(SearchIntent(reference="none", set_attributes={"articleType": "Shirts"})).with_results(["h1"])
    back = shirts.back_to({"articleType": "Casual Shoes"})
    assert back.constraints == shoes.constraints and back.results == ("s1", "s2") and back.turn == shirts.turn + 1
    assert back.undo() == shirts
    assert shirts.back_to({"articleType": "Heels"}) is None and shirts.back_to({"articleType": "Shirts"}) is None


def test_a_pick_corrected_searches_the_same_from_the_result_meant():
    """"the first one in blue", then "no, I meant the second one": the results on screen came
    from the wrong pick, so the one meant is among those it was picked from."""
    shown = DialogueState(constraints={"articleType": "Shirts"}, results=("p1", "p2", "p3"))
    wrong = shown.apply(SearchIntent(reference="result", result_index=1, set_attributes={"baseColour": "Blue"}),
                        reference=Reference("catalog", product_id="p1")).with_results(["b1", "b2"])
    assert wrong.picked_from() == shown and shown.picked_from() is None
    meant = wrong.repicked(Reference("catalog", product_id="p2"))
    assert meant.reference.product_id == "p2" and meant.constraints == {"articleType": "Shirts", "baseColour": "Blue"}
    assert meant.liked == ("p2",) and meant.undo() == wrong and meant.picked_from() is None


@pytest.mark.parametrize("aside", [SearchIntent(action="answer", question="colour"), SearchIntent(action="smalltalk"),
                                   SearchIntent(action="compare", compared=(1, 2))])
def test_undo_after_a_turn_that_changed_no_search_undoes_the_change_before_it(aside):
    """"in red", "is it cotton?", "undo": the shopper means the red, not the question; undo
    after a question (or a message not understood, or a comparison) used to show the same
    results again and say "Undone"."""
    red = black_tshirts().apply(search(set_attributes={"baseColour": "Red"})).with_results(["r1", "r2"])
    chat = red.apply(aside).apply(aside)
    assert chat.undo().constraints == {"baseColour": "Black", "articleType": "Tshirts"}
    assert chat.undo().results == tuple(SHOWN) and chat.undo().undo() == DialogueState()


@pytest.mark.parametrize("description, turn, left", [
    ("darker", search(set_attributes={"baseColour": "Blue"}), ""),
    ("slim fit, a bit darker", search(drop_attributes=("baseColour",)), "slim fit"),
    ("darker", search(set_attributes={"gender": "Men"}), None),
])
def test_a_shade_said_in_words_goes_when_the_colour_changes(description, turn, left):
    """"darker" past the darkest shade is searched as words; "lighter" then set Blue and the reply
    still said 'Blue Tshirts matching "darker"'."""
    matcher = VocabularyMatcher({"baseColour": {"Blue": 3, "Navy Blue": 1}, "gender": {"Men": 3, "Women": 2}})
    assert text_left(description, turn, matcher) == left
