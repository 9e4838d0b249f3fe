"""The dialogue moves as the rules read them (chat.moves through RulesRewriter), on the real
catalogue's vocabulary: commands, questions, what the catalogue does not record, borrowed
attributes, releasing filters, complaints, misspellings, people words, occasions, and
messages in another language. Phrasings here are the tests' own, not the move files'."""

import pytest

from chat import moves
from chat.intent import Limit, SearchIntent, select_result
from chat.language import ForeignCheck, in_english
from chat.rules import RulesRewriter
from chat.state import DialogueState, Reference
from retrieval.vocabulary import VocabularyMatcher

SHOWN = tuple(f"p{i}" for i in range(1, 13))
READER_COLUMNS = ("baseColour", "articleType", "gender", "usage")


@pytest.fixture(scope="module")
def rules(shared_vocabulary):
    matcher = VocabularyMatcher({c: shared_vocabulary[c] for c in READER_COLUMNS})
    return RulesRewriter(matcher, foreign=ForeignCheck(["kurta", "dupatta", "lehenga", "choli"]))


def searching() -> DialogueState:
    """Black t-shirts for men on screen, the third one picked."""
    state = DialogueState(constraints={"baseColour": "Black", "articleType": "Tshirts", "gender": "Men"},
                          results=SHOWN)
    picked = Reference("catalog", product_id="p3", attributes={"baseColour": "Black", "articleType": "Tshirts",
                                                               "gender": "Men"})
    return state.apply(select_result(3), reference=picked)


@pytest.mark.parametrize("message", ["undo", "Undo that please", "go back", "oops, go back a step",
                                     "back to the previous results", "show me the last results again", "take that back",
                                     "can we go back to what we had?", "that was better before", "revert please",
                                     "let's return to the earlier results"])
def test_undo_said_in_words(rules, message):
    assert rules.rewrite(message, searching()).action == "undo"


@pytest.mark.parametrize("message", ["ugh, that's wrong, go back", "hm go back a step", "prev results", "undo, undo",
                                     "it looks worse, undo please", "i liked the previous ones better",
                                     "could we have the earlier ones back?", "bring back the old results",
                                     "the results before were better", "show me what we had earlier"])
def test_undo_after_a_verdict_or_said_as_a_preference(rules, message):
    """A verdict before the command, a repeated "undo", and preferring or wanting back the
    earlier results are all undo; they were searched as words."""
    assert rules.rewrite(message, searching()).action == "undo"


@pytest.mark.parametrize("message", ["go back to black", "back pockets please", "a backpack", "go back to navy",
                                     "the last one in red", "i liked the blue better", "last"])
def test_back_inside_a_request_is_no_undo(rules, message):
    assert rules.rewrite(message, searching()).action == "search"


@pytest.mark.parametrize("message", ["show more", "more please", "any more?", "next page", "what else have you got?",
                                     "load more results", "keep going", "show me a few more", "gimme more", "page 2",
                                     "see the rest", "what other options are there?", "meh, next",
                                     "anything else in this style?", "more like these"])
def test_show_more(rules, message):
    assert rules.rewrite(message, searching()).action == "more"


@pytest.mark.parametrize("message", ["could i see more?", "got any more? 🙏", "others pls", "keep 'em coming", "next batch",
                                     "more of those", "what else have u got", "show me some other ones", "may i see more"])
def test_show_more_asked_casually(rules, message):
    """Asked for with "can i", "got", "others", slang or an emoji after it: these were small
    talk ("Sorry, I didn't catch that") or searched as words."""
    assert rules.rewrite(message, searching()).action == "more"


@pytest.mark.parametrize("message", ["others in red", "more casual", "got any more in navy?"])
def test_more_with_a_change_is_a_search(rules, message):
    assert rules.rewrite(message, searching()).action == "search"


@pytest.mark.parametrize("message, compared", [
    ("compare 1 and 2", (1, 2)), ("compare the second and the fifth one", (2, 5)), ("#3 vs #4", (3, 4)),
    ("what's the difference between 1 and 6?", (1, 6)), ("which one is better, 2 or 3?", (2, 3)),
    ("compare the first three", (1, 2, 3)), ("compare them", ()), ("how is #1 different from #2?", (1, 2)),
    ("1 or 2, which is nicer?", (1, 2)), ("put 4 and 5 side by side", (4, 5)),
])
def test_compare(rules, message, compared):
    intent = rules.rewrite(message, searching())
    assert intent.action == "compare" and intent.compared == compared


@pytest.mark.parametrize("message, compared", [
    ("what's the diff between #1 and #3", (1, 3)), ("is #2 better than #4?", (2, 4)),
    ("which one's nicer, 1 or 2", (1, 2)), ("which would you choose, the 2nd or the 5th?", (2, 5)), ("3 or 6?", (3, 6)),
])
def test_compare_asked_as_a_choice(rules, message, compared):
    """"the diff between 1 and 3" was a price between 1 and 3; "is #2 better than #4?" a
    question about #4."""
    intent = rules.rewrite(message, searching())
    assert intent.action == "compare" and intent.compared == compared


@pytest.mark.parametrize("message", ["2 or 3 pairs of socks", "cheaper than 50", "something better for the gym"])
def test_numbers_and_comparatives_in_a_request_are_no_comparison(rules, message):
    assert rules.rewrite(message, searching()).action == "search"


@pytest.mark.parametrize("message, wanted", [
    ("right, start over: a green kurta for my wife", {"baseColour": "Green", "articleType": "Kurtas", "gender": "Women"}),
    ("scrap that, I need brown boots", {"baseColour": "Brown", "articleType": "Booties"}),
    ("forget all that, new idea: white sneakers", {"baseColour": "White", "articleType": "Casual Shoes"}),
    ("never mind all that, I need a wallet for my dad", {"articleType": "Wallets", "gender": "Men"}),
    ("let's try something else: red kurtas for women", {"baseColour": "Red", "articleType": "Kurtas", "gender": "Women"}),
    ("scratch that, white trainers", {"baseColour": "White", "articleType": "Sports Shoes"}),
    ("nvm all that - a brown belt for my dad", {"baseColour": "Brown", "articleType": "Belts", "gender": "Men"}),
    ("ignore everything i said, a red saree", {"baseColour": "Red", "articleType": "Sarees"}),
    ("disregard that, show me sandals", {"articleType": "Sandals"}), ("ok new plan: green kurtas", {"baseColour": "Green", "articleType": "Kurtas"}),
    ("lets start fresh - grey jeans", {"baseColour": "Grey", "articleType": "Jeans"}),
])
def test_a_restart_inside_a_longer_message_is_a_new_search_without_its_words(rules, message, wanted):
    """Whom the shopping was for is forgotten too: the shopper said to start over."""
    intent = rules.rewrite(message, searching())
    assert intent.reference == "none" and intent.set_attributes == wanted
    assert not {"start", "scrap", "forget", "idea", "scratch", "nvm", "said", "plan", "fresh"} & set(intent.description.split())


