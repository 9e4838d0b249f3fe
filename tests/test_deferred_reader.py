"""The app's reader while the LLM loads: the rules read every turn until it is ready, and go on
reading if it fails to load (logged, kept in `error`)."""

import logging
import threading

from chat.deferred_reader import DeferredReader
from chat.factory import make_rewriter
from chat.intent import SearchIntent
from chat.rules import RulesRewriter
from chat.state import DialogueState
from retrieval.vocabulary import VocabularyMatcher

MATCHER = VocabularyMatcher({"articleType": {"Tshirts": 20, "Dresses": 10}, "baseColour": {"Black": 20, "Red": 10}})


class SureModel:
    """A loaded reader that reads every message as a search for red dresses."""

    def rewrite(self, message, state, has_upload=False):
        return SearchIntent(set_attributes={"articleType": "Dresses", "baseColour": "Red"})


def test_the_rules_read_until_the_model_has_loaded_then_the_model_does():
    gate = threading.Event()

    def load():
        gate.wait(30)
        return SureModel()

    reader = DeferredReader(load, RulesRewriter(MATCHER))
    assert reader.loading and reader.rewrite("black tshirts", DialogueState()).set_attributes == {
        "baseColour": "Black", "articleType": "Tshirts"}
    gate.set()
    assert reader.wait(30) and not reader.loading and reader.error is None
    assert reader.rewrite("black tshirts", DialogueState()).set_attributes == {"articleType": "Dresses", "baseColour": "Red"}


def test_a_model_that_fails_to_load_leaves_the_rules_reading_and_says_why(caplog):
    def load():
        raise OSError("no such file: model.gguf")

    with caplog.at_level(logging.ERROR, logger="chat.deferred_reader"):
        reader = DeferredReader(load, RulesRewriter(MATCHER))
        assert reader.wait(30)
    assert reader.error == "no such file: model.gguf" and "could not be loaded" in caplog.text
    assert reader.rewrite("red dresses", DialogueState()).set_attributes == {"baseColour": "Red", "articleType": "Dresses"}


def test_the_factory_returns_at_once_and_the_loading_error_is_the_models(tmp_path):
    reader = make_rewriter(str(tmp_path / "missing.gguf"), MATCHER, background=True)
    assert isinstance(reader, DeferredReader) and reader.wait(60)
    assert "missing.gguf" in reader.error
    assert reader.rewrite("black tshirts", DialogueState()).set_attributes == {"baseColour": "Black", "articleType": "Tshirts"}
    assert isinstance(make_rewriter("rules", MATCHER, background=True), RulesRewriter)
