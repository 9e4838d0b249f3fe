"""The shopping assistant's web app: widgets, events and rendering. No search logic.

    python app.py --catalog DIR --encoder SPEC --llm SPEC [--composer DIR] [--index-dir DIR]
                  [--gallery IDS.txt] [--host H] [--port P]        (or SHOP_* variables)

Every action goes to `shop.session.Shop`, which returns a `View`; this file only draws it.
The same actions are the public API (`/respond`, `/select`, `/feedback`, `/choose`,
`/remove`, `/undo`, `/reset`). Per-shopper state is a `gr.State` (one per browser tab or API
client); the only app-wide objects are the read-only assistant and its loader. A message is
answered as a stream: the echo at once, then what is being looked for, then the results.
"""

from __future__ import annotations

import html
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from shop.loader import Loader
from shop.photos import photo_route, photo_url
from shop.session import NO_RESULTS, WELCOME, Session, View
from shop.settings import CONCURRENCY, SetupError, check_downloads, parse_settings
from shop.uploads import MAX_UPLOAD_BYTES, UploadError, check_upload, too_big

logger = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "assets"
UPLOAD_CEILING = 2 * MAX_UPLOAD_BYTES  # Gradio refuses bigger uploads outright; up to it, shop.uploads explains
PANELS = 5  # session, results, chips, refining, undo button: what every action updates

ChatHistory = list[dict]


def _asset(name: str) -> str:
    return (ASSETS / name).read_text()


def _examples() -> list[dict]:
    lines = _asset("examples.txt").splitlines()
    return [{"text": line.strip()} for line in lines if line.strip() and not line.startswith("#")]


def _text(text: str) -> str:
    """Chat text shown as typed: the chat renders HTML (markdown is off), so "<b>" must stay
    two characters, not turn bold."""
    return html.escape(text, quote=False)


# --- rendering: a View into component values ---------------------------------------------

def _results_value(view: View) -> dict:
    cards = [{"number": c.number, "id": c.product.id, "title": c.product.title, "details": c.details,
              "image": photo_url(c.product.id), "liked": c.liked, "picked": c.picked} for c in view.cards]
    return {"cards": cards, "empty": NO_RESULTS if view.session.dialogue.turn else WELCOME, "reply": view.reply}


def _chips_value(view: View) -> list[dict]:
    return [{"value": c.value, "label": c.label, "negative": c.negative, "relaxed": c.relaxed} for c in view.chips]


def _refining_value(view: View) -> dict | None:
    refining = view.refining
    if refining is None:
        return None
    image = refining.thumbnail or (photo_url(refining.product_id) if refining.product_id else None)
    return {"title": refining.title, "number": refining.number, "image": image}


def _panels(view: View) -> tuple:
    """Values for (session, results, chips, refining, undo button), the outputs of every action."""
    return (view.session, _results_value(view), _chips_value(view), _refining_value(view),
            gr.Button(interactive=view.can_undo))


def _unchanged() -> tuple:
    """The panels left as they are (while a reply is still being worked out)."""
    return tuple(gr.skip() for _ in range(PANELS))


def _user_message(text: str, files: Sequence[str]) -> dict:
    parts = [_text(text)] if text else []
    parts += [{"path": f} for f in files[:1]]
    return {"role": "user", "content": parts}


def _said(chat: ChatHistory, view: View) -> ChatHistory:
    """The chat with the view's reply added; a question's options become buttons under it, and
    options under earlier replies go (they answered an older question)."""
    earlier = [{k: v for k, v in message.items() if k != "options"} for message in chat]
    reply = {"role": "assistant", "content": _text(view.reply)}
    if view.question and not view.pending:
        reply["options"] = [{"value": option, "label": option} for option in view.question.options]
    return [*earlier, reply]


def _refusal(message: dict, refused: str) -> str | None:
    """Why a message's photo cannot be sent, or None: the browser's note of a file too big to
    upload (`refused`, set by assets/uploads.js), else the header check of the uploaded file."""
    if refused:
        try:
            too_large = json.loads(refused)
            return str(too_big(int(too_large["size"]), str(too_large["name"])))
        except (ValueError, KeyError, TypeError):  # not the script's note: refuse all the same
            return str(too_big(MAX_UPLOAD_BYTES + 1))
    for path in (message or {}).get("files", [])[:1]:
        try:
            check_upload(path)
        except UploadError as err:
            return str(err)
    return None


# --- the app -----------------------------------------------------------------------------

