"""A model without the project's adapter reads with the instruction prompt (prompts/), its
worked examples before the shopper's turn, and is held to the rules' reading by the margin
chosen for it on the development files; the fine-tuned model keeps its own format and margins."""

from __future__ import annotations

from chat.llm_reader import HINT_MARGIN, KIND_HINT_MARGIN, UNTUNED_HINT_MARGIN, LLMReader, reader_prompt_for
from chat.reader_format import fine_tuned_prompt, instruction_prompt
from chat.rules import RulesRewriter
from chat.state import DialogueState
from retrieval.vocabulary import VocabularyMatcher
from tests.test_llm_reader import VOCABULARY, FakeModel


def test_the_prompt_follows_the_adapter():
    assert reader_prompt_for("models/smollm2-shop") == fine_tuned_prompt()
    assert reader_prompt_for(None) == instruction_prompt()


def test_an_untuned_model_reads_the_instructions_and_is_held_to_the_rules_more_firmly():
    matcher = VocabularyMatcher(VOCABULARY)
    model = FakeModel('{"action":"search","set":{"colour":"Red"}}')
    reader = LLMReader(model, matcher, fallback=RulesRewriter(matcher), prompt=reader_prompt_for(None))
    intent = reader.rewrite("red please", DialogueState())
    assert intent.set_attributes == {"baseColour": "Red"}
    messages, _, _ = model.calls[0]
    assert messages[0]["content"] == instruction_prompt().system
    assert len(messages) == 2 + 2 * len(instruction_prompt().examples)
    hint, margin, key_margins = model.hints[0]
    assert hint and margin == UNTUNED_HINT_MARGIN and set(key_margins.values()) == {UNTUNED_HINT_MARGIN}


def test_the_fine_tuned_model_keeps_its_format_and_margins():
    matcher = VocabularyMatcher(VOCABULARY)
    model = FakeModel('{"action":"search"}')
    LLMReader(model, matcher, fallback=RulesRewriter(matcher)).rewrite("red please", DialogueState())
    messages, _, _ = model.calls[0]
    assert [m["content"] for m in messages[:1]] == [fine_tuned_prompt().system] and len(messages) == 2
    _, margin, key_margins = model.hints[0]
    assert margin == HINT_MARGIN and set(key_margins.values()) == {KIND_HINT_MARGIN}
