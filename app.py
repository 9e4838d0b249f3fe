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
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import gradio as gr

from shop.loader import Loader
from shop.photos import photo_route, photo_url
from shop.session import NO_RESULTS, WELCOME, Session, View
from shop.settings import SetupError, check_downloads, parse_settings
from shop.uploads import MAX_UPLOAD_BYTES, UploadError, check_upload, too_big

logger = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "assets"
CONCURRENCY = 4              # turns served at once; more only queue up on a small CPU
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

def build_app(loader: Loader) -> gr.Blocks:
    """The Blocks app for one loader (its Shop may still be loading: `loader.shop` then
    answers every action with the loading status)."""

    # UI events: the user's message appears at once, the reply follows from the queue.
    def take_message(message: dict, chat: ChatHistory, refused: str = "") -> tuple:
        text, files = (message or {}).get("text", ""), (message or {}).get("files", [])
        why = _refusal(message, refused)
        if why:  # not sent: the text stays in the box, the chat says why
            note = f"{why} Your message was not sent: it is still in the box."
            box = gr.MultimodalTextbox(value={"text": text, "files": []}, interactive=loader.searchable)
            return box, [*chat, {"role": "assistant", "content": _text(note)}], None
        chat = [*chat, _user_message(text, files), {"role": "assistant", "content": "…"}]
        return gr.MultimodalTextbox(value=None, interactive=False), chat, {"text": text, "files": files[:1]}

    def answer(message: dict | None, chat: ChatHistory, session: Session) -> Iterator[tuple]:
        if message is None:  # refused in take_message
            yield (gr.skip(), *_unchanged())
            return
        files = message.get("files") or [None]
        for view in loader.shop.stream(session, message.get("text", ""), files[0]):
            yield (_said(chat[:-1], view), *(_unchanged() if view.pending else _panels(view)))

    def take_example(chat: ChatHistory, selected: gr.SelectData) -> tuple:
        return take_message({"text": selected.value.get("text", ""), "files": []}, chat)

    def on_card(chat: ChatHistory, session: Session, event: gr.EventData) -> tuple:
        served = loader.shop
        action, number = getattr(event, "action", ""), int(getattr(event, "number", 0) or 0)
        if action == "pick":
            view = served.pick(session, number)
        elif action in ("like", "unlike", "dislike"):
            view = served.feedback(session, number, action)
        else:
            return (chat, *_panels(served.view(session, "")))
        return (chat if action in ("like", "unlike") else _said(chat, view), *_panels(view))

    def on_option(chat: ChatHistory, session: Session, selected: gr.SelectData) -> tuple:
        value = str(selected.value)
        view = loader.shop.choose(session, value)
        return (_said([*chat, {"role": "user", "content": _text(value)}], view), *_panels(view))

    def on_chip(chat: ChatHistory, session: Session, event: gr.EventData) -> tuple:
        view = loader.shop.release(session, getattr(event, "value", ""))
        return (_said(chat, view), *_panels(view))

    def on_undo(chat: ChatHistory, session: Session) -> tuple:
        view = loader.shop.undo(session)
        return (_said(chat, view), *_panels(view))

    def on_start_over() -> tuple:
        view = loader.shop.start_over()
        return ([], *_panels(view))

    def watch(until: Callable[[], bool], progress: gr.Progress) -> None:
        """Show how far loading got (the photos indexed, on a first start) until `until()`."""
        while not until() and not loader.error:
            if loader.total and loader.done < loader.total:
                progress((loader.done, loader.total), desc=loader.status() if loader.searchable else
                         "Indexing catalogue photos", unit="photos")
            else:
                progress(None, desc=loader.status())
            time.sleep(0.5)

    def settled_status() -> gr.Markdown:
        """The line above the chat: the error, the partial search, or what this catalogue
        cannot offer once ready (hidden when nothing)."""
        if loader.error or not loader.ready:
            return gr.Markdown(loader.status(), visible=True)
        notes = "\n".join(f"- {note}" for note in loader.notes)
        return gr.Markdown(notes, visible=bool(notes))

    def wait_searchable(progress=gr.Progress()) -> tuple:
        """On page load: the loading progress until a shopper can search (the whole index, or
        its first part on a first start); then the box opens."""
        watch(lambda: loader.searchable, progress)
        return settled_status(), gr.MultimodalTextbox(interactive=loader.searchable)

    def wait_ready(progress=gr.Progress()) -> gr.Markdown:
        """While the shopper searches a part of the catalogue: the status stays live ("Searching
        4,096 of 11,242 products") until the whole index serves."""
        watch(lambda: loader.ready, progress)
        return settled_status()

    # API: the same actions, returning the reply and the shown results as JSON.
    def api(view: View) -> tuple:
        return view.reply, view.results_json(), view.session

    def respond(message: str, image: str | None = None, session: Session | None = None) -> Iterator[tuple]:
        """One chat turn: the message text and an optional photo file. Streams what is being
        looked for, then the reply and the results (the last update is the answer)."""
        for view in loader.shop.stream(session or Session(), message, image):  # Gradio always passes the session
            yield api(view)

    def select(number: float, session: Session) -> tuple:
        """Make shown result `number` (1-based) the reference for the next turn."""
        return api(loader.shop.pick(session, int(number)))

    def feedback(number: float, kind: str, session: Session) -> tuple:
        """`like` result `number`, `unlike` it (take the like back), or `dislike` it (it is not
        shown again in this session)."""
        return api(loader.shop.feedback(session, int(number), kind))

    def choose(value: str, session: Session) -> tuple:
        """Answer the assistant's question ("Is this a dress or a kurta?"), e.g. `dress`."""
        return api(loader.shop.choose(session, value))

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
        with gr.Row(equal_height=False, elem_id="main"):
            with gr.Column(scale=5, min_width=340):
                chatbot = gr.Chatbot(elem_id="chat", height=440, show_label=False, examples=_examples(),
                                     render_markdown=False,
                                     placeholder="**Hi!** What are you shopping for today?")
                refining = gr.HTML(None, html_template=_asset("refining.html"), elem_id="refining")
                chips = gr.HTML([], html_template=_asset("chips.html"), js_on_load=clicks, elem_id="chips")
                box = gr.MultimodalTextbox(
                    elem_id="box", show_label=False, file_types=["image"], file_count="single",
                    interactive=loader.searchable, autofocus=True,
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
            refused = gr.Textbox(label="refused")  # set by assets/uploads.js: a file too big to upload

        panels = [session, results, chips, refining, undo_button]
        ui = {"api_visibility": "private"}
        # After a turn the box opens only where a shopper can search: an example clicked while
        # the first part is still being indexed gets the status, and the box stays closed.
        reopen = {"fn": lambda: gr.MultimodalTextbox(interactive=loader.searchable), "inputs": None, "outputs": box,
                  "queue": False, **ui}
        show_results = {"fn": None, "js": _asset("show_results.js"), **ui}
        box.submit(take_message, [box, chatbot, refused], [box, chatbot, pending], queue=False,
                   js=_asset("take_refused.js"), **ui).then(
            answer, [pending, chatbot, session], [chatbot, *panels], **ui).then(**reopen).then(**show_results)
        chatbot.example_select(take_example, [chatbot], [box, chatbot, pending], queue=False, **ui).then(
            answer, [pending, chatbot, session], [chatbot, *panels], **ui).then(**reopen).then(**show_results)
        chatbot.option_select(on_option, [chatbot, session], [chatbot, *panels], **ui).then(**show_results)
        results.click(on_card, [chatbot, session], [chatbot, *panels], **ui)
        chips.click(on_chip, [chatbot, session], [chatbot, *panels], **ui)
        undo_button.click(on_undo, [chatbot, session], [chatbot, *panels], **ui)
        start_over.click(on_start_over, None, [chatbot, *panels], **ui)
        app.load(wait_searchable, None, [status, box], concurrency_limit=None, **ui).then(
            wait_ready, None, [status], concurrency_limit=None, **ui)

        out = [api_reply, api_results, session]
        gr.on([], respond, [api_message, api_image, session], out, api_name="respond")
        gr.on([], select, [api_number, session], out, api_name="select")
        gr.on([], feedback, [api_number, api_text, session], out, api_name="feedback")
        gr.on([], choose, [api_text, session], out, api_name="choose")
        gr.on([], remove, [api_text, session], out, api_name="remove")
        gr.on([], undo, [session], out, api_name="undo")
        gr.on([], reset, [session], out, api_name="reset")
    return app


def launch(loader: Loader, block: bool = True) -> gr.Blocks:
    """Serve the app for a loader that is ready or indexing; `block=False` returns at once (tests).
    Catalogue photos come from the `photo/<id>` route: no photo folder is opened to Gradio's
    file route, which serves only uploads."""
    settings = loader.settings
    app = build_app(loader)
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