@pytest.mark.parametrize("message", ["a scratch resistant watch", "ignore the colour", "new arrivals in red"])
def test_restart_words_inside_a_request_start_nothing(rules, message):
    intent = rules.rewrite(message, searching())
    assert intent.action == "search" and intent.set_attributes.get("gender", "Men") == "Men"


@pytest.mark.parametrize("message, dropped", [
    ("the colour is not a big deal", ("baseColour",)), ("colour's not important", ("baseColour",)),
    ("it needn't be for men", ("gender",)), ("not necessarily in black", ("baseColour",)),
    ("any colour is fine", ("baseColour",)), ("drop the gender", ("gender",)),
    ("remove the colour filter", ("baseColour",)), ("forget about the colour", ("baseColour",)),
    ("lose the black", ("baseColour",)), ("remove black", ("baseColour",)),
    ("clear all the filters", ("baseColour", "articleType", "gender")), ("I don't mind the colour", ("baseColour",)),
    ("skip the colour", ("baseColour",)), ("no colour preference", ("baseColour",)),
    ("it doesn't have to be black", ("baseColour",)), ("any gender is ok", ("gender",)),
])
def test_releasing_filters(rules, message, dropped):
    intent = rules.rewrite(message, searching())
    assert intent.action == "search" and intent.drop_attributes == dropped
    assert "Black" not in intent.set_attributes.values()


@pytest.mark.parametrize("message", ["in another colour", "got it in a different colour?", "other colours please",
                                     "what other colours does it come in?", "different shade please",
                                     "same thing but diff colour", "other colourways?", "which colours does it come in?",
                                     "alternative shades pls"])
def test_another_colour_avoids_the_current_one_and_searches_no_words(rules, message):
    intent = rules.rewrite(message, searching())
    assert intent.drop_attributes == ("baseColour",) and intent.negatives == ("Black",) and not intent.description


@pytest.mark.parametrize("message", ["which colours does the second one come in?", "what other colours does #5 come in",
                                     "number 2 in a different colour"])
def test_another_colour_of_another_result_releases_the_colour_without_avoiding_the_items(rules, message):
    """#3, a black t-shirt, is on screen; #2's colour is not known to the reader, so Black is
    not left out on its behalf."""
    intent = rules.rewrite(message, searching())
    assert intent.reference == "result" and intent.result_index in (2, 5)
    assert intent.drop_attributes == ("baseColour",) and intent.negatives == () and not intent.description


def test_another_colour_of_the_item_on_screen_by_number_still_avoids_its_colour(rules):
    intent = rules.rewrite("which colours does the third one come in?", searching())
    assert intent.drop_attributes == ("baseColour",) and intent.negatives == ("Black",)


@pytest.mark.parametrize("message", ["not a fan of the colour", "i really dont like the color", "love the cut, hate the colour",
                                     "wrong colour tbh"])
def test_disliking_the_colour_asks_for_another_one(rules, message):
    """A negated or wrong column word is another value of that column: "not keen on the
    colour" avoided the word "colour" and kept Black."""
    intent = rules.rewrite(message, searching())
    assert intent.drop_attributes == ("baseColour",) and intent.negatives == ("Black",)


@pytest.mark.parametrize("message, wanted", [
    ("these aren't for women", {"gender": "Women"}), ("no, those aren't navy", {"baseColour": "Navy Blue"}),
    ("ugh that's not a dress", {"articleType": "Dresses"}), ("they're not for boys", {"gender": "Boys"}),
])
def test_saying_what_is_shown_is_not_it_asks_for_it(rules, message, wanted):
    """"these aren't for women" avoided Women: the shopper says the results miss what they want."""
    intent = rules.rewrite(message, searching())
    assert intent.set_attributes == wanted and not intent.negatives


@pytest.mark.parametrize("message, avoided", [("not a dress", "Dresses"), ("ones that aren't black", "Black"),
                                              ("i want something that's not red", "Red")])
def test_a_negated_value_in_a_request_is_still_avoided(rules, message, avoided):
    assert rules.rewrite(message, searching()).negatives == (avoided,)


@pytest.mark.parametrize("message", ["not this one, something else", "nah, another one", "show me a different one"])
def test_something_else_leaves_out_the_current_item(rules, message):
    intent = rules.rewrite(message, searching())
    assert intent.exclude_results == (3,) and intent.reference == "current" and not intent.set_attributes


def test_something_else_with_nothing_picked_is_the_next_results(rules):
    assert rules.rewrite("something else", DialogueState(results=SHOWN)).action == "more"


def test_a_request_naming_the_shops_service_searches_the_rest_and_says_so(rules):
    intent = rules.rewrite("red ones with free delivery", searching())
    assert intent.action == "search" and intent.set_attributes == {"baseColour": "Red"} and intent.unheld == ("service",)
    assert "free" not in intent.description and "deliver" not in intent.description


@pytest.mark.parametrize("message, limit, unheld", [
    ("something cheaper", Limit(than_current="lower"), ()), ("under 50 please", Limit(at_most=50), ()),
    ("between $20 and $40", Limit(at_least=20, at_most=40), ()), ("a bit more premium", Limit(than_current="higher"), ()),
    ("in size M", None, ("size",)), ("only what's in stock", None, ("stock",)),
    ("these are way too pricey", Limit(than_current="lower"), ()), ("too expensive tbh", Limit(than_current="lower"), ()),
    ("it costs too much", Limit(than_current="lower"), ()),
])
def test_price_wishes_are_limits_and_unrecorded_aspects_are_said(rules, message, limit, unheld):
    intent = rules.rewrite(message, searching())
    assert intent.limits == ({"price": limit} if limit else {}) and intent.unheld == unheld
    assert not intent.description, "the words were searched as text"


@pytest.mark.parametrize("message, question, index", [
    ("what's the material of the first one?", "material", 1), ("how much is #2?", "price", 2),
    ("is the third one in stock?", "stock", 3), ("which brand makes #4?", "brand", 4), ("is #1 on sale?", "price", 1),
    ("what sizes does #3 come in?", "size", 3), ("does the first one come in leather?", "material", 1),
    ("do these come in leather?", "material", None),
    ("what season is the second one for?", "season", 2), ("is #5 for women?", "gender", 5),
])
def test_questions_about_results_name_the_aspect(rules, message, question, index):
    intent = rules.rewrite(message, searching())
    assert (intent.action, intent.question, intent.result_index) == ("answer", question, index)


