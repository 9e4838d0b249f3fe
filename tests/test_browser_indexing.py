"""A first start in a real browser (headless Debian Chromium): the message box stays closed
until the first part of the catalogue is indexed, even after an example prompt is clicked;
then the shopper searches that part while the status line says how much is searchable, and
the status goes once the whole index serves. A generated catalogue, the tiny random
encoder and parts of 8 photos, with the build held at each part by the test."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from retrieval import embedding_parts
from retrieval.encoder import Encoder
from tests.served_app import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
BOX_DISABLED = "document.querySelector('#box textarea').disabled"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Debian's chromium at {CHROMIUM} (make browser)")


@pytest.fixture
def held_build(monkeypatch) -> list[threading.Event]:
    """Parts of 8 photos; the first two parts wait for the test to set their event."""
    monkeypatch.setattr(embedding_parts, "PART_ROWS", 8)
    gates = [threading.Event(), threading.Event()]
    calls: list[int] = []
    encode = Encoder.encode_images

    def held(self, images, *args, **kwargs):
        calls.append(len(images))
        if len(calls) <= len(gates):
            gates[len(calls) - 1].wait(120)
        return encode(self, images, *args, **kwargs)

    monkeypatch.setattr(Encoder, "encode_images", held)
    yield gates
    for gate in gates:
        gate.set()


def test_the_box_opens_with_the_first_part_and_the_status_stays_live(held_build, tiny_catalog, tiny_encoder_spec, tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    from app import launch
    from shop.loader import Loader
    from shop.settings import AppSettings

    settings = AppSettings(catalog=str(tiny_catalog), encoder=tiny_encoder_spec, llm="rules", index_dir=tmp_path / "idx",
                           host="127.0.0.1", port=free_port())
    loader = Loader(settings).start()
    app = launch(loader, block=False)
    try:
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1360, "height": 940})
            page.set_default_timeout(60_000)
            page.goto(f"http://127.0.0.1:{settings.port}")
            page.locator("#chat button.example").first.click()  # before anything is searchable
            page.wait_for_function("document.querySelector('#chat').innerText.includes('Loading the catalogue')")
            page.wait_for_timeout(1500)  # the turn's last step (which reopens the box when searchable) has run
            assert page.evaluate(BOX_DISABLED), "an example prompt re-enabled the box before anything was searchable"

            held_build[0].set()  # the first part finishes: 8 of 32 products searchable
            page.wait_for_function(f"!{BOX_DISABLED}")
            page.wait_for_function("document.querySelector('#status').innerText.includes('Searching 8 of 32 products')")
            page.locator("#box textarea").fill("red tshirts for women")
            page.locator("#box textarea").press("Enter")
            page.wait_for_selector("#results .card")
            assert "Red" in page.locator("#results .card").first.inner_text()
            page.wait_for_function(f"!{BOX_DISABLED}")  # open again after the turn
            assert "indexing continues" in page.locator("#status").inner_text()

            held_build[1].set()
            assert loader.wait_until_ready(60), loader.error
            page.wait_for_function("!document.querySelector('#status')?.offsetParent")  # no notes: the status goes
            browser.close()
    finally:
        app.close()
