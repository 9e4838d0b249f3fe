"""Real-browser runs of the app (headless Debian Chromium driven by Playwright): type a query,
see the results, click one, refine it, and save the screenshot the README shows; attach a
photo in the message box."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO, SHARED_CATALOG, SHARED_ENCODER, requires_shared
from tests.served_app import app_url, gallery_ids

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = REPO / "docs" / "screenshot.png"
# No sandbox (containers run as root), no GPU, and nothing that phones home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

pytestmark = [
    requires_shared(SHARED_ENCODER),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Debian's chromium at {CHROMIUM} (make browser)"),
]


@pytest.fixture
def page(tmp_path_factory):
    playwright_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    url = app_url(tmp_path_factory.getbasetemp() / "app")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 940})
        page.set_default_timeout(60_000)
        page.goto(url)
        yield page
        browser.close()


def send(page, text: str) -> None:
    page.locator("#box textarea").fill(text)
    page.keyboard.press("Enter")


def test_search_click_refine_and_screenshot(page):
    page.wait_for_selector("#chat")
    send(page, "I'm after a black t-shirt for men")
    page.wait_for_selector("#results .card:nth-child(12) img")
    assert "Black" in page.locator("#results .card").first.inner_text()
    picked = page.locator("#results .card").nth(2)
    title = picked.locator(".title").inner_text()
    picked.locator(".photo").click()
    page.wait_for_selector("#results .card.picked")
    assert title in page.locator("#refining").inner_text()
    assert page.locator("#chips .chip").count() == 3  # Black · Tshirts · Men

    send(page, "like this but red")
    page.wait_for_function("document.querySelector('#chips').innerText.includes('Red')")
    page.wait_for_function("[...document.querySelectorAll('#results .details')]"
                           ".every(d => d.innerText.includes('Red'))")
    assert title in page.locator("#refining").inner_text(), "the reference changed without a click"
    page.wait_for_function("!document.querySelector('#box textarea').disabled")  # enabled again after the turn
    page.wait_for_function("[...document.querySelectorAll('#results img')]"  # lazy: only those in view load
                           ".filter(i => i.getBoundingClientRect().top < innerHeight)"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    page.mouse.move(5, 5)  # no hover effects in the picture
    page.wait_for_function("!document.querySelector('#results .card:hover')")
    page.wait_for_timeout(400)  # the hover transition fades out
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))

    page.locator("#chips .chip", has_text="Red").click()
    page.wait_for_function("!document.querySelector('#chips').innerText.includes('Red')")


def test_a_photo_attached_in_the_message_box_is_the_reference(page):
    page.wait_for_selector("#box textarea")
    page.set_input_files("#box input[type=file]", str(SHARED_CATALOG / "images" / f"{gallery_ids()[0]}.jpg"))
    page.wait_for_selector("#box img")  # the attachment preview: uploaded
    send(page, "this in blue")
    page.wait_for_selector("#results .card img")
    assert "your photo" in page.locator("#refining").inner_text()
    page.wait_for_function("document.querySelector('#refining img')?.naturalWidth > 0")
    assert page.locator("#chat img").count() >= 1