@pytest.mark.parametrize("message, question, index", [
    ("whats it made from", "material", None), ("whats the cost of #4", "price", 4), ("who makes the second one", "brand", 2),
    ("when would it be delivered", "service", None), ("can i return these", "service", None),
    ("is shipping free", "service", None), ("do you ship to canada?", "service", None),
    ("can i return the red one if it doesnt fit", "service", None), ("is delivery expensive?", "service", None),
    ("any discounts on these?", "price", None),
])
def test_questions_typed_loosely_name_the_aspect(rules, message, question, index):
    """"whats" without its apostrophe, "who makes" (not who it is for), and anything about the
    shop's service, which is never a product's attribute, even phrased as a request."""
    intent = rules.rewrite(message, searching())
    assert (intent.action, intent.question, intent.result_index) == ("answer", question, index)


@pytest.mark.parametrize("message, index", [("tell me more about the 3rd one", 3), ("more details on #2", 2),
                                            ("any info on this one?", None)])
def test_asking_about_a_result_is_answered_from_its_record(rules, message, index):
    intent = rules.rewrite(message, searching())
    assert (intent.action, intent.result_index) == ("answer", index) and not intent.description


@pytest.mark.parametrize("message, wanted, index", [
    ("this in grey?", {"baseColour": "Grey"}, None), ("these for women?", {"gender": "Women"}, None),
    ("#5 in brown?", {"baseColour": "Brown"}, 5), ("the 4th one in white?", {"baseColour": "White"}, 4),
    ("same for girls?", {"gender": "Girls"}, None), ("and that one but in olive?", {"baseColour": "Olive"}, None),
])
def test_a_change_asked_without_a_verb_is_a_search(rules, message, wanted, index):
    """"this in grey?" asks for it in grey; it was a question about the current item."""
    intent = rules.rewrite(message, searching())
    assert (intent.action, intent.set_attributes, intent.result_index) == ("search", wanted, index)


@pytest.mark.parametrize("message, question", [("is this grey?", "baseColour"), ("are these for men?", "gender"),
                                               ("is #2 in stock?", "stock")])
def test_a_question_with_its_verb_is_still_a_question(rules, message, question):
    intent = rules.rewrite(message, searching())
    assert (intent.action, intent.question) == ("answer", question)


def test_no_not_those_rejects_what_is_shown_and_avoids_no_word(rules):
    intent = rules.rewrite("no not those, in brown", searching())
    assert intent.set_attributes == {"baseColour": "Brown"} and not intent.negatives and 1 in intent.exclude_results


@pytest.mark.parametrize("message, described", [
    ("sooo cute, got them in black??", "black"), ("so pretty! in red?", "red"), ("pretty dresses", "pretty dresses"),
    ("cute tops for my niece", "cute tops for my niece"),
    ("any chance u have these in teal", "teal"), ("would it look nice in yellow?", "yellow"),
    ("what if they were green", "green"), ("have you got them in pink 🙂", "pink"), ("or maybe in white?", "white"),
    ("could you do it in olive", "olive"), ("take me back to the red ones", "red ones"),
    ("sorry i meant heels", "heels"), ("can u show me it in beige", "beige"), ("i was wondering if you have any in lilac", "lilac"),
    ("hmm these are lovely but i'd prefer them in navy", "navy"), ("these r cute any in pink??", "pink"),
    ("nice, for women?", "for women"),
])
def test_a_change_asked_as_a_question_searches_no_chat_words(rules, message, described):
    """The words around the change ("any chance u have", "would it look nice") are no product."""
    assert rules.rewrite(message, searching()).description == described


@pytest.mark.parametrize("message, colour", [
    ("what about navy instead?", "Navy Blue"), ("how about it in red?", "Red"), ("could I see this in green?", "Green"),
    ("is there a white one?", "White"),
])
def test_a_change_asked_as_a_question_is_a_search(rules, message, colour):
    intent = rules.rewrite(message, searching())
    assert intent.action == "search" and intent.set_attributes.get("baseColour") == colour


@pytest.mark.parametrize("message, take_from, look", [
    ("the colour of #2 with the style of #4", {"baseColour": 2, "articleType": 4}, 4),
    ("like #1 but in #3's colour", {"baseColour": 3, "articleType": 1}, 1),
    ("the shape of the second one in the colour of the fifth", {"baseColour": 5, "articleType": 2}, 2),
    ("this in the colour of the sixth one", {"baseColour": 6}, None),
    ("same style as 2 in the colour of 4", {"baseColour": 4, "articleType": 2}, 2),
    ("like 4 but in 2's colour", {"baseColour": 2, "articleType": 4}, 4),
])
def test_two_references_borrow_named_attributes_and_the_look(rules, message, take_from, look):
    intent = rules.rewrite(message, searching())
    assert intent.take_from == take_from and intent.result_index == look
    assert intent.reference == ("result" if look else "current") and not intent.description


def test_a_photo_with_the_colour_of_a_result(rules):
    intent = rules.rewrite("this but in the colour of the second one", searching(), has_upload=True)
    assert intent.reference == "upload" and intent.take_from == {"baseColour": 2}


@pytest.mark.parametrize("message, wanted, avoided", [
    ("flats instead, heels hurt", "Flats", "Heels"), ("heels are way too high, show me flats", "Flats", "Heels"),
    ("sandals please since boots make my feet too hot", "Sandals", "Booties"),
    ("the red looks tacky, try blue", "Blue", "Red"),
])
def test_a_complaint_avoids_what_it_is_about(rules, message, wanted, avoided):
    intent = rules.rewrite(message, searching())
    assert wanted in intent.set_attributes.values() and intent.negatives == (avoided,)


def test_a_complaint_about_the_item_itself_keeps_its_kind(rules):
    intent = rules.rewrite("the dress is too short", searching())
    assert intent.set_attributes.get("articleType") == "Dresses" and not intent.negatives


@pytest.mark.parametrize("message, avoided", [
    ("too bright", ("Black", "bright")), ("that's way too dark", ("Black", "dark")),
    ("hmm, a bit too flashy for me", ("Black", "flashy")), ("too formal", ("Formal",)),
    ("these are too sporty", ("Sports",)), ("it's a little too girly", ("girly",)), ("too plain tbh?", ("plain",)),
    ("not too bright", ("bright",)), ("the black is too dark", ("Black",)),
])
def test_a_bare_complaint_avoids_the_quality_and_a_colour_s_look_the_colour(rules, message, avoided):
    """"too formal" avoids what it names (an occasion as its value), as "not so formal" does; a complaint about how the
    colour looks avoids the colour on screen too, as "the black is too dark" does; nothing is
    searched as words."""
    intent = rules.rewrite(message, searching())
    assert intent.action == "search" and intent.negatives == avoided and not intent.description