class Events:
    """What the page's widgets do. Each handler goes to the loader's `Shop` (which answers with
    the loading status until the shop is ready) and draws the `View` it returns."""

    def __init__(self, loader: Loader):
        self.loader = loader

    def take_message(self, message: dict, chat: ChatHistory, refused: str = "") -> tuple:
        """The shopper's message appears at once (or why it cannot be sent); the reply follows
        from the queue (`answer`)."""
        text, files = (message or {}).get("text", ""), (message or {}).get("files", [])
        why = _refusal(message, refused)
        if why:  # not sent: the text stays in the box, the chat says why
            note = f"{why} Your message was not sent: it is still in the box."
            box = gr.MultimodalTextbox(value={"text": text, "files": []}, interactive=self.loader.searchable)
            return box, [*chat, {"role": "assistant", "content": _text(note)}], None
        chat = [*chat, _user_message(text, files), {"role": "assistant", "content": "…"}]
        return gr.MultimodalTextbox(value=None, interactive=False), chat, {"text": text, "files": files[:1]}

    def answer(self, message: dict | None, chat: ChatHistory, session: Session) -> Iterator[tuple]:
        if message is None:  # refused in take_message
            yield (gr.skip(), *_unchanged())
            return
        files = message.get("files") or [None]
        for view in self.loader.shop.stream(session, message.get("text", ""), files[0]):
            yield (_said(chat[:-1], view), *(_unchanged() if view.pending else _panels(view)))

    def take_example(self, chat: ChatHistory, selected: gr.SelectData) -> tuple:
        return self.take_message({"text": selected.value.get("text", ""), "files": []}, chat)

    def on_card(self, chat: ChatHistory, session: Session, event: gr.EventData) -> tuple:
        served = self.loader.shop
        action, number = getattr(event, "action", ""), int(getattr(event, "number", 0) or 0)
        if action == "pick":
            view = served.pick(session, number)
        elif action in ("like", "unlike", "dislike"):
            view = served.feedback(session, number, action)
        else:
            return (chat, *_panels(served.view(session, "")))
        return (chat if action in ("like", "unlike") else _said(chat, view), *_panels(view))

    def on_option(self, chat: ChatHistory, session: Session, selected: gr.SelectData) -> tuple:
        value = str(selected.value)
        view = self.loader.shop.choose(session, value)
        return (_said([*chat, {"role": "user", "content": _text(value)}], view), *_panels(view))

    def on_chip(self, chat: ChatHistory, session: Session, event: gr.EventData) -> tuple:
        view = self.loader.shop.release(session, getattr(event, "value", ""))
        return (_said(chat, view), *_panels(view))

    def on_undo(self, chat: ChatHistory, session: Session) -> tuple:
        view = self.loader.shop.undo(session)
        return (_said(chat, view), *_panels(view))

    def on_start_over(self) -> tuple:
        return ([], *_panels(self.loader.shop.start_over()))

    def wait_searchable(self, progress=gr.Progress()) -> tuple:
        """On page load: the loading progress until a shopper can search (the whole index, or
        its first part on a first start); then the box opens."""
        self._watch(lambda: self.loader.searchable, progress)
        return self._settled_status(), gr.MultimodalTextbox(interactive=self.loader.searchable)

    def wait_ready(self, progress=gr.Progress()) -> gr.Markdown:
        """While the shopper searches a part of the catalogue: the status stays live ("Searching
        4,096 of 11,242 products") until the whole index serves."""
        self._watch(lambda: self.loader.ready, progress)
        return self._settled_status()

    def reopen(self) -> gr.MultimodalTextbox:
        """After a turn the box opens only where a shopper can search: an example clicked while
        the first part is still being indexed gets the status, and the box stays closed."""
        return gr.MultimodalTextbox(interactive=self.loader.searchable)

    def _watch(self, until: Callable[[], bool], progress: gr.Progress) -> None:
        """Show how far loading got (the photos indexed, on a first start) until `until()`."""
        loader = self.loader
        while not until() and not loader.error:
            if loader.total and loader.done < loader.total:
                progress((loader.done, loader.total), desc=loader.status() if loader.searchable else
                         "Indexing catalogue photos", unit="photos")
            else:
                progress(None, desc=loader.status())
            time.sleep(0.5)

    def _settled_status(self) -> gr.Markdown:
        """The line above the chat: the error, the partial search, or what this catalogue
        cannot offer once ready (hidden when nothing)."""
        loader = self.loader
        if loader.error or not loader.ready:
            return gr.Markdown(loader.status(), visible=True)
        notes = "\n".join(f"- {note}" for note in loader.notes)
        return gr.Markdown(notes, visible=bool(notes))


