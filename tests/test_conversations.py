"""Whole conversations through the app's public API (`/respond`, `/select`, `/undo`) with
gradio_client, on the sample catalogue and compact encoder the repository ships: the moves a
shopper makes besides "in red" keep the session right over several turns."""

from __future__ import annotations

import atexit
import functools
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import COMPACT_ENCODER, SAMPLE_CATALOG
from tests.served_app import free_port


@functools.cache
def sample_app(work: Path) -> str:
    """The app on the whole sample catalogue, as `python app.py --catalog sample/catalog ...` serves it."""
    from app import launch
    from shop.loader import Loader
    from shop.settings import AppSettings

    settings = AppSettings(catalog=str(SAMPLE_CATALOG), encoder=f"local-dir:{COMPACT_ENCODER}", llm="rules",
                           index_dir=work / "indexes", host="127.0.0.1", port=free_port())
    loader = Loader(settings).start()
    assert loader.wait_until_ready(timeout=600), loader.error
    atexit.register(launch(loader, block=False).close)
    return f"http://127.0.0.1:{settings.port}"


@pytest.fixture
def client(tmp_path_factory):
    from gradio_client import Client

    return Client(sample_app(tmp_path_factory.getbasetemp() / "sample-app"), verbose=False)


def say(client, message: str) -> tuple[str, list[dict]]:
    return client.predict(message, None, api_name="/respond")


def values(results: list[dict], column: str) -> set[str]:
    return {r["attributes"][column] for r in results}


def most(results: list[dict], column: str) -> str:
    return Counter(r["attributes"][column] for r in results).most_common(1)[0][0]


def test_undo_more_and_compare_typed_in_the_chat(client):
    _, first = say(client, "black t-shirts for men")
    say(client, "in red")
    reply, undone = say(client, "undo")
    assert reply.startswith("Undone") and [r["id"] for r in undone] == [r["id"] for r in first]
    reply, more = say(client, "show me more")
    assert reply.startswith("Here are") and more and not {r["id"] for r in more} & {r["id"] for r in first}
    assert values(more, "baseColour") == {"Black"} and values(more, "articleType") == {"Tshirts"}
    reply, compared = say(client, "compare 1 and 2")
    assert reply.startswith("Comparing #1 and #2") and more[0]["title"] in reply and compared == more


def test_questions_the_catalogue_cannot_answer_and_wishes_it_cannot_follow(client):
    _, first = say(client, "red heels for my wife")
    reply, shown = say(client, "what's the first one made of?")
    assert "doesn't record materials" in reply and shown == first
    reply, cheaper = say(client, "anything cheaper?")
    assert "doesn't record prices" in reply and values(cheaper, "articleType") == {"Heels"}
    reply, black = say(client, "in black please")
    assert "cheaper" not in reply and values(black, "baseColour") == {"Black"}


def test_another_language_changes_nothing(client):
    _, first = say(client, "white sports shoes for men")
    reply, shown = say(client, "zapatos negros por favor")
    assert "English only" in reply and shown == first


def test_a_person_the_kind_does_not_come_for(client):
    _, dresses = say(client, "a red dress for my wife")
    assert most(dresses, "articleType") == "Dresses"
    reply, shown = say(client, "for men instead")
    assert reply.startswith("There are no Dresses for Men") and values(shown, "gender") == {"Men"}
    assert "Dresses" not in values(shown, "articleType")


def test_two_references_and_another_colour(client):
    _, shown = say(client, "t-shirts for men")
    first_colour = shown[0]["attributes"]["baseColour"]
    other = next(i for i, r in enumerate(shown) if r["attributes"]["baseColour"] != first_colour)
    reply, mixed = say(client, f"the colour of #{other + 1} with the style of #1")
    assert values(mixed, "baseColour") == {shown[other]["attributes"]["baseColour"]}
    assert values(mixed, "articleType") == {"Tshirts"} and f"similar to #1, with the colour of #{other + 1}" in reply
    reply, others = say(client, "got it in another colour?")
    assert shown[other]["attributes"]["baseColour"] not in values(others, "baseColour") and "another" not in reply


def test_not_that_one_after_a_click_and_a_restart_in_a_longer_message(client):
    _, shown = say(client, "blue shirts for men")
    client.predict(2, api_name="/select")
    _, others = say(client, "not that one, show me another")
    assert shown[1]["id"] not in {r["id"] for r in others} and values(others, "articleType") == {"Shirts"}
    reply, fresh = say(client, "ok scrap that, I need a black handbag for my mum")
    assert values(fresh, "articleType") == {"Handbags"} and values(fresh, "gender") == {"Women"}
    assert "scrap" not in reply