@pytest.mark.parametrize("message", ["black too", "me too", "i like it too", "in navy too please", "too many to choose",
                                     "is it too bright?"])
def test_too_meaning_also_is_no_complaint(rules, message):
    assert not rules.rewrite(message, searching()).negatives


@pytest.mark.parametrize("message", ["too big", "it's too small for me", "these look too baggy", "way too tight"])
def test_a_fit_complaint_says_sizes_are_not_recorded_and_avoids_nothing(rules, message):
    """A fit is no look to avoid: the reply says the catalogue records no sizes, as "in size M" does."""
    intent = rules.rewrite(message, searching())
    assert intent.unheld == ("size",) and not intent.negatives and not intent.description


def test_a_bare_complaint_with_a_wish_keeps_the_wish(rules):
    intent = rules.rewrite("that's way too dark, maybe navy?", searching())
    assert intent.negatives == ("Black", "dark") and intent.set_attributes == {"baseColour": "Navy Blue"}


def test_too_formal_releases_an_occasion_asked_for(rules):
    state = searching()
    state = state.apply(rules.rewrite("for the office", state))
    assert state.constraints["usage"] == "Formal"
    state = state.apply(rules.rewrite("hmm, too formal", state))
    assert "usage" not in state.constraints and state.negatives == ("Formal",)


@pytest.mark.parametrize("message, person", [
    ("for my grandad", "Men"), ("for my nan", "Women"), ("for my niece", "Girls"), ("for my nephew", "Boys"),
    ("for my fiancé", "Men"), ("for my fiancée", "Women"), ("for my mother-in-law", "Women"),
    ("for my son-in-law", "Men"), ("for my stepdaughter", "Girls"), ("for my bf", "Men"), ("a gift for my gf", "Women"),
    ("for womn", "Women"), ("something for wmn pls", "Women"),
    ("something for the hubs", "Men"), ("for my sis", "Women"), ("for my bro", "Men"),
])
def test_people_words(rules, message, person):
    assert rules.rewrite(message, searching()).set_attributes == {"gender": person}


@pytest.mark.parametrize("message, usage", [
    ("shirts for the office", "Formal"), ("something for work", "Formal"), ("shoes for the gym", "Sports"),
    ("something to wear to the office", "Formal"), ("for a job interview", "Formal"),
    ("a kurta for diwali", "Ethnic"), ("something casual", "Casual"), ("formal ones please", "Formal"),
    ("anything sporty?", "Sports"),
])
def test_occasions_said_as_such_are_the_usage(rules, message, usage):
    assert rules.rewrite(message, searching()).set_attributes.get("usage") == usage


@pytest.mark.parametrize("message", ["something more casual", "formal shirts", "a casual look", "more casual ones",
                                     "is more formal"])
def test_an_adjective_alone_is_no_occasion_filter(rules, message):
    assert "usage" not in rules.rewrite(message, searching()).set_attributes


@pytest.mark.parametrize("message, colour", [("bleu", "Blue"), ("blak please", "Black"), ("in purpel", "Purple"),
                                             ("gren ones", "Green"), ("in whitte", "White")])
def test_misspelt_colours_are_that_colour(rules, message, colour):
    assert rules.rewrite(message, searching()).set_attributes.get("baseColour") == colour


@pytest.mark.parametrize("message", ["blank", "back", "slack", "the bleak one", "eine"])
def test_real_words_are_not_taken_for_misspelt_values(rules, message):
    assert not rules.matcher.find(message)


@pytest.mark.parametrize("message, kind", [("great, thx", "thanks"), ("nice one, ta", "thanks"), ("tysm", "thanks"),
                                           ("ok that's lovely thanks", "thanks"), ("oh this is perfect", "praise"),
                                           ("dunno", "unsure"), ("idk tbh", "unsure")])
def test_english_chat_is_small_talk_not_foreign_nor_a_search(rules, message, kind):
    """"perfect, thx" was taken for another language, "ok that's great" searched for "'s great"."""
    intent = rules.rewrite(message, searching())
    assert (intent.action, intent.small_talk) == ("smalltalk", kind)


@pytest.mark.parametrize("message", [
    "hola, quiero zapatos negros", "zapatos negros por favor", "je voudrais une robe rouge", "ich suche eine schwarze Jacke", "vorrei una borsa nera",
    "tem essa camisa em verde?", "een blauwe jurk alstublieft",
])
def test_a_message_in_another_language_changes_nothing(rules, message):
    intent = rules.rewrite(message, searching())
    assert (intent.action, intent.small_talk) == ("smalltalk", "foreign")


@pytest.mark.parametrize("message", [
    "sapphre pls", "hmm, raibnow maybe?", "a lehenga choli", "is suede.", "kurta with dupatta", "nope", "merci",
    "has a v neck and is more fitted", "bleu dress", "salwar kameez in pink",
])
def test_english_odd_or_misspelt_is_not_foreign(rules, message):
    assert rules.rewrite(message, searching()).small_talk != "foreign"


@pytest.mark.parametrize("message", ["is black with white words", "has an orange graphic and is black"])
def test_a_colour_said_as_a_detail_gives_way_to_the_items_colour(rules, message):
    assert rules.rewrite(message, searching()).set_attributes["baseColour"] == "Black"


@pytest.mark.parametrize("message", ["the loose fitting shirt is aqua", "shirt with a pocket", "shirt tail hem"])
def test_a_kind_describing_the_current_item_refines_it(rules, message):
    intent = rules.rewrite(message, searching())
    assert intent.reference == "current" and intent.set_attributes.get("articleType") == "Shirts"


def test_a_new_request_with_a_kind_starts_afresh(rules):
    intent = rules.rewrite("red heels for my wife", searching())
    assert intent.reference == "none" and intent.set_attributes["articleType"] == "Heels"


@pytest.mark.parametrize("message, question", [("how long is delivery?", "service"), ("is it on sale?", "price")])
def test_a_question_about_what_may_not_be_recorded_is_answered_not_searched(rules, message, question):
    intent = rules.rewrite(message, searching())
    assert (intent.action, intent.question) == ("answer", question)


@pytest.mark.parametrize("message", ["has a different graphic and is black", "is white with a different logo"])
def test_a_different_detail_is_no_request_for_something_else(rules, message):
    intent = rules.rewrite(message, searching())
    assert not intent.exclude_results and intent.set_attributes["baseColour"] in ("Black", "White")