class API:
    """The public API: the same actions, returning the reply and the shown results as JSON."""

    def __init__(self, loader: Loader):
        self.loader = loader

    @staticmethod
    def _out(view: View) -> tuple:
        return view.reply, view.results_json(), view.session

    def respond(self, message: str, image: str | None = None, session: Session | None = None) -> Iterator[tuple]:
        """One chat turn: the message text and an optional photo file. Streams what is being
        looked for, then the reply and the results (the last update is the answer)."""
        for view in self.loader.shop.stream(session or Session(), message, image):  # Gradio always passes the session
            yield self._out(view)

    def select(self, number: float, session: Session) -> tuple:
        """Make shown result `number` (1-based) the reference for the next turn."""
        return self._out(self.loader.shop.pick(session, int(number)))

    def feedback(self, number: float, kind: str, session: Session) -> tuple:
        """`like` result `number`, `unlike` it (take the like back), or `dislike` it (it is not
        shown again in this session)."""
        return self._out(self.loader.shop.feedback(session, int(number), kind))

    def choose(self, value: str, session: Session) -> tuple:
        """Answer the assistant's question ("Is this a dress or a kurta?"), e.g. `dress`."""
        return self._out(self.loader.shop.choose(session, value))

    def remove(self, value: str, session: Session) -> tuple:
        """Remove one active constraint or negative, e.g. `Red`, and search again."""
        return self._out(self.loader.shop.release(session, value))

    def undo(self, session: Session) -> tuple:
        """Go back to the state before the last turn."""
        return self._out(self.loader.shop.undo(session))

    def reset(self, session: Session) -> tuple:
        """Start over: a fresh conversation for this client."""
        return self._out(self.loader.shop.start_over())


@dataclass
class Page:
    """The page's components, made in `layout` inside the Blocks context."""

    session: gr.State
    pending: gr.State
    status: gr.Markdown
    chatbot: gr.Chatbot
    refining: gr.HTML
    chips: gr.HTML
    box: gr.MultimodalTextbox
    undo: gr.Button
    start_over: gr.Button
    results: gr.HTML
    refused: gr.Textbox

    @property
    def panels(self) -> list:
        return [self.session, self.results, self.chips, self.refining, self.undo]


def layout(loader: Loader) -> Page:
    """The chat on the left (the reply, what is being refined, the filters, the box), the
    results on the right."""
    clicks = _asset("clicks.js")
    session, pending = gr.State(Session()), gr.State()  # pending: a message between its echo and its answer
    gr.HTML(f"<div id='header'>{_asset('logo.svg')}<div><h1>Shopping assistant</h1>"
            "<p>Find products by talking and showing: describe it, attach a photo, click a result "
            "and say what to change.</p></div></div>")
    status = gr.Markdown(loader.status(), visible=not loader.ready, elem_id="status")
    with gr.Row(equal_height=False, elem_id="main"):
        with gr.Column(scale=5, min_width=340):
            chatbot = gr.Chatbot(elem_id="chat", height=440, show_label=False, examples=_examples(),
                                 render_markdown=False, placeholder="**Hi!** What are you shopping for today?")
            refining = gr.HTML(None, html_template=_asset("refining.html"), elem_id="refining")
            chips = gr.HTML([], html_template=_asset("chips.html"), js_on_load=clicks, elem_id="chips")
            box = gr.MultimodalTextbox(
                elem_id="box", show_label=False, file_types=["image"], file_count="single",
                interactive=loader.searchable, autofocus=True,
                placeholder="e.g. \"a black t-shirt for men\" · attach or paste a photo · \"like #3 but red\"")
            with gr.Row():
                undo = gr.Button("↶ Undo", size="sm", interactive=False, elem_id="undo")
                start_over = gr.Button("Start over", size="sm", elem_id="start-over")
        with gr.Column(scale=7, min_width=340):
            results = gr.HTML({"cards": [], "empty": WELCOME}, html_template=_asset("results.html"),
                              js_on_load=clicks, elem_id="results")
    with gr.Group(visible=False):
        refused = gr.Textbox(label="refused")  # set by assets/uploads.js: a file too big to upload
    return Page(session, pending, status, chatbot, refining, chips, box, undo, start_over, results, refused)


