"""The one way to build the assistant, for the web app, both evaluation CLIs and the tests.

What is measured must be what is served: the app and the evaluation both describe what they
want as an `AssistantConfig` and get it from `open_assistant`, so the vocabulary the reader
knows, the composition method and its weights cannot differ between them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch and the models load when an assistant is opened, not at import:
    # the app must check its settings and fail in seconds.
    from chat.assistant import Assistant, Rewriter
    from retrieval.catalog import Catalog
    from retrieval.index import ProgressCallback
    from retrieval.retriever import Retriever
    from retrieval.vocabulary import VocabularyMatcher

Stage = Callable[[str], None]


@dataclass(frozen=True)
class AssistantConfig:
    """Everything that decides how the assistant answers."""

    catalog: str | Path | Catalog  # a folder, or a catalogue the caller already loaded
    encoder: str
    llm: str = "rules"
    gallery: Path | None = None
    index_dir: Path | None = None
    composer: Path | None = None
    method: str | None = None  # None: trained with a composer, else edit
    precision: str = "auto"  # image encoding: fp32, bf16, or auto (bf16 where the CPU has it)
    backend: str = "faiss"  # faiss: the index in this process; ray: sharded on a Ray cluster
    shards: int | None = None
    ray_address: str | None = None  # with ray: local (a cluster on this machine) or HOST:PORT


def open_assistant(config: AssistantConfig, on_progress: ProgressCallback | None = None,
                   on_stage: Stage | None = None, progress: bool = True,
                   on_partial: Callable[[Assistant], None] | None = None,
                   reader_in_background: bool = False) -> Assistant:
    """The assistant `config` describes, with its LLM loaded so that no turn pays for it; the
    index builds (with progress) on first use. `on_stage(text)` hears what is happening;
    during a first build `on_partial` gets an assistant over the products indexed so far
    after each finished part (the reader is made once, for the first of them). With
    `reader_in_background` the LLM loads on its own thread and the rules read until it is
    ready (`chat.deferred_reader`): the web app's choice, so a shopper need not wait for it."""
    from retrieval.retriever import open_retriever

    stage = on_stage or (lambda text: None)
    stage("Loading the catalogue and the encoder…")
    readers: list[Rewriter] = []  # loaded once: every retriever here has the same vocabulary

    def assistant(retriever: Retriever) -> Assistant:
        from chat.assistant import Assistant

        if not readers:
            readers.append(assistant_for(retriever, config.llm, stage, reader_in_background).rewriter)
        return Assistant(retriever, readers[0])

    partial = None if on_partial is None else (lambda retriever: on_partial(assistant(retriever)))
    retriever = open_retriever(config.catalog, config.encoder, config.gallery, config.index_dir,
                               method=config.method, composer_dir=config.composer,
                               on_progress=on_progress, progress=progress, precision=config.precision,
                               backend=config.backend, shards=config.shards, ray_address=config.ray_address,
                               on_partial=partial)
    return assistant(retriever)


def assistant_for(retriever: Retriever, llm: str, on_stage: Stage | None = None,
                  background: bool = False) -> Assistant:
    """The assistant over an open retriever: its reader knows the retriever's vocabulary."""
    from chat.assistant import Assistant

    if llm != "rules" and on_stage and not background:
        on_stage(f"Loading the language model {llm}…")
    return Assistant(retriever, make_rewriter(llm, retriever.matcher, background, retriever.catalog.words()))


def make_rewriter(llm_spec: str, matcher: VocabularyMatcher, background: bool = False,
                  shop_words: Iterable[str] = (), int8: bool | None = None) -> Rewriter:
    """`rules`, or an LLM reader (see `chat.llm.load_llm`) with the rules as its fallback,
    loaded now, or with `background` on its own thread while the rules read. Both tell a
    message in another language by `chat.language`, knowing the catalogue's own words.
    `int8`: True or False overrides whether the LLM's feed-forward weights are int8 on CPU
    (benchmarks; `chat.llm.load_settings` decides otherwise)."""
    from chat.language import ForeignCheck
    from chat.rules import RulesRewriter

    rules = RulesRewriter(matcher, foreign=ForeignCheck(shop_words))
    if llm_spec == "rules":
        return rules
    from chat.llm import load_llm
    from chat.llm_reader import LLMReader, reader_prompt_for

    def load() -> Rewriter:
        llm = load_llm(llm_spec, int8=int8)
        return LLMReader(llm, matcher, fallback=rules, prompt=reader_prompt_for(llm.source.adapter)).load()

    if background:
        from chat.deferred_reader import DeferredReader

        return DeferredReader(load, rules)
    return load()