@pytest.mark.parametrize("message, dropped", [
    ("i'm not fussed about colour anymore", "baseColour"), ("same thing, other colour", "baseColour"),
])
def test_words_that_describe_nothing_are_not_searched(rules, message, dropped):
    """What is left of a move besides function words ("i'm ... anymore", "thing") is no text
    to search or quote."""
    intent = rules.rewrite(message, searching())
    assert dropped in intent.drop_attributes and not intent.description


@pytest.mark.parametrize("message, colour, described", [("is there one in grey?", "Grey", "grey"),
                                                         ("available in cotton?", None, "cotton")])
def test_a_question_searches_only_its_describing_words(rules, message, colour, described):
    intent = rules.rewrite(message, searching())
    assert intent.set_attributes.get("baseColour") == colour and intent.description == described


def test_a_kind_given_to_a_search_that_had_none_keeps_its_filters(rules):
    """"for my brother", "black", then "maybe jeans": black jeans for men, not any jeans."""
    kindless = DialogueState(constraints={"gender": "Men", "baseColour": "Black"}, results=SHOWN)
    intent = rules.rewrite("maybe jeans", kindless)
    assert intent.set_attributes == {"articleType": "Jeans", "gender": "Men", "baseColour": "Black"}


@pytest.mark.parametrize("state, message, wanted", [
    (searching(), "show me jeans", {"articleType": "Jeans", "gender": "Men"}),
    (DialogueState(constraints={"gender": "Men", "baseColour": "Black"}, results=SHOWN), "start over, jeans",
     {"articleType": "Jeans"}),
])
def test_a_new_kind_after_a_kind_or_a_restart_starts_afresh(rules, state, message, wanted):
    intent = rules.rewrite(message, state)
    assert intent.reference == "none" and intent.set_attributes == wanted


@pytest.mark.parametrize("message, question, index", [
    ("is it machine washable?", "machine washable", None), ("is it comfy?", "comfy", None),
    ("will it shrink?", "shrink", None), ("is the second one waterproof?", "material", 2),
    ("does it run small?", "size", None), ("are these breathable?", "breathable", None),
])
def test_a_yes_no_question_about_what_no_column_holds_asks_it(rules, message, question, index):
    """These named no value and no column, so the reply summarised the item instead of saying
    the catalogue does not record it."""
    intent = rules.rewrite(message, searching())
    assert (intent.action, intent.question, intent.result_index) == ("answer", question, index)


@pytest.mark.parametrize("message, question, index", [
    ("is it for men?", "gender", None), ("is the first one red?", "baseColour", 1), ("is it casual?", "usage", None),
    ("is it a dress?", "articleType", None), ("is it for summer?", "", None),
])
def test_a_yes_no_question_about_a_recorded_value_is_answered_from_the_record(rules, message, question, index):
    """A value of any reader column, the occasion's included ("casual"), is looked up; a phrase
    after a preposition may name a value of a column the readers do not know ("for summer")."""
    intent = rules.rewrite(message, searching())
    assert (intent.action, intent.question, intent.result_index) == ("answer", question, index)


@pytest.mark.parametrize("message", ["for both men and women", "for men and women", "something for either",
                                     "gender neutral please", "a gift for anyone"])
def test_everyone_is_the_catalogues_value_for_all_people(rules, message):
    """"for both men and women" was Women (the last person named), "for anyone" searched as words."""
    assert rules.rewrite(message, searching()).set_attributes.get("gender") == "Unisex"


@pytest.mark.parametrize("message, wanted", [("for men", {"gender": "Men"}), ("for women", {"gender": "Women"}),
                                             ("either red or blue", {"baseColour": "Red"})])
def test_one_person_is_still_that_person(rules, message, wanted):
    assert rules.rewrite(message, searching()).set_attributes == wanted


def test_any_gender_still_releases_the_person(rules):
    assert rules.rewrite("any gender is fine", searching()).drop_attributes == ("gender",)


@pytest.mark.parametrize("message", ["what do you recommend?", "surprise me", "any suggestions?", "what would you suggest",
                                     "what would you recommend?"])
def test_asking_for_a_recommendation_shows_the_best_results_without_its_words(rules, message):
    intent = rules.rewrite(message, searching())
    assert intent.action == "search" and intent.reference == "current" and not intent.description
    assert not (intent.set_attributes or intent.drop_attributes or intent.negatives or intent.exclude_results)


@pytest.mark.parametrize("message", ["what do you recommend?", "surprise me"])
def test_asking_for_a_recommendation_before_any_search_says_what_to_ask(rules, message):
    intent = rules.rewrite(message, DialogueState())
    assert (intent.action, intent.small_talk) == ("smalltalk", "help")


@pytest.mark.parametrize("message, wanted", [("what do you recommend for the office?", {"usage": "Formal"}),
                                             ("any suggestions in red?", {"baseColour": "Red"})])
def test_a_recommendation_with_a_wish_searches_the_wish_only(rules, message, wanted):
    intent = rules.rewrite(message, searching())
    assert intent.set_attributes == wanted and not {"recommend", "suggestions", "you"} & set(intent.description.split())


@pytest.mark.parametrize("message, index", [("more info on 3", 3), ("details on 2", 2), ("tell me more about 4", 4)])
def test_details_of_a_bare_number_are_that_results_record(rules, message, index):
    """A bare number after "more info on" was searched as words."""
    intent = rules.rewrite(message, searching())
    assert (intent.action, intent.result_index) == ("answer", index) and not intent.description


@pytest.mark.parametrize("message", ["size isn't important", "size doesn't matter", "any size is fine",
                                     "not fussed about size"])
def test_releasing_an_unrecorded_aspect_searches_and_claims_nothing(rules, message):
    """"size isn't important" avoided the word "important"; "size doesn't matter" searched
    "doesn't matter"; both said the catalogue could not go by size."""
    intent = rules.rewrite(message, searching())
    assert intent.action == "search" and not intent.description and not intent.negatives and not intent.unheld
    assert not intent.set_attributes and intent.drop_attributes == ("size",)


@pytest.mark.parametrize("message", ["does it come in red?", "do these come in red?", "does the 2nd one come in red?"])
def test_a_colour_asked_as_a_question_is_a_search_keeping_the_kind(rules, message):
    intent = rules.rewrite(message, searching())
    assert intent.action == "search" and intent.set_attributes == {"baseColour": "Red"} and intent.reference != "none"
    assert not intent.drop_attributes