def wire_events(page: Page, events: Events) -> None:
    """A message echoes at once and is answered from the queue; clicks on cards, chips,
    options and buttons answer at once."""
    ui = {"api_visibility": "private"}
    reopen = {"fn": events.reopen, "inputs": None, "outputs": page.box, "queue": False, **ui}
    show_results = {"fn": None, "js": _asset("show_results.js"), **ui}
    answered = {"fn": events.answer, "inputs": [page.pending, page.chatbot, page.session],
                "outputs": [page.chatbot, *page.panels], **ui}
    page.box.submit(events.take_message, [page.box, page.chatbot, page.refused], [page.box, page.chatbot, page.pending],
                    queue=False, js=_asset("take_refused.js"), **ui).then(**answered).then(**reopen).then(**show_results)
    page.chatbot.example_select(events.take_example, [page.chatbot], [page.box, page.chatbot, page.pending],
                                queue=False, **ui).then(**answered).then(**reopen).then(**show_results)
    page.chatbot.option_select(events.on_option, [page.chatbot, page.session], [page.chatbot, *page.panels],
                               **ui).then(**show_results)
    page.results.click(events.on_card, [page.chatbot, page.session], [page.chatbot, *page.panels], **ui)
    page.chips.click(events.on_chip, [page.chatbot, page.session], [page.chatbot, *page.panels], **ui)
    page.undo.click(events.on_undo, [page.chatbot, page.session], [page.chatbot, *page.panels], **ui)
    page.start_over.click(events.on_start_over, None, [page.chatbot, *page.panels], **ui)


def wire_api(page: Page, api: API) -> None:
    """The API endpoints: hidden inputs and outputs, the same session state as the page."""
    with gr.Group(visible=False):
        message, image = gr.Textbox(label="message"), gr.File(label="image", type="filepath")
        number, text = gr.Number(label="number", precision=0), gr.Textbox(label="text")
        reply, results = gr.Textbox(label="reply"), gr.JSON(label="results")
    out = [reply, results, page.session]
    gr.on([], api.respond, [message, image, page.session], out, api_name="respond")
    gr.on([], api.select, [number, page.session], out, api_name="select")
    gr.on([], api.feedback, [number, text, page.session], out, api_name="feedback")
    gr.on([], api.choose, [text, page.session], out, api_name="choose")
    gr.on([], api.remove, [text, page.session], out, api_name="remove")
    gr.on([], api.undo, [page.session], out, api_name="undo")
    gr.on([], api.reset, [page.session], out, api_name="reset")


def build_app(loader: Loader) -> gr.Blocks:
    """The Blocks app for one loader (its Shop may still be loading: `loader.shop` then
    answers every action with the loading status)."""
    events = Events(loader)
    with gr.Blocks(title="Shopping assistant") as app:
        page = layout(loader)
        wire_events(page, events)
        wire_api(page, API(loader))
        ui = {"api_visibility": "private", "concurrency_limit": None}
        app.load(events.wait_searchable, None, [page.status, page.box], **ui).then(
            events.wait_ready, None, [page.status], **ui)
    return app


def launch(loader: Loader, block: bool = True) -> gr.Blocks:
    """Serve the app for a loader that is ready or indexing; `block=False` returns at once (tests).
    Catalogue photos come from the `photo/<id>` route: no photo folder is opened to Gradio's
    file route, which serves only uploads."""
    settings = loader.settings
    app = build_app(loader)
    # Gradio's queue recomputes its monitoring summary, a pandas table of the last 10,000 events,
    # after every event: 15 ms of CPU an event once a server has served that many, more than a
    # whole turn read by the rules costs the app. Every 100 events is fresh enough for a dashboard.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "100")
    app.queue(default_concurrency_limit=CONCURRENCY)
    app.launch(server_name=settings.host, server_port=settings.port, max_file_size=UPLOAD_CEILING,
               app_kwargs={"routes": [photo_route(lambda: loader.catalog)]},
               css=_asset("style.css"), js=_asset("uploads.js").replace("MAX_UPLOAD_BYTES", str(MAX_UPLOAD_BYTES)),
               footer_links=["api"], show_error=False, prevent_thread_lock=not block, quiet=not block)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    for ours in ("shop", "chat", "retrieval", __name__):
        logging.getLogger(ours).setLevel(logging.INFO)
    settings = parse_settings(argv)
    try:
        check_downloads(settings)
    except SetupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    loader = Loader(settings).start().wait_until_settled()
    if loader.error:
        print(f"error: {loader.error}", file=sys.stderr)
        return 2
    launch(loader)
    return 0


if __name__ == "__main__":
    sys.exit(main())
