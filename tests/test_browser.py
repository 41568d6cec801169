"""The chat page end to end in headless Chromium (Debian's system browser, no downloads)."""

from __future__ import annotations

import pytest

from tests.api_support import BELGIUM_A, BELGIUM_Q, POLAND_A, UNANSWERABLE_Q, chromium_path

pytest_plugins = ["tests.api_fixtures"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = chromium_path()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium not found on PATH: apt-get install -y --no-install-recommends chromium fonts-liberation")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server.url)
    # the page must work with no external network: fail any request that leaves the server
    external: list[str] = []

    def guard(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    pg = context.new_page()
    yield pg
    context.close()
    assert not external, f"the page reached outside the server: {external}"


def _ask(page, question: str):
    n = page.locator("#messages li.bot:not(.pending)").count()
    page.locator("#question").fill(question)
    page.locator("#question").press("Enter")  # keyboard: Enter submits
    page.locator("#messages li.bot:not(.pending)").nth(n).wait_for(timeout=30_000)
    return page.locator("#messages li.bot:not(.pending)").nth(n)


def test_ask_click_citation_and_highlight(page, live_server, tmp_path):
    page.goto("/")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('ready')", timeout=30_000)
    answer = _ask(page, BELGIUM_Q)
    assert answer.locator(".answer").inner_text() == BELGIUM_A
    cites = answer.locator("button.cite")
    assert cites.count() >= 1
    cites.first.click()
    mark = page.locator("#doc-text mark.highlight")
    mark.wait_for(timeout=10_000)
    assert mark.inner_text() == BELGIUM_A
    assert page.locator("#source").is_visible()
    assert mark.is_visible()  # scrolled into view inside the panel
    in_view = page.evaluate("""() => { const m = document.getElementById('highlight').getBoundingClientRect();
        const p = document.getElementById('doc-text').getBoundingClientRect();
        return m.top >= p.top && m.bottom <= p.bottom; }""")
    assert in_view
    path = tmp_path / "chat.png"
    page.screenshot(path=str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_follow_up_and_keyboard_citation(page):
    page.goto("/")
    _ask(page, BELGIUM_Q)
    answer = _ask(page, "and Poland?")
    assert answer.locator(".answer").inner_text() == POLAND_A
    # citations are focusable buttons: Tab to one and open it with Enter
    button = answer.locator("button.cite").first
    button.focus()
    assert page.evaluate("document.activeElement.classList.contains('cite')")
    page.keyboard.press("Enter")
    page.locator("#doc-text mark.highlight").wait_for(timeout=10_000)
    assert page.locator("#doc-text mark.highlight").inner_text() == POLAND_A
    assert button.get_attribute("aria-pressed") == "true"
    page.keyboard.press("Escape")
    assert not page.locator("#source").is_visible()


def test_abstention_is_shown_distinctly(page):
    page.goto("/")
    answer = _ask(page, UNANSWERABLE_Q)
    assert "abstain" in (answer.get_attribute("class") or "")
    assert answer.locator(".answer").inner_text() == "The documents do not say."


def test_a_thank_you_is_not_answered_as_a_failed_question(page):
    page.goto("/")
    _ask(page, BELGIUM_Q)
    reply = _ask(page, "thanks!")
    assert reply.locator(".answer").inner_text() == "Ask me a question about the documents."
    assert reply.locator("button.cite").count() == 0 and "Closest passages" not in reply.inner_text()
