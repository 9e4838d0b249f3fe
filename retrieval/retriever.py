"""The retrieval facade: one object that the evaluation CLI and the assistant talk to.

It owns the read-only pieces (catalogue, encoder, index, value prototypes, attribute
inference, an optional trained composer) and turns a reference plus a requested change into
ranked products. It knows nothing about dialogue: the chat package decides *what* to search
for, this module decides *how*.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from retrieval.attribute_heads import AttributeHeads
from retrieval.attributes import AttributeGuess, AttributeInferrer, ValuePrototypes
from retrieval.backdrop import match_backdrop
from retrieval.batching import Batcher
from retrieval.catalog import Catalog, load_catalog, read_ids
from retrieval.compose import (
    EDIT_WEIGHTS,
    SUM_WEIGHTS,
    TRAINED_WEIGHTS,
    Composition,
    FusionWeights,
    QueryParts,
    TrainedComposer,
    composition,
    describe,
)
from retrieval.encoder import Encoder, load_encoder
from retrieval.framing import framed_views
from retrieval.heads_learning import HeadsPlan, Progress
from retrieval.index import ProgressCallback, cached_index, heads_folder
from retrieval.photo import ImageInput, load_rgb
from retrieval.reference import Reference
from retrieval.sharded_store import ShardedStore, serve_store
from retrieval.vector_store import SearchHit, SearchRequest, VectorStore
from retrieval.vocabulary import Vocabulary, VocabularyMatcher

logger = logging.getLogger(__name__)

# Inferred attributes below this confidence are not written into a description.
MIN_INFERRED_CONFIDENCE = 0.35

METHODS = ("sum", "edit", "trained")


@dataclass(frozen=True)
class RetrievalSettings:
    """How queries are composed; checked once, when the retriever is built."""

    method: str = "edit"  # one of METHODS
    sum_weights: FusionWeights = SUM_WEIGHTS
    edit_weights: FusionWeights = EDIT_WEIGHTS
    trained_weights: FusionWeights = TRAINED_WEIGHTS

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"Unknown composition method {self.method!r}: choose one of {', '.join(METHODS)}")


def edit_attributes(attributes: Mapping[str, str], text: str, matcher: VocabularyMatcher) -> dict[str, str]:
    """`attributes` with every value the change names swapped in (the last mention wins)."""
    edited = dict(attributes)
    for mention in matcher.find(text):
        edited[mention.column] = mention.value
    return edited


class Retriever:
    """Composed search over one catalogue gallery."""

    def __init__(
        self,
        catalog: Catalog,
        encoder: Encoder,
        store: VectorStore,
        description_columns: Sequence[str],
        settings: RetrievalSettings = RetrievalSettings(),
        composer: TrainedComposer | None = None,
    ):
        self.catalog = catalog
        self.encoder = encoder
        self.store = store
        self.settings = settings
        self.composer = composer
        self.composition: Composition = composition(settings.method, settings.sum_weights,
                                                    settings.edit_weights, settings.trained_weights, composer)
        self.vocabulary = catalog.vocabulary()
        self.description_columns = [c for c in description_columns if c in self.vocabulary]
        self.matcher = reader_matcher(self.vocabulary, self.description_columns)
        self.people_columns = [self.matcher.people_column] if self.matcher.people_column else []
        self.prototypes = self._value_prototypes()
        self.inferrer = AttributeInferrer(store, self.prototypes)
        self.heads_plan: HeadsPlan | None = None  # how to learn attribute heads for this index (open_retriever)
        self._text_cache: dict[str, np.ndarray] = {}
        self._text_cache_lock = threading.Lock()  # one retriever serves every web session
        self._encodings = _text_batcher(encoder)
        self._searches = _search_batcher(store)

    def with_settings(self, settings: RetrievalSettings) -> Retriever:
        """The same catalogue, encoder and index composed another way (for tuning and
        comparisons: nothing is loaded again)."""
        other = copy.copy(self)
        other.settings = settings
        other.composition = composition(settings.method, settings.sum_weights, settings.edit_weights,
                                        settings.trained_weights, self.composer)
        return other

    def with_store(self, store: VectorStore | ShardedStore) -> Retriever:
        """The same retriever over another index of this catalogue (while the index is built,
        a larger part of it after each part): the value prototypes are not encoded again."""
        other = copy.copy(self)
        other.store = store
        other._searches = _search_batcher(store)
        other.inferrer = AttributeInferrer(store, self.prototypes, self.inferrer.settings, self.inferrer.heads)
        return other

    @property
    def heads(self) -> AttributeHeads | None:
        """The trained attribute heads uploads are read with; None: zero-shot until they are learned."""
        return self.inferrer.heads

    def use_heads(self, heads: AttributeHeads | None) -> None:
        """Read uploads with `heads` from now on (one assignment: a request in flight keeps the
        inferrer it started with)."""
        self.inferrer = AttributeInferrer(self.store, self.prototypes, self.inferrer.settings, heads)

    def learn_heads(self, progress: bool = False, on_progress: Progress | None = None) -> AttributeHeads | None:
        """The cached heads of this index, or ones learned now (minutes on a CPU), put to use;
        None for a retriever made without `open_retriever` (it knows no index folder)."""
        if self.heads_plan is None:
            return None
        self.use_heads(self.heads_plan.cached_or_learned(progress, on_progress))
        return self.heads

    def _value_prototypes(self) -> ValuePrototypes:
        pairs = [(c, v) for c, values in self.vocabulary.items() for v in values]
        vectors = self.encoder.encode_texts([v for _, v in pairs])
        return ValuePrototypes(tuple(c for c, _ in pairs), tuple(v for _, v in pairs), vectors)

    def text_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors of `texts`, encoded in one batch with other turns' texts waiting then;
        cached, as descriptions recur turn after turn."""
        with self._text_cache_lock:
            known = {t: self._text_cache[t] for t in texts if t in self._text_cache}
        missing = tuple(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            encoded = dict(zip(missing, self._encodings.submit(missing)))
            with self._text_cache_lock:
                if len(self._text_cache) > 4096:
                    self._text_cache.clear()
                self._text_cache.update(encoded)
            known.update(encoded)
        return known

    def describe(self, attributes: Mapping[str, str]) -> str:
        return describe(attributes, self.description_columns, self.people_columns)

    def reference_from_catalog(self, product_id: str) -> Reference:
        """A product the shopper picked: its record is known; its vector is indexed unless outside the gallery."""
        attributes = self.catalog.attributes(product_id)
        try:
            vector = self.store.vector(product_id)
        except KeyError:
            vector = self.encoder.encode_images([self.catalog.image_path(product_id)])[0]
        return Reference("catalog", product_id=product_id, vector=vector, attributes=attributes)

    def reference_from_image(self, image: ImageInput, exclude_ids: Collection[str] = ()) -> Reference:
        """An uploaded photo: pixels only, put on the catalogue's backdrop and framed as the
        catalogue shows its products (once the heads that learned how are ready), attributes
        inferred (confident guesses only). A product smaller in the frame than nearly all of the
        catalogue's, yet within its range (it shows a few wallets so), is read both as it is and
        enlarged to the typical framing, and the reading surer of its kind is kept."""
        views = [image] if self.heads is None else self._shown_like_catalogue(load_rgb(image), self.heads)
        readings = [self.reference_from_vector(vector, exclude_ids, view)
                    for vector, view in zip(self.encoder.encode_images(views), views)]
        kind = (self.matcher.kind_columns or (None,))[0]
        return max(readings, key=lambda reading: reading.confidence.get(kind, 0.0))

    @staticmethod
    def _shown_like_catalogue(photo: Image.Image, heads: AttributeHeads) -> list[Image.Image]:
        """`photo` on the catalogue's backdrop first (its product is told from its backdrop only
        once the backdrop is light), then framed as the catalogue frames its products where it
        sits outside their usual range; a small product within it also enlarged."""
        if heads.backdrop is not None:
            photo = match_backdrop(photo, heads.backdrop)
        return [photo] if heads.framing is None else framed_views(photo, heads.framing)

    def reference_from_vector(self, vector: np.ndarray, exclude_ids: Collection[str] = (),
                              image: ImageInput | None = None) -> Reference:
        """A photo known by its vector; its pixels (`image`), when given, let the heads read its colours."""
        guesses: dict[str, AttributeGuess] = self.inferrer.infer(vector, exclude_ids=list(exclude_ids), image=image)
        confident = {c: g.value for c, g in guesses.items() if g.confidence >= MIN_INFERRED_CONFIDENCE}
        return Reference("upload", vector=vector, attributes=confident, confidence={c: g.confidence for c, g in guesses.items()},
                         ranked={c: ((g.value, g.confidence), *g.runners_up) for c, g in guesses.items()})

    def compose(
        self,
        reference: Reference | None,
        text: str = "",
        target_attributes: Mapping[str, str] | None = None,
        negatives: Sequence[str] = (),
    ) -> np.ndarray:
        """One query vector for "this reference, changed as the text says".

        `target_attributes`, when a rewriter already worked out what the shopper wants, is
        used as the description; otherwise it is derived from the reference and the text.
        Which parts count, and how much, is the settings' composition method.
        """
        if target_attributes is None and reference is not None and text.strip():
            target_attributes = edit_attributes(reference.attributes, text, self.matcher)
        description = self.describe(target_attributes) if target_attributes else ""
        vectors = self.text_vectors([t for t in (text.strip(), description, *negatives) if t])
        return self.composition(QueryParts(
            image=reference.vector if reference is not None else None,
            text=vectors.get(text.strip()),
            description=vectors.get(description),
            negatives=np.stack([vectors[n] for n in negatives]) if negatives else None))

    def vectors_of(self, product_ids: Sequence[str]) -> np.ndarray | None:
        """(n, d) vectors of the indexed products among `product_ids`, None when there are none."""
        rows = []
        for product_id in product_ids:
            try:
                rows.append(self.store.vector(product_id))
            except KeyError:
                continue  # outside the gallery: nothing to learn from it
        return np.stack(rows) if rows else None

    def search(
        self,
        query: np.ndarray,
        k: int,
        exclude_ids: Collection[str] = (),
        filters: Mapping[str, Collection[str]] | None = None,
    ) -> list[SearchHit]:
        """The top k for one query (`VectorStore.search`), searched together with the other
        turns' searches waiting then (`VectorStore.search_each`)."""
        return self._searches.submit(SearchRequest(query, k, exclude_ids, filters))


def _text_batcher(encoder: Encoder) -> Batcher[tuple[str, ...], np.ndarray]:
    """Concurrent turns' new texts encoded in one pass, which costs less than a pass per text
    (the weights are read once). A batch is what queued while the last one ran."""
    def run(batches: list[tuple[str, ...]], more: Callable[[], list]) -> Iterator[tuple[int, np.ndarray]]:
        texts = list(dict.fromkeys(t for batch in batches for t in batch))
        vectors = dict(zip(texts, encoder.encode_texts(texts)))
        return ((i, np.stack([vectors[t] for t in batch])) for i, batch in enumerate(batches))

    return Batcher(run, window_s=0.0, name="text encoder")


def _search_batcher(store: VectorStore | ShardedStore) -> Batcher[SearchRequest, list[SearchHit]]:
    """Concurrent turns' searches run as one `search_each`: those that queued during the last one."""
    def run(requests: list[SearchRequest], more: Callable[[], list]) -> Iterator[tuple[int, list[SearchHit] | Exception]]:
        return enumerate(store.search_each(requests))

    return Batcher(run, window_s=0.0, name="searches")


def open_retriever(
    catalog_dir: str | Path | Catalog,
    encoder_spec: str,
    gallery: str | Path | None = None,
    index_dir: Path | None = None,
    method: str | None = None,
    composer_dir: str | Path | None = None,
    on_progress: ProgressCallback | None = None,
    progress: bool = False,
    precision: str = "auto",
    backend: str = "faiss",
    shards: int | None = None,
    ray_address: str | None = None,
    on_partial: Callable[[Retriever], None] | None = None,
) -> Retriever:
    """The one way to open a retriever: catalogue, encoder, the cached index of the gallery
    (built on first use), and a trained composer when `composer_dir` is given.

    `method` defaults to "trained" with a composer and to "edit" without; "trained" without
    a composer is an error, not a silent fallback. The whole catalogue stays available, so a
    reference outside the gallery still has a record. `precision` (fp32, bf16, auto) is the
    encoder's; a cached index built in another precision is reused. `backend` "ray" serves
    the index as `shards` shards on the Ray cluster at `ray_address` (`local`: one started
    on this machine), searched by scatter-gather (`retrieval.sharded_store`).

    While a first build runs, `on_partial` gets a retriever over the products indexed so far
    after each finished part (in this process whatever the backend: it serves only until
    the whole index is ready).

    Uploads are read with attribute heads cached beside the index. Missing ones are learned
    before this returns (a CLI, a test: what is measured is what is served), except for a
    caller that serves while it loads (`on_partial`): it gets the retriever at once, reading
    uploads zero-shot, and calls `Retriever.learn_heads` in the background (`shop.loader`).
    """
    method = method or ("trained" if composer_dir else "edit")
    settings = RetrievalSettings(method=method)
    if method == "trained" and not composer_dir:
        raise ValueError("The trained method needs a composer folder (--composer DIR, from python -m training.composer)")
    composer = None
    if composer_dir:
        from retrieval.composer import load_composer  # torch module: only when asked for

        composer = load_composer(composer_dir)
    catalog = catalog_dir if isinstance(catalog_dir, Catalog) else load_catalog(catalog_dir)
    encoder = load_encoder(encoder_spec, precision=precision)
    indexed = catalog.subset(read_ids(gallery)) if gallery else catalog
    made: list[Retriever] = []  # the first one; the others reuse its value prototypes

    def over(store: VectorStore | ShardedStore) -> Retriever:
        if not made:
            made.append(Retriever(catalog, encoder, store, default_description_columns(catalog), settings, composer))
            return made[0]
        return made[0].with_store(store)

    partial = None if on_partial is None else (lambda store: on_partial(over(store)))
    store = cached_index(indexed, encoder, index_dir, on_progress=on_progress, progress=progress, on_partial=partial)
    retriever = over(serve_store(store, backend, shards, ray_address))
    retriever.heads_plan = HeadsPlan(catalog, tuple(indexed.ids) if gallery else None, encoder,
                                     heads_folder(indexed, encoder, index_dir), index_dir)
    if on_partial is None:
        retriever.learn_heads(progress)
    else:
        retriever.use_heads(retriever.heads_plan.cached())
    return retriever


# The columns a target description is written from, when the catalogue has them. Measured on
# the non-test items: colour + article type + gender beats adding usage, season or
# sub-category (each extra word dilutes the stand-in encoder's short text vectors).
DESCRIPTION_COLUMNS = ("baseColour", "articleType", "gender")


def reader_matcher(vocabulary: Vocabulary, description_columns: Sequence[str]) -> VocabularyMatcher:
    """The values the readers know: the description columns', since a change is grounded in what
    a description can say, and the occasion column's ("for the office": Formal), which the
    readers take only from occasion phrases and the search uses as a filter. Benchmarks of the
    readers build theirs here too, so they read with the vocabulary a served assistant has."""
    columns = [c for c in description_columns if c in vocabulary]
    occasion = VocabularyMatcher(vocabulary).occasion_column
    if occasion and occasion not in columns:
        columns.append(occasion)
    return VocabularyMatcher({c: vocabulary[c] for c in columns})


def default_description_columns(catalog: Catalog) -> list[str]:
    """DESCRIPTION_COLUMNS where present, else every attribute column of the catalogue."""
    present = [c for c in DESCRIPTION_COLUMNS if c in catalog.attribute_columns]
    return present or list(catalog.attribute_columns)
