"""A reader that answers with the rules while the LLM reader loads on its own thread.

Loading, merging and warming the fine-tuned model takes ~20 s on two cores, and the web app
waited for it: served by `smollm2-shop`, a first start became searchable after 34.5 s against
11.2 s with the rules, and a restart after 20.8 s against 7.6 s
(`benchmarks/bench_first_start.py`, 2026-11-30). The app therefore opens with this reader: the
rules read every turn until the model is ready, then the model does. A model that fails to
load leaves the rules reading; the failure is logged with its traceback and kept in `error`.
The evaluation does not use it: what it measures is the model's reading from the first turn.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from chat.assistant import Rewriter
from chat.intent import SearchIntent
from chat.state import DialogueState

logger = logging.getLogger(__name__)


class DeferredReader:
    """Rewriter protocol of `chat.assistant`: the rules' reading until `load()` has returned."""

    def __init__(self, load: Callable[[], Rewriter], rules: Rewriter):
        self.rules = rules
        self.reader: Rewriter | None = None
        self.error: str | None = None
        self._loaded = threading.Event()
        threading.Thread(target=self._load, args=(load,), name="load-reader", daemon=True).start()

    def _load(self, load: Callable[[], Rewriter]) -> None:
        try:
            self.reader = load()
        except Exception as err:  # noqa: BLE001 - the shop goes on with the rules; the log has the traceback
            logger.exception("The language model could not be loaded: the rules read every turn")
            self.error = str(err) or type(err).__name__
        finally:
            self._loaded.set()

    @property
    def loading(self) -> bool:
        return not self._loaded.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Whether loading has ended (loaded or failed) within `timeout` seconds."""
        return self._loaded.wait(timeout)

    def rewrite(self, message: str, state: DialogueState, has_upload: bool = False) -> SearchIntent:
        return (self.reader or self.rules).rewrite(message, state, has_upload)
