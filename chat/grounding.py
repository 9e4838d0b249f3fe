"""The LLM reader's intent held to the message's own words on what the product is, for whom, and what not.

The fine-tuned 135M model reads colours as people write them (shades, crowd captions), but on
what the product is and whom it is for it falls back on its prior where the words were rare in
its training ("sneakers for men" -> Sunglasses, "a wallet for him" without Men), where the
rules' vocabulary is exact; the rules' negation has explicit scope. So the model's intent
stands except that:

- a kind, person, colour or occasion it writes must be named in the message, or be the current
  item's or the search's already where the message names no other; otherwise the rules'
  reading of that column stands, or nothing (a colour only where the rules read one: the
  model reads shades the rules' tables lack);
- a person the message names is kept where the model left that column out; so is a kind, but
  only in a new search: "the shirt is grey" about a picked T-shirt names no new kind; where the
  rules' kind had to stand in for the model's, so does their new search;
- what the rules read as negated is avoided and not wanted, and what they want is not avoided;
- where the model wrote no free text, the rules' text stands for a value it had to refuse, and
  the search's old text loses the values the turn changes (`chat.text.text_left`);
- the dialogue moves the model was never taught are the rules' (`with_moves`).

The figures behind each rule: models/smollm2-shop/README.md. Pure: intents, text, state and
matcher in, an intent out.
"""

from __future__ import annotations

from chat import moves
from chat.intent import MAX_LIST_ITEMS, SearchIntent
from chat.state import DialogueState
from chat.text import text_left
from retrieval.vocabulary import VocabularyMatcher


def grounded(model: SearchIntent, rules: SearchIntent, text: str, state: DialogueState,
             matcher: VocabularyMatcher) -> SearchIntent:
    """`model` with its kinds, people and negatives checked against `text` (see the module)."""
    if model.action != "search" or rules.action != "search":
        return model
    people = [matcher.people_column] if matcher.people_column else []
    colours = [matcher.colour_column] if matcher.colour_column and rules.set_attributes.get(matcher.colour_column) else []
    occasions = [matcher.occasion_column] if matcher.occasion_column else []  # never taught: only as said
    columns = [*matcher.kind_columns, *people, *colours, *occasions]
    negated = {n.casefold() for n in rules.negatives}  # "formal shoes look dated": named, but not wanted
    named = {(m.column, m.value) for m in matcher.find(text.lower()) if m.value.casefold() not in negated}
    wanted = dict(model.set_attributes)
    refused = False
    for column in columns:
        value = wanted.pop(column, None)
        said = rules.set_attributes.get(column)
        renamed = said and said != value and (column, said) in named  # the message names another value
        if value and ((column, value) in named or value in _context(state, column) and not renamed):
            wanted[column] = value
        elif value:
            refused = True
            if rules.set_attributes.get(column):
                wanted[column] = rules.set_attributes[column]
    fresh = model.reference == "none" or state.reference is None
    avoided = {n.casefold() for n in model.negatives}
    for column in [*matcher.kind_columns, *people] if fresh else people:
        value = rules.set_attributes.get(column)
        if (value and (column, value) in named and column not in wanted
                and column not in model.drop_attributes and value.casefold() not in avoided):
            wanted[column] = value
    intent = _negations_as_the_rules_read_them(model, rules, wanted)
    kinds = matcher.kind_columns
    if rules.reference == "none" and model.reference == "current" and any(
            rules.set_attributes.get(c) and intent.set_attributes.get(c) == rules.set_attributes[c]
            != model.set_attributes.get(c) for c in kinds):  # the model missed the new kind, and so the new search
        carried = {c: v for c, v in rules.set_attributes.items() if c in people and c not in intent.set_attributes}
        intent = intent.model_copy(update={"reference": "none", "set_attributes": {**intent.set_attributes, **carried}})
    if intent.description:
        return intent
    if refused:
        return intent.model_copy(update={"description": rules.description})
    left = text_left(state.description, intent, matcher)
    if left is None:
        return intent
    return intent.model_copy(update={"description": left or rules.description})


def _context(state: DialogueState, column: str) -> set[str]:
    """The values of `column` that the dialogue already has: the search's and the item's."""
    values = {state.constraints.get(column, "")}
    if state.reference is not None:
        values.add(state.reference.attributes.get(column, ""))
    return values - {""}


def _negations_as_the_rules_read_them(model: SearchIntent, rules: SearchIntent,
                                      wanted: dict[str, str]) -> SearchIntent:
    """What the rules read as negated is avoided and not wanted; what they want is not avoided."""
    negated = {n.casefold() for n in rules.negatives}
    wanted = {c: v for c, v in wanted.items() if v.casefold() not in negated}
    rules_want = {v.casefold(): (c, v) for c, v in rules.set_attributes.items()}
    negatives: dict[str, str] = {}
    for negative in (*model.negatives, *rules.negatives):
        column, value = rules_want.get(negative.casefold(), (None, None))
        if column is None:
            negatives.setdefault(negative.casefold(), negative)
        elif column not in wanted:
            wanted[column] = value
    return model.model_copy(update={"set_attributes": wanted,
                                    "negatives": tuple(negatives.values())[:MAX_LIST_ITEMS]})


def with_moves(model: SearchIntent, rules: SearchIntent, text: str, matcher: VocabularyMatcher) -> SearchIntent:
    """`model` with the dialogue moves the rules read (`chat.moves`), which the model was never
    taught: a change asked as a question ("what about red instead?") is a search; a restart
    inside a longer message starts afresh; released filters, "another colour", "something
    else", occasions, price limits, unrecorded aspects and attributes borrowed from another
    result are the rules'; their words are not searched as text."""
    if rules.action == "search" and model.action == "answer" and (rules.set_attributes or rules.take_from):
        return rules
    if model.action != "search" or rules.action != "search":
        return model
    occasion = {c: v for c, v in rules.set_attributes.items() if c == matcher.occasion_column
                and c not in model.set_attributes and c not in model.drop_attributes}
    named = {(m.column, m.value) for m in matcher.find(text.lower())}
    released = {c for c in rules.drop_attributes if (c, model.set_attributes.get(c)) not in named}
    update = {
        "set_attributes": {**{c: v for c, v in model.set_attributes.items() if c not in released}, **occasion},
        "drop_attributes": tuple(dict.fromkeys([*model.drop_attributes, *(
            c for c in rules.drop_attributes if c not in model.set_attributes)])),
        "negatives": tuple(dict.fromkeys([*model.negatives, *rules.negatives]))[:MAX_LIST_ITEMS],
        "exclude_results": tuple(dict.fromkeys([*model.exclude_results, *rules.exclude_results])),
        "limits": rules.limits, "unheld": rules.unheld, "take_from": rules.take_from,
    }
    if rules.take_from:
        update.update(reference=rules.reference, result_index=rules.result_index)
    if moves.RESET.search(text.lower()) and rules.reference == "none":
        update.update(reference="none", result_index=None, description=rules.description)
    elif rules.limits or rules.unheld or rules.take_from or rules.drop_attributes:
        update["description"] = rules.description  # the model's text may hold "cheaper", "any colour"
    return model.model_copy(update=update)

