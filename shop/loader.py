"""Opens the shop in a background thread, and stands in for it until it is ready.

A cached index opens in seconds, a first build takes minutes; during those the UI is already
up, and every action answers through `LoadingShop` with how far loading got, so the app
needs no readiness checks of its own. A first build indexes the photos part by part: from
the first finished part on, a shop over the products indexed so far answers instead ("Searching
4,096 of 11,242 products; indexing continues…"), replaced by a larger one each time the
indexed prefix doubles, and by the whole shop when the index is done. On a first start without
attribute heads (what reads an uploaded photo, `retrieval.heads_learning`) the whole shop
serves at once, reading photos by their look-alikes, while the heads are learned with the same
progress display; then it reads photos with them. The catalogue is read
once, here, and shared by the assistant and the app (which serves its photos). What a catalogue lacks is said at start
(`Loader.notes`, also logged): without a colour column "red" means nothing, and a shopper
who is not told so only sees random colours.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from shop.session import Session, View
from shop.settings import AppSettings, resolve_catalog

if TYPE_CHECKING:
    from chat.assistant import Assistant
    from retrieval.catalog import Catalog
    from retrieval.vocabulary import VocabularyMatcher
    from shop.session import Shop

logger = logging.getLogger(__name__)


class LoadingShop:
    """The `Shop` actions while the real one loads: each answers with the loading status."""

    def __init__(self, loader: Loader):
        self._loader = loader

    def _status(self, session: Session | None = None, *_) -> View:
        return View(session or Session(), self._loader.status())

    send = pick = feedback = release = undo = view = choose = _status

    def stream(self, session: Session | None = None, *_) -> Iterator[View]:
        yield self._status(session)

    def start_over(self) -> View:
        return self._status()


def feature_notes(catalog: Catalog, matcher: VocabularyMatcher) -> list[str]:
    """What the shopper cannot do with this catalogue, and why: missing attribute columns,
    products skipped for a missing photo."""
    columns = ", ".join(matcher.columns) or "none"
    notes = []
    if matcher.colour_column is None:
        notes.append("Colour words (\"red\", \"navy\") are ignored: no searched catalogue column has colour "
                     f"names as values (searched columns: {columns}).")
    if matcher.people_column is None:
        notes.append("Words for who it is for (\"for women\", \"for my son\") are ignored: no searched "
                     f"catalogue column has values such as Men / Women (searched columns: {columns}).")
    if not matcher.kind_columns:
        notes.append("Kinds of item (\"dress\", \"t-shirt\") are ignored: the catalogue has no column "
                     "saying what each product is.")
    if catalog.skipped:
        count = len(catalog.skipped)
        notes.append(f"{count:,} product{' is' if count == 1 else 's are'} left out because "
                     f"{'its photo is' if count == 1 else 'their photos are'} missing (e.g. {', '.join(catalog.skipped[:3])}).")
    return notes


def partial_status(searchable: int, total: int) -> str:
    """The status line while the shopper searches a part of the catalogue."""
    return f"Searching {searchable:,} of {total:,} products; indexing continues…"


def heads_status(stage: str, done: int, total: int) -> str:
    """The status line while the attribute heads are learned and the shop already serves."""
    return (f"Learning to read uploaded photos ({stage}: {done:,} of {total:,}); search is open, and until "
            "then a photo is read by the products that look like it.")


class _IndexWarnings(logging.Handler):
    """Collects what the index logs as warnings from one thread (a saved index refused and
    rebuilt), so the page says it too, not only the terminal."""

    def __init__(self, notes: list[str]):
        super().__init__(logging.WARNING)
        self._notes = notes
        self._thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self._thread:
            self._notes.append(record.getMessage())


class Loader:
    """Opens the assistant (as a `Shop`) in a background thread and reports how far it got.

    The one piece of app-wide mutable state: written by the loading thread only, read by
    request handlers to show progress or the ready assistant.
    """

    def __init__(self, settings: AppSettings):
        self.settings = settings
        self.catalog: Catalog | None = None
        self.error: str | None = None
        self._notes: list[str] = []  # what this catalogue cannot offer (feature_notes), index warnings
        self.stage = "Loading the catalogue and the models…"
        self.done = 0
        self.total = 0
        self.searchable_items = 0  # products the partial shop searches, while the index is built
        self.heads_stage: str | None = None  # what learning the attribute heads is doing, while it runs
        self._ready: Shop | None = None
        self._partial: Shop | None = None  # over the products indexed so far
        self._loading = LoadingShop(self)
        self._settled = threading.Event()  # ready, failed, or a long index build has begun
        self._thread = threading.Thread(target=self._load, name="open-assistant", daemon=True)

    def start(self) -> Loader:
        self._thread.start()
        return self

    def wait_until_settled(self, timeout: float | None = None) -> Loader:
        """Return once the assistant is ready, loading failed, or indexing began or resumed
        (then the UI can start and show the progress)."""
        self._settled.wait(timeout)
        return self

    def wait_until_ready(self, timeout: float | None = None) -> Shop | None:
        self._thread.join(timeout)
        return self._ready

    @property
    def notes(self) -> list[str]:
        """What the shop cannot offer as asked, for the page: the catalogue's gaps, the index's
        warnings, and an LLM reader that failed to load on its own thread (the rules read)."""
        reader = self._ready.assistant.rewriter if self._ready else None
        error = getattr(reader, "error", None)
        failed = [f"The language model {self.settings.llm} could not be loaded ({error}): the rules read "
                  "every message."] if error else []
        return self._notes + failed

    @property
    def ready(self) -> bool:
        return self._ready is not None

    @property
    def searchable(self) -> bool:
        """Whether a shopper can search: the shop is ready, or a part of the index is."""
        return self._ready is not None or self._partial is not None

    @property
    def shop(self) -> Shop | LoadingShop:
        """The shop to serve a request with: the real one once ready, before that the one over
        the products indexed so far, else the stand-in that answers with the status."""
        return self._ready or self._partial or self._loading

    def status(self) -> str:
        """One line for the UI while the assistant is not ready."""
        if self.error:
            return f"The shop could not start: {self.error}"
        if self.heads_stage is not None and not self.ready:
            return heads_status(self.heads_stage, self.done, self.total)
        if self._partial is not None and not self.ready:
            return partial_status(self.searchable_items, self.total)
        if self.total and self.done < self.total:
            return (f"Indexing the catalogue photos: {self.done:,} of {self.total:,} "
                    "(only the first start takes this long).")
        return self.stage

    def _progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        self._settled.set()

    def _stage(self, text: str) -> None:
        self.stage = text

    def _serve_partial(self, assistant: Assistant) -> None:
        """Serve the products indexed so far until the next part or the whole index."""
        from shop.session import Shop

        self.searchable_items = len(assistant.retriever.store)
        self._partial = Shop(assistant)
        self._settled.set()

    def _heads_progress(self, stage: str, done: int, total: int) -> None:
        self.heads_stage, self.done, self.total = stage, done, total

    def _learn_heads(self, assistant: Assistant) -> None:
        """Serve the whole shop while the attribute heads it lacks are learned (uploads are read
        zero-shot until then); a failure leaves it reading them so, and says why."""
        from shop.session import Shop

        retriever = assistant.retriever
        if retriever.heads is not None or retriever.heads_plan is None:
            return
        self.searchable_items = len(retriever.store)
        self.heads_stage = "starting"
        self._partial = Shop(assistant)
        self._settled.set()
        try:
            retriever.learn_heads(on_progress=self._heads_progress)
        except Exception as err:  # the shop serves on without heads; the traceback goes to the log
            logger.exception("Learning the attribute heads failed")
            self._notes.append(f"Uploaded photos are read by the products that look like them: the attribute heads "
                               f"could not be learned ({err}).")
        finally:
            self.heads_stage = None

    def _load(self) -> None:
        # torch and the models load here, not at import: a bad setting must fail in seconds.
        from chat.factory import open_assistant
        from retrieval.catalog import load_catalog
        from shop.session import Shop

        index_notes: list[str] = []
        index_log = logging.getLogger("retrieval.index")
        heard = _IndexWarnings(index_notes)
        index_log.addHandler(heard)
        try:
            self.catalog = load_catalog(resolve_catalog(self.settings.catalog))
            config = self.settings.assistant_config(self.catalog)
            assistant = open_assistant(config, on_progress=self._progress, on_stage=self._stage,
                                       on_partial=self._serve_partial, reader_in_background=True)
            features = feature_notes(assistant.retriever.catalog, assistant.retriever.matcher)
            for note in features:
                logger.warning(note)
            self._notes = index_notes + features  # the index's own warnings are logged already
            self._learn_heads(assistant)
            self._ready = Shop(assistant)
        except (ValueError, RuntimeError, OSError) as err:  # a bad setting or missing file: the message says what to do
            self.error = str(err) or type(err).__name__
        except Exception as err:  # a bug: the traceback goes to the log
            logger.exception("Opening the assistant failed")
            self.error = str(err) or type(err).__name__
        finally:
            index_log.removeHandler(heard)
            self._partial = None  # replaced by the whole shop, or withdrawn with the error
            self._settled.set()