def test_the_value_for_everyone_is_the_people_value_no_person_names():
    """"for men and women" names a catalogue's value for everyone whatever it is called, and
    nothing where it has none."""
    people = {"gender": {"Male": 5, "Female": 5, "Everyone": 2}, "colour": {"Red": 3, "Blue": 2}}
    assert VocabularyMatcher(people).canonical("men and women").value == "Everyone"
    assert VocabularyMatcher({**people, "gender": {"Male": 5, "Female": 5}}).canonical("men and women") is None


def compared(state: DialogueState, numbers: tuple[int, ...]) -> DialogueState:
    return state.apply(SearchIntent(action="compare", compared=numbers))


@pytest.mark.parametrize("message, index", [
    ("I'll take the other one", 5), ("show me more like the other one", 5), ("the other one but in blue", 5),
    ("the first one then", 3), ("the second one", 5), ("the last one", 5), ("i prefer the former", 3),
    ("the latter please", 5), ("#2 then", 2), ("number 4", 4),
])
def test_right_after_a_comparison_a_place_names_one_of_the_compared(rules, message, index):
    """After the item on screen (#3) is compared with #5, "the other one" is #5 and "the second
    one" is the second compared; a number is still that result."""
    intent = rules.rewrite(message, compared(searching(), (3, 5)))
    assert (intent.action, intent.reference, intent.result_index) == ("search", "result", index)
    assert "other" not in intent.description and "take" not in intent.description


def test_the_other_one_is_the_compared_result_the_message_does_not_name(rules):
    state = compared(DialogueState(constraints={"articleType": "Tshirts"}, results=SHOWN), (2, 6))
    assert rules.rewrite("not #2, the other one", state).result_index == 6
    assert rules.rewrite("the other one", state).reference == "current", "neither is on screen: no guess"


@pytest.mark.parametrize("message", ["the other one", "the second one", "the former"])
def test_without_a_comparison_just_before_places_are_the_results(rules, message):
    state = searching()
    later = compared(state, (3, 5)).apply(SearchIntent(set_attributes={"baseColour": "Blue"}))
    for before in (state, later):
        intent = rules.rewrite(message, before)
        assert intent.result_index in (None, 2)


@pytest.mark.parametrize("message, wanted, description", [
    ("red or blue dresses", {"baseColour": "Red", "articleType": "Dresses"}, "dresses"),
    ("either black or brown belts", {"baseColour": "Black", "articleType": "Belts"}, "belts"),
    ("blue/green tops pls", {"baseColour": "Blue", "articleType": "Tops"}, "tops"),
    ("red shirts, maybe blue ones", {"baseColour": "Blue", "articleType": "Shirts"}, "red shirts, maybe blue ones"),
    ("a black dress and some heels", {"baseColour": "Black", "articleType": "Dresses"}, "black"),
    ("a black and white shirt", {"baseColour": "White", "articleType": "Shirts"}, "black and white shirt"),
    ("red, then blue", {"baseColour": "Blue"}, "red, then blue"),
])
def test_values_listed_as_alternatives_search_the_first(rules, message, wanted, description):
    """A search holds one value a column: "red or blue" was Blue, the last named, with "red or
    blue" searched as words. The first of a list is searched and no value of it is text (the
    search may end on another); colours joined by "and" are one item's, and a value said after
    another without "or" replaces it."""
    intent = rules.rewrite(message, DialogueState())
    assert intent.set_attributes == wanted and intent.description == description


@pytest.mark.parametrize("message, index, wanted", [
    ("the one on the left", 1, {}), ("top left one but in red", 1, {"baseColour": "Red"}),
    ("the leftmost one for women", 1, {"gender": "Women"}), ("bottom right one", 12, {}),
])
def test_a_result_said_by_a_sure_place_on_screen_is_picked(rules, message, index, wanted):
    """"the one on the left" searched the words "on the left"; "top left one" searched tops."""
    intent = rules.rewrite(message, searching())
    assert (intent.reference, intent.result_index, intent.set_attributes) == ("result", index, wanted)
    assert not {"left", "right", "top", "most"} & set(intent.description.split())


@pytest.mark.parametrize("message", ["the one on the right", "the middle one in black", "top right one pls",
                                     "that's not the right one"])
def test_a_result_said_by_a_place_the_grid_does_not_settle_is_asked_about(rules, message):
    """The grid's width varies with the screen: which number is "on the right" is asked, and nothing changes."""
    assert rules.rewrite(message, searching()) == SearchIntent(action="smalltalk", small_talk="which")


@pytest.mark.parametrize("message", ["what's left in stock?", "the left sleeve has a logo", "right, show me red ones",
                                     "a tote for the middle of summer"])
def test_left_and_right_said_otherwise_name_no_result(rules, message):
    intent = rules.rewrite(message, searching())
    assert intent.reference != "result" and intent.small_talk != "which"


def after_shoes_then_shirts() -> DialogueState:
    shoes = DialogueState().apply(SearchIntent(reference="none", set_attributes={
        "articleType": "Casual Shoes", "baseColour": "Black", "gender": "Men"})).with_results(SHOWN)
    return shoes.apply(SearchIntent(reference="none", set_attributes={"articleType": "Shirts"})).with_results(SHOWN)


@pytest.mark.parametrize("message", ["go back to the shoes from before", "can we go back to the sneakers?",
                                     "show me the shoes again", "the sneakers you showed me earlier pls"])
def test_going_back_to_an_earlier_kind_returns_to_that_search(rules, message):
    """"go back to the shoes from before" was a new search for shoes, without their colour, and
    with "shoes from before" searched as words."""
    assert rules.rewrite(message, after_shoes_then_shirts()) == SearchIntent(
        action="undo", set_attributes={"articleType": "Casual Shoes"})


@pytest.mark.parametrize("message", ["go back to the shoes but in brown", "heels again", "go back to black"])
def test_going_back_with_a_change_or_to_what_was_never_searched_is_a_search(rules, message):
    assert rules.rewrite(message, after_shoes_then_shirts()).action == "search"


@pytest.mark.parametrize("message, asked", [("do you have this in a medium?", True), ("got it in small?", True),
                                            ("in an extra large please", False), ("black ones in large", False)])
def test_a_size_said_as_a_word_is_a_size(rules, message, asked):
    """"in a medium" searched the word "medium", which then stuck to later turns: a size is
    asked about or said not to be recorded."""
    intent = rules.rewrite(message, searching())
    assert (intent.action, intent.question) == ("answer", "size") if asked else intent.unheld == ("size",)
    assert not {"small", "medium", "large"} & set(intent.description.split())


def test_compare_the_last_two(rules):
    assert rules.rewrite("compare the last two", searching()) == SearchIntent(action="compare", compared=(11, 12))


