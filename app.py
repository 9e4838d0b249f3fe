"""The shopping assistant's web app: widgets, events and rendering. No search logic.

    python app.py --catalog DIR --encoder SPEC --llm SPEC [--composer DIR] [--index-dir DIR]
                  [--gallery IDS.txt] [--host H] [--port P]        (or SHOP_* variables)

Every action goes to `shop.session.Shop`, which returns a `View`; this file only draws it.
The same actions are the public API (`/respond`, `/select`, `/feedback`, `/remove`,
`/undo`, `/reset`). Per-shopper state is a `gr.State` (one per browser tab or API client);
the only app-wide objects are the read-only assistant and its loader.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import gradio as gr

from shop.loader import Loader
from shop.session import Session, View
from shop.settings import SetupError, check_downloads, parse_settings
from shop.uploads import MAX_UPLOAD_BYTES

logger = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "assets"
CONCURRENCY = 4              # turns served at once; more only queue up on a small CPU
UPLOAD_CEILING = 2 * MAX_UPLOAD_BYTES  # Gradio refuses bigger uploads outright; up to it, shop.uploads explains
WELCOME = ("Results appear here. Describe what you're after, attach a photo, or try an example "
           "on the left; then click a result to refine from it.")
NO_RESULTS = "No products match. Remove a filter above, undo, or start over."

ChatHistory = list[dict]


def _asset(name: str) -> str:
    return (ASSETS / name).read_text()


def _examples() -> list[dict]:
    lines = _asset("examples.txt").splitlines()
    return [{"text": line.strip()} for line in lines if line.strip() and not line.startswith("#")]


def _file_url(path: Path | str) -> str:
    """A URL Gradio's file route serves: catalogue photos (allowed_paths) and uploads (its cache)."""
    return "gradio_api/file=" + quote(str(Path(path).resolve()))


# --- rendering: a View into component values ---------------------------------------------

def _results_value(view: View) -> dict:
    cards = [{"number": c.number, "id": c.product.id, "title": c.product.title, "details": c.details,
              "image": _file_url(c.product.image_path), "liked": c.liked, "picked": c.picked} for c in view.cards]
    return {"cards": cards, "empty": NO_RESULTS if view.session.dialogue.turn else WELCOME}


def _chips_value(view: View) -> list[dict]:
    return [{"value": c.value, "label": c.label, "negative": c.negative} for c in view.chips]


def _refining_value(view: View) -> dict | None:
    refining = view.refining
    if refining is None:
        return None
    return {"title": refining.title, "number": refining.number,
            "image": _file_url(refining.image) if refining.image else None}


def _panels(view: View) -> tuple:
    """Values for (session, results, chips, refining, undo button), the outputs of every action."""
    return (view.session, _results_value(view), _chips_value(view), _refining_value(view),
            gr.Button(interactive=view.can_undo))


def _user_message(text: str, files: Sequence[str]) -> dict:
    parts = [text] if text else []
    parts += [{"path": f} for f in files[:1]]
    return {"role": "user", "content": parts}


def _said(chat: ChatHistory, reply: str) -> ChatHistory:
    return [*chat, {"role": "assistant", "content": reply}]


# --- the app -----------------------------------------------------------------------------

