"""The pages work in Chromium under their Content-Security-Policy, with no violation reported."""

from __future__ import annotations

import pytest

from tests.api_support import BELGIUM_A, BELGIUM_Q, chromium_path

pytest_plugins = ["tests.api_fixtures"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = chromium_path()
# Before any page script: every violation the browser reports is kept, whatever the console says.
WATCH = "window.__csp = []; document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"


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
    context = browser.new_context(base_url=live_server.url)
    context.add_init_script(WATCH)
    pg = context.new_page()
    console: list[str] = []
    pg.on("console", lambda m: console.append(m.text) if m.type in ("error", "warning") else None)
    pg.console_messages = console  # type: ignore[attr-defined]
    yield pg
    context.close()


def _violations(page) -> list[str]:
    return page.evaluate("window.__csp") + [m for m in page.console_messages if "Content Security Policy" in m]


def test_the_chat_page_works_under_its_policy(page):
    response = page.goto("/")
    assert "script-src 'self';" in response.headers["content-security-policy"]
    page.wait_for_function("document.getElementById('status').textContent.startsWith('ready')", timeout=30_000)
    page.locator("#question").fill(BELGIUM_Q)
    page.locator("#question").press("Enter")
    answer = page.locator("#messages li.bot:not(.pending)").first
    answer.wait_for(timeout=30_000)
    assert answer.locator(".answer").inner_text() == BELGIUM_A
    answer.locator("button.cite").first.click()
    page.locator("#doc-text mark.highlight").wait_for(timeout=10_000)
    assert _violations(page) == []
    # the watch sees what the policy blocks: an injected inline script is refused and reported
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1'; document.body.append(s); }")
    page.wait_for_function("window.__csp.length > 0", timeout=5_000)
    assert page.evaluate("window.__ran") is None


@pytest.mark.parametrize("path, ready", [("/docs", "#swagger-ui .info .title"), ("/redoc", "h1")])
def test_the_api_docs_pages_work_under_theirs(page, path, ready):
    page.goto(path)
    page.locator(ready).first.wait_for(timeout=30_000)
    assert "rag" in page.locator(ready).first.inner_text()
    page.wait_for_timeout(500)  # ReDoc renders in steps
    # ReDoc's "powered by" logo is on its CDN: the policy keeps the page from fetching it, as it should
    assert [v for v in _violations(page) if "https://cdn.redoc.ly/" not in v] == []