@pytest.mark.parametrize("message, index, wanted, description", [
    ("omg #4 is perfect but for men", 4, {"gender": "Men"}, "for men"),
    ("love the 5th one!", 5, {}, ""), ("wow the second one is so cute, in red?", 2, {"baseColour": "Red"}, "red"),
    ("the third one looks nice, anything similar but longer?", 3, {}, ""),  # lengths are not recorded
])
def test_chat_inside_a_request_is_not_searched(rules, message, index, wanted, description):
    """"omg #4 is perfect but for men" searched "omg is perfect but for men", quoted back in the reply."""
    intent = rules.rewrite(message, searching())
    assert (intent.result_index, intent.set_attributes, intent.description) == (index, wanted, description)


def test_how_it_would_look_in_a_colour_searches_the_colour(rules):
    intent = rules.rewrite("how would it look in red?", searching())
    assert intent.set_attributes == {"baseColour": "Red"} and intent.description == "red"


@pytest.mark.parametrize("colour, message, shade", [
    ("Blue", "something a bit darker", "Navy Blue"), ("Navy Blue", "lighter please", "Blue"),
    ("Black", "a darker red", "Maroon"), ("Red", "in a deeper shade", "Maroon"), ("Grey", "a touch darker?", "Charcoal"),
])
def test_a_darker_or_lighter_colour_is_the_shade_the_vocabulary_names(rules, colour, message, shade):
    """"a bit darker" searched the word "darker" in the same colour."""
    state = DialogueState(constraints={"baseColour": colour, "articleType": "Tshirts"}, results=SHOWN)
    intent = rules.rewrite(message, state)
    assert intent.set_attributes == {"baseColour": shade} and intent.action == "search"
    assert not {"darker", "lighter", "deeper"} & set(intent.description.split())


@pytest.mark.parametrize("message, colour", [
    ("is green and is a darker color", "Green"), ("is black with red designs and is darker", "Black"),
    ("darker, and brown", "Brown"),
])
def test_a_colour_named_apart_from_darker_is_the_colour_wanted(rules, message, colour):
    """Real people's captions: "darker" says how the product differs from the one shown, and the
    colour named is the product's own; before, Red on screen and "black ... darker" read Maroon."""
    state = DialogueState(constraints={"baseColour": "Red", "articleType": "Tshirts"}, results=SHOWN)
    assert rules.rewrite(message, state).set_attributes["baseColour"] == colour


def test_a_shade_the_vocabulary_does_not_know_is_searched_as_words(rules):
    intent = rules.rewrite("a bit lighter", DialogueState(constraints={"baseColour": "Black"}, results=SHOWN))
    assert not intent.set_attributes and intent.description == "lighter"


@pytest.mark.parametrize("message, wanted", [
    ("a matching handbag", {"articleType": "Handbags", "baseColour": "Red", "gender": "Women"}),
    ("and a belt to match", {"articleType": "Belts", "baseColour": "Red", "gender": "Women"}),
    ("a matching handbag in black", {"articleType": "Handbags", "baseColour": "Black", "gender": "Women"}),
    ("a handbag", {"articleType": "Handbags", "gender": "Women"}),
])
def test_a_kind_to_match_keeps_the_colour_of_the_search_before(rules, message, wanted):
    """"a matching handbag" after red tops was any handbag: a new kind keeps only the person."""
    state = DialogueState(constraints={"baseColour": "Red", "articleType": "Tops", "gender": "Women"}, results=SHOWN)
    intent = rules.rewrite(message, state)
    assert intent.set_attributes == wanted and "match" not in intent.description


def picked_first_in_blue() -> DialogueState:
    """Results p1-p12 shown, then "the first one in blue" showed b1-b12."""
    shown = DialogueState(constraints={"articleType": "Shirts"}, results=SHOWN)
    return shown.apply(SearchIntent(reference="result", result_index=1, set_attributes={"baseColour": "Blue"}),
                       reference=Reference("catalog", product_id="p1")).with_results([f"b{i}" for i in range(1, 13)])


@pytest.mark.parametrize("message, index", [("no I meant the second one", 2), ("sorry, i meant #3", 3),
                                            ("wrong one, the 4th", 4), ("oops i meant the last one", 12)])
def test_a_pick_corrected_names_a_result_of_those_it_was_picked_from(rules, message, index):
    """"no I meant the second one" picked #2 of the blue shirts the wrong pick had brought."""
    assert rules.rewrite(message, picked_first_in_blue()) == SearchIntent(action="undo", reference="result",
                                                                          result_index=index)


@pytest.mark.parametrize("message, state", [("no I meant the second one in green", picked_first_in_blue()),
                                            ("i meant the second one", DialogueState(results=SHOWN))])
def test_a_correction_with_a_change_or_after_no_pick_is_a_pick(rules, message, state):
    assert rules.rewrite(message, state).action == "search"


@pytest.mark.parametrize("message, wanted", [
    ("skirts in the same colour as the shoes", {"articleType": "Skirts", "baseColour": "Black"}),
    ("a top to match the sneakers", {"articleType": "Tops", "baseColour": "Black"}),
    ("in the same colour as the shoes", {"baseColour": "Black"}),
])
def test_a_kind_named_as_what_to_match_gives_its_colour(rules, message, wanted):
    """"skirts in the same colour as the jeans" went back to jeans: the kind to match is no wish."""
    intent = rules.rewrite(message, after_shoes_then_shirts())
    assert intent.set_attributes == wanted


def test_matching_things_after_a_pick_are_a_new_search_in_its_colour(rules):
    """"and matching shoes?" after a pick was read as describing the picked t-shirt (a kind and no
    request word, as a caption says "shirt tail hem"), so shoes were searched similar to it."""
    intent = rules.rewrite("and matching shoes?", searching())
    assert intent.reference == "none" and intent.set_attributes == {
        "articleType": "Casual Shoes", "baseColour": "Black", "gender": "Men"}


def test_a_kind_to_go_with_the_item_on_screen_is_a_new_search_in_the_colour_shown(rules):
    """"now sandals to go with it" kept the dress as what to search from, and a colour the search
    had given up ("nothing matched Yellow") was carried into the sandals."""
    intent = rules.rewrite("now sandals to go with it", searching())
    assert intent.reference == "none" and intent.set_attributes == {
        "articleType": "Sandals", "baseColour": "Black", "gender": "Men"}
    gave_up = DialogueState(constraints={"articleType": "Dresses", "baseColour": "Yellow"}, relaxed=("Yellow",),
                            results=SHOWN)
    assert rules.rewrite("sandals to match", gave_up).set_attributes == {"articleType": "Sandals"}


def test_a_negation_ends_at_tho(rules):
    assert rules.rewrite("not floral tho", searching()).negatives == ("floral",)