def build_app(loader: Loader) -> gr.Blocks:
    """The Blocks app for one loader (its Shop may still be loading: `loader.shop` then
    answers every action with the loading status)."""

    # UI events: the user's message appears at once, the reply follows from the queue.
    def take_message(message: dict, chat: ChatHistory) -> tuple:
        text, files = (message or {}).get("text", ""), (message or {}).get("files", [])
        chat = [*chat, _user_message(text, files), {"role": "assistant", "content": "…"}]
        return gr.MultimodalTextbox(value=None, interactive=False), chat, {"text": text, "files": files[:1]}

    def answer(message: dict, chat: ChatHistory, session: Session) -> tuple:
        files = message.get("files") or [None]
        view = loader.shop.send(session, message.get("text", ""), files[0])
        return (_said(chat[:-1], view.reply), *_panels(view))

    def take_example(chat: ChatHistory, selected: gr.SelectData) -> tuple:
        return take_message({"text": selected.value.get("text", ""), "files": []}, chat)

    def on_card(chat: ChatHistory, session: Session, event: gr.EventData) -> tuple:
        served = loader.shop
        action, number = getattr(event, "action", ""), int(getattr(event, "number", 0) or 0)
        if action == "pick":
            view = served.pick(session, number)
        elif action in ("like", "dislike"):
            view = served.feedback(session, number, action)
        else:
            return (chat, *_panels(served.view(session, "")))
        return (chat if action == "like" else _said(chat, view.reply), *_panels(view))

    def on_chip(chat: ChatHistory, session: Session, event: gr.EventData) -> tuple:
        view = loader.shop.release(session, getattr(event, "value", ""))
        return (_said(chat, view.reply), *_panels(view))

    def on_undo(chat: ChatHistory, session: Session) -> tuple:
        view = loader.shop.undo(session)
        return (_said(chat, view.reply), *_panels(view))

    def on_start_over() -> tuple:
        view = loader.shop.start_over()
        return ([], *_panels(view))

    def wait_ready(progress=gr.Progress()) -> tuple:
        """On page load: show the loading progress (indexing on a first start) until ready."""
        while not loader.ready and not loader.error:
            if loader.total and loader.done < loader.total:
                progress((loader.done, loader.total), desc="Indexing catalogue photos", unit="photos")
            else:
                progress(None, desc=loader.status())
            time.sleep(0.5)
        if loader.error:
            return gr.Markdown(loader.status(), visible=True), gr.MultimodalTextbox(interactive=False)
        return gr.Markdown(visible=False), gr.MultimodalTextbox(interactive=True)

    # API: the same actions, returning the reply and the shown results as JSON.
    def api(view: View) -> tuple:
        return view.reply, view.results_json(), view.session

    def respond(message: str, image: str | None = None, session: Session | None = None) -> tuple:
        """One chat turn: the message text and an optional photo file. Returns the reply and the results."""
        return api(loader.shop.send(session or Session(), message, image))  # Gradio always passes the session

    def select(number: float, session: Session) -> tuple:
        """Make shown result `number` (1-based) the reference for the next turn."""
        return api(loader.shop.pick(session, int(number)))

    def feedback(number: float, kind: str, session: Session) -> tuple:
        """`like` result `number`, or `dislike` it (it is not shown again in this session)."""
        return api(loader.shop.feedback(session, int(number), kind))

    def remove(value: str, session: Session) -> tuple:
        """Remove one active constraint or negative, e.g. `Red`, and search again."""
        return api(loader.shop.release(session, value))

    def undo(session: Session) -> tuple:
        """Go back to the state before the last turn."""
        return api(loader.shop.undo(session))

    def reset(session: Session) -> tuple:
        """Start over: a fresh conversation for this client."""
        return api(loader.shop.start_over())

    clicks = _asset("clicks.js")
    with gr.Blocks(title="Shopping assistant") as app:
        session = gr.State(Session())
        pending = gr.State()  # the message between its instant echo and the queued answer
        gr.HTML(f"<div id='header'>{_asset('logo.svg')}<div><h1>Shopping assistant</h1>"
                "<p>Find products by talking and showing: describe it, attach a photo, click a result "
                "and say what to change.</p></div></div>")
        status = gr.Markdown(loader.status(), visible=not loader.ready, elem_id="status")
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=340):
                chatbot = gr.Chatbot(elem_id="chat", height=440, show_label=False, examples=_examples(),
                                     placeholder="**Hi!** What are you shopping for today?")
                refining = gr.HTML(None, html_template=_asset("refining.html"), elem_id="refining")
                chips = gr.HTML([], html_template=_asset("chips.html"), js_on_load=clicks, elem_id="chips")
                box = gr.MultimodalTextbox(
                    elem_id="box", show_label=False, file_types=["image"], file_count="single",
                    interactive=loader.ready, autofocus=True,
                    placeholder="e.g. \"a black t-shirt for men\" · attach or paste a photo · \"like #3 but red\"")
                with gr.Row():
                    undo_button = gr.Button("↶ Undo", size="sm", interactive=False, elem_id="undo")
                    start_over = gr.Button("Start over", size="sm", elem_id="start-over")
            with gr.Column(scale=7, min_width=340):
                results = gr.HTML({"cards": [], "empty": WELCOME}, html_template=_asset("results.html"),
                                  js_on_load=clicks, elem_id="results")
        with gr.Group(visible=False):  # inputs and outputs of the API endpoints only
            api_message = gr.Textbox(label="message")
            api_image = gr.File(label="image", type="filepath")
            api_number = gr.Number(label="number", precision=0)
            api_text = gr.Textbox(label="text")
            api_reply = gr.Textbox(label="reply")
            api_results = gr.JSON(label="results")

        panels = [session, results, chips, refining, undo_button]
        ui = {"api_visibility": "private"}
        box.submit(take_message, [box, chatbot], [box, chatbot, pending], queue=False, **ui).then(
            answer, [pending, chatbot, session], [chatbot, *panels], **ui).then(
            lambda: gr.MultimodalTextbox(interactive=True), None, box, queue=False, **ui)
        chatbot.example_select(take_example, [chatbot], [box, chatbot, pending], queue=False, **ui).then(
            answer, [pending, chatbot, session], [chatbot, *panels], **ui).then(
            lambda: gr.MultimodalTextbox(interactive=True), None, box, queue=False, **ui)
        results.click(on_card, [chatbot, session], [chatbot, *panels], **ui)
        chips.click(on_chip, [chatbot, session], [chatbot, *panels], **ui)
        undo_button.click(on_undo, [chatbot, session], [chatbot, *panels], **ui)
        start_over.click(on_start_over, None, [chatbot, *panels], **ui)
        app.load(wait_ready, None, [status, box], concurrency_limit=None, **ui)

        out = [api_reply, api_results, session]
        gr.on([], respond, [api_message, api_image, session], out, api_name="respond")
        gr.on([], select, [api_number, session], out, api_name="select")
        gr.on([], feedback, [api_number, api_text, session], out, api_name="feedback")
        gr.on([], remove, [api_text, session], out, api_name="remove")
        gr.on([], undo, [session], out, api_name="undo")
        gr.on([], reset, [session], out, api_name="reset")
    return app


def photo_folders(loader: Loader) -> list[str]:
    """The folders holding the catalogue's photos: the only files served besides uploads."""
    catalog = loader.catalog
    return sorted({str(catalog.image_path(i).parent.resolve()) for i in catalog.ids}) if catalog else []


def launch(loader: Loader, block: bool = True) -> gr.Blocks:
    """Serve the app for a loader that is ready or indexing; `block=False` returns at once (tests)."""
    settings = loader.settings
    app = build_app(loader)
    app.queue(default_concurrency_limit=CONCURRENCY)
    app.launch(server_name=settings.host, server_port=settings.port,
               allowed_paths=photo_folders(loader), max_file_size=UPLOAD_CEILING, css=_asset("style.css"), footer_links=["api"], show_error=False,
               prevent_thread_lock=not block, quiet=not block)
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
