"""Opens the shop in a background thread, and stands in for it until it is ready.

A cached index opens in seconds, a first build takes minutes; during those the UI is already
up, and every action answers through `LoadingShop` with how far loading got, so the app
needs no readiness checks of its own. The catalogue is read once, here, and shared by the
assistant and the app (which serves its photo folders).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from shop.session import Session, View
from shop.settings import AppSettings, resolve_catalog

if TYPE_CHECKING:
    from retrieval.catalog import Catalog
    from shop.session import Shop

logger = logging.getLogger(__name__)


class LoadingShop:
    """The `Shop` actions while the real one loads: each answers with the loading status."""

    def __init__(self, loader: Loader):
        self._loader = loader

    def _status(self, session: Session | None = None, *_) -> View:
        return View(session or Session(), self._loader.status())

    send = pick = feedback = release = undo = view = _status

    def start_over(self) -> View:
        return self._status()


class Loader:
    """Opens the assistant (as a `Shop`) in a background thread and reports how far it got.

    The one piece of app-wide mutable state: written by the loading thread only, read by
    request handlers to show progress or the ready assistant.
    """

    def __init__(self, settings: AppSettings):
        self.settings = settings
        self.catalog: Catalog | None = None
        self.error: str | None = None
        self.stage = "Loading the catalogue and the models…"
        self.done = 0
        self.total = 0
        self._ready: Shop | None = None
        self._loading = LoadingShop(self)
        self._settled = threading.Event()  # ready, failed, or a long index build has begun
        self._thread = threading.Thread(target=self._load, name="open-assistant", daemon=True)

    def start(self) -> Loader:
        self._thread.start()
        return self

    def wait_until_settled(self, timeout: float | None = None) -> Loader:
        """Return once the assistant is ready, loading failed, or indexing began (then the UI
        can start and show the progress)."""
        self._settled.wait(timeout)
        return self

    def wait_until_ready(self, timeout: float | None = None) -> Shop | None:
        self._thread.join(timeout)
        return self._ready

    @property
    def ready(self) -> bool:
        return self._ready is not None

    @property
    def shop(self) -> Shop | LoadingShop:
        """The shop to serve a request with: the real one once ready."""
        return self._ready or self._loading

    def status(self) -> str:
        """One line for the UI while the assistant is not ready."""
        if self.error:
            return f"The shop could not start: {self.error}"
        if self.total and self.done < self.total:
            return (f"Indexing the catalogue photos: {self.done:,} of {self.total:,} "
                    "(only the first start takes this long).")
        return self.stage

    def _progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        self._settled.set()

    def _stage(self, text: str) -> None:
        self.stage = text

    def _load(self) -> None:
        # torch and the models load here, not at import: a bad setting must fail in seconds.
        from chat.factory import open_assistant
        from retrieval.catalog import load_catalog
        from shop.session import Shop

        try:
            self.catalog = load_catalog(resolve_catalog(self.settings.catalog))
            config = self.settings.assistant_config(self.catalog)
            self._ready = Shop(open_assistant(config, on_progress=self._progress, on_stage=self._stage))
        except (ValueError, RuntimeError, OSError) as err:  # a bad setting or missing file: the message says what to do
            self.error = str(err) or type(err).__name__
        except Exception as err:  # a bug: the traceback goes to the log
            logger.exception("Opening the assistant failed")
            self.error = str(err) or type(err).__name__
        finally:
            self._settled.set()