@pytest.mark.parametrize("message", ["longer sleeves", "shorter ones", "full sleeve", "sleeveless please",
                                     "something with short sleeves", "knee length maybe"])
def test_sleeve_and_hem_lengths_are_said_unrecorded_not_searched(rules, message):
    """The catalogue records no lengths (no column, next to no title), so "longer sleeves" was
    searched as words that then stuck to later turns: now an aspect the reply says it can't follow."""
    intent = rules.rewrite(message, searching())
    assert (intent.action, intent.unheld, intent.description, intent.set_attributes) == ("search", ("length",), "", {})


def test_a_length_with_a_colour_searches_the_colour_and_a_length_question_is_answered(rules):
    intent = rules.rewrite("in blue with long sleeves", searching())
    assert (intent.set_attributes, intent.unheld, intent.description) == ({"baseColour": "Blue"}, ("length",), "blue")
    intent = rules.rewrite("does it have long sleeves?", searching())
    assert (intent.action, intent.question) == ("answer", "length")


@pytest.mark.parametrize("message, index, wanted, description", [
    ("#1 and #2 in white", 1, {"baseColour": "White"}, "white"),
    ("show 2 and 4 but for women", 2, {"gender": "Women"}, "for women"),
    ("numbers 5, 6 or 7 in red", 5, {"baseColour": "Red"}, "red"),
])
def test_results_named_together_start_from_the_first(rules, message, index, wanted, description):
    """"#1 and #2 in white" started from #2, the last named, and "show 2 and 4" searched "2 and 4"."""
    intent = rules.rewrite(message, searching())
    assert (intent.reference, intent.result_index, intent.set_attributes, intent.description) == (
        "result", index, wanted, description)


def test_numbers_that_name_no_results_are_no_list(rules):
    assert moves.listed_results("2 or 3 colours", searching()) is None
    assert moves.listed_results("under 20 and 30", searching()) is None
    assert moves.listed_results("#2 and #40", searching()) is None, "only 12 are shown"


@pytest.mark.parametrize("message", ["en noir svp", "en rojo por favor", "in schwarz bitte", "uguale ma blu",
                                     "pour femme", "para hombre en verde", "lo mismo pero en blanco"])
def test_a_short_request_in_another_language_is_told_foreign(rules, message):
    """Colour, person and joining words of another language: lingua finds "en noir svp" only 3
    times likelier French than English, and it was searched as words with the old filters."""
    intent = rules.rewrite(message, searching())
    assert (intent.action, intent.small_talk) == ("smalltalk", "foreign")


@pytest.mark.parametrize("message", ["in bleu", "same but in bleu"])
def test_an_english_request_with_a_slip_is_no_foreign_one(rules, message):
    """"bleu" is French and a slip for "blue" alike: where the vocabulary reads it, it is read."""
    intent = rules.rewrite(message, searching())
    assert (intent.action, intent.set_attributes) == ("search", {"baseColour": "Blue"})


@pytest.mark.parametrize("message", ["zapatos negros por favor", "quiero una camiseta roja"])
def test_other_words_in_another_language_still_change_nothing(rules, message):
    intent = rules.rewrite(message, searching())
    assert (intent.action, intent.small_talk) == ("smalltalk", "foreign")


def test_english_messages_are_not_translated():
    assert [in_english(t) for t in ("in red", "same but in blue", "for my mum", "de la", "rosa")] == [
        None, None, None, None, "pink"]
    assert in_english("für damen") == "for women" and in_english("per donna in nero") == "for women in black"


@pytest.mark.parametrize("message, wanted, description", [
    ("wht about in whte", {"baseColour": "White"}, "white"), ("hw about blak", {"baseColour": "Black"}, "black"),
    ("same but in bleu", {"baseColour": "Blue"}, "blue"), ("wat abt red", {"baseColour": "Red"}, "red"),
    ("smae but in grey pleas", {"baseColour": "Grey"}, "grey"),
])
def test_slips_around_a_change_are_not_searched(rules, message, wanted, description):
    """"wht about in whte" read White but searched "wht about in whte"; the value's slip is
    searched in the catalogue's spelling, which the encoder knows."""
    intent = rules.rewrite(message, searching())
    assert (intent.reference, intent.set_attributes, intent.description) == ("current", wanted, description)


@pytest.mark.parametrize("message", ["the other one", "I'll take the other one", "the latter please"])
def test_the_other_one_with_no_comparison_is_asked_about(rules, message):
    """With no comparison just made "the other one" names no result: which one is asked, where
    it was searched as words or not understood."""
    intent = rules.rewrite(message, searching())
    assert (intent.action, intent.small_talk) == ("smalltalk", "which")
    both = compared(DialogueState(constraints={"articleType": "Tshirts"}, results=SHOWN), (2, 6))
    assert rules.rewrite(message, both).small_talk == ("which" if "other" in message else "")


@pytest.mark.parametrize("message, colour", [
    ("the print in red", None), ("with red buttons", None), ("red logo", None), ("make the logo red", None),
    ("white with red stripes", "White"), ("a red print dress", "Red"), ("in red, with white laces", "Red"),
    ("has blue stripes", "Blue"),
])
def test_a_colour_said_of_a_part_is_not_the_items(rules, message, colour):
    """"with red buttons" made the whole item red; the words are still searched."""
    intent = rules.rewrite(message, searching())
    assert intent.set_attributes.get("baseColour") == colour and ("red" in message) <= ("red" in intent.description)


@pytest.mark.parametrize("message, kind", [("nah", "unsure"), ("hmm maybe", "unsure"), ("nope", "unsure")])
def test_a_bare_hesitation_is_small_talk(rules, message, kind):
    """"nah", "hmm maybe" got "Sorry, I didn't catch that"."""
    intent = rules.rewrite(message, searching())
    assert (intent.action, intent.small_talk) == ("smalltalk", kind)


@pytest.mark.parametrize("message, wanted, description", [
    ("could you show me some white sneakers if that's ok", {"baseColour": "White"}, "white sneakers"),
    ("u got these in navy??", {"baseColour": "Navy Blue"}, "navy"),
    ("the 3rd one looks cool but in silver", {"baseColour": "Silver"}, "silver"),
    ("same thing for women", {"gender": "Women"}, "for women"),
])
def test_chat_padding_around_a_request_is_not_searched(rules, message, wanted, description):
    """Padding was searched as words ("white sneakers if 's ok", "looks cool but in silver") or
    the request taken for a question ("u got these in navy??")."""
    intent = rules.rewrite(message, searching())
    assert intent.action == "search" and intent.description == description
    assert wanted.items() <= intent.set_attributes.items()
