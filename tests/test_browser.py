"""Real-browser runs of the app (headless Debian Chromium driven by Playwright): type a query,
see the results, click one, refine it, and save the screenshot the README shows; attach a
photo in the message box; on a phone the results come into view; a photo over the limit is
not sent; a photo keeps its kind or asks; likes toggle; typed markup shows as typed; typed
moves (undo, compare, another language) do what the buttons do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.served_app import APP_CATALOG, SURE_UPLOAD, UNSURE_UPLOAD, app_url, gallery_ids

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = REPO / "docs" / "screenshot.png"
# No sandbox (containers run as root), no GPU, and nothing that phones home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Debian's chromium at {CHROMIUM} (make browser)")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    playwright_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser, app_url(tmp_path_factory.getbasetemp() / "app")
        browser.close()


def open_page(browser, width: int = 1360, height: int = 940):
    chromium, url = browser
    page = chromium.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(60_000)
    page.goto(url)
    page.wait_for_selector("#box textarea")
    page.wait_for_function("!document.querySelector('#box textarea').disabled")  # the shop is ready
    return page


@pytest.fixture
def page(browser):
    page = open_page(browser)
    yield page
    page.close()


def send(page, text: str) -> None:
    page.locator("#box textarea").fill(text)
    page.locator("#box textarea").press("Enter")


def photo(product_id: str) -> str:
    return str(APP_CATALOG / "images" / f"{product_id}.jpg")


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
    page.set_input_files("#box input[type=file]", photo(gallery_ids()[0]))
    page.wait_for_selector("#box img")  # the attachment preview: uploaded
    send(page, "this in blue")
    page.wait_for_selector("#results .card img")
    assert "your photo" in page.locator("#refining").inner_text()
    page.wait_for_function("document.querySelector('#refining img')?.naturalWidth > 0")
    assert page.locator("#chat img").count() >= 1


@pytest.mark.parametrize(("width", "height"), [(390, 844), (768, 1024)])
def test_on_a_phone_or_tablet_the_results_come_into_view(browser, width, height):
    page = open_page(browser, width, height)
    send(page, "a black t-shirt for men")
    page.wait_for_selector("#results .card img")
    page.wait_for_function("() => { const top = document.querySelector('#results .card').getBoundingClientRect().top;"
                           " return top >= 0 && top < innerHeight - 200; }")
    if width < 720:  # the chat is scrolled away: the reply is repeated above the results
        assert page.locator("#results .results-reply").inner_text().startswith("Here are")
    page.close()


def test_a_photo_over_the_limit_is_not_sent_and_the_text_stays(page, tmp_path):
    big = tmp_path / "big.jpg"
    big.write_bytes(Path(photo(gallery_ids()[0])).read_bytes() + os.urandom(21 * 2**20))
    page.locator("#box textarea").fill("same but in blue")
    page.set_input_files("#box input[type=file]", str(big))
    page.locator("#box textarea").press("Enter")
    page.wait_for_function("document.querySelector('#chat').innerText.includes('the limit is 10 MB')")
    assert "was not sent" in page.locator("#chat").inner_text()
    assert page.locator("#box textarea").input_value() == "same but in blue"
    assert page.locator("#results .card").count() == 0


def test_a_photo_keeps_its_kind_as_a_chip_or_asks_with_buttons(page):
    kind = UNSURE_UPLOAD.kind
    page.set_input_files("#box input[type=file]", photo(SURE_UPLOAD.id))  # a men's t-shirt: sure
    page.wait_for_selector("#box img")
    send(page, "same but in blue")
    page.wait_for_function("['Tshirts', 'Men', 'Blue'].every(v => document.querySelector('#chips').innerText.includes(v))")
    page.set_input_files("#box input[type=file]", photo(UNSURE_UPLOAD.id))  # unsure of its kind, so it asks
    page.wait_for_selector("#box img")
    send(page, "same but in blue")
    answer = page.locator("#chat button", has_text=kind)
    answer.wait_for()
    answer.click()
    page.wait_for_function(f"document.querySelector('#chips').innerText.includes('{kind}')")
    assert "your photo" in page.locator("#refining").inner_text()


def test_refine_is_no_like_the_heart_toggles_and_typed_markup_shows_as_typed(page):
    send(page, "<b>black</b> t-shirt for men <img src=x>")
    page.wait_for_selector("#results .card img")
    assert "<b>black</b>" in page.locator("#chat").inner_text() and page.locator("#chat b, #chat img[src=x]").count() == 0
    assert page.locator("#results img").first.get_attribute("src").startswith("photo/")  # no server path
    first = page.locator("#results .card").first
    first.locator(".photo").click()
    page.wait_for_selector("#results .card.picked")
    assert page.locator("#results .like.on").count() == 0, "a click to refine lit a heart"
    page.locator("#results .card").first.locator(".like").click()
    page.wait_for_selector("#results .card:first-child .like.on")
    page.locator("#results .card").first.locator(".like").click()
    page.wait_for_function("!document.querySelector('#results .like.on')")


def test_typed_moves_do_what_the_buttons_do(page):
    """Undo, compare and a message in another language, typed in the chat box."""
    send(page, "black t-shirts for men")
    page.wait_for_selector("#results .card:nth-child(2) img")
    first = page.locator("#results .card").first.get_attribute("data-id")
    send(page, "in red please")
    page.wait_for_function("document.querySelector('#chips').innerText.includes('Red')")
    send(page, "undo")
    page.wait_for_function("!document.querySelector('#chips').innerText.includes('Red')")
    page.wait_for_function(f"document.querySelector('#results .card')?.dataset.id === '{first}'")
    send(page, "compare 1 and 2")
    page.wait_for_function("document.querySelector('#chat').innerText.includes('Comparing #1 and #2')")
    assert page.locator("#results .card").first.get_attribute("data-id") == first, "a comparison changed the results"
    chips = page.locator("#chips").inner_text()
    send(page, "zapatos negros por favor")
    page.wait_for_function("document.querySelector('#chat').innerText.includes('English only')")
    assert page.locator("#chips").inner_text() == chips
